/**
 * Property tests of the runner over the simulator: random clusters (1..50 members, every
 * simulated engine, random components, roles, lag, unready members), random batch policies and
 * budgets, random faults and crash points, random user controls. Every driven run must keep the
 * safety invariants and end done or stopped with a named cause.
 *
 * Fixed seed by default; `BATON_PROPERTY_SEED` and `BATON_PROPERTY_RUNS` override it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { nullLogger } from '../../src/core/logger.js';
import { drive, type Scenario } from './harness.js';
import { scenarioArb, violations } from './scenarios.js';

const SEED = Number(process.env.BATON_PROPERTY_SEED ?? 20260101);
const RUNS = Number(process.env.BATON_PROPERTY_RUNS ?? 1000);

/** A plain 5-member raft upgrade: serial, budget 1, no faults. */
const plain: Scenario = {
  engine: 'sim',
  seed: 4,
  from: '1.0.0',
  to: '1.1.0',
  components: [
    { name: 'db', members: Array.from({ length: 5 }, () => ({ ready: true, lag: 0, atTarget: false })) },
  ],
  batch: { kind: 'serial' },
  maxUnavailable: 1,
  soakSeconds: 0,
  pauseAfterFirstBatch: false,
  pauseAfterEachBatch: false,
  supervised: false,
  drainPolicy: 'pause',
  drainSeconds: 120,
  readySeconds: 600,
  finalize: 'auto',
  force: [],
  faults: [],
  timings: { replaceMs: 1000, readyMs: 500, catchUpMs: 500, drainMs: 500, electionMs: 500 },
  controls: [],
  resumes: 0,
};

describe('the invariants themselves', () => {
  it('hold for a plain upgrade and catch a runner that stops a leader, doubles a restart or overruns the budget', async () => {
    const out = await drive(plain);
    assert.equal(out.stop, 'terminal');
    assert.deepEqual(violations(plain, out), []);
    // Act as a broken runner would, on the finished cluster: two members down at once, one of
    // them the leader without a transfer, and a restart repeated onto the same version.
    const ctx = { clock: out.world.cluster.clock, logger: nullLogger };
    const leader = out.world.cluster.leaderOf('db')!;
    const follower = out.world.cluster.memberViews().find((m) => m.name !== leader)!.name;
    await out.world.platform.replaceMember(leader, '1.2.0', {}, ctx);
    await out.world.platform.replaceMember(follower, '1.2.0', {}, ctx);
    await out.world.cluster.advance(30_000);
    await out.world.platform.replaceMember(follower, '1.1.0', {}, ctx);
    await out.world.cluster.advance(30_000);
    await out.world.platform.replaceMember(follower, '1.2.0', {}, ctx);
    const found = violations(plain, out).join('\n');
    assert.match(found, /db: 2 members down at once/);
    assert.match(found, new RegExp(`${leader} stopped holding leader although db-\\d could take over`));
    assert.match(found, new RegExp(`${follower} restarted 2 times onto 1\\.2\\.0`));
  });
});

describe('runner properties over random simulated upgrades', () => {
  it(`keeps budget, leadership, prerequisites and crash safety, and ends with a cause (${RUNS} runs)`, async () => {
    const stops = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const out = await drive(s);
        stops.set(out.stop, (stops.get(out.stop) ?? 0) + 1);
        assert.deepEqual(
          violations(s, out),
          [],
          `stop ${out.stop} in ${out.status.phase}: ${out.status.reason}`,
        );
      }),
      { numRuns: RUNS, seed: SEED },
    );
    // The generator must reach the interesting ends, not only blocked prechecks.
    if (RUNS >= 200) {
      for (const kind of ['terminal', 'paused', 'blocked']) {
        assert.ok((stops.get(kind) ?? 0) > 0, `no run ended ${kind}: ${JSON.stringify([...stops])}`);
      }
    }
  });
});
