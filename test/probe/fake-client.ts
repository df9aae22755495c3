/**
 * An in-memory probe client on a fake clock, for the workload's unit tests: every call takes
 * `latency(n)` of the clock's time and fails while `down(now)` holds at the moment of the call.
 */
import type { FakeClock } from '../../src/core/clock.js';
import type { ProbeClient } from '../../src/probe/types.js';

/**
 * An in-memory ProbeClient whose every call takes `latencyMs` of the injected clock and fails
 * while `down(now)` holds at the moment of the call. `onCall` sees the running call count.
 */
export class FakeClient implements ProbeClient {
  readonly engine = 'fake';
  errorKind?: (err: unknown) => string | undefined;
  readonly store = new Map<string, string>();
  calls = 0;
  rediscoveries = 0;
  readManyCalls = 0;
  closed = false;
  latency: (n: number) => number = () => 2;
  down: (now: number) => boolean = () => false;
  connectFails = false;
  readManyFails: (n: number) => boolean = () => false;
  onCall: (n: number) => void = () => {};
  /** What a failing call throws. */
  failure: () => Error = () => new Error('connection refused');

  constructor(private readonly clock: FakeClock) {}

  private call(): void {
    this.calls += 1;
    const n = this.calls;
    const failing = this.down(this.clock.now());
    this.clock.advance(this.latency(n));
    this.onCall(n);
    if (failing) throw this.failure();
  }

  async connect(): Promise<void> {
    if (this.connectFails) throw new Error('connection refused');
  }
  async write(id: string, value: string): Promise<void> {
    this.call();
    this.store.set(id, value);
  }
  async read(id: string): Promise<string | undefined> {
    this.call();
    return this.store.get(id);
  }
  async readMany(ids: readonly string[]): Promise<(string | undefined)[]> {
    this.readManyCalls += 1;
    if (this.readManyFails(this.readManyCalls)) throw new Error('cluster unavailable');
    return ids.map((id) => this.store.get(id));
  }
  async rediscover(): Promise<void> {
    this.rediscoveries += 1;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}
