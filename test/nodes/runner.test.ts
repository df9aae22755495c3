/**
 * The runner's node steps, table-tested on the pure decision (a hand-built snapshot of nodes and
 * the status the runner would have) and end to end over the simulator with the node rules:
 * control-plane nodes one at a time, workers in batches that take each step together, drains
 * repeated on a back-off and their timeout policies, a failed upgrade Job, the uncordon before
 * the wait for evicted workloads, failed-node allowances, and cancel only once paused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import type {
  EngineMemberState,
  MemberProgress,
  MemberView,
  Snapshot,
  UpgradeSpec,
  UpgradeStatus,
} from '../../src/core/types.js';
import { kubernetesRules } from '../../src/engines/kubernetes/rules.js';
import { engineRegistry } from '../../src/engines/registry.js';
import { buildPlan } from '../../src/plan/plan.js';
import { createSimWorld, parseSimClusterDescription } from '../../src/platforms/sim/index.js';
import { type Action, type Decision, applyOutcome, decide } from '../../src/runner/decide.js';
import { type ReconcileResult, Runner } from '../../src/runner/runner.js';
import { createUpgrade, initialStatus, makeSpec } from '../../src/runner/start.js';

const NOW = 1_000_000;

function node(
  name: string,
  component: string,
  ordinal: number,
  engine: Partial<EngineMemberState> = {},
): MemberView {
  return {
    name,
    component,
    ordinal,
    version: '1.36.2',
    ready: true,
    running: true,
    engine: { role: 'none', healthy: true, caughtUp: true, lag: 0, leaderCount: 1, ...engine },
  };
}

function snapshotOf(members: MemberView[]): Snapshot {
  return { observedAt: NOW, members, health: { healthy: true, detail: 'ok' } };
}

const workers = (n: number) => Array.from({ length: n }, (_, i) => node(`w-${i}`, 'workers', i));

function specOf(strategy: Parameters<typeof makeSpec>[0]['strategy'] = {}, extra: Partial<UpgradeSpec> = {}) {
  return makeSpec({
    name: 'up',
    cluster: 'prod',
    engine: 'kubernetes-nodes',
    version: '1.37.2',
    strategy: { batch: { kind: 'exponential', capPercent: 20 }, maxUnavailable: 1000, ...strategy },
    ...extra,
  });
}

/** A Running status of an upgrade of `members` (workers only, control plane already at the target). */
function running(spec: UpgradeSpec, members: MemberView[]): UpgradeStatus {
  const snap = snapshotOf(members);
  const status = initialStatus(spec, buildPlan({ spec, snapshot: snap, rules: kubernetesRules }), snap, NOW);
  status.phase = 'Running';
  return status;
}

function member(status: UpgradeStatus, name: string, change: Partial<MemberProgress>): void {
  Object.assign(status.members[name]!, change);
}

function step(spec: UpgradeSpec, status: UpgradeStatus, members: MemberView[], now = NOW): Decision {
  return decide({ spec, status, snapshot: snapshotOf(members), rules: kubernetesRules, now });
}

const all = (d: Decision): Action[] => d.actions ?? (d.action ? [d.action] : []);
const brief = (d: Decision) => all(d).map((a) => `${a.kind}:${'member' in a ? a.member : ''}`);

