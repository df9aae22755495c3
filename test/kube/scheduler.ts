/**
 * The fake's controller runtime: a de-duplicating work queue drained on the next turn of the event
 * loop, in insertion order, plus delayed work on the injected {@link Clock}. With the system clock
 * delays are real (keep them small); with a FakeClock they elapse at once, which makes controller
 * behaviour deterministic. `close()` cancels everything.
 */
import type { Clock } from '../../src/core/clock.js';
import type { Logger } from '../../src/core/logger.js';

/** Work queue and timers shared by the fake's controllers. */
export class Scheduler {
  private readonly queue = new Map<string, () => void>();
  private readonly abort = new AbortController();
  private immediate: NodeJS.Immediate | undefined;
  private timers = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Run `fn` soon; a key already queued is not queued twice (the latest `fn` wins). */
  enqueue(key: string, fn: () => void): void {
    if (this.abort.signal.aborted) return;
    this.queue.delete(key);
    this.queue.set(key, fn);
    this.immediate ??= setImmediate(() => this.drain());
  }

  /** Run `fn` after `ms` of clock time, unless the scheduler is closed first. */
  after(ms: number, fn: () => void): void {
    if (this.abort.signal.aborted) return;
    this.timers++;
    this.clock.sleep(ms, this.abort.signal).then(
      () => {
        this.timers--;
        if (!this.abort.signal.aborted) fn();
        this.checkIdle();
      },
      () => {
        this.timers--;
      },
    );
  }

  /** Resolves once no work is queued and no timer is pending (never-ready pods keep no timer). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
  }

  /** Cancel queued work and timers; later enqueues are ignored. */
  close(): void {
    this.abort.abort(new Error('fake API server closed'));
    this.queue.clear();
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private drain(): void {
    this.immediate = undefined;
    let guard = 0;
    while (this.queue.size > 0 && !this.abort.signal.aborted) {
      const [key, fn] = this.queue.entries().next().value as [string, () => void];
      this.queue.delete(key);
      try {
        fn();
      } catch (err) {
        this.logger.error('fake controller failed', {
          key,
          error: err instanceof Error ? err.message : String(err),
        });
      }
      if (++guard > 10000) {
        this.logger.error('fake controllers did not settle after 10000 steps; yielding');
        this.immediate ??= setImmediate(() => this.drain());
        return;
      }
    }
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.queue.size > 0 || this.timers > 0 || this.immediate) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
