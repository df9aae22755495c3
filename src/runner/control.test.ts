/**
 * Scenario tests of control and failure handling through the real Runner over the simulator:
 * pause, resume, cancel, auto-pause on errors, retries, timeouts and their policies, paused
 * expiry, supervised mode, pause-after-batch gates, soak time, and crashes of the runner itself.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../core/clock.js';
import { nullLogger } from '../core/logger.js';
import type { UpgradeSpec } from '../core/types.js';
import {
  createSimWorld,
  parseSimClusterDescription,
  SimCrash,
  type SimClusterInput,
} from '../platforms/sim/index.js';
import { type ReconcileResult, Runner } from './runner.js';
import { createUpgrade, makeSpec } from './start.js';
import { engineRegistry } from '../engines/registry.js';

/** Stop a run that ends Paused: a paused upgrade otherwise polls for its whole expiry time. */
const UNTIL_PAUSED = { stopWhen: (r: ReconcileResult) => r.status.phase === 'Paused' };

type SpecInput = Parameters<typeof makeSpec>[0];

async function setUp(
  cluster: SimClusterInput,
  spec: Omit<SpecInput, 'cluster' | 'engine' | 'version'> & { version?: string },
) {
  const clock = new FakeClock();
  const world = createSimWorld(parseSimClusterDescription(cluster, engineRegistry), { clock });
  const full = makeSpec({
    name: 'up',
    cluster: world.cluster.name,
    engine: cluster.engine,
    version: '1.1.0',
    ...spec,
  });
  await createUpgrade(world.platform, world.engine, full, { clock, logger: nullLogger });
  const newRunner = () => new Runner({ ...world, clock, logger: nullLogger, name: 'up' });
  const update = (change: Partial<UpgradeSpec>) =>
    world.platform.journal.updateSpec('up', (s) => ({ ...s, ...change }));
  const stopOnPause = (r: ReconcileResult) => r.status.phase === 'Paused';
  return { clock, world, runner: newRunner(), newRunner, update, stopOnPause, rec: world.cluster.recorder };
}

const sim5: SimClusterInput = { engine: 'sim', version: '1.0.0', components: [{ name: 'db', members: 5 }] };
const states = (r: ReconcileResult) => Object.values(r.status.members).map((m) => m.state);

describe('pause, resume, cancel', () => {
  it('pause lets the member in flight finish and starts no new one; resume goes on', async () => {
    const { runner, update, rec, world } = await setUp(sim5, {});
    await runner.run({
      stopWhen: (r) => r.action?.kind === 'replace' && rec.calls('replaceMember').length === 2,
    });
    await update({ paused: true });
    let r = await runner.run({
      stopWhen: (x) => x.status.phase === 'Paused' && states(x).every((s) => s === 'pending' || s === 'done'),
    });
    assert.deepEqual(
      states(r).filter((s) => s === 'done').length,
      2,
      'the member in flight finished, nothing new started',
    );
    const before = rec.calls('replaceMember').length;
    for (let i = 0; i < 50; i++) r = await runner.reconcile();
    assert.equal(rec.calls('replaceMember').length, before, 'no new member while paused');
    assert.match(r.status.reason, /^paused by user; resume with `baton resume`$/);
    await update({ paused: false });
    r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.ok(r.status.history.some((h) => h.type === 'control' && h.message === 'resumed'));
    assert.ok(world.cluster.memberViews().every((m) => m.version === '1.1.0'));
  });

  it('cancel: upgraded members stay upgraded, the rest are untouched, phase Cancelled', async () => {
    const { runner, update, rec, world } = await setUp(sim5, {});
    await runner.run({ stopWhen: () => rec.calls('replaceMember').length === 2 });
    await update({ cancel: true });
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Cancelled');
    assert.match(
      r.status.reason,
      /^cancelled: 2 member\(s\) upgraded stay upgraded, the rest are left alone$/,
    );
    const touched = new Set(rec.calls('replaceMember').map((c) => c.member));
    assert.equal(touched.size, 2);
    for (const m of world.cluster.memberViews()) {
      assert.equal(m.version, touched.has(m.name) ? '1.1.0' : '1.0.0', m.name);
      assert.ok(m.ready, `${m.name} ready`);
    }
  });
});

