/**
 * Scenario tests of finalization, rollback and multi-hop paths (CockroachDB) through the real
 * Runner over the simulator.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../core/clock.js';
import { nullLogger } from '../core/logger.js';
import type { UpgradeSpec } from '../core/types.js';
import { createSimWorld, parseSimClusterDescription, PRESERVE_DOWNGRADE } from '../platforms/sim/index.js';
import { atVersion } from '../core/version.js';
import { type ReconcileResult, Runner } from './runner.js';
import { createUpgrade, makeSpec } from './start.js';
import { engineRegistry } from '../engines/registry.js';

/** Stop a run that ends Paused: a paused upgrade otherwise polls for its whole expiry time. */
const UNTIL_PAUSED = { stopWhen: (r: ReconcileResult) => r.status.phase === 'Paused' };

async function setUp(from: string, to: string, spec: Partial<UpgradeSpec> = {}) {
  const clock = new FakeClock();
  const world = createSimWorld(
    parseSimClusterDescription({ engine: 'cockroachdb', version: from, seed: 7 }, engineRegistry),
    { clock },
  );
  await createUpgrade(
    world.platform,
    world.engine,
    makeSpec({ name: 'up', cluster: world.cluster.name, engine: 'cockroachdb', version: to, ...spec }),
    { clock, logger: nullLogger },
  );
  const runner = new Runner({ ...world, clock, logger: nullLogger, name: 'up' });
  const update = (change: Partial<UpgradeSpec>) =>
    world.platform.journal.updateSpec('up', (s) => ({ ...s, ...change }));
  return { world, runner, update, rec: world.cluster.recorder };
}

const versions = (w: { cluster: { memberViews(): { version: string }[] } }) =>
  w.cluster.memberViews().map((m) => m.version);
const awaiting = (r: ReconcileResult) => r.status.phase === 'AwaitingFinalization';

describe('finalization', () => {
  it('auto: a major upgrade finalizes by itself and completes', async () => {
    const { runner, world, rec } = await setUp('23.2.5', '24.1.2');
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(r.status.finalized, true);
    assert.equal(r.status.reason, 'upgrade finalized: rollback is no longer possible');
    assert.equal(world.cluster.finalized, true);
    assert.equal(world.cluster.settings.has(PRESERVE_DOWNGRADE), false);
    assert.match(
      rec.hooks()[0]!.message,
      /^SET CLUSTER SETTING cluster\.preserve_downgrade_option = '23\.2'$/,
    );
    assert.deepEqual(versions(world), ['24.1.2', '24.1.2', '24.1.2']);
  });

  it('manual: waits in AwaitingFinalization until finalize is requested', async () => {
    const { runner, world, update, rec } = await setUp('23.2.5', '24.1.2', { finalize: 'manual' });
    let r = await runner.run({ stopWhen: awaiting });
    assert.equal(r.status.phase, 'AwaitingFinalization');
    assert.equal(world.cluster.settings.get(PRESERVE_DOWNGRADE), '23.2', 'still downgradable');
    for (let i = 0; i < 20; i++) r = await runner.reconcile();
    assert.equal(r.status.phase, 'AwaitingFinalization');
    assert.equal(rec.finalizations().length, 0);
    await update({ finalizeRequested: true });
    r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed');
    assert.equal(r.status.finalized, true);
    assert.equal(rec.finalizations().length, 1);
  });

  it('a patch upgrade needs no finalization', async () => {
    const { runner, rec } = await setUp('24.1.1', '24.1.3', { finalize: 'manual' });
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(rec.finalizations().length, 0);
  });
});

