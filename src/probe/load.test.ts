import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../core/clock.js';
import { BadInputError } from '../core/errors.js';
import { nullLogger } from '../core/logger.js';
import { FakeClient } from '../../test/probe/fake-client.js';
import { genericErrorKind } from './errors.js';
import { Probe, type ProbeOptions } from './probe.js';
import type { ProbeReport, ProbeSecond } from './types.js';

const T0 = Date.UTC(2026, 0, 1);

function setup(opts: Partial<ProbeOptions> = {}) {
  const clock = new FakeClock(T0);
  const client = new FakeClient(clock);
  const seen: ProbeSecond[] = [];
  const probe = new Probe({
    client,
    clock,
    logger: nullLogger,
    opTimeoutMs: 0,
    readRatio: 0,
    random: () => 0.5,
    runId: 'run',
    onSecond: (s) => seen.push(s),
    ...opts,
  });
  return { clock, client, probe, seen };
}

/** Runs the probe until its clock reaches `ms` after the start, stopping from inside a client call. */
async function runFor(probe: Probe, clock: FakeClock, client: FakeClient, ms: number): Promise<ProbeReport> {
  let stopped: Promise<ProbeReport> | undefined;
  client.onCall = () => {
    if (!stopped && clock.now() >= T0 + ms) stopped = probe.stop();
  };
  await probe.start();
  while (!stopped) await new Promise((r) => setImmediate(r));
  return stopped;
}

