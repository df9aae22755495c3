import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { UpgradeStatus } from '../core/types.js';
import { dueBefore, ProbeMeasurements } from './measure.js';
import { memberSteps, upgradeEffect, windowFigures } from './phases.js';
import type { ProbeOperation, ProbeReport, ProbeSecond } from './types.js';

const T0 = 1_000_000;

/** One write due every 10 ms from T0 to T0 + `ms`, each taking 2 ms, except while `slow` says so. */
function run(ms: number, slow: (due: number) => number | undefined = () => undefined) {
  const operations: ProbeOperation[] = [];
  let seq = 0;
  for (let due = T0; due < T0 + ms; due += 10) {
    const end = slow(due) ?? due + 2;
    operations.push({ kind: 'write', id: `w-${seq++}`, start: due, end, ok: true, attempts: 1 });
  }
  operations.sort((a, b) => a.end - b.end);
  const report: Pick<
    ProbeReport,
    'startedAt' | 'stoppedAt' | 'operations' | 'failedAttempts' | 'load' | 'maxGapMs' | 'lostWrites'
  > = {
    startedAt: T0,
    stoppedAt: T0 + ms,
    operations,
    failedAttempts: [],
    load: { rate: 100, workers: 1, readRatio: 0 },
    maxGapMs: 0,
    lostWrites: 0,
  };
  return report;
}

function status(members: Record<string, [number, number | undefined]>): UpgradeStatus {
  const history = Object.entries(members).map(([member, [from]]) => ({
    at: from,
    type: 'step' as const,
    message: `drain ${member}`,
    member,
  }));
  history.unshift({
    at: T0 + 100,
    type: 'step' as const,
    message: 'run prechecks',
    member: undefined as never,
  });
  return {
    members: Object.fromEntries(
      Object.entries(members).map(([m, [, to]]) => [
        m,
        { finishedAt: to } as UpgradeStatus['members'][string],
      ]),
    ),
    history,
  } as UpgradeStatus;
}

describe('windowFigures', () => {
  it('counts what ended in the window at the offered and achieved rates', () => {
    const w = windowFigures(run(4000), T0 + 1000, T0 + 3000);
    assert.equal(w.offeredPerSec, 100);
    assert.equal(w.achievedPerSec, 100);
    assert.equal(w.ok, 200);
    assert.equal(w.p99Ms, 2);
    assert.equal(w.maxGapMs, 10);
  });

  it('holds a stall: fewer acknowledged, longer latency and gap, the backlog after it', () => {
    // Writes due in [2000, 2500) are all acknowledged at 2500.
    const r = run(5000, (due) => (due >= T0 + 2000 && due < T0 + 2500 ? T0 + 2500 : undefined));
    const stall = windowFigures(r, T0 + 2000, T0 + 2500);
    assert.equal(stall.ok, 0);
    assert.equal(stall.achievedPerSec, 0);
    assert.equal(stall.offeredPerSec, 100);
    assert.ok(stall.maxGapMs >= 500);
    const around = windowFigures(r, T0 + 2000, T0 + 3000);
    assert.equal(around.ok, 100);
    assert.equal(around.maxMs, 500);
  });
});

