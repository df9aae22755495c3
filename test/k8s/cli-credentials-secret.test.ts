/**
 * `baton apply --platform kubernetes --credentials-secret NAME`: the Secret with the engine's admin
 * credentials for a CLI roll, recorded in the new Upgrade as `spec.credentialsSecret`. Driven here
 * with Redis Enterprise (the REC admin user; its REST double refuses anything else) on the real
 * control plane; a bad name, a missing Secret and an engine without credentials each exit 2 with
 * one line and nothing created or moved.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP, PLURAL, VERSION, type UpgradeResource } from '../../src/api/upgrade.js';
import { REC_PASSWORD, REC_USER } from '../redis-enterprise/double.js';
import { startRecPods } from '../redis-enterprise/pods.js';
import { kubeCli } from './cli-fixture.js';
import { createSettled, podImages, setup, statefulSet } from './operator-fixtures.js';

const FROM = '7.2.4-92';
const TO = '7.4.6-22';
const IMAGE = 'redislabs/redis';

describe('baton --credentials-secret', () => {
  it('a Redis Enterprise CLI roll reads the REC admin credentials from the named Secret; bad uses exit 2 with nothing moved', async (t) => {
    const env = await setup(t);
    const pods = await startRecPods(t, env.server, {
      statefulSet: 'rec',
      nodes: 3,
      softwareVersion: FROM,
      databases: [{ name: 'cache', redisVersion: '7.2', shards: 2 }],
    });
    await env.core.createNamespacedSecret({
      namespace: env.ns,
      body: { metadata: { name: 'rec-admin' }, stringData: { username: REC_USER, password: REC_PASSWORD } },
    });
    await createSettled(env, statefulSet('rec', 3, { image: `${IMAGE}:${FROM}` }));
    const cli = await kubeCli(t, env.server);
    const endpoints = Object.entries(pods.endpoints()).flatMap(([pod, ep]) => ['--endpoint', `${pod}=${ep}`]);
    const target = ['--engine', 'redis-enterprise', '--statefulset', 'rec=rec', '--to', TO, ...endpoints];
    const upgrades = async () =>
      (
        (await env.custom.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          namespace: env.ns,
        })) as { items: UpgradeResource[] }
      ).items;

    for (const [args, pattern] of [
      [['--credentials-secret', 'Rec_Admin'], /--credentials-secret "Rec_Admin": not a Secret name/],
      [
        ['--credentials-secret', 'absent'],
        new RegExp(`--credentials-secret: secret ${env.ns}/absent not found`),
      ],
      [
        ['--credentials-secret', 'rec-admin', '--engine', 'generic'],
        /--credentials-secret rec-admin: engine generic uses no credentials/,
      ],
    ] as const) {
      // A later --engine wins over the one in `target`.
      const r = await cli('apply', ...target, ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}${r.err}`);
      assert.match(r.err, pattern);
      assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
    }
    assert.deepEqual(await upgrades(), [], 'no Upgrade created');
    assert.deepEqual(pods.stopOrder(), [], 'nothing moved');

    const run = await cli('apply', ...target, '--name', 'rec-up', '--credentials-secret', 'rec-admin');
    assert.equal(run.code, 0, run.err + run.out);
    assert.match(run.out, /Completed/);
    assert.deepEqual(pods.stopOrder(), ['rec-2', 'rec-1', 'rec-0']);
    for (const s of pods.stops)
      assert.equal(s.primaries, 0, `${s.member} held no primary shard when it went`);
    assert.deepEqual(Object.values(await podImages(env, 'rec')), Array(3).fill(`${IMAGE}:${TO}`));
    const [u] = await upgrades();
    assert.deepEqual(u?.spec.credentialsSecret, { name: 'rec-admin' }, 'recorded in the Upgrade');
    assert.ok(!JSON.stringify(u).includes(REC_PASSWORD), 'the password itself is nowhere in the resource');
  });
});
