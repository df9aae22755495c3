/**
 * A secure CockroachDB on pods: the double serves pgwire, HTTPS and gRPC over TLS with client
 * certificates (test/cockroachdb/certs.ts, openssl), and the operator reads the client certificate
 * from the Secret `spec.credentialsSecret` names, keyed as the CockroachDB operator's
 * `<cluster>-root` Secret is (`ca.crt`, `tls.crt`, `tls.key`, no password): every Drain over gRPC
 * with TLS, the settings over pgwire authenticated by the certificate, the DB Console session made
 * through SQL. The key never reaches status, Events or logs. A Secret with a certificate but no
 * key is an invalid spec naming the field, with nothing moved.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP, PLURAL, VERSION } from '../../src/api/upgrade.js';
import { jsonLogger } from '../../src/core/logger.js';
import { PRESERVE_DOWNGRADE_OPTION } from '../../src/engines/cockroachdb/sql.js';
import { makeCockroachCerts } from '../cockroachdb/certs.js';
import { startCockroachPods } from '../cockroachdb/pods.js';
import { waitFor } from '../kube/helpers.js';
import { historyOf } from './engine-etcd-fixtures.js';
import {
  createSettled,
  createUpgrade,
  makeOperator,
  podImages,
  setup,
  statefulSet,
  waitUpgrade,
} from './operator-fixtures.js';

const IMAGE = 'cockroachdb/cockroach';
const ENDED = ['Completed', 'Failed', 'Paused', 'AwaitingFinalization'];
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('cockroachdb on secure pods', () => {
  it('the operator rolls a TLS cluster with the client certificate of a Secret; a Secret without the key is refused', async (t) => {
    const env = await setup(t);
    const certs = await makeCockroachCerts();
    const pods = await startCockroachPods(t, env.server, {
      statefulSet: 'sec',
      nodes: 3,
      version: '23.2.5',
      ranges: 18,
      tls: { ca: certs.ca, cert: certs.nodeCert, key: certs.nodeKey },
    });
    await createSettled(env, statefulSet('sec', 3, { image: `${IMAGE}:v23.2.5` }));
    const c = pods.double.cluster;
    await waitFor('every node live', () => c.nodes.every((n) => c.isLive(n)));
    await env.core.createNamespacedSecret({
      namespace: env.ns,
      body: {
        metadata: { name: 'sec-root' },
        type: 'kubernetes.io/tls',
        data: { 'ca.crt': b64(certs.ca), 'tls.crt': b64(certs.clientCert), 'tls.key': b64(certs.clientKey) },
      },
    });
    await env.core.createNamespacedSecret({
      namespace: env.ns,
      body: {
        metadata: { name: 'half' },
        data: { 'ca.crt': b64(certs.ca), 'client.root.crt': b64(certs.clientCert) },
      },
    });

    const logs: string[] = [];
    const op = makeOperator(t, env, { logger: jsonLogger((l) => logs.push(l), { debug: true }) });
    await op.start();
    await waitFor('leadership', () => op.isLeader());

    await createUpgrade(env, 'half-up', {
      target: { statefulSet: 'sec', endpoints: pods.endpoints() },
      engine: 'cockroachdb',
      version: 'v24.1.3',
      credentialsSecret: { name: 'half' },
    });
    const bad = await waitUpgrade(env, 'half-up', 'failed', (u) => u.status?.phase === 'Failed');
    assert.match(
      bad.status?.reason ?? '',
      new RegExp(
        String.raw`spec\.credentialsSecret: secret ${env.ns}/half has client\.root\.crt but not its key \(client\.root\.key or tls\.key\)`,
      ),
    );
    assert.deepEqual(pods.stopOrder(), [], 'nothing moved');
    await env.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: env.ns,
      name: 'half-up',
    });

    await createUpgrade(env, 'sec-up', {
      target: { statefulSet: 'sec', endpoints: pods.endpoints() },
      engine: 'cockroachdb',
      version: 'v24.1.3',
      finalize: 'auto',
      credentialsSecret: { name: 'sec-root' },
    });
    const done = await waitUpgrade(
      env,
      'sec-up',
      'ended',
      (u) => ENDED.includes(u.status?.phase ?? ''),
      120_000,
    );
    const history = historyOf(done);
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${history.join('\n')}`);
    assert.deepEqual(pods.stopOrder(), ['sec-2', 'sec-1', 'sec-0']);
    for (const s of pods.stops) {
      assert.equal(s.draining, true, `${s.pod} was drained (gRPC over TLS) before its pod went`);
      assert.equal(s.leases, 0, `${s.pod} held no lease when its pod went`);
    }
    assert.deepEqual(Object.values(await podImages(env, 'sec')), Array(3).fill(`${IMAGE}:v24.1.3`));
    assert.deepEqual(
      c.statements.filter((s) => /^(SET|RESET) /.test(s)),
      [
        `SET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION} = '23.2'`,
        `RESET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION}`,
      ],
      'the settings went over pgwire authenticated by the client certificate',
    );
    assert.ok(c.webSessions.size >= 1, 'the DB Console session was made through SQL (no password)');
    assert.ok([...c.webSessions.values()].every((w) => w.username === 'root'));

    const events = await env.core.listNamespacedEvent({ namespace: env.ns });
    const keyBody = certs.clientKey.split('\n')[1]!;
    for (const [what, text] of [
      ['status', JSON.stringify(done)],
      ['events', JSON.stringify(events.items)],
      ['logs', logs.join('')],
    ] as const) {
      assert.ok(text.length > 0, `${what} is not empty`);
      assert.ok(
        !text.includes(keyBody) && !text.includes(b64(certs.clientKey)),
        `the key appears in ${what}`,
      );
    }
  });
});