describe('upgradeEffect', () => {
  it('measures each member step against the baseline before the first one', () => {
    const r = run(10_000, (due) => (due >= T0 + 5000 && due < T0 + 5300 ? T0 + 5300 : undefined));
    const s = status({ a: [T0 + 2000, T0 + 4000], b: [T0 + 4000, T0 + 6000], c: [T0 + 6000, T0 + 8000] });
    const e = upgradeEffect(r, s);
    assert.deepEqual(
      e.phases.map((p) => [p.kind, p.member ?? '', p.from - T0, p.to - T0]),
      [
        ['before', '', 0, 2000],
        ['member', 'a', 2000, 4000],
        ['member', 'b', 4000, 6000],
        ['member', 'c', 6000, 8000],
        ['after', '', 8000, 10_000],
      ],
    );
    assert.equal(e.baselinePerSec, 100);
    // The stall is inside b's step and its backlog too: no throughput lost over the step.
    assert.equal(e.phases[2]?.throughputLossPct, 0);
    assert.equal(e.phases[2]?.maxMs, 300);
    assert.equal(e.p99BeforeMs, 2);
    assert.ok(e.p99DuringMs >= 200, `p99 during ${e.p99DuringMs}`);
    assert.equal(e.worstStep?.throughputLossPct, 0);
    // The 300 ms stall is during the steps; before them writes were acknowledged every 10 ms.
    assert.ok(e.maxGapDuringMs >= 300, `gap during ${e.maxGapDuringMs}`);
    assert.equal(e.maxGapBeforeMs, 10);
  });

  it('tells a gap before the first member step from one during the steps', () => {
    const r = run(6000, (due) => (due >= T0 + 1000 && due < T0 + 1400 ? T0 + 1400 : undefined));
    const e = upgradeEffect(r, status({ a: [T0 + 2000, T0 + 4000] }));
    assert.ok(e.maxGapBeforeMs >= 400, `gap before ${e.maxGapBeforeMs}`);
    assert.equal(e.maxGapDuringMs, 10);
  });

  it('states the throughput a step lost as a percentage of the baseline', () => {
    // During b's step only every other write is acknowledged (the others are never sent).
    const r = run(6000);
    r.operations = r.operations.filter(
      (o, i) => !(o.start >= T0 + 3000 && o.start < T0 + 4000 && i % 2 === 1),
    );
    const e = upgradeEffect(r, status({ a: [T0 + 2000, T0 + 3000], b: [T0 + 3000, T0 + 4000] }));
    assert.equal(e.phases[1]?.throughputLossPct, 0);
    assert.equal(e.phases[2]?.throughputLossPct, 50);
    assert.deepEqual(e.worstStep, { member: 'b', throughputLossPct: 50 });
  });

  it('is all baseline when no member was touched, and ignores members without history', () => {
    const r = run(3000);
    const s = status({});
    s.members.idle = { finishedAt: undefined } as UpgradeStatus['members'][string];
    const e = upgradeEffect(r, s);
    assert.equal(e.phases.length, 1);
    assert.equal(e.phases[0]?.kind, 'before');
    assert.equal(e.worstStep, undefined);
    assert.deepEqual(memberSteps(s, T0 + 3000), []);
  });
});

describe('ProbeMeasurements', () => {
  it('offers a fractional rate exactly over whole seconds', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((k) => dueBefore(k * 1000, 2.5) - dueBefore((k - 1) * 1000, 2.5)),
      [3, 2, 3, 2],
    );
    assert.equal(dueBefore(0, 100), 0);
    assert.equal(dueBefore(1, 100), 1);
  });

  it('closes seconds in order, empty ones included, with the open write gap at their end', () => {
    const closed: ProbeSecond[] = [];
    const m = new ProbeMeasurements(T0, 10, (s) => closed.push(s));
    m.acknowledged(T0, T0 + 5, true);
    m.attemptFailed(T0 + 900, 'timeout');
    m.acknowledged(T0 + 100, T0 + 2600, true);
    m.flush(T0 + 3500);
    assert.deepEqual(
      closed.map((s) => [s.at - T0, s.offered, s.ok, s.maxGapMs, s.maxMs, s.errors]),
      [
        [0, 10, 1, 995, 5, { timeout: 1 }],
        [1000, 10, 0, 1995, 0, {}],
        [2000, 10, 1, 2595, 2500, {}],
      ],
    );
    m.finish(T0 + 3500);
    assert.equal(closed.length, 4);
    assert.equal(closed[3]?.offered, 5);
    assert.equal(m.gapUntil(T0 + 3500), 2595);
  });
});
