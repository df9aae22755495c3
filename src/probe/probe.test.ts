import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeClock, systemClock, type Clock } from '../core/clock.js';
import { BadInputError, OperationalError } from '../core/errors.js';
import { nullLogger } from '../core/logger.js';
import { percentile, Probe, type ProbeOptions } from './probe.js';
import { formatReportJson, formatReportText } from './report.js';
// A seeded generator, so a failing property run can be replayed.
import { mulberry32 } from '../platforms/sim/prng.js';
import type { ProbeClient, ProbeOperation, ProbeReport } from './types.js';
import { FakeClient } from '../../test/probe/fake-client.js';

const T0 = Date.UTC(2026, 0, 1);

function setup(opts: Partial<ProbeOptions> = {}) {
  const clock = new FakeClock(T0);
  const client = new FakeClient(clock);
  const probe = new Probe({
    client,
    clock,
    logger: nullLogger,
    opTimeoutMs: 0,
    readRatio: 0,
    random: () => 0.5,
    runId: 'run',
    ...opts,
  });
  return { clock, client, probe };
}

/** Starts the probe and stops it from inside the `n`th client call, so the run is deterministic. */
async function runUntilCall(probe: Probe, client: FakeClient, n: number): Promise<ProbeReport> {
  let stopped: Promise<ProbeReport> | undefined;
  const previous = client.onCall;
  client.onCall = (k) => {
    previous(k);
    if (k === n) stopped = probe.stop();
  };
  await probe.start();
  while (!stopped) await new Promise((r) => setImmediate(r));
  return stopped;
}

/** The longest window without an acknowledged write, computed independently from the records. */
function gapFromOperations(r: ProbeReport): number {
  let last = r.startedAt;
  let max = 0;
  for (const op of r.operations) {
    if (op.kind !== 'write' || !op.ok) continue;
    max = Math.max(max, op.end - last);
    last = op.end;
  }
  return Math.max(max, r.stoppedAt - last);
}

describe('percentile', () => {
  const cases: [number[], number, number][] = [
    [[], 0.5, 0],
    [[7], 0.99, 7],
    [[1, 2, 3, 4], 0.5, 2],
    [[1, 2, 3, 4, 5], 0.5, 3],
    [Array.from({ length: 100 }, (_, i) => i + 1), 0.99, 99],
    [Array.from({ length: 1000 }, (_, i) => i + 1), 0.99, 990],
    [[1, 2, 3], 1, 3],
  ];
  for (const [values, p, want] of cases) {
    it(`p${p * 100} of ${values.length} values is ${want}`, () => {
      assert.equal(percentile(values, p), want);
    });
  }
});

