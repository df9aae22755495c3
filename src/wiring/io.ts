/**
 * The CLI's view of the outside world, injected so commands are testable in-process: output
 * streams, environment, clock and logger.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';

/** A writable text stream with TTY facts. */
export interface OutStream {
  write(text: string): void;
  isTTY: boolean;
  columns?: number;
}

/** Everything a command may touch besides the cluster. */
export interface CliIO {
  stdout: OutStream;
  stderr: OutStream;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  logger: Logger;
  /** Aborted on SIGINT/SIGTERM so long commands stop between steps. */
  signal?: AbortSignal;
}

/** Wrap a Node stream. */
export function outStream(s: NodeJS.WriteStream): OutStream {
  return {
    write: (t) => void s.write(t),
    get isTTY() {
      return !!s.isTTY;
    },
    get columns() {
      return s.columns;
    },
  };
}
