/**
 * Renders a probe report for people (text lines) and for machines (JSON). Both are derived from the
 * same {@link ProbeReport}; neither adds figures of its own.
 */
import { formatRate } from './probe.js';
import type { ProbeFigures, ProbeReport } from './types.js';

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

function durability(r: ProbeReport): string {
  const parts: string[] = [];
  if (r.lostWrites > 0) parts.push(`${r.lostWrites} acknowledged writes LOST`);
  if (r.unverifiedWrites > 0) parts.push(`${r.unverifiedWrites} acknowledged writes UNVERIFIED`);
  return parts.length > 0 ? parts.join(', ') : 'no acknowledged write lost';
}

/**
 * The report as text lines without trailing newlines: a headline, the figures, then the most
 * frequent errors and the first lost writes when there are any.
 */
export function formatReportText(r: ProbeReport): string[] {
  const lines = [
    `probe ${r.engine} run ${r.runId}: ${r.durationMs} ms, ${durability(r)}`,
    `  operations   ${r.ops} (${r.writes} writes, ${r.reads} reads), ${r.failedOps} failed, error rate ${formatRate(r.errorRate)}`,
    `  availability longest write gap ${r.maxGapMs} ms`,
    `  latency      p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms (successful operations, retries included)`,
    `  durability   ${r.acknowledgedWrites} acknowledged, ${r.lostWrites} lost, ${r.unverifiedWrites} unverified, ${r.readMismatches} read mismatches`,
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