describe('Probe figures', () => {
  it('writes at an open-loop cadence and counts every acknowledged write', async () => {
    const { client, probe } = setup({ intervalMs: 10 });
    const r = await runUntilCall(probe, client, 10);
    assert.equal(r.ops, 10);
    assert.equal(r.writes, 10);
    assert.equal(r.acknowledgedWrites, 10);
    assert.equal(r.failedOps, 0);
    assert.equal(r.errorRate, 0);
    // Each write takes 2 ms and the next starts 10 ms after it ended.
    assert.deepEqual(
      r.operations.map((o) => o.start - T0),
      [0, 12, 24, 36, 48, 60, 72, 84, 96, 108],
    );
    assert.equal(r.maxGapMs, 12);
    assert.equal(r.p50Ms, 2);
    assert.equal(r.p99Ms, 2);
    assert.equal(r.durationMs, 110);
    assert.equal(r.lostWrites, 0);
    assert.equal(r.unverifiedWrites, 0);
    assert.equal(r.final, true);
    assert.ok(client.closed);
    assert.equal(client.store.size, 10);
    assert.ok(r.operations.every((o) => o.id.startsWith('run-') && o.attempts === 1));
  });

  it('retries a write through a short outage, rediscovering, and counts no failure', async () => {
    const { client, probe } = setup({ intervalMs: 10, retryDeadlineMs: 5000 });
    client.down = (now) => now >= T0 + 30 && now < T0 + 230;
    const r = await runUntilCall(probe, client, 30);
    assert.equal(r.failedOps, 0);
    assert.equal(r.lostWrites, 0);
    const retried = r.operations.filter((o) => o.attempts > 1);
    assert.equal(retried.length, 1);
    const op = retried[0] as ProbeOperation;
    assert.equal(op.ok, true);
    assert.equal(op.error, 'connection refused');
    assert.ok(op.end >= T0 + 230, 'the retried write ends after the outage');
    assert.equal(client.rediscoveries, op.attempts - 1);
    assert.equal(r.maxGapMs, gapFromOperations(r));
    assert.ok(r.maxGapMs >= 200, `gap ${r.maxGapMs} covers the 200 ms outage`);
    assert.equal(r.p99Ms, op.end - op.start, 'the slowest success includes its retries');
    assert.deepEqual(r.errors, [{ message: 'connection refused', count: op.attempts - 1 }]);
  });

  it('fails a write whose retry deadline passes, and the gap spans the outage', async () => {
    const { clock, client, probe } = setup({ intervalMs: 10, retryDeadlineMs: 1000 });
    client.down = (now) => now >= T0 + 30 && now < T0 + 2500;
    const r = await runUntilCall(probe, client, 80);
    const failed = r.operations.filter((o) => !o.ok);
    assert.ok(failed.length >= 2, `${failed.length} writes gave up`);
    for (const op of failed) {
      assert.equal(op.kind, 'write');
      assert.equal(op.error, 'connection refused');
      assert.ok(op.end - op.start >= 1000, 'gave up only after the retry deadline');
    }
    assert.equal(r.failedOps, failed.length);
    assert.equal(r.errorRate, failed.length / r.ops);
    assert.equal(r.acknowledgedWrites, r.writes - failed.length);
    assert.equal(client.store.size, r.acknowledgedWrites, 'failed writes never reached the store');
    assert.equal(r.lostWrites, 0);
    assert.equal(r.maxGapMs, gapFromOperations(r));
    assert.ok(r.maxGapMs >= 2470);
    assert.ok(clock.now() > T0 + 2500);
    const v = probe.verdict({ maxErrorRate: 0.01 });
    assert.equal(v.ok, false);
    assert.match(v.reason, /^probe: error rate \d+\.\d\d% > 1\.00% \(\d+ of \d+ ops failed\)$/);
  });

  it('measures the gap until stop when writes fail at the end', async () => {
    const { client, probe } = setup({ intervalMs: 10, retryDeadlineMs: 300 });
    client.down = (now) => now >= T0 + 50;
    const r = await runUntilCall(probe, client, 40);
    const lastAck = Math.max(...r.operations.filter((o) => o.ok).map((o) => o.end));
    assert.equal(r.maxGapMs, r.stoppedAt - lastAck);
    assert.ok(r.maxGapMs > 300);
  });

  it('live maxGapMs includes the gap still open', async () => {
    const { clock, client, probe } = setup({ intervalMs: 10, retryDeadlineMs: 5000 });
    client.down = (now) => now >= T0 + 30;
    const seen: { gap: number; now: number }[] = [];
    client.onCall = (n) => {
      if (n === 12) seen.push({ gap: probe.snapshot().maxGapMs, now: clock.now() });
    };
    await runUntilCall(probe, client, 12);
    const first = seen[0];
    assert.ok(first);
    // Three writes acknowledged, the last ended at T0 + 26; the open gap runs from there to now.
    assert.equal(first.gap, first.now - (T0 + 26));
  });

  it('computes p50 and p99 over successful operations', async () => {
    const { client, probe } = setup({ intervalMs: 5 });
    client.latency = (n) => (n % 10 === 0 ? 100 : 1);
    const r = await runUntilCall(probe, client, 200);
    assert.equal(r.ops, 200);
    assert.equal(r.p50Ms, 1);
    assert.equal(r.p99Ms, 100);
  });
});

