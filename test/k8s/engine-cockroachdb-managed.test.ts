/**
 * A managed StatefulSet (`baton.dev/managed=true`, `baton.dev/engine=cockroachdb`, its roll frozen)
 * whose image is changed the way the seed does it, `kubectl patch statefulset --type=json -p
 * '[{"op":"replace","path":"/spec/template/spec/containers/0/image",...}]'`: the operator creates
 * the Upgrade itself and rolls it with the CockroachDB engine (option set, every node drained before
 * its pod goes, finalized). A managed Upgrade carries no endpoints, so the engine reaches each pod at
 * its default address, `<pod>.<service>.<namespace>.svc` with the SQL, RPC and HTTP ports; the
 * test pods are not on a pod network, so the engine given to the operator resolves those names to
 * the double's listeners (the one thing standing in for cluster DNS; the engine is the real one).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JSON_PATCH } from '../../src/api/client.js';
import { LABELS, type UpgradeResource } from '../../src/api/upgrade.js';
import { CockroachEngine } from '../../src/engines/cockroachdb/engine.js';
import { defaultAddresses } from '../../src/engines/cockroachdb/client.js';
import { PRESERVE_DOWNGRADE_OPTION } from '../../src/engines/cockroachdb/sql.js';
import { startCockroachPods } from '../cockroachdb/pods.js';
import { waitFor } from '../kube/helpers.js';
import { historyOf } from './engine-etcd-fixtures.js';
import {
  createSettled,
  makeOperator,
  podImages,
  setup,
  statefulSet,
  waitUpgrade,
} from './operator-fixtures.js';

const IMAGE = 'cockroachdb/cockroach';

describe('cockroachdb on a managed StatefulSet', () => {
  it("the seed's `kubectl patch statefulset` on a managed StatefulSet becomes an Upgrade the operator rolls with the cockroachdb engine", async (t) => {
    const env = await setup(t);
    const pods = await startCockroachPods(t, env.server, {
      statefulSet: 'cockroachdb',
      nodes: 3,
      version: '23.2.5',
      ranges: 18,
    });
    const labels = { [LABELS.managed]: 'true', [LABELS.engine]: 'cockroachdb' };
    await createSettled(
      env,
      statefulSet('cockroachdb', 3, { image: `${IMAGE}:v23.2.5`, labels, partition: 3 }),
    );
    const c = pods.double.cluster;
    await waitFor('every node live', () => c.nodes.every((n) => c.isLive(n)));

    // Cluster DNS for the test pods: `cockroachdb-<i>.cockroachdb.<ns>.svc` is node i+1.
    const resolved: string[] = [];
    const addresses = (endpoint: string) => {
      const host = defaultAddresses(endpoint).sql.split(':')[0]!;
      const m = new RegExp(`^cockroachdb-(\\d+)\\.cockroachdb\\.${env.ns}\\.svc$`).exec(host);
      if (!m) throw new Error(`no such host: ${host}`);
      resolved.push(host);
      return pods.double.addresses(Number(m[1]) + 1);
    };
    const op = makeOperator(t, env, {
      engines: (name: string) => {
        assert.equal(name, 'cockroachdb', 'the engine comes from the baton.dev/engine label');
        return new CockroachEngine({ addresses });
      },
    });
    await op.start();
    await waitFor('leadership', () => op.isLeader());

    await env.apps.patchNamespacedStatefulSet(
      {
        namespace: env.ns,
        name: 'cockroachdb',
        body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${IMAGE}:v24.1.3` }],
      },
      JSON_PATCH,
    );
    const name = await waitFor('the managed Upgrade', async () => {
      const r = (await env.custom.listNamespacedCustomObject({
        group: 'baton.dev',
        version: 'v1alpha1',
        namespace: env.ns,
        plural: 'upgrades',
        labelSelector: `${LABELS.statefulSet}=cockroachdb`,
      })) as { items: UpgradeResource[] };
      return r.items[0]?.metadata.name;
    });
    const done = await waitUpgrade(
      env,
      name,
      'ended',
      (u) => ['Completed', 'Failed', 'Paused', 'AwaitingFinalization'].includes(u.status?.phase ?? ''),
      120_000,
    );
    const history = historyOf(done);
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${history.join('\n')}`);
    assert.equal(done.spec.engine, 'cockroachdb');
    assert.equal(done.spec.version, 'v24.1.3');
    assert.equal(done.spec.target.endpoints, undefined, 'a managed Upgrade carries no endpoints');
    assert.ok(resolved.length > 0 && resolved.every((h) => h.endsWith(`.cockroachdb.${env.ns}.svc`)));

    assert.deepEqual(pods.stopOrder(), ['cockroachdb-2', 'cockroachdb-1', 'cockroachdb-0']);
    for (const s of pods.stops) {
      assert.equal(s.draining, true, `${s.pod} drained before its pod went`);
      assert.equal(s.leases, 0, `${s.pod} held no lease when its pod went`);
    }
    assert.deepEqual(Object.values(await podImages(env, 'cockroachdb')), Array(3).fill(`${IMAGE}:v24.1.3`));
    assert.deepEqual(
      c.statements.filter((s) => /^(SET|RESET) /.test(s)),
      [
        `SET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION} = '23.2'`,
        `RESET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION}`,
      ],
    );
    await waitFor('cluster version 24.1', () => c.clusterVersionString() === '24.1');
  });
});