describe('drained members are restored when a pass ends without restarting them', () => {
  // Counterexamples from the properties: a cancel (or a rollback) after a drain timed out left the
  // drained node kept free of leaderships for good (its evict-leader scheduler never removed).
  const crdb: SimClusterInput = {
    engine: 'cockroachdb',
    version: '23.2.5',
    seed: 5,
    faults: ['cockroachdb-0', 'cockroachdb-1', 'cockroachdb-2'].map((member) => ({
      kind: 'drain-timeout' as const,
      member,
    })),
  };
  const cases: { name: string; control: Partial<UpgradeSpec>; phase: string; reason: RegExp }[] = [
    {
      name: 'cancel',
      control: { cancel: true },
      phase: 'Cancelled',
      reason: /^cancelled: 0 member\(s\) upgraded/,
    },
    {
      name: 'rollback',
      control: { rollback: true, paused: false },
      phase: 'Completed',
      reason: /^rolled back: every member runs its original version$/,
    },
  ];
  for (const c of cases) {
    it(`${c.name} after a drain timeout restores the drained node`, async () => {
      const { runner, update, rec, stopOnPause, world } = await setUp(crdb, {
        version: '23.2.6',
        strategy: { timeouts: { drainSeconds: 60 } },
      });
      let r = await runner.run({ stopWhen: stopOnPause });
      assert.match(
        r.status.pauseCause ?? '',
        /^moving leadership away from cockroachdb-\d timed out after 60s/,
      );
      const drained = rec.calls('drain')[0]!.member!;
      assert.equal(world.cluster.member(drained).evicting, true);
      await update(c.control);
      r = await runner.run({ stopWhen: (x) => x.status.phase === 'Paused' && x.action === undefined });
      assert.equal(r.status.phase, c.phase, r.status.reason);
      assert.match(r.status.reason, c.reason);
      assert.deepEqual(
        rec.calls('restore').map((x) => x.member),
        [drained],
      );
      assert.ok(world.cluster.memberViews().every((m) => !m.evicting));
      assert.equal(rec.calls('replaceMember').length, 0, 'nothing restarted');
    });
  }
});

