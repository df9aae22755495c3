/**
 * The CLI on an Upgrade whose target is nodes, on the real control plane: `baton check` wires the
 * node platform and engine (wiring/nodes.ts) and prints the six node prechecks as a report; `baton
 * apply` in the foreground upgrades every node, its runner writing statuses behind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NODE_PRECHECKS } from '../../src/engines/kubernetes/rules.js';
import {
  API_VERSION,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
  type UpgradeResourceSpec,
} from '../../src/api/upgrade.js';
import { UpgradeResourceJournal } from '../../src/platforms/kubernetes/journal.js';
import { kubeCli } from '../k8s/cli-fixture.js';
import { fastClock } from '../k8s/platform-fixture.js';
import {
  deployment,
  nodeCluster,
  readUpgrade,
  testNodes,
  testTarget,
  testTargetFlags,
  waitAvailable,
} from './k8s-fixture.js';

describe('baton check of a nodes target (real control plane)', () => {
  it('prints every node precheck by name, nothing cordoned', { timeout: 120_000 }, async (t) => {
    const n = await nodeCluster(t, { cp: 1, workers: 1, from: 'v1.36.5' });
    const journal = new UpgradeResourceJournal({ kc: n.kc, namespace: n.c.namespace, clock: fastClock });
    await journal.createResource({
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: 'nodes', namespace: n.c.namespace },
      spec: {
        engine: 'kubernetes-nodes',
        version: 'v1.37.2',
        target: { nodes: testTarget(n.c) },
      } as UpgradeResourceSpec,
    });
    const baton = await kubeCli(t, n.c);
    const r = await baton('check', '--name', 'nodes');
    assert.equal(r.code, 0, r.err + r.out);
    for (const p of NODE_PRECHECKS) assert.match(r.out, new RegExp(p.name), `${p.name} reported`);
    // Without --to, the checks are for the Upgrade's own target, not the nodes' current version.
    const json = await baton('check', '--name', 'nodes', '-o', 'json');
    assert.equal(json.code, 0, json.err + json.out);
    assert.equal((JSON.parse(json.out) as { version: string }).version, 'v1.37.2');
    const nodes = await n.core.listNode({ labelSelector: `baton.dev/test-node-group=${n.c.namespace}` });
    assert.ok(nodes.items.every((x) => !x.spec?.unschedulable));
  });
});

describe('baton apply of a nodes target in the foreground (real control plane)', () => {
  it(
    'upgrades every node and asks the cluster for the next step while a status is still being written',
    { timeout: 180_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 3, from: 'v1.36.5' });
      await n.apps.createNamespacedDeployment({ namespace: n.c.namespace, body: deployment('web', 3) });
      await waitAvailable(n, 'web');
      // Every status write of this Upgrade takes 700 ms longer: a runner that waits for each one
      // never asks the cluster for anything meanwhile; one writing behind cordons, uncordons and
      // creates the upgrade Jobs while an outcome is still on its way to the journal.
      const status = `/apis/${GROUP}/${VERSION}/namespaces/${n.c.namespace}/${PLURAL}/nodes/status`;
      n.c.setLatency({ ms: 700, method: 'PUT', pathPrefix: status });
      const baton = await kubeCli(t, n.c);
      const r = await baton(
        'apply',
        '--name',
        'nodes',
        ...testTargetFlags(n.c, 'v1.37.2'),
        '--batch',
        'fixed:1',
      );
      n.c.setLatency({ ms: 0, method: 'PUT', pathPrefix: status });
      assert.equal(r.code, 0, r.err + r.out);

      // What the drive returned on is in the store: every node at the target, none left cordoned.
      const u = await readUpgrade(n, 'nodes');
      assert.equal(u.status?.phase, 'Completed', u.status?.reason);
      assert.equal(u.status?.progress?.done, 4);
      for (const [name, node] of await testNodes(n)) {
        assert.equal(node.status?.nodeInfo?.kubeletVersion, 'v1.37.2', `${name} upgraded`);
        assert.ok(!node.spec?.unschedulable, `${name} uncordoned`);
      }

      const sent = n.c.requests().entries;
      const writes = sent.filter((e) => e.verb === 'update' && e.path.startsWith(status));
      const steps = sent.filter(
        (e) =>
          (e.verb === 'patch' && e.resource === 'nodes') || (e.verb === 'create' && e.resource === 'jobs'),
      );
      assert.equal(steps.filter((e) => e.resource === 'jobs').length, 4, 'one upgrade Job per node');
      const meanwhile = steps.filter((e) =>
        writes.some((w) => w.at < e.at && e.at < (w.answeredAt ?? Infinity)),
      );
      assert.ok(
        meanwhile.length > 0,
        `a cordon, uncordon or Job went out while a status write was in flight (${writes.length} writes, ${steps.length} steps)`,
      );
    },
  );
});
