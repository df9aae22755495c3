/**
 * Test support shared by the probe clients' integration tests: a fast probe over a client, a wait
 * for acknowledged writes, and the assertions every client must pass after a run.
 */
import assert from 'node:assert/strict';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { Probe } from '../../src/probe/probe.js';
import type { ProbeClient, ProbeReport } from '../../src/probe/types.js';
import { waitFor } from './servers.js';

/** A probe writing every 2 ms that retries an operation for up to 15 s. */
export function newTestProbe(client: ProbeClient): Probe {
  return new Probe({ client, clock: systemClock, logger: nullLogger, intervalMs: 2, retryDeadlineMs: 15000 });
}

/** Until `probe` has `n` acknowledged writes. */
export function ackedWrites(probe: Probe, n: number): Promise<void> {
  return waitFor(`${n} acknowledged writes`, async () => probe.snapshot().acknowledgedWrites >= n);
}

/** A run with nothing failed, lost or unverified, that also read. */
export function assertCleanRun(r: ProbeReport): void {
  assert.equal(r.failedOps, 0);
  assert.equal(r.lostWrites, 0);
  assert.equal(r.unverifiedWrites, 0);
  assert.ok(r.reads > 0);
}

/** A run through an outage of at least 700 ms: nothing failed or lost, retries bridged it. */
export function assertRetriedThroughOutage(r: ProbeReport, outage = 'the outage'): void {
  assert.equal(r.failedOps, 0);
  assert.equal(r.lostWrites, 0);
  assert.ok(
    r.operations.some((o) => o.attempts > 1),
    'some operation needed a retry',
  );
  assert.ok(r.maxGapMs >= 700, `longest gap ${r.maxGapMs} ms spans ${outage}`);
}