describe('Probe open loop', () => {
  it('offers the rate every second and measures latency from when each operation was due', async () => {
    const { clock, client, probe, seen } = setup({ rate: 100 });
    const r = await runFor(probe, clock, client, 5000);
    assert.deepEqual(r.load, { rate: 100, workers: 1, readRatio: 0 });
    const full = r.seconds.slice(0, 5);
    assert.equal(full.length, 5);
    for (const s of full) {
      assert.equal(s.offered, 100);
      assert.equal(s.ok, 100);
      assert.equal(s.failed, 0);
      assert.equal(s.p50Ms, 2);
      assert.equal(s.maxMs, 2);
      assert.ok(s.maxGapMs <= 10, `gap ${s.maxGapMs}`);
    }
    assert.deepEqual(
      full.map((s) => s.at - T0),
      [0, 1000, 2000, 3000, 4000],
    );
    assert.deepEqual(seen, r.seconds, 'every closed second was reported as it closed');
    assert.equal(r.offered, Math.ceil((r.durationMs * 100) / 1000));
    assert.equal(r.p99Ms, 2);
  });

  it('shows a stall as latency and backlog, not as fewer requests', async () => {
    const { clock, client, probe } = setup({ rate: 100 });
    client.down = (now) => now >= T0 + 2000 && now < T0 + 2500;
    const r = await runFor(probe, clock, client, 6000);
    assert.equal(r.failedOps, 0);
    const [s0, s1, s2, s3, s4] = r.seconds;
    assert.equal(s0?.ok, 100);
    assert.equal(s1?.ok, 100);
    assert.ok((s2?.ok ?? 0) < 100, `the stalled second acknowledged ${s2?.ok}`);
    // The backlog drains once the cluster answers again: every due operation is acknowledged.
    assert.equal((s2?.ok ?? 0) + (s3?.ok ?? 0), 200);
    assert.equal(s4?.ok, 100);
    assert.ok((s2?.maxMs ?? 0) >= 500, `max latency ${s2?.maxMs} includes the stall`);
    assert.ok((s2?.maxGapMs ?? 0) >= 500);
    assert.ok((s2?.errors.refused ?? 0) > 0, 'failed attempts counted by kind');
    assert.equal(r.ops, r.offered);
    assert.ok(r.maxMs >= 500);
  });

  it('does not send an operation that waited for a worker past its retry deadline', async () => {
    const { clock, client, probe } = setup({ rate: 100, retryDeadlineMs: 1000 });
    client.latency = () => 1500;
    const r = await runFor(probe, clock, client, 7000);
    const notSent = r.operations.filter((o) => o.attempts === 0);
    assert.ok(notSent.length > 100, `${notSent.length} not sent`);
    for (const o of notSent) {
      assert.equal(o.ok, false);
      assert.equal(o.errorKind, 'not-sent');
      assert.ok(o.end - o.start > 1000);
    }
    assert.equal(r.errorKinds['not-sent'], notSent.length);
    assert.equal(r.failedOps, notSent.length);
    assert.ok(r.operations.filter((o) => o.ok).every((o) => o.end - o.start >= 1500));
  });

  it('pauses on p99 over the last 10 s, and stops complaining once it is old', async () => {
    const stalled = setup({ rate: 50 });
    stalled.client.down = (now) => now >= T0 + 2000 && now < T0 + 2600;
    await runFor(stalled.probe, stalled.clock, stalled.client, 4000);
    const v = stalled.probe.verdict({ maxP99Ms: 200 });
    assert.equal(v.ok, false);
    assert.match(v.reason, /^probe: p99 latency over the last 10 s \d+ ms > 200 ms$/);

    const later = setup({ rate: 50 });
    later.client.down = (now) => now >= T0 + 2000 && now < T0 + 2600;
    await runFor(later.probe, later.clock, later.client, 14_000);
    assert.equal(later.probe.verdict({ maxP99Ms: 200 }).ok, true);
    assert.ok(later.probe.snapshot().p99Ms >= 2, 'the whole-run p99 still holds the stall');
  });

  it('counts failed attempts by the client kind, else by the generic kind', async () => {
    const { clock, client, probe } = setup({ rate: 100 });
    client.down = (now) => now >= T0 + 1000 && now < T0 + 1100;
    client.failure = () =>
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const r = await runFor(probe, clock, client, 2000);
    assert.ok((r.errorKinds.refused ?? 0) > 0);
    assert.deepEqual(Object.keys(r.errorKinds), ['refused']);
    assert.deepEqual(
      r.failedAttempts.map((a) => a.kind),
      Array(r.errorKinds.refused).fill('refused'),
    );

    const named = setup({ rate: 100 });
    named.client.down = (now) => now >= T0 + 1000 && now < T0 + 1100;
    named.client.errorKind = () => 'no-leader';
    const r2 = await runFor(named.probe, named.clock, named.client, 2000);
    assert.deepEqual(Object.keys(r2.errorKinds), ['no-leader']);
  });

  it('runs one client per worker and refuses several workers on one client', async () => {
    const clock = new FakeClock(T0);
    const made: FakeClient[] = [];
    const probe = new Probe({
      client: () => {
        const c = new FakeClient(clock);
        made.push(c);
        return c;
      },
      clock,
      logger: nullLogger,
      rate: 10,
      workers: 3,
    });
    assert.equal(made.length, 3);
    await probe.start();
    await probe.stop();
    assert.ok(made.every((c) => c.closed));
    assert.throws(
      () => new Probe({ client: new FakeClient(clock), clock, logger: nullLogger, workers: 2 }),
      BadInputError,
    );
    assert.throws(
      () => new Probe({ client: new FakeClient(clock), clock, logger: nullLogger, rate: 0 }),
      /rate/,
    );
    assert.throws(
      () => new Probe({ client: () => new FakeClient(clock), clock, logger: nullLogger, workers: 1.5 }),
      /whole number/,
    );
  });
});

describe('genericErrorKind', () => {
  const cases: [unknown, string][] = [
    [Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'refused'],
    [Object.assign(new Error('x'), { code: 'ECONNRESET' }), 'reset'],
    [new Error('wrapped', { cause: Object.assign(new Error('y'), { code: 'EPIPE' }) }), 'reset'],
    [new AggregateError([Object.assign(new Error('z'), { code: 'ECONNREFUSED' })]), 'refused'],
    [new Error('Query read timeout'), 'timeout'],
    [new Error('Connection terminated unexpectedly'), 'reset'],
    [new Error('something odd'), 'other'],
    ['a string', 'other'],
  ];
  for (const [err, kind] of cases) {
    it(`${err instanceof Error ? err.message : String(err)} -> ${kind}`, () => {
      assert.equal(genericErrorKind(err), kind);
    });
  }
});