describe('rollback', () => {
  it('before finalization rolls every upgraded member back to its original version', async () => {
    const { runner, world, update, rec } = await setUp('23.2.5', '24.1.2', { finalize: 'manual' });
    await runner.run({ stopWhen: awaiting });
    await update({ rollback: true });
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(r.status.direction, 'rollback');
    assert.equal(r.status.reason, 'rolled back: every member runs its original version');
    assert.deepEqual(versions(world), ['23.2.5', '23.2.5', '23.2.5']);
    for (const m of world.cluster.memberViews()) {
      assert.deepEqual(rec.restarts(m.name), { '24.1.2': 1, '23.2.5': 1 }, m.name);
    }
    assert.equal(rec.finalizations().length, 0);
    assert.deepEqual(rec.violations(), []);
  });

  it('mid-upgrade rolls back only the members already upgraded', async () => {
    const { runner, world, update, rec } = await setUp('23.2.5', '24.1.2');
    await runner.run({ stopWhen: () => rec.calls('replaceMember').length === 1 });
    const first = rec.calls('replaceMember')[0]!.member!;
    await update({ rollback: true });
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.deepEqual(versions(world), ['23.2.5', '23.2.5', '23.2.5']);
    assert.deepEqual(
      rec.calls('replaceMember').map((c) => `${c.member}@${c.args?.version}`),
      [`${first}@24.1.2`, `${first}@23.2.5`],
    );
    assert.ok(
      r.status.history.some((h) => h.message === `batch 2 of cockroachdb: ${first} (to 23.2.5)`),
      'a rollback batch names the version it goes back to',
    );
  });

  it('after finalization is refused: the upgrade stays Completed and nothing moves', async () => {
    const { runner, update, rec, world } = await setUp('23.2.5', '24.1.2');
    await runner.run(UNTIL_PAUSED);
    const restarts = rec.totalRestarts();
    await update({ rollback: true });
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed');
    assert.equal(r.status.direction, 'forward');
    assert.equal(rec.totalRestarts(), restarts);
    assert.deepEqual(versions(world), ['24.1.2', '24.1.2', '24.1.2']);
  });
});

describe('multi-hop paths', () => {
  it('23.1 -> 24.1 goes through 23.2 and finalizes the intermediate hop first', async () => {
    const { runner, world, rec } = await setUp('23.1.4', '24.1.2');
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.deepEqual(
      r.status.plan?.path.map((h) => `${h.from}->${h.to}`),
      ['23.1.4->23.2', '23.2->24.1.2'],
    );
    for (const m of world.cluster.memberViews()) {
      assert.ok(atVersion(m.version, '24.1.2'), m.version);
      assert.deepEqual(Object.keys(rec.restarts(m.name)), ['23.2', '24.1.2'], m.name);
    }
    const calls = rec.calls().filter((c) => c.kind === 'finalize' || c.kind === 'replaceMember');
    const firstFinalize = calls.findIndex((c) => c.kind === 'finalize');
    assert.equal(firstFinalize, 3, 'the intermediate hop is finalized after its 3 restarts, before the next');
    assert.equal(rec.finalizations().length, 2);
    assert.ok(r.status.history.some((h) => h.message === 'hop 2 of 2: 23.2 -> 24.1.2'));
    assert.deepEqual(rec.violations(), []);
  });

  // Counterexample: the rollback targeted the original 23.1.4 although 23.2 was finalized, and
  // the first node rolled back refused to start (the cluster version is newer than its binary).
  it('a rollback during the second hop goes back to the finalized intermediate version, not below', async () => {
    const { runner, world, update, rec } = await setUp('23.1.4', '24.1.2');
    await runner.run({ stopWhen: (r) => r.status.hop === 1 && rec.calls('replaceMember').length === 4 });
    const upgraded = rec.calls('replaceMember')[3]!.member!;
    await update({ rollback: true });
    const r = await runner.run(UNTIL_PAUSED);
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(r.status.reason, 'rolled back to 23.2, the finalized intermediate version');
    assert.deepEqual(versions(world), ['23.2', '23.2', '23.2']);
    assert.deepEqual(rec.restarts(upgraded), { '23.2': 2, '24.1.2': 1 });
    assert.ok(
      r.status.history.some(
        (h) =>
          h.message === 'rollback requested: 1 member(s) go back to 23.2, the finalized intermediate version',
      ),
    );
    assert.ok(world.cluster.memberViews().every((m) => m.ready));
  });
});
