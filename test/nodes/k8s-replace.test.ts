/**
 * The `replace` actuator on the real control plane: Baton drains a node and deletes it, the pool
 * (`fake-nodes.ts`, as a managed pool's surge) brings up a new node at the target version, and the
 * new node takes over the member; the evicted workload comes back on the new nodes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REPLACES_ANNOTATION } from '../../src/platforms/kubernetes/nodes.js';
import { deployment, nodeCluster, testNodes, testTarget, waitAvailable, wireNodes } from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2';

describe('node upgrade with the replace actuator (real control plane)', () => {
  it(
    'each node drained, deleted and replaced by a new node of its pool at the target',
    { timeout: 240_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 2, from: FROM, side: { replaceVersion: TO } });
      await n.apps.createNamespacedDeployment({ namespace: n.c.namespace, body: deployment('web', 2) });
      await waitAvailable(n, 'web');
      const w = await wireNodes(n, 'nodes', {
        version: TO,
        target: { nodes: testTarget(n.c, { actuator: { type: 'replace' } }) },
      });
      const r = await w
        .runner()
        .run({ stopWhen: (x) => x.status.phase === 'Paused', signal: AbortSignal.timeout(200_000) })
        .catch((err: unknown) => {
          throw new Error(`${String(err)}; last: ${JSON.stringify(w.statuses.at(-1)?.history.slice(-5))}`);
        });
      assert.equal(r.status.phase, 'Completed', r.status.pauseCause);
      const nodes = await testNodes(n);
      assert.deepEqual([...nodes.keys()].sort(), ['new-1', 'new-2', 'new-3']);
      const replaced = [...nodes.values()].map((x) => x.metadata?.annotations?.[REPLACES_ANNOTATION]).sort();
      assert.deepEqual(
        replaced,
        ['cp-1', 'w-01', 'w-02'].map((x) => n.node(x)).sort(),
        'each new node names the member it replaced',
      );
      for (const x of nodes.values()) assert.equal(x.status?.nodeInfo?.kubeletVersion, TO);
      assert.equal(n.side.replaced[0]![0], n.node('cp-1'), 'the control plane first');
      assert.deepEqual(
        Object.keys(r.status.members).sort(),
        [n.node('cp-1'), n.node('w-01'), n.node('w-02')].sort(),
      );
      await waitAvailable(n, 'web');
    },
  );
});
