/**
 * Kubernetes Events for an upgrade: every runner event lands on the Upgrade resource and, when it
 * names a member, on that member's pod too, so `kubectl describe upgrade` and `kubectl describe pod`
 * both tell the story (a member's Event names the Upgrade as its `related` object). Recording is
 * best effort: a failed Event write is logged and dropped, never failing a reconcile. An expired
 * upgrade's Events are deleted ({@link EventSink.prune}).
 */
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { historyEvent, type RunnerEvent } from '../../runner/events.js';
import type { HistoryEntry } from '../../core/types.js';

export { entriesAfter, historyEvent } from '../../runner/events.js';
import { API_VERSION, KIND, type UpgradeResource } from '../../api/upgrade.js';
import { apiMessage, httpStatus } from './api.js';

/** `reportingController` / `reportingComponent` of every Event Baton records. */
export const REPORTING_CONTROLLER = 'baton.dev/operator';

/** Where runner events go. */
export interface EventSink {
  /**
   * Record `e` against the Upgrade and, when `pod` is given (or `e.member` names one), against the
   * pod. Never rejects.
   */
  emit(e: RunnerEvent, involved: { upgrade: UpgradeResource; pod?: string }): Promise<void>;
  /**
   * Delete the Events recorded for `upgrade` (on it, and on its members: their `related` object is
   * the Upgrade) except those of the history entries `kept` (the pruned history of an expired
   * upgrade: its summary and last phase changes), once the events already emitted are written.
   * An expired upgrade drops its Events with its history, as ACK does. Returns how many went.
   * Never rejects.
   */
  prune?(upgrade: UpgradeResource, kept: HistoryEntry[]): Promise<number>;
}

/** Longest Event message the API server accepts. */
const MAX_MESSAGE = 1024;

/** A message as an Event holds it (cut to what the API server accepts). */
function messageOf(message: string): string {
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
}

/** Records runner events as core/v1 Events. */
export class KubeEventRecorder implements EventSink {
  private readonly core: CoreV1Api;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly instance: string;
  private seq = 0;
  /** Event writes in flight, so a prune deletes what was emitted before it. */
  private readonly inFlight = new Set<Promise<void>>();

  /**
   * `instance` names this Baton (operator pod or CLI host) in `reportingInstance`; default
   * `baton`.
   */
  constructor(opts: { kc: KubeConfig; clock: Clock; logger: Logger; instance?: string }) {
    this.core = opts.kc.makeApiClient(CoreV1Api);
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.instance = opts.instance ?? 'baton';
  }

  /** Record `e` on the Upgrade and on the pod it names; failures are logged at warn level. */
  async emit(e: RunnerEvent, involved: { upgrade: UpgradeResource; pod?: string }): Promise<void> {
    const u = involved.upgrade;
    const namespace = u.metadata.namespace ?? 'default';
    const targets: CoreV1Event['involvedObject'][] = [
      {
        apiVersion: u.apiVersion || API_VERSION,
        kind: u.kind || KIND,
        name: u.metadata.name,
        namespace,
        uid: u.metadata.uid,
      },
    ];
    const pod = involved.pod ?? e.member;
    if (pod) targets.push({ apiVersion: 'v1', kind: 'Pod', name: pod, namespace });
    const written = (async () => {
      for (const obj of targets)
        await this.create(namespace, obj, obj === targets[0] ? undefined : targets[0], e);
    })();
    this.inFlight.add(written);
    try {
      await written;
    } finally {
      this.inFlight.delete(written);
    }
  }

  async prune(upgrade: UpgradeResource, kept: HistoryEntry[]): Promise<number> {
    const namespace = upgrade.metadata.namespace ?? 'default';
    const uid = upgrade.metadata.uid;
    if (!uid) return 0;
    await Promise.all([...this.inFlight]);
    const keep = new Set(kept.map((h) => messageOf(historyEvent(h).message)));
    let deleted = 0;
    try {
      const all = await this.core.listNamespacedEvent({
        namespace,
        fieldSelector: `source=${REPORTING_CONTROLLER}`,
      });
      const ours = all.items.filter(
        (ev) => (ev.involvedObject.uid === uid || ev.related?.uid === uid) && !keep.has(ev.message ?? ''),
      );
      for (const ev of ours) {
        try {
          await this.core.deleteNamespacedEvent({ name: ev.metadata.name!, namespace });
          deleted += 1;
        } catch (err) {
          if (httpStatus(err) !== 404) throw err;
        }
      }
    } catch (err) {
      this.logger.warn('could not delete the events of an expired upgrade', {
        upgrade: `${namespace}/${upgrade.metadata.name}`,
        error: apiMessage(err),
      });
    }
    return deleted;
  }

  private async create(
    namespace: string,
    obj: CoreV1Event['involvedObject'],
    related: CoreV1Event['involvedObject'] | undefined,
    e: RunnerEvent,
  ): Promise<void> {
    const at = new Date(e.at || this.clock.now());
    this.seq += 1;
    const body: CoreV1Event = {
      metadata: {
        name: `${obj.name}.${at.getTime().toString(16)}${this.seq.toString(16).padStart(4, '0')}`,
        namespace,
      },
      involvedObject: obj,
      ...(related ? { related } : {}),
      reason: e.reason,
      message: messageOf(e.message),
      type: e.type,
      count: 1,
      firstTimestamp: at,
      lastTimestamp: at,
      source: { component: REPORTING_CONTROLLER },
      reportingComponent: REPORTING_CONTROLLER,
      reportingInstance: this.instance,
    };
    try {
      await this.core.createNamespacedEvent({ namespace, body });
    } catch (err) {
      this.logger.warn('could not record event', {
        object: `${obj.kind}/${obj.name}`,
        reason: e.reason,
        error: apiMessage(err),
      });
    }
  }
}
