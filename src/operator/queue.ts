/**
 * A work queue keyed by `namespace/name`, like client-go's rate-limited delaying queue: a key is
 * queued at most once (adding it again only moves its due time earlier), one worker holds a key at
 * a time (a key added while it is being processed is handed out again once the worker is done),
 * delayed re-adds, and per-key exponential back-off with a cap for failures. Time comes from the
 * injected clock.
 */
import type { Clock } from '../core/clock.js';

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  clock: Clock;
  /** First back-off after a failure (default 100 ms); doubled per consecutive failure. */
  baseBackoffMs?: number;
  /** Longest back-off (default 30 s). */
  maxBackoffMs?: number;
}

/**
 * The reason a wait of the queue ends early. An abort without a reason makes a DOMException, stack
 * and all, on every wake-up: 1.3 s of the operator's CPU over a 1,000-node upgrade.
 */
const WOKEN = new Error('woken by the work queue');

/** Delaying, deduplicating, per-key exclusive work queue. */
export class WorkQueue {
  private readonly clock: Clock;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  /** Keys waiting to be handed out, with the time they are due. */
  private readonly due = new Map<string, number>();
  /** Keys a worker holds now. */
  private readonly active = new Set<string>();
  /** Keys added while active: queued again (at this due time) when the worker is done. */
  private readonly again = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private wake: (() => void)[] = [];
  private closed = false;
  private readonly closing = new AbortController();

  constructor(opts: WorkQueueOptions) {
    this.clock = opts.clock;
    this.baseBackoffMs = opts.baseBackoffMs ?? 100;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  }

  /** Queue `key` to be handed out after `delayMs` (0: at once); an earlier due time wins. */
  add(key: string, delayMs = 0): void {
    if (this.closed) return;
    const at = this.clock.now() + Math.max(0, delayMs);
    const into = this.active.has(key) ? this.again : this.due;
    const prev = into.get(key);
    if (prev === undefined || at < prev) into.set(key, at);
    this.notify();
  }

  /** Queue `key` again after its back-off, which doubles with each consecutive call. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(n - 1, 30));
    this.add(key, delay);
    return delay;
  }

  /** Reset the back-off of `key` (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Consecutive failures recorded for `key`. */
  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Drop a queued (not active) key and its back-off, e.g. when the object is deleted. */
  remove(key: string): void {
    this.due.delete(key);
    this.again.delete(key);
    this.failures.delete(key);
  }

  /** Keys queued or active. */
  get length(): number {
    return new Set([...this.due.keys(), ...this.active, ...this.again.keys()]).size;
  }

  /** Whether `key` is queued, waiting or active. */
  has(key: string): boolean {
    return this.due.has(key) || this.active.has(key) || this.again.has(key);
  }

  /**
   * The next due key, marking it active; waits until one is due. Resolves undefined once the queue
   * is shut down or `signal` aborts. Every key handed out must be given back with {@link done}.
   */
  async get(signal?: AbortSignal): Promise<string | undefined> {
    for (;;) {
      if (this.closed || signal?.aborted) return undefined;
      const now = this.clock.now();
      let next: [string, number] | undefined;
      for (const e of this.due) if (!next || e[1] < next[1]) next = e;
      if (next && next[1] <= now) {
        this.due.delete(next[0]);
        this.active.add(next[0]);
        return next[0];
      }
      await this.waitFor(next ? next[1] - now : undefined, signal);
    }
  }

  /** Give back a key handed out by {@link get}; a re-add made meanwhile is queued now. */
  done(key: string): void {
    this.active.delete(key);
    const at = this.again.get(key);
    if (at !== undefined) {
      this.again.delete(key);
      const prev = this.due.get(key);
      if (prev === undefined || at < prev) this.due.set(key, at);
    }
    this.notify();
  }

  /** Stop handing out keys; waiting {@link get} calls resolve undefined. */
  shutdown(): void {
    this.closed = true;
    this.closing.abort(new Error('work queue shut down'));
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  /** Sleep until `ms` passes (forever when undefined), an add/done notifies, or shutdown. */
  private async waitFor(ms: number | undefined, signal?: AbortSignal): Promise<void> {
    const ac = new AbortController();
    const stop = () => ac.abort(WOKEN);
    this.wake.push(stop);
    signal?.addEventListener('abort', stop, { once: true });
    this.closing.signal.addEventListener('abort', stop, { once: true });
    try {
      if (ms === undefined) {
        await new Promise<void>((resolve) => {
          if (ac.signal.aborted) resolve();
          else ac.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      } else {
        await this.clock.sleep(ms, ac.signal).catch(() => undefined);
      }
    } finally {
      this.wake = this.wake.filter((f) => f !== stop);
      signal?.removeEventListener('abort', stop);
      this.closing.signal.removeEventListener('abort', stop);
    }
  }
}
