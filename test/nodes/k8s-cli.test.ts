/**
 * `baton check` on an Upgrade whose target is nodes, on the real control plane: the CLI wires the
 * node platform and engine (wiring/nodes.ts) and prints the six node prechecks as a report.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NODE_PRECHECKS } from '../../src/engines/kubernetes/rules.js';
import { API_VERSION, KIND, type UpgradeResourceSpec } from '../../src/api/upgrade.js';
import { UpgradeResourceJournal } from '../../src/platforms/kubernetes/journal.js';
import { kubeCli } from '../k8s/cli-fixture.js';
import { fastClock } from '../k8s/platform-fixture.js';
import { nodeCluster, testTarget } from './k8s-fixture.js';

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