describe('errors and timeouts', () => {
  it('a transient API error is retried and the upgrade goes on', async () => {
    const { runner } = await setUp(
      { ...sim5, faults: [{ kind: 'api-error', call: 'replaceMember', nth: 1 }] },
      {},
    );
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    const errors = r.status.history.filter((h) => h.type === 'error').map((h) => h.message);
    assert.equal(errors.length, 1);
    assert.match(
      errors[0]!,
      /^retrying \(1\/2\): replace db-\d with 1\.1\.0 failed: simulated API error on replaceMember call #1$/,
    );
  });

  it('an action that keeps failing pauses with the cause in pauseCause and history', async () => {
    const faults = [1, 2, 3].map((nth) => ({
      kind: 'api-error' as const,
      call: 'replaceMember' as const,
      nth,
    }));
    const { runner, update, stopOnPause } = await setUp({ ...sim5, faults }, {});
    let r = await runner.run({ stopWhen: stopOnPause });
    assert.equal(r.status.phase, 'Paused');
    assert.match(
      r.status.pauseCause ?? '',
      /^replace db-\d with 1\.1\.0 failed: simulated API error on replaceMember call #3$/,
    );
    assert.ok(
      r.status.history.some((h) => h.type === 'phase' && h.message === `paused: ${r.status.pauseCause}`),
    );
    await update({ paused: false });
    r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(r.status.pauseCause, undefined, 'resume clears the cause');
  });

  it('a member that never becomes ready pauses with the cause after the ready timeout', async () => {
    const { runner, clock, stopOnPause, rec } = await setUp(
      { ...sim5, faults: [{ kind: 'never-ready', member: 'db-4' }] },
      { strategy: { timeouts: { readySeconds: 300 } } },
    );
    const r = await runner.run({ stopWhen: stopOnPause });
    assert.match(
      r.status.pauseCause ?? '',
      /^db-4 not ready on 1\.1\.0 after 5m: not ready \(running 1\.1\.0, never becomes ready\)$/,
    );
    const replacedAt = rec.calls('replaceMember').find((c) => c.member === 'db-4')!.at;
    assert.ok(clock.now() - replacedAt >= 300_000);
    assert.equal(rec.calls('replaceMember').length, 1, 'nothing else started');
  });

  const drainCases: { engine: string; policy: 'pause' | 'proceed'; expect: 'Paused' | 'Completed' }[] = [
    { engine: 'sim', policy: 'pause', expect: 'Paused' },
    { engine: 'sim', policy: 'proceed', expect: 'Completed' },
    { engine: 'cockroachdb', policy: 'proceed', expect: 'Paused' },
  ];
  for (const c of drainCases) {
    it(`drain timeout on ${c.engine} with policy ${c.policy}: ${c.expect}`, async () => {
      const probe = createSimWorld(
        parseSimClusterDescription({ engine: c.engine, version: '23.2.5', seed: 5 }, engineRegistry),
        {
          clock: new FakeClock(),
        },
      );
      // The member that holds leadership: the raft leader, or the node leading the most ranges.
      const holder =
        probe.cluster.leaderOf(c.engine === 'sim' ? 'db' : 'cockroachdb') ??
        probe.cluster.memberViews().sort((a, b) => b.leaderCount - a.leaderCount)[0]!.name;
      const { runner, stopOnPause, rec } = await setUp(
        { engine: c.engine, version: '23.2.5', seed: 5, faults: [{ kind: 'drain-timeout', member: holder }] },
        {
          version: c.engine === 'sim' ? '23.3.0' : '23.2.6',
          strategy: { timeouts: { drainSeconds: 60, drainPolicy: c.policy } },
        },
      );
      const r = await runner.run({ stopWhen: stopOnPause });
      assert.equal(r.status.phase, c.expect, r.status.reason);
      if (c.expect === 'Paused') {
        assert.match(
          r.status.pauseCause ?? '',
          new RegExp(`^moving leadership away from ${holder} timed out after 60s`),
        );
        assert.equal(
          rec.calls('replaceMember').some((x) => x.member === holder),
          false,
          'the holder was not stopped',
        );
      } else {
        assert.ok(
          r.status.history.some(
            (h) => h.message === `${holder}: drain timed out after 60s; proceeding (policy proceed)`,
          ),
        );
        assert.equal(rec.leaderStops()[0]?.member, holder, 'stopped while leading, as the policy allows');
      }
    });
  }
});

describe('paused expiry', () => {
  it('expires after the default 15 days, pruning history to a summary', async () => {
    const { runner, update, rec, clock } = await setUp(sim5, {});
    await runner.run({ stopWhen: () => rec.calls('replaceMember').length === 1 });
    await update({ paused: true });
    let r = await runner.run({
      stopWhen: (x) =>
        x.status.phase === 'Paused' && states(x).every((s) => s !== 'replacing' && s !== 'verifying'),
    });
    const pausedAt = r.status.pausedAt!;
    clock.advance(15 * 24 * 3600_000 - 1 - (clock.now() - pausedAt));
    r = await runner.reconcile();
    assert.equal(r.status.phase, 'Paused', 'not a millisecond early');
    clock.advance(1);
    r = await runner.reconcile();
    assert.equal(r.status.phase, 'Expired');
    assert.equal(r.terminal, true);
    assert.match(r.status.reason, /^paused for more than 15d: upgrade expired$/);
    assert.equal(r.status.history[0]?.type, 'summary');
    assert.match(
      r.status.history[0]!.message,
      /^history pruned on expiry: \d+ steps recorded, 1\/5 members upgraded before the pause$/,
    );
    assert.ok(r.status.history.every((h) => h.type === 'summary' || h.type === 'phase'));
  });

  it('honours a configured expiry', async () => {
    const { runner, update, clock } = await setUp(sim5, { pausedExpirySeconds: 3600 });
    await update({ paused: true });
    const start = clock.now();
    const r = await runner.run({ stopWhen: () => clock.now() - start > 2 * 3600_000 });
    assert.equal(r.status.phase, 'Expired');
    assert.ok(clock.now() - start >= 3600_000 && clock.now() - start < 3700_000);
  });
});

