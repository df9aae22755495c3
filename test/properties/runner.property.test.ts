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
import { drive } from './harness.js';
import { scenarioArb, violations } from './scenarios.js';

const SEED = Number(process.env.BATON_PROPERTY_SEED ?? 20260101);
const RUNS = Number(process.env.BATON_PROPERTY_RUNS ?? 1000);

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
