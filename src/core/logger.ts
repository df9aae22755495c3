/** Structured logger passed to every component; never a module-level singleton. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything (tests, quiet CLI). */
export const nullLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Writes JSON lines to a stream, at `info` and above unless `debug` is set. */
export function jsonLogger(
  write: (line: string) => void,
  opts: { debug?: boolean; now?: () => number } = {},
): Logger {
  const now = opts.now ?? Date.now;
  const emit = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    write(JSON.stringify({ ts: new Date(now()).toISOString(), level, msg, ...fields }) + '\n');
  return {
    debug: opts.debug ? emit('debug') : () => {},
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
  };
}
