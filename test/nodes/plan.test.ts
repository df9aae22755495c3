/**
 * The node planner, pure: version skew paths (the control plane one minor at a time, pools only
 * when the skew policy makes them), the control plane strictly serial, exponential batches capped
 * at a percent of each pool, and batches that keep the quorum of databases hosted on the nodes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostedMember, MemberView, Snapshot } from '../../src/core/types.js';
import { kubernetesNodesRules, kubernetesRules } from '../../src/engines/kubernetes/rules.js';
import { type BatchGate, batchGate, chooseBatch, planBatches } from '../../src/plan/batches.js';
import { buildPlan } from '../../src/plan/plan.js';
import { hostedQuorumVerdict } from '../../src/plan/safety.js';
import { minorsBetween, skewHops } from '../../src/plan/skew.js';
import { makeSpec } from '../../src/runner/start.js';
import { initialMembers } from '../../src/runner/start.js';

function node(
  name: string,
  component: string,
  ordinal: number,
  version: string,
  hosts?: HostedMember[],
): MemberView {
  return {
    name,
    component,
    ordinal,
    version,
    ready: true,
    running: true,
    engine: { role: 'none', healthy: true, caughtUp: true, lag: 0, ...(hosts ? { hosts } : {}) },
  };
}

/** 3 control-plane nodes and `workers` worker nodes on `cp` and `pool` versions. */
function cluster(cp: string, pool: string, workers: number, extra: MemberView[] = []): Snapshot {
  return {
    observedAt: 0,
    health: { healthy: true, detail: 'ok' },
    members: [
      ...[0, 1, 2].map((i) => node(`cp-${i}`, 'control-plane', i, cp)),
      ...Array.from({ length: workers }, (_, i) => node(`w-${i}`, 'workers', i, pool)),
      ...extra,
    ],
  };
}

const spec = (version: string, strategy: Parameters<typeof makeSpec>[0]['strategy'] = {}) =>
  makeSpec({
    cluster: 'prod',
    engine: 'kubernetes-nodes',
    version,
    strategy: { batch: { kind: 'exponential', capPercent: 10 }, maxUnavailable: 1000, ...strategy },
  });

const sizes = (b: string[][]) => b.map((x) => x.length);

describe('version skew', () => {
  it('counts minors between versions', () => {
    assert.equal(minorsBetween('1.33.4', '1.37.2'), 4);
    assert.equal(minorsBetween('v1.36.1', 'v1.36.9'), 0);
    assert.equal(minorsBetween('1.36.1', '2.0.0'), Infinity);
  });

  const cases: { name: string; from: string; leader: string[]; to: string; targets: (string | null)[] }[] = [
    {
      name: 'one hop: the pool moves with it',
      from: '1.36.2',
      leader: ['1.37.2'],
      to: '1.37.2',
      targets: ['1.37.2'],
    },
    {
      name: 'two hops: the pool waits for the last',
      from: '1.35.4',
      leader: ['1.36', '1.37.2'],
      to: '1.37.2',
      targets: [null, '1.37.2'],
    },
    {
      name: 'seven minors: the pool moves only when it would fall more than three behind',
      from: '1.30.1',
      leader: ['1.31', '1.32', '1.33', '1.34', '1.35', '1.36', '1.37.2'],
      to: '1.37.2',
      targets: [null, null, '1.33', null, null, '1.36', '1.37.2'],
    },
    {
      name: 'a pool already ahead of an intermediate step stays',
      from: '1.36.3',
      leader: ['1.36', '1.37.2'],
      to: '1.37.2',
      targets: [null, '1.37.2'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const hops = skewHops(
        kubernetesRules,
        { follows: 'control-plane', maxMinorsBehind: 3, component: 'workers' },
        c.from,
        c.to,
        c.leader,
      );
      assert.deepEqual(hops.hopTargets, c.targets);
      assert.deepEqual(
        hops.path.map((h) => h.to),
        c.targets.filter((t) => t !== null),
      );
      // Never newer than the control plane, never more than three minors behind it.
      let at = c.from;
      c.leader.forEach((cp, h) => {
        at = c.targets[h] ?? at;
        assert.ok(minorsBetween(at, cp) >= 0 && minorsBetween(at, cp) <= 3, `hop ${h}: ${at} vs ${cp}`);
      });
    });
  }

  it('refuses a pool target newer than the control plane', () => {
    assert.throws(
      () =>
        skewHops(
          kubernetesRules,
          { follows: 'control-plane', maxMinorsBehind: 3, component: 'gpu' },
          '1.36.1',
          '1.37.2',
          ['1.36.9'],
        ),
      /gpu cannot go to 1\.37\.2: it would be newer than control-plane \(1\.36\.9\)/,
    );
  });
});