describe('Probe reads and lost writes', () => {
  it('reads recently acknowledged ids and checks their values', async () => {
    let i = 0;
    const { client, probe } = setup({ readRatio: 0.5, random: () => [0.1, 0.9][i++ % 2] ?? 0 });
    const r = await runUntilCall(probe, client, 50);
    assert.ok(r.reads > 0 && r.writes > 0, `${r.reads} reads, ${r.writes} writes`);
    assert.equal(r.reads + r.writes, r.ops);
    assert.equal(r.readMismatches, 0);
    assert.equal(r.failedOps, 0);
    const acked = new Set(r.operations.filter((o) => o.kind === 'write').map((o) => o.id));
    for (const op of r.operations.filter((o) => o.kind === 'read')) assert.ok(acked.has(op.id));
  });

  it('a read that misses an acknowledged write is a failed operation and a live lost write', async () => {
    const { client, probe } = setup({ readRatio: 1, random: () => 0 });
    let live = probe.snapshot();
    client.onCall = (n) => {
      // Call 1 is the only write; every later call is a read of it.
      if (n === 2) client.store.clear();
      if (n === 3) live = probe.snapshot();
    };
    const r = await runUntilCall(probe, client, 4);
    assert.equal(live.readMismatches, 1);
    assert.equal(live.lostWrites, 1);
    assert.equal(r.writes, 1);
    assert.equal(r.reads, 3);
    assert.equal(r.readMismatches, 3);
    assert.equal(r.failedOps, 3);
    assert.equal(r.lostWrites, 1);
    assert.deepEqual(r.lost, [{ id: 'run-1', expected: `run-1@${T0}`, actual: undefined }]);
    assert.match(r.operations[1]?.error ?? '', /read of acknowledged run-1 returned nothing/);
  });

  it('the final read-back counts acknowledged writes deleted or overwritten behind its back', async () => {
    const { client, probe } = setup({ verifyBatchSize: 3 });
    client.onCall = (n) => {
      if (n === 20) {
        client.store.delete('run-4');
        client.store.set('run-7', 'tampered');
      }
    };
    const r = await runUntilCall(probe, client, 20);
    assert.equal(r.acknowledgedWrites, 20);
    assert.equal(r.lostWrites, 2);
    assert.deepEqual(
      r.lost.map((l) => [l.id, l.actual]),
      [
        ['run-4', undefined],
        ['run-7', 'tampered'],
      ],
    );
    assert.equal(client.readManyCalls, 7, '20 ids in batches of 3');
    const v = probe.verdict({});
    assert.deepEqual(v, { ok: false, reason: 'probe: 2 acknowledged writes lost (tolerated 0)' });
    assert.equal(probe.verdict({ maxLostWrites: 2 }).ok, true);
  });

  it('retries a failing read-back batch, and reports what it could never read as unverified', async () => {
    const retried = setup({ verifyBatchSize: 4 });
    retried.client.readManyFails = (n) => n <= 2;
    const ok = await runUntilCall(retried.probe, retried.client, 8);
    assert.equal(ok.lostWrites, 0);
    assert.equal(ok.unverifiedWrites, 0);
    assert.equal(retried.client.readManyCalls, 4);

    const broken = setup({ verifyBatchSize: 4, retryDeadlineMs: 200 });
    broken.client.readManyFails = () => true;
    const bad = await runUntilCall(broken.probe, broken.client, 8);
    assert.equal(bad.unverifiedWrites, 8);
    assert.match(formatReportText(bad)[0] ?? '', /: \d+ ms, 8 acknowledged writes UNVERIFIED$/);
    assert.equal(bad.lostWrites, 0);
    assert.deepEqual(broken.probe.verdict({}), {
      ok: false,
      reason: 'probe: 8 acknowledged writes could not be read back (tolerated 0)',
    });
  });
});

