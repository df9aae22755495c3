/**
 * What the upgrade did to the probe's clients, phase by phase: the baseline before the first
 * member step, each member's step (from the runner's first step on the member to the moment it was
 * ready and caught up, as the journal records them) and the time after the last one. Pure: a
 * function of a finished probe report and the upgrade's status.
 */
import type { UpgradeStatus } from '../core/types.js';
import { dueBefore, percentile } from './measure.js';
import type { ProbePhase, ProbeReport, ProbeWindow } from './types.js';

/** The upgrade's effect on the clients, in the figures the issue asks for. */
export interface UpgradeEffect {
  phases: ProbePhase[];
  /** Operations acknowledged per second before the first member step. */
  baselinePerSec: number;
  /** The member step with the largest throughput loss, if any step was measured. */
  worstStep?: { member: string; throughputLossPct: number };
  /** p99 latency before the first member step, and from its start to the end of the last one. */
  p99BeforeMs: number;
  p99DuringMs: number;
  /** The longest write gap of the whole run, before the first member step, and during the steps. */
  maxGapMs: number;
  maxGapBeforeMs: number;
  maxGapDuringMs: number;
  lostWrites: number;
}

type Report = Pick<
  ProbeReport,
  'startedAt' | 'stoppedAt' | 'operations' | 'failedAttempts' | 'load' | 'maxGapMs' | 'lostWrites'
>;

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Figures of the operations that ended in [from, to). */
export function windowFigures(r: Report, from: number, to: number): ProbeWindow {
  const seconds = Math.max(to - from, 1) / 1000;
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  let started = 0;
  let lastAck = r.startedAt;
  let maxGapMs = 0;
  const gap = (a: number, b: number) => {
    if (b > from && a < to) maxGapMs = Math.max(maxGapMs, b - a);
  };
  for (const op of r.operations) {
    if (op.start >= from && op.start < to) started += 1;
    if (op.ok && op.kind === 'write' && op.end > lastAck) {
      gap(lastAck, op.end);
      lastAck = op.end;
    }
    if (op.end < from || op.end >= to) continue;
    if (op.ok) {
      ok += 1;
      latencies.push(op.end - op.start);
    } else {
      failed += 1;
    }
  }
  gap(lastAck, r.stoppedAt);
  for (const a of r.failedAttempts) {
    if (a.at >= from && a.at < to) errors[a.kind] = (errors[a.kind] ?? 0) + 1;
  }
  const rate = r.load.rate;
  const offered =
    rate === undefined ? started : dueBefore(to - r.startedAt, rate) - dueBefore(from - r.startedAt, rate);
  latencies.sort((a, b) => a - b);
  return {
    from,
    to,
    offeredPerSec: round1(offered / seconds),
    achievedPerSec: round1(ok / seconds),
    ok,
    failed,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1] ?? 0,
    maxGapMs,
    errors,
  };
}

/** Each member's step as [from, to) from the journal, in the order the steps began. */
export function memberSteps(
  status: UpgradeStatus,
  until: number,
): { member: string; from: number; to: number }[] {
  const steps: { member: string; from: number; to: number }[] = [];
  for (const [member, p] of Object.entries(status.members)) {
    const first = status.history.find((h) => h.member === member);
    if (!first) continue;
    steps.push({ member, from: first.at, to: p.finishedAt ?? status.finishedAt ?? until });
  }
  return steps.sort((a, b) => a.from - b.from || a.member.localeCompare(b.member));
}

/**
 * The probe's figures per phase of the upgrade `status` describes, and the summary figures: the
 * throughput loss of each member step as a percentage of the baseline (operations acknowledged
 * per second before the first step), the worst step, p99 before and during the upgrade.
 */
export function upgradeEffect(r: Report, status: UpgradeStatus): UpgradeEffect {
  const steps = memberSteps(status, r.stoppedAt).filter((s) => s.to > r.startedAt && s.from < r.stoppedAt);
  const firstFrom = Math.max(r.startedAt, Math.min(r.stoppedAt, ...steps.map((s) => s.from)));
  const lastTo = Math.min(r.stoppedAt, Math.max(r.startedAt, ...steps.map((s) => s.to)));
  const before: ProbePhase = { kind: 'before', ...windowFigures(r, r.startedAt, firstFrom) };
  const baseline = before.achievedPerSec;
  const phases: ProbePhase[] = [before];
  let worstStep: UpgradeEffect['worstStep'];
  for (const s of steps) {
    const w = windowFigures(r, Math.max(s.from, r.startedAt), Math.min(s.to, r.stoppedAt));
    const phase: ProbePhase = { kind: 'member', member: s.member, ...w };
    if (baseline > 0) {
      phase.throughputLossPct = round1(Math.max(0, (1 - w.achievedPerSec / baseline) * 100));
      if (!worstStep || phase.throughputLossPct > worstStep.throughputLossPct) {
        worstStep = { member: s.member, throughputLossPct: phase.throughputLossPct };
      }
    }
    phases.push(phase);
  }
  if (steps.length > 0 && lastTo < r.stoppedAt) {
    phases.push({ kind: 'after', ...windowFigures(r, lastTo, r.stoppedAt) });
  }
  const during = steps.length > 0 ? windowFigures(r, firstFrom, lastTo) : undefined;
  const effect: UpgradeEffect = {
    phases,
    baselinePerSec: baseline,
    p99BeforeMs: before.p99Ms,
    p99DuringMs: during?.p99Ms ?? 0,
    maxGapMs: r.maxGapMs,
    maxGapBeforeMs: before.maxGapMs,
    maxGapDuringMs: during?.maxGapMs ?? 0,
    lostWrites: r.lostWrites,
  };
  if (worstStep) effect.worstStep = worstStep;
  return effect;
}