describe('the node plan', () => {
  it('1.35 -> 1.37 through a given 1.36 release: the control plane takes both hops, workers only the last', () => {
    const rules = kubernetesNodesRules(['v1.36.4']);
    const plan = buildPlan({ spec: spec('v1.37.2'), snapshot: cluster('v1.35.2', 'v1.35.2', 20), rules });
    assert.deepEqual(
      plan.path.map((h) => [h.from, h.to]),
      [
        ['v1.35.2', 'v1.36.4'],
        ['v1.36.4', 'v1.37.2'],
      ],
    );
    const [cp, workers] = plan.components;
    assert.equal(cp?.name, 'control-plane');
    assert.deepEqual(cp?.batchPolicy, { kind: 'serial' });
    assert.deepEqual(sizes(cp!.batches.map((b) => b.members)), [1, 1, 1]);
    assert.deepEqual(workers?.hopTargets, [null, 'v1.37.2']);
    assert.deepEqual(
      workers?.path?.map((h) => [h.from, h.to]),
      [['v1.35.2', 'v1.37.2']],
    );
    // The first pass leaves the workers where they are.
    const members = initialMembers(plan, cluster('v1.35.2', 'v1.35.2', 20), 0);
    assert.deepEqual([members['cp-0']?.state, members['cp-0']?.to], ['pending', 'v1.36.4']);
    assert.deepEqual([members['w-0']?.state, members['w-0']?.to], ['done', 'v1.35.2']);
  });

  const batchCases: { cap: number; workers: number; sizes: number[] }[] = [
    { cap: 10, workers: 20, sizes: [1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1] },
    { cap: 20, workers: 20, sizes: [1, 2, 4, 4, 4, 4, 1] },
    { cap: 10, workers: 200, sizes: [1, 2, 4, 8, 16, 20, 20, 20, 20, 20, 20, 20, 20, 9] },
  ];
  for (const c of batchCases) {
    it(`${c.workers} workers capped at ${c.cap}%: batches ${c.sizes.slice(0, 4).join(', ')}, ...`, () => {
      const plan = buildPlan({
        spec: spec('1.37.2', { batch: { kind: 'exponential', capPercent: c.cap } }),
        snapshot: cluster('1.37.2', '1.36.2', c.workers),
        rules: kubernetesRules,
      });
      const workers = plan.components.find((x) => x.name === 'workers')!;
      assert.deepEqual(sizes(workers.batches.map((b) => b.members)), c.sizes);
    });
  }

  it('never puts two nodes hosting members of one 3-member etcd in the same batch', () => {
    const etcd = (member: string): HostedMember => ({
      group: 'db/etcd',
      member,
      tolerates: 1,
      groupDown: 0,
      healthy: true,
    });
    const snap = cluster('1.37.2', '1.36.2', 0, [
      node('w-0', 'workers', 0, '1.36.2', [etcd('etcd-0')]),
      node('w-1', 'workers', 1, '1.36.2', [etcd('etcd-1')]),
      node('w-2', 'workers', 2, '1.36.2', [etcd('etcd-2')]),
      ...Array.from({ length: 7 }, (_, i) => node(`w-${i + 3}`, 'workers', i + 3, '1.36.2')),
    ]);
    const plan = buildPlan({
      spec: spec('1.37.2', { batch: { kind: 'fixed', size: 4 } }),
      snapshot: snap,
      rules: kubernetesRules,
    });
    const batches = plan.components.find((x) => x.name === 'workers')!.batches.map((b) => b.members);
    for (const b of batches) {
      assert.ok(b.filter((n) => ['w-0', 'w-1', 'w-2'].includes(n)).length <= 1, b.join(','));
    }
    assert.equal(batches.flat().length, 10);
  });
});

describe('hosted quorum and the batch chooser', () => {
  const host = (name: string, hosts: [string, string, number, number, boolean][]) =>
    node(
      name,
      'workers',
      0,
      '1.36.2',
      hosts.map(([group, member, tolerates, groupDown, healthy]) => ({
        group,
        member,
        tolerates,
        groupDown,
        healthy,
      })),
    );
  const members = [
    host('a', [['db/etcd', 'etcd-0', 1, 0, true]]),
    host('b', [
      ['db/etcd', 'etcd-1', 1, 0, true],
      ['db/redis', 'redis-0', 1, 0, true],
    ]),
    host('c', [['db/pg', 'pg-0', 2, 1, true]]),
    host('d', [['db/pg', 'pg-1', 2, 1, true]]),
    host('e', []),
  ];
  const cases: { stopping: string[]; allow: boolean; reason: RegExp }[] = [
    { stopping: ['e'], allow: true, reason: /host no healthy database member/ },
    {
      stopping: ['b'],
      allow: true,
      reason: /b alone: its database members \(etcd-1 on b, redis-0 on b\) are drained one at a time/,
    },
    { stopping: ['a', 'e'], allow: true, reason: /db\/etcd: 1 down of 1 tolerated/ },
    {
      stopping: ['a', 'b'],
      allow: false,
      reason:
        /stopping a, b would take etcd-0 on a, etcd-1 on b of database db\/etcd down with 0 already down; it tolerates 1/,
    },
    {
      stopping: ['c', 'd'],
      allow: false,
      reason: /pg-0 on c, pg-1 on d of database db\/pg down with 1 already down; it tolerates 2/,
    },
  ];
  for (const c of cases) {
    it(`${c.stopping.join(', ')}: ${c.allow ? 'allowed' : 'refused'}`, () => {
      const v = hostedQuorumVerdict(members, c.stopping);
      assert.equal(v.allow, c.allow);
      assert.equal(v.check, 'hosted-quorum');
      assert.match(v.reason, c.reason);
    });
  }

  it('a node pool passes over a refused node; a raft component stops at it', () => {
    // A check that refuses a and b in the same batch.
    const deny = (): BatchGate => {
      const held = new Set<string>();
      const allows = () => !(held.has('a') && held.has('b'));
      return batchGate([
        {
          add: (n) => void held.add(n),
          remove: (n) => void held.delete(n),
          allows,
          verdict: () => ({ allow: allows(), check: 'x', reason: 'no' }),
        },
      ]);
    };
    assert.deepEqual(chooseBatch(['a', 'b', 'c'], 2, deny(), true), {
      batch: ['a', 'c'],
      denial: { check: 'x', reason: 'no' },
    });
    assert.deepEqual(chooseBatch(['a', 'b', 'c'], 2, deny(), false), {
      batch: ['a'],
      denial: { check: 'x', reason: 'no' },
    });
    assert.deepEqual(planBatches({ kind: 'fixed', size: 2 }, ['a', 'b', 'c'], {}, deny(), true), [
      ['a', 'c'],
      ['b'],
    ]);
  });
});
