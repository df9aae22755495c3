/**
 * The probe log: what a probe run measured, as JSON lines appended while it runs, so that another
 * process (`baton dashboard`) can follow it live and `baton report` can plot it afterwards. One
 * file may hold several runs (an upgrade driven with a probe, paused, then resumed with one):
 *
 * ```
 * {"type":"start","runId":"...","engine":"etcd","startedAt":...,"load":{...}}
 * {"type":"second","runId":"...","second":{"at":...,"offered":1000,"ok":998,...}}
 * {"type":"end","runId":"...","summary":{...figures, no operations...},"effect":{...phases...}}
 * ```
 */
import { appendFile, readFile } from 'node:fs/promises';
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

/** Appends lines to a probe log file; appends are serialized so lines never interleave. */
export class ProbeLogWriter {
  private chain: Promise<void> = Promise.resolve();
  private failed: unknown;

  constructor(readonly path: string) {}

  /** Queues `line`; the first write error is kept and thrown by {@link ProbeLogWriter.close}. */
  write(line: ProbeLogLine): void {
    const text = `${JSON.stringify(line)}\n`;
    this.chain = this.chain.then(() =>
      appendFile(this.path, text).catch((err: unknown) => {
        this.failed ??= err;
      }),
    );
  }

  /** Waits for every queued line; throws the first write error, if any. */
  async close(): Promise<void> {
    await this.chain;
    if (this.failed) throw this.failed;
  }
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

/** The runs of the log at `path`; none when the file does not exist. */
export async function readProbeLog(path: string): Promise<ProbeRun[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return foldProbeLog(parseProbeLog(text));
}
