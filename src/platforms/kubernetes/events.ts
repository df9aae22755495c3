/**
 * Kubernetes Events for an upgrade: every runner event lands on the Upgrade resource and, when it
 * names a member, on that member's object too: its pod, or its Node for an Upgrade of nodes
 * (`spec.target.nodes`), so `kubectl describe upgrade` and `kubectl describe pod` (or `node`) all
 * tell the story (a member's Event names the Upgrade as its `related` object). Recording is best
 * effort: a failed Event write is logged and dropped, never failing a reconcile. An expired
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
   * Record `e` against the Upgrade and, when `pod` is given (or `e.member` names one), against that
   * member: the pod, or the Node when the Upgrade's members are nodes. Never rejects.
   */
  emit(e: RunnerEvent, involved: { upgrade: UpgradeResource; pod?: string }): Promise<void>;
  /**
   * Delete the Events recorded for `upgrade` (on it, and on its members: their `related` object is
   * the Upgrade) except those of the history entries `kept` (the pruned history of an expired
   * upgrade: its summary and last phase changes), once the events already emitted are written.
   * An expired upgrade drops its Events with its history, as ACK does. Idempotent: a second call
   * finds nothing more to delete. Returns how many went, or undefined when the Events could not be
   * listed or deleted (a later call tries again). Never rejects.
   */
  prune?(upgrade: UpgradeResource, kept: HistoryEntry[]): Promise<number | undefined>;
}

/**
 * Namespace of the Events about a Node. A Node is cluster-scoped, and the API server accepts an
 * Event whose involvedObject has no namespace only in `default` (pkg/apis/core/validation/events.go
 * `legacyValidateEvent`, for Events without `eventTime` such as Baton's); client-go's recorder puts
 * every cluster-scoped object's Events there (tools/record/event.go `makeEvent`), as the node
 * lifecycle controller's about Nodes.
 */
export const NODE_EVENTS_NAMESPACE = 'default';

/**
 * The object an Event about member `member` of `upgrade` is recorded against, and the namespace of
 * that Event: the member's Node for an Upgrade of nodes, else its pod beside the Upgrade. A Node's
 * `uid` is its name, the second of the two UIDs `kubectl describe node` looks Events up by
 * (staging/src/k8s.io/kubectl/pkg/describe/describe.go, NodeDescriber: the node's uid, then its
 * name, which the kubelet used), so the Events show there without reading the Node.
 */
export function memberObject(
  upgrade: UpgradeResource,
  member: string,
): { namespace: string; obj: CoreV1Event['involvedObject'] } {
  if (upgrade.spec?.target?.nodes) {
    return {
      namespace: NODE_EVENTS_NAMESPACE,
      obj: { apiVersion: 'v1', kind: 'Node', name: member, uid: member },
    };
  }
  const namespace = upgrade.metadata.namespace ?? 'default';
  return { namespace, obj: { apiVersion: 'v1', kind: 'Pod', name: member, namespace } };
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
    const upgrade: CoreV1Event['involvedObject'] = {
      apiVersion: u.apiVersion || API_VERSION,
      kind: u.kind || KIND,
      name: u.metadata.name,
      namespace,
      uid: u.metadata.uid,
    };
    const member = involved.pod ?? e.member;
    const written = (async () => {
      await this.create(namespace, upgrade, undefined, e);
      if (!member) return;
      const m = memberObject(u, member);
      await this.create(m.namespace, m.obj, upgrade, e);
    })();
    this.inFlight.add(written);
    try {
      await written;
    } finally {
      this.inFlight.delete(written);
    }
  }

  async prune(upgrade: UpgradeResource, kept: HistoryEntry[]): Promise<number | undefined> {
    const namespace = upgrade.metadata.namespace ?? 'default';
    const uid = upgrade.metadata.uid;
    if (!uid) return 0;
    await Promise.all([...this.inFlight]);
    const keep = new Set(kept.map((h) => messageOf(historyEvent(h).message)));
    // The Upgrade's namespace, and where its members' Events are when they are Nodes.
    const namespaces = [
      ...new Set([namespace, ...(upgrade.spec?.target?.nodes ? [NODE_EVENTS_NAMESPACE] : [])]),
    ];
    let deleted = 0;
    try {
      for (const ns of namespaces) {
        const all = await this.core.listNamespacedEvent({
          namespace: ns,
          fieldSelector: `source=${REPORTING_CONTROLLER}`,
        });
        const ours = all.items.filter(
          (ev) => (ev.involvedObject.uid === uid || ev.related?.uid === uid) && !keep.has(ev.message ?? ''),
        );
        for (const ev of ours) {
          try {
            await this.core.deleteNamespacedEvent({ name: ev.metadata.name!, namespace: ns });
            deleted += 1;
          } catch (err) {
            if (httpStatus(err) !== 404) throw err;
          }
        }
      }
    } catch (err) {
      this.logger.warn('could not delete the events of an expired upgrade', {
        upgrade: `${namespace}/${upgrade.metadata.name}`,
        error: apiMessage(err),
      });
      return undefined;
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
