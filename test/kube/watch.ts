/**
 * Watch streams: chunked JSON lines of `{type, object}` with ADDED / MODIFIED / DELETED, optional
 * BOOKMARK events, replay from a resourceVersion inside the history window, and an `ERROR` event
 * carrying a 410 Expired Status when the resourceVersion is older than the window (the real
 * server answers 200 and reports the expiry inside the stream, which is what client-node's
 * informers expect).
 */
import type { ServerResponse } from 'node:http';
import { ApiError } from './errors.js';
import { apiVersionOf, typeKey, type ResourceType } from './resources.js';
import { matchesFields, matchesLabels, type FieldRequirement, type Selector } from './selectors.js';
import type { ObjectStore, StoreEvent } from './store.js';
import type { KubeObject } from './types.js';

/** What a watch selects and from where it starts. */
export interface WatchRequest {
  type: ResourceType;
  version: string;
  namespace: string | undefined;
  labels: Selector;
  fields: FieldRequirement[];
  /** `resourceVersion` query parameter ('' or '0' means "current state, then changes"). */
  resourceVersion: string;
  allowBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds?: number;
}

/** One open watch; `close()` ends the HTTP response and releases the subscription and timers. */
export class WatchStream {
  private unsubscribe: (() => void) | undefined;
  private bookmarkTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastRv: number;

  constructor(
    private readonly store: ObjectStore,
    private readonly req: WatchRequest,
    private readonly res: ServerResponse,
    bookmarkIntervalMs: number,
    private readonly onClose: (w: WatchStream) => void,
  ) {
    this.lastRv = store.currentRv();
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    // Headers go out at once, as on the real server: clients wait for them before the first event.
    res.flushHeaders();
    res.on('close', () => this.close());
    const key = typeKey(req.type.group, req.type.resource);
    const rv = req.resourceVersion;
    if (rv === '' || rv === '0' || req.sendInitialEvents) {
      for (const o of store.list(
        req.type.group,
        req.type.resource,
        req.type.namespaced ? req.namespace : undefined,
      )) {
        if (this.matches(o)) this.send('ADDED', o);
      }
      if (req.sendInitialEvents) this.bookmark({ 'k8s.io/initial-events-end': 'true' });
    } else {
      const from = Number(rv);
      const events = Number.isInteger(from) ? store.since(key, from) : 'expired';
      if (events === 'expired') {
        const err = new ApiError(410, 'Expired', `too old resource version: ${rv} (${store.compactedRv()})`);
        this.write({ type: 'ERROR', object: err.toStatus() });
        this.close();
        return;
      }
      for (const e of events) this.deliver(e);
    }
    this.unsubscribe = store.subscribe((e) => {
      if (e.key === key && e.rv > this.lastRv) this.deliver(e);
    });
    if (req.allowBookmarks && bookmarkIntervalMs > 0) {
      this.bookmarkTimer = setInterval(() => this.bookmark(), bookmarkIntervalMs);
    }
    if (req.timeoutSeconds && req.timeoutSeconds > 0) {
      this.timeoutTimer = setTimeout(() => this.close(), req.timeoutSeconds * 1000);
    }
  }

  /** `group/resource` this stream watches. */
  get typeKey(): string {
    return typeKey(this.req.type.group, this.req.type.resource);
  }

  /** End the stream (server shutdown, client gone, timeout). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    if (!this.res.writableEnded) this.res.end();
    this.onClose(this);
  }

  private matches(o: KubeObject): boolean {
    const r = this.req;
    if (r.type.namespaced && r.namespace !== undefined && o.metadata.namespace !== r.namespace) return false;
    return matchesLabels(r.labels, o.metadata.labels) && matchesFields(r.fields, o);
  }

  /** Map a store event to what this watch sees (objects entering/leaving the selection). */
  private deliver(e: StoreEvent): void {
    this.lastRv = Math.max(this.lastRv, e.rv);
    const now = this.matches(e.object);
    const before = e.old ? this.matches(e.old) : false;
    if (e.type === 'ADDED') {
      if (now) this.send('ADDED', e.object);
    } else if (e.type === 'DELETED') {
      if (now || before) this.send('DELETED', e.object);
    } else if (now && before) this.send('MODIFIED', e.object);
    else if (now) this.send('ADDED', e.object);
    else if (before) this.send('DELETED', e.object);
  }

  private send(type: string, o: KubeObject): void {
    // A shallow copy is enough: only the top-level apiVersion differs from the stored object.
    this.write({ type, object: { ...o, apiVersion: apiVersionOf(this.req.type.group, this.req.version) } });
  }

  private bookmark(annotations?: Record<string, string>): void {
    this.write({
      type: 'BOOKMARK',
      object: {
        kind: this.req.type.kind,
        apiVersion: apiVersionOf(this.req.type.group, this.req.version),
        metadata: {
          resourceVersion: String(this.store.currentRv()),
          ...(annotations ? { annotations } : {}),
        },
      },
    });
  }

  private write(event: unknown): void {
    if (this.closed || this.res.writableEnded) return;
    this.res.write(JSON.stringify(event) + '\n');
  }
}