describe('node steps (pure decisions)', () => {
  it('a batch takes each step together: every node of the batch is drained in one decision', () => {
    const spec = specOf({ batch: { kind: 'fixed', size: 3 } });
    const members = workers(6);
    const d = step(spec, running(spec, members), members);
    assert.deepEqual(brief(d), ['drain:w-5', 'drain:w-4', 'drain:w-3']);
    assert.ok(all(d).every((a) => a.kind === 'drain' && a.evacuate === true));
    assert.equal(d.reason, 'drain w-5, w-4, w-3');
    assert.deepEqual(d.status.currentBatch, ['w-5', 'w-4', 'w-3']);
  });

  it('nodes are drained whether or not they host anything, and the budget is the batch cap', () => {
    // 10 workers at 20%: at most 2 down; one is already NotReady, so the batch of 2 gets 1 healthy node
    // besides it.
    const spec = specOf();
    const members = workers(10);
    members[3] = { ...members[3]!, ready: false };
    let status = running(spec, members);
    status.batchesSincePause = 1;
    status.batchesStarted = 1;
    const d = step(spec, status, members);
    assert.deepEqual(brief(d), ['drain:w-3', 'drain:w-9']);
    status = d.status;
    assert.equal(status.members['w-9']?.state, 'draining');
  });

  it('a node still holding pods is drained again on a back-off, then replaced once empty', () => {
    const spec = specOf({ batch: { kind: 'serial' } });
    const members = workers(3);
    let status = running(spec, members);
    let d = step(spec, status, members);
    assert.deepEqual(brief(d), ['drain:w-2']);
    status = applyOutcome({ spec, status: d.status, now: NOW }, d.action!, {
      ok: true,
      message: 'evicted 3 pods',
    });
    const holding = members.map((m) =>
      m.name === 'w-2'
        ? node('w-2', 'workers', 2, { leaderCount: 1, detail: 'web-1: PDB shop/web allows 0 disruptions' })
        : m,
    );
    d = step(spec, status, holding, NOW + 500);
    assert.deepEqual(brief(d), [], 'waits for the first back-off');
    assert.match(d.reason, /w-2: web-1: PDB shop\/web allows 0 disruptions/);
    d = step(spec, status, holding, NOW + 1000);
    assert.deepEqual(brief(d), ['drain:w-2'], 'drained again after 1 s');
    status = applyOutcome({ spec, status: d.status, now: NOW + 1000 }, d.action!, { ok: true });
    assert.equal(status.members['w-2']?.drainCalls, 2);
    assert.deepEqual(brief(step(spec, status, holding, NOW + 2500)), [], 'then after 2 s');
    assert.deepEqual(brief(step(spec, status, holding, NOW + 3000)), ['drain:w-2']);
    const empty = members.map((m) => (m.name === 'w-2' ? node('w-2', 'workers', 2, { leaderCount: 0 }) : m));
    d = step(spec, status, empty, NOW + 3000);
    assert.deepEqual(brief(d), ['replace:w-2']);
  });

  it('a node whose pods left are all terminating is not drained again, but its drain still times out', () => {
    const spec = specOf({ batch: { kind: 'serial' }, timeouts: { drainSeconds: 60, drainPolicy: 'delete' } });
    const members = workers(3);
    let d = step(spec, running(spec, members), members);
    const status = applyOutcome({ spec, status: d.status, now: NOW }, d.action!, { ok: true });
    const leaving = (inPlace: boolean) =>
      members.map((m) =>
        m.name === 'w-2'
          ? node('w-2', 'workers', 2, { leaderCount: 1, drainInPlace: inPlace, detail: 'web-1 terminating' })
          : m,
      );
    d = step(spec, status, leaving(true), NOW + 5000);
    assert.deepEqual(brief(d), [], 'everything left is already leaving: nothing to evict again');
    assert.match(d.reason, /w-2: web-1 terminating/);
    assert.deepEqual(
      brief(step(spec, status, leaving(false), NOW + 5000)),
      ['drain:w-2'],
      'a pod not leaving is',
    );
    d = step(spec, status, leaving(true), NOW + 60_000);
    assert.deepEqual(brief(d), ['drain:w-2'], 'past the timeout, policy delete drains again');
    const again = all(d)[0]!;
    assert.equal(again.kind === 'drain' && again.timedOut, true);
  });

  const timeoutCases: { policy: 'pause' | 'delete' | 'give-up'; expect: (d: Decision) => void }[] = [
    {
      policy: 'pause',
      expect: (d) => {
        assert.equal(d.status.phase, 'Paused');
        assert.equal(
          d.status.pauseCause,
          'draining w-2 timed out after 60s: web-1: PDB shop/web allows 0 disruptions',
        );
        assert.equal(d.status.members['w-2']?.state, 'pending');
      },
    },
    {
      policy: 'delete',
      expect: (d) => {
        assert.equal(d.status.phase, 'Running');
        assert.deepEqual(all(d), [{ kind: 'drain', member: 'w-2', evacuate: true, timedOut: true }]);
      },
    },
    {
      policy: 'give-up',
      expect: (d) => {
        assert.equal(d.status.phase, 'Paused', 'no failed node is allowed by default');
        assert.equal(d.status.members['w-2']?.state, 'failed');
        assert.match(
          d.status.members['w-2']?.lastError ?? '',
          /gave up on it \(policy give-up\), it stays cordoned$/,
        );
      },
    },
  ];
  for (const c of timeoutCases) {
    it(`a drain past its timeout with policy ${c.policy}`, () => {
      const spec = specOf({
        batch: { kind: 'serial' },
        timeouts: { drainSeconds: 60, drainPolicy: c.policy },
      });
      const members = workers(3).map((m) =>
        m.name === 'w-2'
          ? node('w-2', 'workers', 2, { detail: 'web-1: PDB shop/web allows 0 disruptions' })
          : m,
      );
      const status = running(spec, members);
      status.currentBatch = ['w-2'];
      member(status, 'w-2', {
        state: 'draining',
        since: NOW,
        drainIssued: true,
        drainCalls: 9,
        drainedAt: NOW + 59_000,
      });
      c.expect(step(spec, status, members, NOW + 60_000));
    });
  }

  it('a failed upgrade Job fails the node at once; within the allowance the pool goes on', () => {
    const spec = specOf({ batch: { kind: 'fixed', size: 2 }, maxFailedMembers: 1 });
    const members = workers(4);
    const status = running(spec, members);
    status.currentBatch = ['w-3', 'w-2'];
    for (const n of ['w-3', 'w-2'])
      member(status, n, { state: 'replacing', since: NOW, replaceIssued: true, drainIssued: true });
    const failedJob = members.map((m) =>
      m.name === 'w-3'
        ? { ...m, failed: true, detail: 'upgrade Job kube-upgrade/baton-w-3 failed: BackoffLimitExceeded' }
        : m,
    );
    const d = step(spec, status, failedJob);
    assert.equal(d.status.phase, 'Running');
    assert.equal(d.status.members['w-3']?.state, 'failed');
    assert.equal(
      d.status.members['w-3']?.lastError,
      'w-3 failed while being upgraded to 1.37.2: upgrade Job kube-upgrade/baton-w-3 failed: BackoffLimitExceeded',
    );
    assert.equal(d.status.progress.failed, 1);
    // A second failure is one more than allowed: the upgrade pauses naming it.
    const both = failedJob.map((m) => (m.name === 'w-2' ? { ...m, failed: true, detail: 'Job failed' } : m));
    const d2 = step(spec, d.status, both);
    assert.equal(d2.status.phase, 'Paused');
    assert.equal(
      d2.status.pauseCause,
      'w-2 failed while being upgraded to 1.37.2: Job failed (2 failed members, more than the 1 allowed)',
    );
  });

  it('a node back and Ready at the target is uncordoned before its evicted workloads are waited for', () => {
    const spec = specOf({ batch: { kind: 'serial' } });
    const members = workers(2);
    const status = running(spec, members);
    status.currentBatch = ['w-1'];
    member(status, 'w-1', { state: 'verifying', since: NOW, replaceIssued: true, drainIssued: true });
    const back = members.map((m) =>
      m.name === 'w-1'
        ? {
            ...node('w-1', 'workers', 1, {
              caughtUp: false,
              leaderCount: 0,
              detail: 'deployment shop/web 2 of 3 available',
            }),
            version: '1.37.2',
          }
        : m,
    );
    let d = step(spec, status, back);
    assert.deepEqual(brief(d), ['restore:w-1']);
    const restored = applyOutcome({ spec, status: d.status, now: NOW }, d.action!, { ok: true });
    d = step(spec, restored, back);
    assert.deepEqual(brief(d), []);
    assert.match(d.reason, /w-1: catching up \(lag 0, deployment shop\/web 2 of 3 available\)/);
  });

  it('a cancel lets the node being drained finish, then ends Cancelled', () => {
    const spec = specOf({ batch: { kind: 'serial' } });
    const members = workers(3);
    const d = step(spec, running(spec, members), members);
    assert.deepEqual(brief(d), ['drain:w-2']);
    const cancel = { ...spec, cancel: true, paused: true };
    const d2 = step(cancel, d.status, members);
    assert.deepEqual(brief(d2), ['drain:w-2'], 'the node being drained finishes');
    const done = structuredClone(d2.status);
    member(done, 'w-2', { state: 'done' });
    const d3 = step(cancel, done, members);
    assert.equal(d3.status.phase, 'Cancelled');
    assert.match(d3.status.reason, /^cancelled: 1 member\(s\) upgraded stay upgraded/);
  });
});

