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
import { foldProbeLog, parseProbeLog, type ProbeLogLine, type ProbeRun } from './log-format.js';

export * from './log-format.js';

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
