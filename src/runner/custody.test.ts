/**
 * Take-over and hand-back as the runner's own steps (the plan's `custody`): through the real
 * Runner over a simulated cluster whose members have an owner, and as pure decisions for the
 * waits of a hand-back the platform answers "not yet".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../core/clock.js';
import { nullLogger } from '../core/logger.js';
import type { UpgradeSpec } from '../core/types.js';
import { createSimWorld, parseSimClusterDescription, type SimClusterInput } from '../platforms/sim/index.js';
import { engineRegistry } from '../engines/registry.js';
import { applyOutcome, decide, POLL_MS } from './decide.js';
import { observe } from './observe.js';
import { type ReconcileResult, Runner } from './runner.js';
import { createUpgrade, makeSpec } from './start.js';

const UNTIL_PAUSED = { stopWhen: (r: ReconcileResult) => r.status.phase === 'Paused' };

async function setUp(cluster: SimClusterInput, version: string, spec: Partial<UpgradeSpec> = {}) {
  const clock = new FakeClock();
  const world = createSimWorld(parseSimClusterDescription({ ...cluster, owner: true }, engineRegistry), {
    clock,
  });
  await createUpgrade(
    world.platform,
    world.engine,
    makeSpec({ name: 'up', cluster: world.cluster.name, engine: cluster.engine, version, ...spec }),
    { clock, logger: nullLogger },
  );
  const runner = new Runner({ ...world, clock, logger: nullLogger, name: 'up' });
  const update = (change: Partial<UpgradeSpec>) =>
    world.platform.journal.updateSpec('up', (s) => ({ ...s, ...change }));
  return { clock, world, runner, update };
}

const sim3: SimClusterInput = { engine: 'sim', version: '1.0.0', components: [{ name: 'db', members: 3 }] };

describe('custody: take over before the first member, hand back after the last', () => {
  it('plans both steps, takes over before any replacement and hands back before Completed', async () => {
    const { runner, world } = await setUp(sim3, '1.1.0');
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.ok(r.status.plan?.custody, 'the plan lists the custody steps');
    assert.equal(r.status.custody, 'returned');
    assert.deepEqual(world.cluster.custodyLog, ['takeOver', 'handBack']);
    assert.equal(world.cluster.held, false);
    const calls = world.cluster.recorder
      .calls()
      .filter((c) => ['takeOver', 'handBack', 'replaceMember'].includes(c.kind) && c.outcome === 'ok');
    const kinds = calls.map((c) => c.kind);
    assert.equal(kinds[0], 'takeOver');
    assert.equal(kinds.at(-1), 'handBack');
    assert.equal(kinds.filter((k) => k === 'replaceMember').length, 3);
    const lines = r.status.history.filter((h) => h.type === 'step').map((h) => h.message);
    const took = lines.findIndex((l) => /^took 3 member\(s\) over from their owner$/.test(l));
    const handed = lines.findIndex((l) => /^handed 3 member\(s\) back to their owner$/.test(l));
    assert.ok(took >= 0 && handed > took, `history:\n${lines.join('\n')}`);
  });

  it('a cancel hands back what it holds before it ends', async () => {
    const { runner, world, update } = await setUp(sim3, '1.1.0');
    await runner.run({ stopWhen: (r) => r.action?.kind === 'replace' });
    await update({ cancel: true });
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Cancelled', r.status.reason);
    assert.deepEqual(world.cluster.custodyLog, ['takeOver', 'handBack']);
    assert.equal(r.status.custody, 'returned');
  });

  it('a cancel before anything moved takes nothing over and hands nothing back', async () => {
    const { runner, world, update } = await setUp(sim3, '1.1.0');
    await update({ cancel: true });
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Cancelled', r.status.reason);
    assert.deepEqual(world.cluster.custodyLog, []);
  });

  it('a rollback after the hand-back takes the members over again and hands them back again', async () => {
    const { runner, world, update } = await setUp(
      { engine: 'cockroachdb', version: '23.2.5', seed: 7 },
      '24.1.2',
      { finalize: 'manual' },
    );
    let r = await runner.run({ stopWhen: (x) => x.status.phase === 'AwaitingFinalization' });
    assert.equal(r.status.phase, 'AwaitingFinalization', r.status.reason);
    assert.deepEqual(world.cluster.custodyLog, ['takeOver', 'handBack']);
    await update({ rollback: true });
    r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(r.status.direction, 'rollback');
    assert.deepEqual(world.cluster.custodyLog, ['takeOver', 'handBack', 'takeOver', 'handBack']);
  });

  it('nothing to replace: no custody step at all', async () => {
    const { runner, world } = await setUp(sim3, '1.0.0');
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.deepEqual(world.cluster.custodyLog, []);
  });
});

describe('custody: a hand-back the platform answers "not yet" (pure decisions)', () => {
  /** The status and an observation when the runner is about to hand back (members done, held). */
  async function atPassEnd() {
    const { runner, world, clock } = await setUp(sim3, '1.1.0');
    const r = await runner.run({ stopWhen: (x) => x.action?.kind === 'handBack' });
    const rec = await world.platform.journal.get('up');
    const snap = await observe(world.platform, world.engine, { clock, logger: nullLogger });
    // The intent of the hand-back was journalled: the status still holds the members.
    assert.equal(rec!.status.custody, 'returned');
    return {
      status: { ...r.status, custody: 'held' as const },
      spec: rec!.spec,
      snap,
      rules: world.engine.rules,
    };
  }

  it('waits a poll between tries, shows why, then pauses at the ready timeout', async () => {
    const { status, spec, snap, rules } = await atPassEnd();
    const t0 = 1_000_000;
    let s = applyOutcome(
      { spec, status, now: t0 },
      { kind: 'handBack' },
      { ok: true, notYet: 'db-0 not Ready' },
    );
    assert.equal(s.custody, 'held');
    assert.deepEqual(s.handBackWait, { since: t0, at: t0, reason: 'db-0 not Ready' });
    let d = decide({ spec, status: s, snapshot: snap, rules, now: t0 + 100 });
    assert.equal(d.action, undefined);
    assert.equal(d.reason, 'waiting to hand back: db-0 not Ready');
    assert.equal(d.requeueMs, POLL_MS - 100);
    d = decide({ spec, status: s, snapshot: snap, rules, now: t0 + POLL_MS });
    assert.deepEqual(d.action, { kind: 'handBack' });
    // Still not at rest a ready timeout later: paused, with the cause.
    const late = t0 + spec.strategy.timeouts.readySeconds * 1000;
    s = applyOutcome(
      { spec, status: d.status, now: late },
      { kind: 'handBack' },
      { ok: true, notYet: 'db-0 not Ready' },
    );
    assert.equal(s.handBackWait?.since, t0, 'the wait keeps its start');
    d = decide({ spec, status: s, snapshot: snap, rules, now: late });
    assert.equal(d.status.phase, 'Paused');
    assert.match(
      d.status.pauseCause ?? '',
      /^hand-back not possible after 10m: db-0 not Ready; resume to try again$/,
    );
    // Resume: the wait starts over and the hand-back is tried at once.
    const resumed = decide({
      spec: { ...spec, generation: spec.generation + 1 },
      status: d.status,
      snapshot: snap,
      rules,
      now: late + 1,
    });
    assert.deepEqual(resumed.action, { kind: 'handBack' });
    assert.equal(resumed.status.handBackWait, undefined);
  });

  it('a cancel whose hand-back never comes ends Cancelled with the members held and the reason recorded', async () => {
    const { status, spec, snap, rules } = await atPassEnd();
    const cancel = { ...spec, cancel: true };
    const t0 = 2_000_000;
    const s = applyOutcome(
      { spec: cancel, status, now: t0 },
      { kind: 'handBack' },
      { ok: true, notYet: 'db-1 not Ready' },
    );
    const late = t0 + cancel.strategy.timeouts.readySeconds * 1000;
    const d = decide({ spec: cancel, status: s, snapshot: snap, rules, now: late });
    assert.equal(d.status.phase, 'Cancelled', d.status.reason);
    assert.equal(d.status.custody, undefined);
    assert.match(
      d.status.history.at(-2)?.message ?? '',
      /hand-back not possible after 10m: db-1 not Ready; the members stay held/,
    );
  });
});
