/**
 * The one bounded wait of actions that must see something happen before they return (a port
 * released, a standby promoted, a Redis failover seen, the StatefulSet controller caught up): polls
 * `check` on the injected clock, so it runs on fake time in tests, until it answers or the deadline
 * passes. Every wait names what it waits for, shows that reason while it waits (through the
 * logger it is given) and has a deadline; the runner's own waits are decisions (`wait` with a
 * reason and a requeue), never loops.
 */
import type { Clock } from './clock.js';
import { OperationalError } from './errors.js';
import type { Logger } from './logger.js';

/** Options of {@link waitUntil}. */
export interface WaitOptions {
  clock: Clock;
  /**
   * Absolute time (`clock.now()` scale) after which the wait fails. `Infinity` only for a wait a
   * person follows and ends (`baton status --watch`): an action's wait always has a finite one.
   */
  deadline: number;
  /** Time between checks. */
  pollMs: number;
  signal?: AbortSignal;
  /** Error code of the timeout (default `wait-timeout`). */
  code?: string;
  /**
   * Where the reason is shown while the wait lasts: `waiting for <what>` is logged at info after
   * the first check that does not answer, and again whenever `what` reads differently.
   */
  logger?: Logger;
  /** Fields logged with those lines (the member, the cluster). */
  fields?: Record<string, unknown>;
  /**
   * An event that makes the next check happen at once instead of at the end of the poll (a
   * child's exit): the wait is event-driven where an event exists and polls as a fallback.
   */
  wake?: Promise<unknown>;
}

/**
 * Resolve with the first value `check` returns other than undefined, checking at once, then every
 * `pollMs`, and at once when `wake` settles (the first time). Past `deadline` fails with OperationalError `code`: "timed out waiting for
 * <what>" (`what` may be a function, for a reason that changes while it waits). The abort
 * signal ends the wait with its reason; an error `check` throws ends it too.
 */
export async function waitUntil<T>(
  what: string | (() => string),
  check: () => Promise<T | undefined>,
  opts: WaitOptions,
): Promise<T> {
  const text = () => (typeof what === 'function' ? what() : what);
  const started = opts.clock.now();
  let shown: string | undefined;
  let wake = opts.wake;
  for (;;) {
    opts.signal?.throwIfAborted();
    const value = await check();
    if (value !== undefined) return value;
    const reason = text();
    if (opts.clock.now() >= opts.deadline) {
      throw new OperationalError(opts.code ?? 'wait-timeout', `timed out waiting for ${reason}`);
    }
    if (opts.logger && reason !== shown) {
      shown = reason;
      opts.logger.info(`waiting for ${reason}`, {
        ...opts.fields,
        waitedMs: opts.clock.now() - started,
        ...(Number.isFinite(opts.deadline) ? { leftMs: opts.deadline - opts.clock.now() } : {}),
      });
    }
    const pollMs = Math.min(opts.pollMs, Math.max(0, opts.deadline - opts.clock.now()));
    if (wake) {
      if (await pause(opts.clock, pollMs, wake, opts.signal)) wake = undefined;
    } else {
      await opts.clock.sleep(pollMs, opts.signal);
    }
  }
}

/** Why a pause is cut short (made once: abort() without a reason builds a DOMException). */
const WOKEN = new Error('woken');

/** Sleep `pollMs`, or less when `wake` settles first (then true). */
async function pause(
  clock: Clock,
  pollMs: number,
  wake: Promise<unknown>,
  outer: AbortSignal | undefined,
): Promise<boolean> {
  const cut = new AbortController();
  const signal = outer ? AbortSignal.any([outer, cut.signal]) : cut.signal;
  const slept = clock.sleep(pollMs, signal).then(() => false);
  slept.catch(() => undefined);
  try {
    return await Promise.race([
      slept,
      wake.then(
        () => true,
        () => true,
      ),
    ]);
  } finally {
    cut.abort(WOKEN);
  }
}