describe('Probe verdict and lifecycle', () => {
  it('is ok within budget and names the exceeded gap', async () => {
    const { client, probe } = setup({ intervalMs: 10 });
    const r = await runUntilCall(probe, client, 5);
    assert.equal(r.maxGapMs, 12);
    assert.deepEqual(probe.verdict({ maxGapMs: 500, maxErrorRate: 0 }), {
      ok: true,
      reason: 'probe: 5 ops, error rate 0.00%, longest write gap 12 ms, p99 2 ms (last 10 s), 0 lost writes',
    });
    assert.deepEqual(probe.verdict({ maxGapMs: 10 }), {
      ok: false,
      reason: 'probe: longest write gap 12 ms > 10 ms',
    });
  });

  it('stop returns the same report twice and start refuses a second run', async () => {
    const { client, probe } = setup();
    const r = await runUntilCall(probe, client, 3);
    assert.equal(await probe.stop(), r);
    await assert.rejects(probe.start(), BadInputError);
  });

  it('stop before start is refused', async () => {
    const { probe } = setup();
    await assert.rejects(
      probe.stop(),
      (e: unknown) => e instanceof BadInputError && e.code === 'probe-not-started',
    );
  });

  it('start fails with probe-connect when the cluster never answers', async () => {
    const { client, probe } = setup({ retryDeadlineMs: 300 });
    client.connectFails = true;
    await assert.rejects(
      probe.start(),
      (e: unknown) => e instanceof OperationalError && e.code === 'probe-connect',
    );
    assert.ok(client.closed, 'a client that never connected is closed');
  });

  it('refuses a second start while the first is connecting', async () => {
    const { probe } = setup();
    const first = probe.start();
    await assert.rejects(probe.start(), BadInputError);
    await first;
    await probe.stop();
  });

  it('rejects options out of range', () => {
    const clock = new FakeClock();
    const client = new FakeClient(clock);
    assert.throws(() => new Probe({ client, clock, logger: nullLogger, readRatio: 2 }), BadInputError);
    assert.throws(() => new Probe({ client, clock, logger: nullLogger, intervalMs: -1 }), BadInputError);
  });

  it('times out a hanging attempt and retries it (real timers)', async () => {
    let calls = 0;
    const store = new Map<string, string>();
    const client: ProbeClient = {
      engine: 'hang-once',
      connect: async () => {},
      write: (id, value) => {
        calls += 1;
        if (calls === 2) return new Promise<void>(() => {});
        store.set(id, value);
        return Promise.resolve();
      },
      read: async (id) => store.get(id),
      readMany: async (ids) => ids.map((id) => store.get(id)),
      rediscover: async () => {},
      close: async () => {},
    };
    const clock: Clock = systemClock;
    const probe = new Probe({
      client,
      clock,
      logger: nullLogger,
      intervalMs: 1,
      opTimeoutMs: 30,
      readRatio: 0,
    });
    await probe.start();
    while (calls < 4) await new Promise((r) => setTimeout(r, 5));
    const r = await probe.stop();
    const second = r.operations[1];
    assert.ok(second);
    assert.equal(second.ok, true);
    assert.equal(second.attempts, 2);
    assert.equal(second.error, 'no answer within 30 ms');
    assert.equal(r.failedOps, 0);
    assert.equal(r.lostWrites, 0);
  });
});

describe('Probe invariants', () => {
  it('hold over random outage schedules', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 1500 })), {
          maxLength: 4,
        }),
        fc.integer({ min: 100, max: 2000 }),
        fc.integer({ min: 5, max: 60 }),
        fc.integer(),
        async (outages, retryDeadlineMs, stopAt, seed) => {
          const { client, probe } = setup({
            intervalMs: 10,
            retryDeadlineMs,
            readRatio: 0.3,
            random: mulberry32(seed),
          });
          client.down = (now) => outages.some(([at, len]) => now >= T0 + at && now < T0 + at + len);
          // Snapshots along the way merge latencies in several steps.
          client.onCall = (n) => {
            if (n % 7 === 0) probe.snapshot();
          };
          const r = await runUntilCall(probe, client, stopAt);
          const ok = r.operations.filter((o) => o.ok).map((o) => o.end - o.start);
          ok.sort((a, b) => a - b);
          assert.equal(r.p50Ms, percentile(ok, 0.5));
          assert.equal(r.p99Ms, percentile(ok, 0.99));
          assert.equal(r.lostWrites, 0);
          assert.equal(r.readMismatches, 0);
          assert.equal(r.ops, r.operations.length);
          assert.equal(r.failedOps, r.operations.filter((o) => !o.ok).length);
          assert.equal(r.acknowledgedWrites, r.operations.filter((o) => o.kind === 'write' && o.ok).length);
          assert.equal(r.maxGapMs, gapFromOperations(r));
          assert.ok(r.p50Ms <= r.p99Ms);
          for (const op of r.operations) {
            assert.ok(op.attempts >= 1);
            if (!op.ok) assert.ok(op.end - op.start >= retryDeadlineMs);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('report formatting', () => {
  it('renders text lines and JSON without operations unless asked', async () => {
    const { client, probe } = setup();
    client.onCall = (n) => {
      if (n === 6) client.store.delete('run-2');
    };
    const r = await runUntilCall(probe, client, 6);
    const text = formatReportText(r);
    assert.equal(text[0], `probe fake run run: ${r.durationMs} ms, 1 acknowledged writes LOST`);
    assert.ok(text.includes('  lost writes:'));
    assert.ok(text.includes(`    run-2: expected run-2@${T0 + 12}, found nothing`));
    const doc = JSON.parse(formatReportJson(r)) as Record<string, unknown>;
    assert.equal(doc.lostWrites, 1);
    assert.equal(doc.operations, undefined);
    const full = JSON.parse(formatReportJson(r, { includeOperations: true })) as { operations: unknown[] };
    assert.equal(full.operations.length, 6);
  });
});
