/**
 * The operator's Events, paced: every Event (and an expired upgrade's Event deletion) waits its turn
 * in one FIFO and is sent one at a time, no sooner than {@link EVENT_DELAY_MS} after it was
 * recorded. Events are best effort and nothing waits for them; the write a step is waiting for is
 * not. Sent at once, the handful of Events of one step (on the Upgrade and on the member) reached
 * the API server in the same instant as the partition patch and the StatefulSet controller's
 * reaction to it, and on a busy control plane slowed exactly that. client-go's recorder sends
 * Events from one goroutine in order too (tools/record/event.go, `StartRecordingToSink`).
 */
import type { UpgradeResource } from '../api/upgrade.js';
import type { HistoryEntry } from '../core/types.js';
import type { EventSink } from '../platforms/kubernetes/events.js';
import type { RunnerEvent } from '../runner/events.js';

/** How long an Event waits before it is sent (wall time: pacing, not logic). */
export const EVENT_DELAY_MS = 100;

interface Task {
  /** Wall time before which it is not started. */
  due: number;
  run(): Promise<void>;
}

/** An {@link EventSink} that sends through `inner` one at a time, each after a delay. */
export class PacedEventSink implements EventSink {
  private readonly queue: Task[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  /** Resolves {@link settle} once the queue is empty. */
  private idle: (() => void) | undefined;

  constructor(
    private readonly inner: EventSink,
    private readonly delayMs = EVENT_DELAY_MS,
  ) {}

  /** Queued; resolves at once (the Event is sent later, and a failure is only logged by `inner`). */
  emit(e: RunnerEvent, involved: { upgrade: UpgradeResource; pod?: string }): Promise<void> {
    // Only the Upgrade's identity and spec wait in the queue: a queued Event holding the whole
    // resource pinned one copy of its status (a member entry per node) per Event, and a
    // 1,000-node upgrade's backlog ran the operator out of heap.
    const queued = { ...involved, upgrade: identityOf(involved.upgrade) };
    this.push(Date.now() + this.delayMs, () => this.inner.emit(e, queued));
    return Promise.resolve();
  }

  /** Queued behind every Event recorded before it, so those are deleted too. */
  prune(upgrade: UpgradeResource, kept: HistoryEntry[]): Promise<number | undefined> {
    const inner = this.inner;
    if (!inner.prune) return Promise.resolve(0);
    const queued = identityOf(upgrade);
    return new Promise((resolve) => {
      this.push(Date.now(), async () => resolve(await inner.prune!(queued, kept)));
    });
  }

  /** Tasks not yet done (for tests and shutdown). */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /**
   * Send what is queued without waiting out its delay (a graceful shutdown); resolves once the
   * queue is empty, or after `timeoutMs`, when what is left is dropped (Events are best effort).
   */
  async settle(timeoutMs = 5000): Promise<void> {
    for (const t of this.queue) t.due = 0;
    this.stopTimer();
    if (this.pending > 0) {
      const empty = new Promise<void>((resolve) => (this.idle = resolve));
      this.next();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([empty, late]);
      clearTimeout(timer);
    }
    this.stopTimer();
    this.queue.length = 0;
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private push(due: number, run: () => Promise<void>): void {
    this.queue.push({ due, run });
    this.next();
  }

  private next(): void {
    if (this.running || this.timer) return;
    const head = this.queue[0];
    if (!head) {
      this.idle?.();
      this.idle = undefined;
      return;
    }
    const wait = head.due - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.next();
      }, wait);
      return;
    }
    this.queue.shift();
    this.running = true;
    void head
      .run()
      .catch(() => undefined)
      .finally(() => {
        this.running = false;
        this.next();
      });
  }
}

/** What an Event needs of an Upgrade: its identity and spec, without its status or managedFields. */
function identityOf(u: UpgradeResource): UpgradeResource {
  const { name, namespace, uid } = u.metadata;
  return {
    apiVersion: u.apiVersion,
    kind: u.kind,
    metadata: {
      name,
      ...(namespace !== undefined ? { namespace } : {}),
      ...(uid !== undefined ? { uid } : {}),
    },
    spec: u.spec,
  };
}
