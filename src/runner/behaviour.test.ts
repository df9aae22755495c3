/**
 * Scenario tests of what every upgrade does, driven through the real Runner over the simulator:
 * prechecks and force, member order, components by prerequisites, batch policies, the budget,
 * restoring drained members, and progress.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../core/clock.js';
import { nullLogger } from '../core/logger.js';
import type { ProgressSummary, UpgradeSpec } from '../core/types.js';
import { createSimWorld, parseSimClusterDescription, type SimClusterInput } from '../platforms/sim/index.js';
import { type ReconcileResult, Runner } from './runner.js';
import { createUpgrade, makeSpec } from './start.js';
import { engineRegistry } from '../engines/registry.js';

/** Stop a run that ends Paused: a paused upgrade otherwise polls for its whole expiry time. */
const UNTIL_PAUSED = { stopWhen: (r: ReconcileResult) => r.status.phase === 'Paused' };

type SpecInput = Parameters<typeof makeSpec>[0];

/** A simulated world with its clock, an upgrade created on it, and a runner over it. */
async function setUp(cluster: SimClusterInput, spec: Omit<SpecInput, 'cluster' | 'engine'>) {
  const clock = new FakeClock();
  const world = createSimWorld(parseSimClusterDescription(cluster, engineRegistry), { clock });
  const full = makeSpec({ name: 'up', cluster: world.cluster.name, engine: cluster.engine, ...spec });
  await createUpgrade(world.platform, world.engine, full, { clock, logger: nullLogger });
  const statuses: ProgressSummary[] = [];
  const runner = new Runner({
    ...world,
    clock,
    logger: nullLogger,
    name: 'up',
    onStatus: (s) => statuses.push(structuredClone(s.progress)),
  });
  const update = (change: (s: UpgradeSpec) => Partial<UpgradeSpec>) =>
    world.platform.journal.updateSpec('up', (s) => ({ ...s, ...change(s) }));
  return { clock, world, runner, statuses, update, rec: world.cluster.recorder };
}

const replaced = (rec: { calls(kind: 'replaceMember'): { member?: string }[] }) =>
  rec.calls('replaceMember').map((c) => c.member!);

