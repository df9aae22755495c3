/**
 * A runner writing behind (`RunnerDeps.writeBehind`, as the operator runs it), with status writes
 * held until the test lets them land: an intent is durable before its action runs; an action's
 * outcome is written while the reconcile returns and the next one decides on it; statuses waiting
 * behind a write in flight go out as one, the newest (an intent among them); a spec change while
 * writes are pending is seen; the end is written before it is reported.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../core/clock.js';
import { nullLogger } from '../core/logger.js';
import type { JournalStore, UpgradeRecord } from '../core/ports.js';
import type { UpgradeSpec, UpgradeStatus } from '../core/types.js';
import { engineRegistry } from '../engines/registry.js';
import { MemoryJournalStore, simClusterFromFlags } from '../platforms/sim/index.js';
import { Runner } from './runner.js';
import { createUpgrade, makeSpec } from './start.js';

/** A journal whose status writes wait, while `held`, until the test releases them one by one. */
class HeldJournal implements JournalStore {
  held = false;
  /** Statuses that reached the store, in order. */
  readonly landed: UpgradeStatus[] = [];
  private readonly gates: (() => void)[] = [];
  readonly inner = new MemoryJournalStore();

  create(spec: UpgradeSpec, status: UpgradeStatus): Promise<UpgradeRecord> {
    return this.inner.create(spec, status);
  }
  get(name: string): Promise<UpgradeRecord | undefined> {
    return this.inner.get(name);
  }
  list(): Promise<UpgradeRecord[]> {
    return this.inner.list();
  }
  updateSpec(name: string, change: (s: UpgradeSpec) => UpgradeSpec): Promise<UpgradeSpec> {
    return this.inner.updateSpec(name, change);
  }
  async writeStatus(name: string, status: UpgradeStatus, revision: string): Promise<string> {
    if (this.held) await new Promise<void>((r) => this.gates.push(r));
    const next = await this.inner.writeStatus(name, status, revision);
    this.landed.push(structuredClone(status));
    return next;
  }
  /** Writes waiting to land. */
  get waiting(): number {
    return this.gates.length;
  }
  /** Let the oldest waiting write land. */
  releaseOne(): void {
    this.gates.shift()?.();
  }
}

const turns = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

async function setUp() {
  const clock = new FakeClock();
  const journal = new HeldJournal();
  const world = simClusterFromFlags({ engine: 'sim', members: 3, from: '1.0.0', seed: 1 }, engineRegistry, {
    clock,
    journal,
  });
  const spec = makeSpec({ cluster: 'sim', engine: 'sim', version: '1.1.0', name: 'up' });
  await createUpgrade(world.platform, world.engine, spec, { clock, logger: nullLogger });
  const runner = new Runner({ ...world, clock, logger: nullLogger, name: 'up', writeBehind: true });
  const disruptive = () => world.cluster.recorder.calls().filter((c) => c.kind !== 'listMembers').length;
  return { clock, journal, world, runner, disruptive };
}

const stored = async (j: HeldJournal) => (await j.inner.get('up'))!.status;

describe('a runner writing behind', () => {
  it('journals an intent before its action, and returns while the outcome is written', async () => {
    const { journal, runner, world } = await setUp();
    journal.held = true;
    const before = world.cluster.recorder.calls().length;
    let done = false;
    const r1 = runner.reconcile().then((r) => {
      done = true;
      return r;
    });
    await turns();
    // The first step's intent is waiting to land; nothing was asked of the cluster for it.
    assert.equal(journal.waiting, 1, 'the intent write waits');
    assert.equal(done, false, 'the reconcile waits for its intent');
    const intent = await stored(journal);
    const asked = world.cluster.recorder.calls().slice(before);
    assert.ok(
      asked.every((c) => c.kind === 'listMembers' || c.kind === 'observe' || !c.member),
      `nothing done before the intent landed: ${asked.map((c) => c.kind).join(', ')}`,
    );
    journal.releaseOne();
    const r = await r1;
    assert.ok(r.action, 'the reconcile acted');
    // The action ran and the reconcile returned; its outcome is still waiting to land.
    assert.equal(journal.waiting, 1, 'the outcome write waits');
    assert.notDeepEqual(r.status, await stored(journal), 'the store holds the intent, not yet the outcome');
    assert.deepEqual(journal.landed.at(-1)!.members, (await stored(journal)).members);
    assert.notEqual(intent, undefined);
    journal.held = false;
    journal.releaseOne();
    await runner.flush();
    assert.deepEqual((await stored(journal)).members, r.status.members, 'the outcome landed');
  });

  it('decides on a status still being written; an intent takes the place of the statuses waiting behind it', async () => {
    const { journal, runner, clock } = await setUp();
    // Run to the first outcome written behind.
    let r = await runner.reconcile();
    while (!r.action) r = await runner.reconcile();
    journal.held = true;
    const landedBefore = journal.landed.length;
    // Reconciles that need no intent go on while the write in flight is held; time passes.
    const decided = new Set<string>();
    let blocked: Promise<unknown> | undefined;
    for (let i = 0; i < 200; i++) {
      await clock.sleep(Math.max(r.requeueMs, 100));
      const next = runner.reconcile();
      const raced = await Promise.race([next, turns().then(() => undefined)]);
      if (!raced) {
        blocked = next; // an intent: it waits for what is written behind
        break;
      }
      r = raced;
      decided.add(JSON.stringify([r.status.members, r.status.reason, r.status.history.length]));
    }
    assert.ok(blocked, 'an intent came');
    assert.equal(journal.waiting, 1, 'one write in flight, held');
    assert.ok(decided.size >= 3, `${decided.size} different statuses decided meanwhile`);
    journal.held = false;
    journal.releaseOne();
    await blocked;
    await runner.flush();
    // The write in flight, then the intent (which holds every status waiting behind it: it takes
    // their place), then its outcome.
    const landed = journal.landed.slice(landedBefore);
    assert.equal(landed.length, 3, `${landed.length} writes for ${decided.size} statuses`);
    assert.ok(landed[1]!.history.length > r.status.history.length, 'the intent holds the newest status');
    assert.deepEqual(landed[1]!.history.slice(0, r.status.history.length), r.status.history);
  });

  it('sees a spec change made while writes are pending, and writes the end before reporting it', async () => {
    const { journal, runner, clock } = await setUp();
    let r = await runner.reconcile();
    while (!r.action) r = await runner.reconcile();
    journal.held = true;
    // A user pauses while the outcome is still being written.
    await journal.updateSpec('up', (s) => ({ ...s, paused: true }));
    const paused = runner.reconcile();
    await turns();
    journal.held = false;
    while (journal.waiting > 0) journal.releaseOne();
    const p = await paused;
    assert.equal(p.spec.paused, true, 'the reconcile decided on the new spec');
    // Resume and run to the end: Completed is in the store when it is reported.
    await journal.updateSpec('up', (s) => ({ ...s, paused: false }));
    for (let i = 0; i < 500; i++) {
      const x = await runner.reconcile();
      if (x.terminal) {
        assert.equal((await stored(journal)).phase, x.status.phase);
        assert.equal(x.status.phase, 'Completed', x.status.reason);
        return;
      }
      if (x.requeueMs > 0) await clock.sleep(x.requeueMs);
    }
    assert.fail('never ended');
  });
});
