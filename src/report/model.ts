/**
 * The report of an upgrade as data: summary, plan, prechecks, members, a timeline (every member's
 * steps, the pauses and the blocks) and the probe's runs with their series and per-phase figures.
 * `baton report --json` prints it; the Markdown and HTML forms and the dashboard render it. Pure:
 * built from a journal record and probe runs, no I/O, no clock.
 */
import type { UpgradeRecord } from '../core/ports.js';
import type { HistoryEntry, MemberState, PrecheckResult, UpgradeStatus } from '../core/types.js';
import type { ProbeRun } from '../probe/log-format.js';
import { memberRows, type MemberRow } from './members.js';

/** Identifies the document's format; bumped when a field changes meaning. */
export const REPORT_SCHEMA = 'baton.dev/report/v1';

/** One bar of a member's row in the timeline: the member was in `state` from `from` to `to`. */
export interface TimelineBar {
  state: Exclude<MemberState, 'pending' | 'done'> | 'step';
  from: number;
  to: number;
}

/** The timeline (Gantt) of an upgrade. */
export interface Timeline {
  from: number;
  to: number;
  rows: { member: string; component: string; bars: TimelineBar[]; doneAt?: number }[];
  pauses: { from: number; to: number; cause: string }[];
  blocks: { at: number; message: string }[];
}

/** The whole report. */
export interface UpgradeReport {
  schema: typeof REPORT_SCHEMA;
  upgrade: {
    name: string;
    cluster: string;
    engine: string;
    from: string;
    to: string;
    phase: UpgradeStatus['phase'];
    reason: string;
    direction: UpgradeStatus['direction'];
    finalized: boolean;
    createdAt?: number;
    startedAt?: number;
    finishedAt?: number;
    durationMs?: number;
    pauseCause?: string;
    done: number;
    total: number;
  };
  plan?: {
    path: { from: string; to: string; notes: string[] }[];
    batchPolicy: string;
    maxUnavailable: number;
    estimatedMs: number;
    warnings: string[];
    components: { name: string; version: string; batches: string[][] }[];
  };
  prechecks: PrecheckResult[];
  members: MemberRow[];
  timeline: Timeline;
  probe: ProbeRun[];
  history: HistoryEntry[];
}

function batchPolicy(p: NonNullable<UpgradeStatus['plan']>['batchPolicy']): string {
  switch (p.kind) {
    case 'serial':
      return 'serial';
    case 'fixed':
      return `fixed:${p.size}`;
    case 'percent':
      return `percent:${p.percent}`;
    case 'exponential':
      return `exponential:${p.capPercent}%`;
  }
}

/** Pauses: from each move into Paused to the next phase entry (or `end`). */
function pausesOf(history: readonly HistoryEntry[], end: number): Timeline['pauses'] {
  const pauses: Timeline['pauses'] = [];
  let open: { from: number; cause: string } | undefined;
  for (const h of history) {
    if (h.type !== 'phase') continue;
    if (h.phase === 'Paused') open ??= { from: h.at, cause: h.message };
    else if (open) {
      pauses.push({ ...open, to: h.at });
      open = undefined;
    }
  }
  if (open) pauses.push({ ...open, to: end });
  return pauses;
}

/**
 * Each member's bars from the states its history entries record; a member whose entries carry
 * no state (journals written before states were recorded) gets one `step` bar from its first
 * entry to when it was done.
 */
function rowsOf(status: UpgradeStatus, rows: MemberRow[], end: number): Timeline['rows'] {
  return rows.map((r) => {
    const entries = status.history.filter((h) => h.member === r.name);
    const doneAt = status.members[r.name]?.finishedAt;
    const bars: TimelineBar[] = [];
    const states = entries.filter((h) => h.state !== undefined);
    if (states.length === 0 && entries[0]) {
      bars.push({ state: 'step', from: entries[0].at, to: doneAt ?? end });
    }
    states.forEach((h, i) => {
      if (h.state === 'pending' || h.state === 'done' || h.state === undefined) return;
      const to = states[i + 1]?.at ?? doneAt ?? end;
      bars.push({ state: h.state, from: h.at, to: Math.max(to, h.at) });
    });
    return { member: r.name, component: r.component, bars, ...(doneAt !== undefined ? { doneAt } : {}) };
  });
}

/** The report of `rec` with the probe runs recorded for it (oldest first). */
export function buildReport(rec: UpgradeRecord, probe: ProbeRun[]): UpgradeReport {
  const { spec, status } = rec;
  const plan = status.plan;
  const createdAt = status.history[0]?.at;
  const lastSeen = Math.max(status.updatedAt, ...status.history.map((h) => h.at));
  const end = status.finishedAt ?? lastSeen;
  const firstProbe = Math.min(...probe.map((r) => r.startedAt));
  const lastProbe = Math.max(
    ...probe.map((r) => (r.summary ? r.summary.stoppedAt : (r.seconds.at(-1)?.at ?? 0))),
  );
  const rows = memberRows(status);
  const from = Math.min(createdAt ?? end, firstProbe);
  const upgrade: UpgradeReport['upgrade'] = {
    name: spec.name,
    cluster: spec.cluster,
    engine: spec.engine,
    from: plan?.from ?? '',
    to: spec.version,
    phase: status.phase,
    reason: status.reason,
    direction: status.direction,
    finalized: status.finalized,
    done: status.progress.done,
    total: status.progress.total,
  };
  if (createdAt !== undefined) upgrade.createdAt = createdAt;
  if (status.startedAt !== undefined) upgrade.startedAt = status.startedAt;
  if (status.finishedAt !== undefined) {
    upgrade.finishedAt = status.finishedAt;
    if (createdAt !== undefined) upgrade.durationMs = status.finishedAt - createdAt;
  }
  if (status.pauseCause) upgrade.pauseCause = status.pauseCause;
  const report: UpgradeReport = {
    schema: REPORT_SCHEMA,
    upgrade,
    prechecks: status.prechecks,
    members: rows,
    timeline: {
      from,
      to: Math.max(end, lastProbe),
      rows: rowsOf(status, rows, end),
      pauses: pausesOf(status.history, end),
      blocks: status.history.filter((h) => h.type === 'block').map((h) => ({ at: h.at, message: h.message })),
    },
    probe,
    history: status.history,
  };
  if (plan) {
    report.plan = {
      path: plan.path.map((h) => ({ from: h.from, to: h.to, notes: h.notes })),
      batchPolicy: batchPolicy(plan.batchPolicy),
      maxUnavailable: plan.maxUnavailable,
      estimatedMs: plan.estimatedMs,
      warnings: plan.warnings,
      components: plan.components.map((c) => ({
        name: c.name,
        version: c.version,
        batches: c.batches.map((b) => b.members),
      })),
    };
  }
  return report;
}