/** Members grouped by the batch number the runner gave them. */
async function batchesOf(
  journal: {
    get(n: string): Promise<{ status: { members: Record<string, { batch?: number }> } } | undefined>;
  },
  component: string,
): Promise<string[][]> {
  const rec = await journal.get('up');
  const groups = new Map<number, string[]>();
  for (const [name, m] of Object.entries(rec!.status.members)) {
    if (!name.startsWith(component) || m.batch === undefined) continue;
    groups.set(m.batch, [...(groups.get(m.batch) ?? []), name]);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

describe('prechecks', () => {
  it('a failing precheck blocks, names the check and changes nothing', async () => {
    const { runner, clock, rec } = await setUp(
      {
        engine: 'sim',
        version: '1.0.0',
        precheckFailures: { 'replication-caught-up': 'db-2 lags by 900 entries' },
      },
      { version: '1.1.0' },
    );
    const start = clock.now();
    const r = await runner.run({ stopWhen: () => clock.now() - start > 5 * 60_000 });
    assert.equal(r.status.phase, 'Prechecking');
    assert.equal(r.status.blockedBy?.check, 'precheck:replication-caught-up');
    assert.match(r.status.reason, /^blocked by precheck replication-caught-up: db-2 lags by 900 entries/);
    assert.equal(r.status.blockedBy?.since, start, 'the block keeps the time it started');
    assert.ok(rec.calls('prechecks').length >= 30, 'prechecks are re-run while blocked');
    assert.equal(rec.calls('replaceMember').length, 0);
    assert.equal(rec.calls('drain').length, 0);
    assert.equal(rec.calls('hook').length, 0);
  });

  it('force skips only the named failing check, is recorded, and is reported while set', async () => {
    const { runner, rec, update } = await setUp(
      {
        engine: 'sim',
        version: '1.0.0',
        precheckFailures: { 'replication-caught-up': 'db-2 lags', quorum: 'no leader' },
      },
      { version: '1.1.0' },
    );
    await runner.run({ stopWhen: (r) => r.status.blockedBy !== undefined });
    await update(() => ({ force: ['replication-caught-up'] }));
    let r = await runner.run({ stopWhen: (x) => x.status.blockedBy?.check === 'precheck:quorum' });
    assert.equal(r.status.phase, 'Prechecking', 'the unnamed failing check still blocks');
    assert.equal(rec.calls('replaceMember').length, 0);
    assert.deepEqual(r.status.forced, ['replication-caught-up']);
    await update(() => ({ force: ['replication-caught-up', 'quorum'] }));
    r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.deepEqual([...r.status.forced].sort(), ['quorum', 'replication-caught-up']);
    const forced = r.status.history.filter((h) => h.type === 'force').map((h) => h.message);
    assert.ok(
      forced.includes('precheck replication-caught-up failed but is forced: db-2 lags'),
      forced.join('\n'),
    );
    assert.ok(forced.includes('force is set (replication-caught-up, quorum)'), forced.join('\n'));
    assert.ok(r.status.prechecks.every((p) => p.ok || p.forced));
  });
});

describe('member order', () => {
  it('unready first, followers most lagging first, leader last after a transfer', async () => {
    const { runner, rec, world } = await setUp(
      {
        engine: 'sim',
        version: '1.0.0',
        components: [
          {
            name: 'db',
            members: [{ lag: 0 }, { lag: 300 }, { role: 'leader' }, { ready: false }, { lag: 120 }],
          },
        ],
      },
      { version: '1.1.0', force: ['*'] },
    );
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.deepEqual(replaced(rec), ['db-3', 'db-1', 'db-4', 'db-0', 'db-2']);
    const calls = rec.calls();
    const drainLeader = calls.findIndex((c) => c.kind === 'drain' && c.member === 'db-2');
    const stopLeader = calls.findIndex((c) => c.kind === 'replaceMember' && c.member === 'db-2');
    assert.ok(drainLeader >= 0 && drainLeader < stopLeader, 'leadership moves before the leader stops');
    assert.equal(rec.transfers()[0]?.from, 'db-2');
    assert.deepEqual(rec.leaderStops(), []);
    assert.deepEqual(rec.violations(), []);
    assert.ok(world.cluster.memberViews().every((m) => m.version === '1.1.0' && m.ready));
  });
});

describe('components by prerequisites', () => {
  it('tidb: pd -> tikv -> tidb, nothing of a component before its prerequisites are done', async () => {
    const { runner, rec, world } = await setUp(
      {
        engine: 'tidb',
        version: 'v7.5.0',
        components: [
          { name: 'pd', members: 3 },
          { name: 'tikv', members: 3 },
          { name: 'tidb', members: 2 },
        ],
      },
      { version: 'v8.1.0' },
    );
    world.cluster.expectTargets({ pd: 'v8.1.0', tikv: 'v8.1.0', tidb: 'v8.1.0' });
    const pdLeader = world.cluster.leaderOf('pd');
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    const order = replaced(rec).map((n) => n.replace(/-\d+$/, ''));
    assert.deepEqual(order, ['pd', 'pd', 'pd', 'tikv', 'tikv', 'tikv', 'tidb', 'tidb']);
    assert.equal(replaced(rec)[2], pdLeader, 'the PD leader goes last');
    assert.deepEqual(rec.prerequisiteViolations(), []);
    assert.deepEqual(rec.violations(), []);
    const hooks = rec.hooks().map((h) => `${h.name}${h.component ? `:${h.component}` : ''}`);
    assert.ok(hooks.indexOf('beforeComponent:tidb') < hooks.indexOf('afterComponent:tidb'));
    assert.ok(hooks.includes('afterUpgrade'));
    assert.equal(world.cluster.ddlPaused, false, 'DDL resumed after the TiDB tier');
    assert.ok(
      world.cluster.memberViews().every((m) => !m.evicting),
      'no evict-leader scheduler left',
    );
  });

  it('blocks tikv with the prerequisites check while a pd member is down, changing nothing of tikv', async () => {
    const { runner, rec, clock } = await setUp(
      {
        engine: 'tidb',
        version: 'v7.5.0',
        components: [
          { name: 'pd', members: 3 },
          { name: 'tikv', members: 3 },
        ],
        faults: [{ kind: 'never-ready', member: 'pd-0' }],
      },
      { version: 'v8.1.0', strategy: { timeouts: { readySeconds: 3600 } } },
    );
    const start = clock.now();
    const r = await runner.run({
      stopWhen: (x) => x.status.phase === 'Paused' || clock.now() - start > 90 * 60_000,
    });
    assert.ok(!replaced(rec).some((n) => n.startsWith('tikv')), replaced(rec).join(', '));
    assert.equal(r.status.phase, 'Paused');
    assert.match(r.status.pauseCause ?? '', /pd-0 not ready on v8\.1\.0 after 60m/);
  });
});

describe('batches and the budget on a 50-node worker pool', () => {
  const cluster = (): SimClusterInput => ({
    engine: 'kubernetes-nodes',
    version: '1.30.2',
    components: [
      { name: 'control-plane', members: 3 },
      { name: 'workers', members: 50 },
    ],
  });
  const cases: {
    name: string;
    strategy: SpecInput['strategy'];
    sizes: number[];
  }[] = [
    { name: 'serial', strategy: { batch: { kind: 'serial' } }, sizes: Array(50).fill(1) },
    {
      name: 'fixed 5',
      strategy: { batch: { kind: 'fixed', size: 5 }, maxUnavailable: 5 },
      sizes: Array(10).fill(5),
    },
    {
      name: 'percent 20',
      strategy: { batch: { kind: 'percent', percent: 20 }, maxUnavailable: 10 },
      sizes: Array(5).fill(10),
    },
    {
      name: 'exponential capped at 10%',
      strategy: { batch: { kind: 'exponential', capPercent: 10 }, maxUnavailable: 5 },
      sizes: [1, 2, 4, 5, 5, 5, 5, 5, 5, 5, 5, 3],
    },
    {
      name: 'budget smaller than the batch',
      strategy: { batch: { kind: 'fixed', size: 8 }, maxUnavailable: 3 },
      sizes: [...Array(16).fill(3), 2],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: workers go in batches of ${[...new Set(c.sizes)].join('/')}, never above the budget`, async () => {
      const { runner, rec, world } = await setUp(cluster(), { version: '1.31.1', strategy: c.strategy });
      const r = await runner.run(UNTIL_PAUSED);
      assert.equal(r.status.phase, 'Completed', r.status.reason);
      const sizes = (await batchesOf(world.platform.journal, 'workers')).map((b) => b.length);
      assert.deepEqual(sizes, c.sizes);
      const budget = c.strategy?.maxUnavailable ?? 1;
      assert.ok(rec.maxUnavailable('workers') <= budget, `peak ${rec.maxUnavailable('workers')}`);
      assert.ok(rec.maxUnavailable('workers') >= Math.min(budget, Math.max(...c.sizes)), 'batches overlap');
      assert.equal(rec.maxUnavailable('control-plane'), 1, 'control-plane nodes one at a time');
      assert.deepEqual(rec.violations(), []);
    });
  }

  it('exponential batches start again at 1 after a pause', async () => {
    const { runner, update, world } = await setUp(cluster(), {
      version: '1.31.1',
      strategy: { batch: { kind: 'exponential', capPercent: 20 }, maxUnavailable: 10 },
    });
    // Pause once the third worker batch has started, resume once it is done.
    let r = await runner.run({
      stopWhen: (x) =>
        Object.entries(x.status.members).some(([n, m]) => n.startsWith('workers') && m.batch === 6),
    });
    await update(() => ({ paused: true }));
    r = await runner.run({
      stopWhen: (x) =>
        x.status.phase === 'Paused' &&
        Object.values(x.status.members).every((m) => m.state === 'pending' || m.state === 'done'),
    });
    await update(() => ({ paused: false }));
    r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    const sizes = (await batchesOf(world.platform.journal, 'workers')).map((b) => b.length);
    assert.deepEqual(sizes.slice(0, 5), [1, 2, 4, 1, 2]);
  });

  it('members already unready count against the budget: over it, only members already down are replaced', async () => {
    const { runner, rec } = await setUp(
      {
        engine: 'kubernetes-nodes',
        version: '1.30.2',
        components: [{ name: 'workers', members: [{}, { ready: false }, { ready: false }, {}, {}] }],
      },
      { version: '1.31.1', force: ['*'], strategy: { maxUnavailable: 1 } },
    );
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    // The two that were down go first (replacing them takes nothing more down); a healthy member
    // stops only once the component is back within its budget.
    assert.deepEqual(replaced(rec).slice(0, 2).sort(), ['workers-1', 'workers-2']);
    assert.equal(rec.maxUnavailable('workers'), 2, 'never more than the two that were already down');
  });

  it('a member already down goes first and the budget still holds for the rest', async () => {
    const { runner, rec } = await setUp(
      {
        engine: 'kubernetes-nodes',
        version: '1.30.2',
        components: [{ name: 'workers', members: [{}, {}, { ready: false }, {}, {}] }],
      },
      { version: '1.31.1', force: ['*'], strategy: { batch: { kind: 'fixed', size: 3 }, maxUnavailable: 2 } },
    );
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(replaced(rec)[0], 'workers-2');
    assert.equal(rec.maxUnavailable('workers'), 2);
  });
});

describe('multi-raft members are restored after their restart', () => {
  // Counterexample: without restore every drained CockroachDB node stayed free of leaseholders,
  // so the last node had nowhere to move its leases and the upgrade paused on a drain timeout.
  it('cockroachdb 3 nodes: every drained node takes leases again, the last drain completes', async () => {
    const { runner, rec, world } = await setUp(
      { engine: 'cockroachdb', version: '23.2.5', seed: 3 },
      { version: '24.1.2' },
    );
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(rec.calls('restore').length, 3);
    assert.ok(world.cluster.memberViews().every((m) => !m.evicting));
    assert.deepEqual(rec.leaderStops(), [], 'every node was drained before it stopped');
  });
});

describe('progress and reasons', () => {
  it('reports member i of n, batch k of m, and an ETA that goes down batch by batch', async () => {
    const { runner, statuses } = await setUp(
      { engine: 'sim', version: '1.0.0', components: [{ name: 'db', members: 5 }] },
      { version: '1.1.0' },
    );
    const reasons: string[] = [];
    const r = await runner.run({
      stopWhen: (x: ReconcileResult) => (reasons.push(x.status.reason), false),
    });
    assert.equal(r.status.phase, 'Completed');
    const inFlight = statuses.filter((p) => p.memberIndex !== undefined && p.batchIndex! > 0);
    assert.deepEqual(
      [...new Set(inFlight.map((p) => `${p.memberIndex}/${p.memberTotal} ${p.batchIndex}/${p.batchTotal}`))],
      ['1/5 1/5', '2/5 2/5', '3/5 3/5', '4/5 4/5', '5/5 5/5'],
    );
    const etaAtBatch = new Map<number, number>();
    for (const p of statuses)
      if (p.batchIndex && !etaAtBatch.has(p.batchIndex)) etaAtBatch.set(p.batchIndex, p.etaMs!);
    const etas = [...etaAtBatch.values()];
    assert.equal(etas.length, 5);
    for (let i = 1; i < etas.length; i++) assert.ok(etas[i]! < etas[i - 1]!, `ETA ${etas.join(' > ')}`);
    assert.equal(r.status.reason, 'upgrade complete: every member runs its target version');
    assert.equal(r.status.progress.done, 5);
    assert.equal(r.status.progress.etaMs, 0);
    // Passing prechecks and the first step are journalled in one write: the history says so.
    assert.ok(r.status.history.some((h) => h.message === 'prechecks passed; upgrade running'));
    for (const want of [
      /^replace db-\d with 1\.1\.0$/,
      /^waiting: db-\d: not running \(starting 1\.1\.0\)$/,
      /^waiting: db-\d: catching up \(lag \d+, follower on 1\.1\.0, catching up\)$/,
      /^restore db-\d after restart$/,
      /^move leadership away from db-\d: transferring to db-\d \(lag \d+, already at 1\.1\.0\)$/,
      /^waiting: db-\d still holds leadership; moving to db-\d$/,
    ]) {
      assert.ok(
        reasons.some((x) => want.test(x)),
        `no reason matches ${want}:\n${[...new Set(reasons)].join('\n')}`,
      );
    }
  });
});
