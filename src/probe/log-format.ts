/**
 * The probe log's format: its lines, the runs they fold into, and parsing of log text. Pure (no
 * I/O), so the dashboard's page folds the lines it receives the same way the server does.
 */
import type { UpgradeEffect } from './phases.js';
import type { ProbeLoad, ProbeReport, ProbeSecond } from './types.js';

/** The final figures of a run as the log keeps them: everything but the per-operation records. */
export type ProbeSummary = Omit<ProbeReport, 'operations' | 'failedAttempts' | 'seconds'>;

/** One line of a probe log. */
export type ProbeLogLine =
  | { type: 'start'; runId: string; engine: string; startedAt: number; load: ProbeLoad }
  | { type: 'second'; runId: string; second: ProbeSecond }
  | { type: 'end'; runId: string; summary: ProbeSummary; effect?: UpgradeEffect };

/** One run as read back from a log. */
export interface ProbeRun {
  runId: string;
  engine: string;
  startedAt: number;
  load: ProbeLoad;
  seconds: ProbeSecond[];
  /** Absent while the run goes on (or when its process was killed before it ended). */
  summary?: ProbeSummary;
  effect?: UpgradeEffect;
}

/** The summary of a report: the report without its per-operation records and series. */
export function summaryOf(r: ProbeReport): ProbeSummary {
  const { operations: _ops, failedAttempts: _attempts, seconds: _seconds, ...summary } = r;
  return summary;
}

/** Folds lines into runs, in the order they started. Lines of unknown runs or types are skipped. */
export function foldProbeLog(lines: readonly ProbeLogLine[]): ProbeRun[] {
  const runs = new Map<string, ProbeRun>();
  for (const line of lines) {
    if (line.type === 'start') {
      runs.set(line.runId, {
        runId: line.runId,
        engine: line.engine,
        startedAt: line.startedAt,
        load: line.load,
        seconds: [],
      });
      continue;
    }
    const run = runs.get(line.runId);
    if (!run) continue;
    if (line.type === 'second') run.seconds.push(line.second);
    else if (line.type === 'end') {
      run.summary = line.summary;
      if (line.effect) run.effect = line.effect;
    }
  }
  return [...runs.values()];
}

/**
 * Parses complete lines of log text; a torn last line (a writer killed mid-append, or one still
 * being written) is ignored, as are lines that are not JSON.
 */
export function parseProbeLog(text: string): ProbeLogLine[] {
  const lines: ProbeLogLine[] = [];
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  for (const raw of complete.split('\n')) {
    if (!raw.trim()) continue;
    try {
      const line = JSON.parse(raw) as ProbeLogLine;
      if (line && typeof line === 'object' && typeof line.type === 'string') lines.push(line);
    } catch {
      // A line that is not JSON was not written by a probe; skip it.
    }
  }
  return lines;
}
