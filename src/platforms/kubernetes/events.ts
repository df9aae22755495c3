/**
 * Kubernetes Events for an upgrade: every runner event lands on the Upgrade resource and, when it
 * names a member, on that member's pod too, so `kubectl describe upgrade` and `kubectl describe pod`
 * both tell the story. Recording is best effort: a failed Event write is logged and dropped, never
 * failing a reconcile.
 */
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { RunnerEvent } from '../../runner/events.js';

export { entriesAfter, historyEvent } from '../../runner/events.js';
import { API_VERSION, KIND, type UpgradeResource } from '../../api/upgrade.js';
import { apiMessage } from './api.js';

/** `reportingController` / `reportingComponent` of every Event Baton records. */
export const REPORTING_CONTROLLER = 'baton.dev/operator';

/** Where runner events go. */
export interface EventSink {
  /**
   * Record `e` against the Upgrade and, when `pod` is given (or `e.member` names one), against the
   * pod. Never rejects.
   */
  emit(e: RunnerEvent, involved: { upgrade: UpgradeResource; pod?: string }): Promise<void>;
}

/** Longest Event message the API server accepts. */
const MAX_MESSAGE = 1024;

/** Records runner events as core/v1 Events. */
export class KubeEventRecorder implements EventSink {
  private readonly core: CoreV1Api;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly instance: string;
  private seq = 0;

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
    for (const obj of targets) {
      await this.create(namespace, obj, e);
    }
  }

  private async create(namespace: string, obj: CoreV1Event['involvedObject'], e: RunnerEvent): Promise<void> {
    const at = new Date(e.at || this.clock.now());
    this.seq += 1;
    const body: CoreV1Event = {
      metadata: {
        name: `${obj.name}.${at.getTime().toString(16)}${this.seq.toString(16).padStart(4, '0')}`,
        namespace,
      },
      involvedObject: obj,
      reason: e.reason,
      message: e.message.length > MAX_MESSAGE ? `${e.message.slice(0, MAX_MESSAGE - 3)}...` : e.message,
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