describe('node upgrades over the simulator', () => {
  async function setUp(
    cluster: Parameters<typeof parseSimClusterDescription>[0],
    strategy: Parameters<typeof makeSpec>[0]['strategy'],
  ) {
    const clock = new FakeClock();
    const world = createSimWorld(parseSimClusterDescription(cluster, engineRegistry), { clock });
    const spec = makeSpec({
      name: 'up',
      cluster: world.cluster.name,
      engine: 'kubernetes-nodes',
      version: '1.37.2',
      strategy,
    });
    await createUpgrade(world.platform, world.engine, spec, { clock, logger: nullLogger });
    const decisions: ReconcileResult[] = [];
    const runner = new Runner({ ...world, clock, logger: nullLogger, name: 'up' });
    return { world, runner, decisions };
  }

  const cases: { cap: number; sizes: number[] }[] = [
    { cap: 10, sizes: [1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1] },
    { cap: 20, sizes: [1, 2, 4, 4, 4, 4, 1] },
  ];
  for (const c of cases) {
    it(`3 control-plane nodes one at a time, then 20 workers in batches of ${c.sizes.slice(0, 3).join(', ')} at ${c.cap}%`, async () => {
      const { runner, world } = await setUp(
        {
          engine: 'kubernetes-nodes',
          version: '1.36.2',
          components: [
            { name: 'control-plane', members: 3 },
            { name: 'workers', members: 20 },
          ],
        },
        { batch: { kind: 'exponential', capPercent: c.cap }, maxUnavailable: 1000 },
      );
      const r = await runner.run({ stopWhen: (x) => x.status.phase === 'Paused' });
      assert.equal(r.status.phase, 'Completed', r.status.reason);
      const batches = r.status.history.filter((h) => h.message.startsWith('batch ')).map((h) => h.message);
      // One control-plane node per batch, the etcd leader's node last.
      const cp = batches
        .slice(0, 3)
        .map((m) => m.replace(/^batch \d+ of control-plane: /, '').replace(/ \(to .*/, ''));
      assert.deepEqual([...cp].sort(), ['control-plane-0', 'control-plane-1', 'control-plane-2']);
      assert.match(batches[0]!, /: control plane node 1 of 3$/);
      assert.match(batches[1]!, /: control plane node 2 of 3$/);
      assert.match(batches[3]!, /: workers 0 of 20$/);
      const workerSizes = batches.slice(3).map((m) => m.split(': ')[1]!.split(' (to')[0]!.split(', ').length);
      assert.deepEqual(workerSizes, c.sizes);
      assert.equal(world.cluster.recorder.maxUnavailable('control-plane'), 1);
      assert.deepEqual(world.cluster.recorder.violations(), []);
    });
  }
});