describe('gates', () => {
  it('supervised: pauses before the leader until resumed', async () => {
    const { runner, update, rec, stopOnPause, world } = await setUp(
      { engine: 'sim', version: '1.0.0' },
      { supervised: true },
    );
    const leader = world.cluster.leaderOf('db')!;
    let r = await runner.run({ stopWhen: stopOnPause });
    assert.equal(r.status.supervisedGate, leader);
    assert.match(
      r.status.pauseCause ?? '',
      new RegExp(`^supervised: approve the leader step for ${leader} with \`baton resume\`$`),
    );
    assert.equal(rec.calls('replaceMember').length, 2);
    assert.ok(!rec.calls('replaceMember').some((c) => c.member === leader));
    assert.equal(world.cluster.leaderOf('db'), leader, 'leadership untouched until approved');
    await update({ paused: false });
    r = await runner.run({ stopWhen: stopOnPause });
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(rec.calls('replaceMember').at(-1)?.member, leader);
  });

  const gateCases = [
    { name: 'pause after the first batch', strategy: { pauseAfterFirstBatch: true }, gates: [1] },
    { name: 'pause after each batch', strategy: { pauseAfterEachBatch: true }, gates: [1, 2, 3, 4] },
  ];
  for (const c of gateCases) {
    it(`${c.name}: stops at batch gates ${c.gates.join(', ')}`, async () => {
      const { runner, update, stopOnPause, rec } = await setUp(sim5, { strategy: c.strategy });
      const gates: number[] = [];
      for (;;) {
        const r = await runner.run({ stopWhen: stopOnPause });
        if (r.status.phase !== 'Paused') {
          assert.equal(r.status.phase, 'Completed');
          break;
        }
        gates.push(r.status.batchGate!);
        assert.equal(rec.calls('replaceMember').length, r.status.batchGate, 'nothing after the gate');
        assert.match(r.status.pauseCause ?? '', /^batch \d done; pausing as configured/);
        await update({ paused: false });
      }
      assert.deepEqual(gates, c.gates);
    });
  }

  it('soak time passes between a ready batch and the next', async () => {
    const { runner, rec } = await setUp(sim5, {});
    const r0 = await runner.run(UNTIL_PAUSED);
    assert.equal(r0.status.phase, 'Completed');
    const { runner: soaking, rec: soakRec } = await setUp(sim5, { strategy: { soakSeconds: 120 } });
    const r = await soaking.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    const gaps = (calls: { at: number }[]) => calls.slice(1).map((c, i) => c.at - calls[i]!.at);
    const plain = gaps(rec.calls('replaceMember'));
    const soaked = gaps(soakRec.calls('replaceMember'));
    for (let i = 0; i < soaked.length; i++)
      assert.ok(soaked[i]! >= plain[i]! + 120_000 - 1000, `gap ${i}: ${soaked[i]} vs ${plain[i]}`);
    assert.equal(r.status.history.filter((h) => /^batch \d soaked 2m$/.test(h.message)).length, 5);
  });
});

describe('crashes of the runner', () => {
  for (const when of ['before', 'after'] as const) {
    // 7 disruptive calls in all: 5 replacements, the leader's drain and its restore.
    for (const nth of [1, 2, 3, 4, 5, 6, 7]) {
      it(`a crash ${when} disruptive call #${nth}: a fresh runner skips and doubles nothing`, async () => {
        const { newRunner, rec, world } = await setUp(
          { ...sim5, faults: [{ kind: 'crash', nth, when }] },
          {},
        );
        let runner = newRunner();
        let crashes = 0;
        let r: ReconcileResult | undefined;
        for (;;) {
          try {
            r = await runner.run(UNTIL_PAUSED);
            break;
          } catch (err) {
            assert.ok(err instanceof SimCrash);
            crashes += 1;
            runner = newRunner();
          }
        }
        assert.equal(crashes, 1);
        assert.equal(r.status.phase, 'Completed', r.status.reason);
        assert.deepEqual(rec.repeatedRestarts(), []);
        assert.deepEqual(rec.violations(), []);
        for (const m of world.cluster.memberViews())
          assert.equal(rec.restartCount(m.name, '1.1.0'), 1, m.name);
      });
    }
  }
});
