/**
 * Renders a probe report for people (text lines) and for machines (JSON). Both are derived from the
 * same {@link ProbeReport}; neither adds figures of its own.
 */
import { formatRate } from './gate.js';
import type { UpgradeEffect } from './phases.js';
import type { ProbeFigures, ProbeLoad, ProbeReport } from './types.js';

const MAX_ERRORS_SHOWN = 5;
const MAX_LOST_SHOWN = 10;

/** One line of live or final figures, e.g. for progress output and events. */
export function formatFigures(f: ProbeFigures): string {
  return (
    `${f.ops} ops (${f.writes} writes, ${f.reads} reads), ${f.failedOps} failed (${formatRate(f.errorRate)}), ` +
    `longest write gap ${f.maxGapMs} ms, p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, ` +
    `${f.acknowledgedWrites} acknowledged, ${f.lostWrites} lost`
  );
}

function durability(r: Pick<ProbeReport, 'lostWrites' | 'unverifiedWrites'>): string {
  const parts: string[] = [];
  if (r.lostWrites > 0) parts.push(`${r.lostWrites} acknowledged writes LOST`);
  if (r.unverifiedWrites > 0) parts.push(`${r.unverifiedWrites} acknowledged writes UNVERIFIED`);
  return parts.length > 0 ? parts.join(', ') : 'no acknowledged write lost';
}

/** The load in words, e.g. `open loop 1000 ops/s over 8 workers, 20% reads`. */
export function formatLoad(l: ProbeLoad): string {
  const loop = l.rate !== undefined ? `open loop ${l.rate} ops/s` : 'closed loop';
  return `${loop} over ${l.workers} worker${l.workers === 1 ? '' : 's'}, ${Math.round(l.readRatio * 100)}% reads`;
}

/** Failed attempts by kind, most frequent first, e.g. `refused 12, timeout 3`; `none` when empty. */
export function formatErrorKinds(kinds: Record<string, number>): string {
  const entries = Object.entries(kinds).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(', ') : 'none';
}

/**
 * The report as text lines without trailing newlines: a headline, the figures, then the most
 * frequent errors and the first lost writes when there are any.
 */
export function formatReportText(
  r: Omit<ProbeReport, 'operations' | 'failedAttempts' | 'seconds'>,
): string[] {
  const lines = [
    `probe ${r.engine} run ${r.runId}: ${r.durationMs} ms, ${durability(r)}`,
    `  load         ${formatLoad(r.load)}; ${r.offered} offered`,
    `  operations   ${r.ops} (${r.writes} writes, ${r.reads} reads), ${r.failedOps} failed, error rate ${formatRate(r.errorRate)}`,
    `  availability longest write gap ${r.maxGapMs} ms`,
    `  latency      p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms (successful operations, retries included)`,
    `  durability   ${r.acknowledgedWrites} acknowledged, ${r.lostWrites} lost, ${r.unverifiedWrites} unverified, ${r.readMismatches} read mismatches`,
    `  failed attempts by kind: ${formatErrorKinds(r.errorKinds)}`,
  ];
  if (r.errors.length > 0) {
    lines.push(`  errors (attempts):`);
    for (const e of r.errors.slice(0, MAX_ERRORS_SHOWN)) lines.push(`    ${e.count} x ${e.message}`);
    if (r.errors.length > MAX_ERRORS_SHOWN) lines.push(`    ... ${r.errors.length - MAX_ERRORS_SHOWN} more`);
  }
  if (r.lost.length > 0) {
    lines.push(`  lost writes:`);
    for (const l of r.lost.slice(0, MAX_LOST_SHOWN)) {
      lines.push(
        `    ${l.id}: expected ${l.expected}, found ${l.actual === undefined ? 'nothing' : l.actual}`,
      );
    }
    if (r.lostWrites > MAX_LOST_SHOWN) lines.push(`    ... ${r.lostWrites - MAX_LOST_SHOWN} more`);
  }
  return lines;
}

/**
 * The report as a JSON document. Operations are left out unless `includeOperations` is set, since
 * a long run records hundreds of thousands of them.
 */
export function formatReportJson(
  r: ProbeReport,
  opts: { includeOperations?: boolean; indent?: number } = {},
): string {
  const { operations, ...rest } = r;
  const doc = opts.includeOperations ? { ...rest, operations } : rest;
  return JSON.stringify(doc, null, opts.indent ?? 2);
}

/**
 * The upgrade's effect per phase as text lines: one line per phase (throughput achieved vs
 * offered, loss against the baseline, p99, max, gap, failed attempts), then the summary.
 */
export function formatPhases(e: UpgradeEffect): string[] {
  const lines = [
    '  phases (ops/s achieved of offered, loss vs baseline, p99 / max latency, longest write gap):',
  ];
  for (const p of e.phases) {
    const name = p.kind === 'member' ? `step ${p.member}` : p.kind;
    const loss = p.throughputLossPct !== undefined ? `, loss ${p.throughputLossPct}%` : '';
    lines.push(
      `    ${name.padEnd(16)} ${((p.to - p.from) / 1000).toFixed(1)} s: ${p.achievedPerSec} of ${p.offeredPerSec} ops/s${loss}, ` +
        `p99 ${p.p99Ms} ms, max ${p.maxMs} ms, gap ${p.maxGapMs} ms, failed ${p.failed}, attempts failed: ${formatErrorKinds(p.errors)}`,
    );
  }
  const worst = e.worstStep
    ? `${e.worstStep.throughputLossPct}% (${e.worstStep.member})`
    : 'no member step measured';
  lines.push(
    `  worst step throughput loss ${worst}; p99 ${e.p99BeforeMs} ms before, ${e.p99DuringMs} ms during; longest write gap ${e.maxGapMs} ms; ${e.lostWrites} lost`,
  );
  return lines;
}
