/**
 * The one bounded wait of actions that must see something happen before they return (a port
 * released, a standby promoted, the StatefulSet controller caught up): polls `check` on the
 * injected clock, so it runs on fake time in tests, until it answers or the deadline passes.
 * Every wait names what it waits for and has a deadline; the runner's own waits are decisions
 * (`wait` with a reason and a requeue), never loops.
 */
import type { Clock } from './clock.js';
import { OperationalError } from './errors.js';

/** Options of {@link waitUntil}. */
export interface WaitOptions {
  clock: Clock;
  /** Absolute time (`clock.now()` scale) after which the wait fails. */
  deadline: number;
  /** Time between checks. */
  pollMs: number;
  signal?: AbortSignal;
  /** Error code of the timeout (default `wait-timeout`). */
  code?: string;
}

/**
 * Resolve with the first value `check` returns other than undefined, checking at once and then
 * every `pollMs`. Past `deadline` fails with OperationalError `code`: "timed out waiting for
 * <what>" (`what` may be a function, for a reason that changes while it waits). The abort
 * signal ends the wait with its reason.
 */
export async function waitUntil<T>(
  what: string | (() => string),
  check: () => Promise<T | undefined>,
  opts: WaitOptions,
): Promise<T> {
  for (;;) {
    opts.signal?.throwIfAborted();
    const value = await check();
    if (value !== undefined) return value;
    if (opts.clock.now() >= opts.deadline) {
      const text = typeof what === 'function' ? what() : what;
      throw new OperationalError(opts.code ?? 'wait-timeout', `timed out waiting for ${text}`);
    }
    await opts.clock.sleep(opts.pollMs, opts.signal);
  }
}
