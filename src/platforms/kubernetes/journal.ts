/**
 * The journal of an upgrade on Kubernetes IS its `Upgrade` resource: the spec is the resource's
 * spec (converted with {@link toUpgradeSpec}), the status is the resource's status subresource (the
 * whole {@link UpgradeStatus} plus Kubernetes `conditions`, `progressText` and `currentStep`), and
 * the revision is `metadata.resourceVersion`. Status writes are PUTs of the status subresource with
 * that resourceVersion, so two writers can never overwrite each other: the loser gets a
 * {@link ConflictError} and re-reads.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../core/clock.js';
import { BadInputError, ConflictError, describeError, OperationalError } from '../../core/errors.js';
import { nullLogger, type Logger } from '../../core/logger.js';
import type { JournalStore, UpgradeRecord } from '../../core/ports.js';
import type { BatchPolicy, HistoryEntry, ProbeSpec, UpgradeSpec, UpgradeStatus } from '../../core/types.js';
import { isTerminal } from '../../core/types.js';
import { newStatus } from '../../runner/status.js';
import {
  API_VERSION,
  type Condition,
  GROUP,
  KIND,
  PLURAL,
  type UpgradeResource,
  type UpgradeResourceSpec,
  type UpgradeResourceStatus,
  VERSION,
  NO_UNAVAILABILITY_LIMIT,
  parseResourceSpec,
  toUpgradeSpec,
} from '../../api/upgrade.js';
import { apiMessage, isConflict, isNotFound, MERGE_PATCH, withRetry } from './api.js';
import { entriesAfter, historyEvent, type EventSink } from './events.js';

/** What an Upgrade targets (`spec.target` of the resource). */
export type UpgradeTarget = UpgradeResourceSpec['target'];

/**
 * Default cluster name of a resource: its StatefulSet (several joined with `-`) or its cluster
 * reference; a valid resource name, so `<cluster>-upgrade` is one too.
 */
export function defaultClusterName(res: UpgradeResource): string {
  const t = res.spec?.target ?? {};
  return (
    t.statefulSet ??
    t.statefulSets?.map((s) => s.name).join('-') ??
    t.cluster?.name ??
    (t.nodes ? 'nodes' : res.metadata.name)
  );
}

function seconds(n: number): string {
  return `${Number.isInteger(n) ? n : Number(n.toFixed(3))}s`;
}

function batchSpec(b: BatchPolicy): NonNullable<NonNullable<UpgradeResourceSpec['strategy']>['batch']> {
  switch (b.kind) {
    case 'serial':
      return { type: 'serial' };
    case 'fixed':
      return { type: 'fixed', size: b.size };
    case 'percent':
      return { type: 'percent', percent: b.percent };
    case 'exponential':
      return { type: 'exponential', capPercent: b.capPercent };
  }
}

/**
 * The resource spec that stands for a core spec with `target` (the inverse of
 * {@link toUpgradeSpec}; component stages and prerequisites are not representable and are dropped).
 */
export function resourceSpecOf(
  spec: UpgradeSpec,
  target: UpgradeTarget,
  extra: Pick<UpgradeResourceSpec, 'credentialsSecret'> & { minReadySeconds?: number } = {},
): UpgradeResourceSpec {
  const st = spec.strategy;
  const componentVersions = Object.fromEntries(
    (spec.components ?? []).filter((c) => c.version).map((c) => [c.name, c.version!]),
  );
  return {
    target,
    engine: spec.engine,
    version: spec.version,
    ...(Object.keys(componentVersions).length ? { componentVersions } : {}),
    strategy: {
      batch: batchSpec(st.batch),
      ...(st.maxUnavailable < NO_UNAVAILABILITY_LIMIT ? { maxUnavailable: st.maxUnavailable } : {}),
      ...(st.maxFailedMembers !== undefined ? { maxFailedMembers: st.maxFailedMembers } : {}),
      soak: seconds(st.soakSeconds),
      pauseAfterFirstBatch: st.pauseAfterFirstBatch,
      pauseAfterEachBatch: st.pauseAfterEachBatch,
      ...(extra.minReadySeconds !== undefined ? { minReadySeconds: extra.minReadySeconds } : {}),
      timeouts: {
        drain: seconds(st.timeouts.drainSeconds),
        drainPolicy: st.timeouts.drainPolicy,
        ready: seconds(st.timeouts.readySeconds),
        readyPolicy: st.timeouts.readyPolicy,
      },
    },
    paused: spec.paused,
    cancel: spec.cancel,
    force: spec.force,
    finalize: spec.finalize,
    finalizeRequested: spec.finalizeRequested,
    rollback: spec.rollback,
    supervised: spec.supervised,
    expiry: seconds(spec.pausedExpirySeconds),
    ...(spec.probe ? { probe: resourceProbeOf(spec.probe) } : {}),
    ...(extra.credentialsSecret ? { credentialsSecret: extra.credentialsSecret } : {}),
  };
}

function resourceProbeOf(p: ProbeSpec): NonNullable<UpgradeResourceSpec['probe']> {
  const d = (ms: number | undefined) => (ms === undefined ? undefined : seconds(ms / 1000));
  const probe = {
    rate: p.rate,
    workers: p.workers,
    readRatio: p.readRatio,
    maxWriteGap: d(p.maxWriteGapMs),
    maxErrorRate: p.maxErrorRate,
    maxP99: d(p.maxP99Ms),
  };
  return Object.fromEntries(Object.entries(probe).filter(([, v]) => v !== undefined));
}

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The JSON merge patch (RFC 7386) that turns `from` into `to`: changed keys, nested objects
 * recursively, removed keys as null, arrays whole. Empty when they are equal.
 */
export function mergePatchOf(from: Record<string, Json>, to: Record<string, Json>): Record<string, Json> {
  const patch: Record<string, Json> = {};
  for (const key of new Set([...Object.keys(from), ...Object.keys(to)])) {
    const a = from[key];
    const b = to[key];
    if (b === undefined) {
      if (a !== undefined) patch[key] = null;
    } else if (isObject(a) && isObject(b)) {
      const inner = mergePatchOf(a, b);
      if (Object.keys(inner).length > 0) patch[key] = inner;
    } else if (JSON.stringify(a) !== JSON.stringify(b)) {
      patch[key] = b;
    }
  }
  return patch;
}

/** A condition reason in the Kubernetes form (CamelCase letters and digits): `precheck:all-pods-ready` -> `PrecheckAllPodsReady`. */
export function conditionReason(text: string): string {
  const words = text.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const out = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return /^[A-Za-z]/.test(out) ? out : `R${out}`;
}

/**
 * The five conditions of an upgrade's status: Progressing, Paused, Blocked (reason: the blocking
 * check), Ready (the upgrade completed) and Warning (the engine's warnings, e.g. TiDB's
 * force-upgrade annotation still set). `lastTransitionTime` is kept from `previous` when a
 * condition's status did not change, and is the status's `updatedAt` otherwise.
 */
export function conditionsFor(status: UpgradeStatus, previous: Condition[] = []): Condition[] {
  const at = new Date(status.updatedAt).toISOString();
  const active = !isTerminal(status.phase) && status.phase !== 'Paused';
  const pausedReason = status.pauseCause
    ? 'AutoPaused'
    : status.supervisedGate
      ? 'SupervisedGate'
      : status.batchGate !== undefined
        ? 'BatchGate'
        : 'PausedBySpec';
  const want: Omit<Condition, 'lastTransitionTime'>[] = [
    {
      type: 'Progressing',
      status: active ? 'True' : 'False',
      reason: status.phase,
      message: status.reason,
    },
    {
      type: 'Paused',
      status: status.phase === 'Paused' ? 'True' : 'False',
      reason: status.phase === 'Paused' ? pausedReason : 'NotPaused',
      message: status.phase === 'Paused' ? (status.pauseCause ?? status.reason) : '',
    },
    {
      type: 'Blocked',
      status: status.blockedBy && !isTerminal(status.phase) ? 'True' : 'False',
      reason:
        status.blockedBy && !isTerminal(status.phase)
          ? conditionReason(status.blockedBy.check)
          : 'NotBlocked',
      message:
        status.blockedBy && !isTerminal(status.phase)
          ? `${status.blockedBy.check}: ${status.blockedBy.reason}`
          : '',
    },
    {
      type: 'Ready',
      status: status.phase === 'Completed' ? 'True' : 'False',
      reason: status.phase,
      message: status.reason,
    },
    {
      type: 'Warning',
      status: status.warnings?.length ? 'True' : 'False',
      reason: status.warnings?.length ? 'EngineWarning' : 'NoWarning',
      message: (status.warnings ?? []).join('; '),
    },
  ];
  return want.map((c) => {
    const prev = previous.find((p) => p.type === c.type);
    return {
      ...c,
      observedGeneration: status.observedGeneration,
      lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : at,
    };
  });
}

/** The resource status for a journal status: everything, plus conditions and printer fields. */
export function resourceStatusOf(status: UpgradeStatus, previous: Condition[] = []): UpgradeResourceStatus {
  return {
    ...status,
    conditions: conditionsFor(status, previous),
    progressText: `${status.progress.done}/${status.progress.total}`,
    ...(status.progress.step ? { currentStep: status.progress.step } : {}),
  };
}

/** Whether Baton has written a status to this resource yet (a fresh `kubectl apply` has none). */
export function hasJournal(res: UpgradeResource): boolean {
  return typeof res.status?.phase === 'string' && Array.isArray(res.status.history);
}

/**
 * A merge patch that changes the spec's form but not its meaning (a false control flag written
 * out or removed), so the API server bumps `metadata.generation`: every `updateSpec` is a new
 * generation, which is how `resume` after an automatic pause is told apart from the old spec.
 */
export function generationBump(spec: UpgradeResourceSpec): Record<string, unknown> {
  const flags = ['paused', 'cancel', 'rollback', 'finalizeRequested', 'supervised'] as const;
  const f = flags.find((k) => !spec[k]);
  if (f) return { [f]: spec[f] === undefined ? false : null };
  if (!spec.force?.length) return { force: spec.force ? null : [] };
  return {};
}

/** Options of {@link UpgradeResourceJournal}. */
export interface UpgradeResourceJournalOptions {
  kc: KubeConfig;
  namespace: string;
  /** Cluster name of a resource in the core spec (default {@link defaultClusterName}). */
  clusterName?: (res: UpgradeResource) => string;
  /** Target of resources created by {@link UpgradeResourceJournal.create} (the CLI's flags). */
  target?: UpgradeTarget;
  /** Labels put on created resources. */
  labels?: Record<string, string>;
  /** Extra spec fields for created resources. */
  createExtra?: Pick<UpgradeResourceSpec, 'credentialsSecret'> & { minReadySeconds?: number };
  clock?: Clock;
  logger?: Logger;
  /**
   * When set, every history entry a status write adds becomes an Event (on the Upgrade and the
   * member's pod or Node), and the write that ends an upgrade Expired deletes its earlier Events
   * ({@link EventSink.prune}). For front ends without their own runner `onEvent` wiring (the CLI);
   * the operator records events from the runner instead and leaves this unset.
   */
  events?: EventSink;
}

const MAX_CONFLICT_RETRIES = 10;

/** What {@link UpgradeResourceJournal.markInvalid} did. */
export type MarkInvalidOutcome = 'written' | 'unchanged' | 'superseded' | 'gone';

/** Whether `res` already records, for its generation, that its spec is invalid with `message`. */
export function isMarkedInvalid(res: UpgradeResource, message: string): boolean {
  const st = res.status;
  return (
    st?.phase === 'Failed' &&
    st.observedGeneration === (res.metadata.generation ?? 1) &&
    !!st.conditions?.some((c) => c.type === 'Ready' && c.reason === 'InvalidSpec' && c.message === message)
  );
}

/** The status of a resource whose spec is invalid with `message` (see `markInvalid`). Pure. */
export function invalidStatus(res: UpgradeResource, message: string, now: number): UpgradeResourceStatus {
  const prev = res.status;
  const generation = res.metadata.generation ?? 1;
  const at = new Date(now).toISOString();
  const want: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>[] = [
    { type: 'Progressing', status: 'False', reason: 'InvalidSpec', message },
    { type: 'Paused', status: 'False', reason: 'NotPaused', message: '' },
    { type: 'Blocked', status: 'False', reason: 'NotBlocked', message: '' },
    { type: 'Ready', status: 'False', reason: 'InvalidSpec', message },
    { type: 'Warning', status: 'False', reason: 'NoWarning', message: '' },
  ];
  const reason = `invalid spec: ${message}`;
  return {
    phase: 'Failed',
    reason,
    observedGeneration: generation,
    conditions: want.map((c) => {
      const before = prev?.conditions?.find((p) => p.type === c.type);
      return {
        ...c,
        observedGeneration: generation,
        lastTransitionTime: before && before.status === c.status ? before.lastTransitionTime : at,
      };
    }),
    history: [...(prev?.history ?? []), { at: now, type: 'phase', phase: 'Failed', message: reason }],
    finishedAt: now,
    updatedAt: now,
  };
}

/** Journal store backed by `Upgrade` resources of one namespace. */
export class UpgradeResourceJournal implements JournalStore {
  private readonly api: CustomObjectsApi;
  private readonly namespace: string;
  private readonly clusterName: (res: UpgradeResource) => string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly opts: UpgradeResourceJournalOptions;
  /** Conditions last seen per upgrade, by revision, so a write keeps their transition times. */
  private readonly seen = new Map<string, { revision: string; conditions: Condition[] }>();
  /** Last history entry written per upgrade, so each new entry becomes exactly one Event. */
  private readonly lastEntry = new Map<string, HistoryEntry | undefined>();

  constructor(opts: UpgradeResourceJournalOptions) {
    this.opts = opts;
    this.api = opts.kc.makeApiClient(CustomObjectsApi);
    this.namespace = opts.namespace;
    this.clusterName = opts.clusterName ?? defaultClusterName;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? nullLogger;
  }

  private get ref() {
    return { group: GROUP, version: VERSION, namespace: this.namespace, plural: PLURAL };
  }

  private retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(what, fn, { clock: this.clock, logger: this.logger });
  }

  /** The resource, or undefined when there is none. */
  async getResource(name: string): Promise<UpgradeResource | undefined> {
    try {
      return (await this.retry(`read upgrade ${this.namespace}/${name}`, () =>
        this.api.getNamespacedCustomObject({ ...this.ref, name }),
      )) as UpgradeResource;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Every Upgrade resource of the namespace, valid or not. */
  async listResources(): Promise<UpgradeResource[]> {
    const list = (await this.retry(`list upgrades in ${this.namespace}`, () =>
      this.api.listNamespacedCustomObject({ ...this.ref }),
    )) as { items?: UpgradeResource[] };
    return list.items ?? [];
  }

  /**
   * The journal record of a resource. Throws BadInputError `bad-spec` naming the field when the
   * spec is invalid. A resource Baton has not written a status to yet gets a fresh Pending status.
   */
  recordOf(res: UpgradeResource): UpgradeRecord {
    const spec = toUpgradeSpec(res, this.clusterName(res));
    let status: UpgradeStatus;
    if (hasJournal(res)) {
      const { conditions, progressText: _p, currentStep: _c, ...rest } = res.status!;
      status = rest as UpgradeStatus;
      if (!this.lastEntry.has(res.metadata.name)) {
        this.lastEntry.set(res.metadata.name, status.history[status.history.length - 1]);
      }
      this.seen.set(res.metadata.name, {
        revision: res.metadata.resourceVersion!,
        conditions: conditions ?? [],
      });
    } else {
      const created = res.metadata.creationTimestamp ? Date.parse(res.metadata.creationTimestamp) : NaN;
      status = newStatus(spec, Number.isFinite(created) ? created : this.clock.now());
    }
    return { spec, status, revision: res.metadata.resourceVersion ?? '' };
  }

  /** Create a resource as given (spec validated first; nothing is written when it is invalid). */
  async createResource(resource: UpgradeResource): Promise<UpgradeResource> {
    const spec = parseResourceSpec(resource.spec);
    const body: UpgradeResource = {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: {
        name: resource.metadata.name,
        namespace: this.namespace,
        ...(resource.metadata.labels || this.opts.labels
          ? { labels: { ...this.opts.labels, ...resource.metadata.labels } }
          : {}),
        ...(resource.metadata.annotations ? { annotations: resource.metadata.annotations } : {}),
      },
      spec,
    };
    try {
      return (await this.retry(`create upgrade ${this.namespace}/${body.metadata.name}`, () =>
        this.api.createNamespacedCustomObject({ ...this.ref, body }),
      )) as UpgradeResource;
    } catch (err) {
      if (isConflict(err)) {
        throw new BadInputError(
          'upgrade-exists',
          `upgrade ${this.namespace}/${body.metadata.name} already exists: pick another --name or delete it`,
        );
      }
      throw err;
    }
  }

  /**
   * Create the upgrade and write its first status. An existing resource without a status (created
   * by `kubectl apply` or {@link createResource}) is adopted; one that ended is replaced; one still
   * open is a BadInputError `upgrade-exists`. A new resource takes the journal's `target`.
   */
  async create(spec: UpgradeSpec, status: UpgradeStatus): Promise<UpgradeRecord> {
    let res = await this.getResource(spec.name);
    if (res && hasJournal(res)) {
      if (!isTerminal(res.status!.phase as UpgradeStatus['phase'])) {
        throw new BadInputError(
          'upgrade-exists',
          `upgrade ${this.namespace}/${spec.name} is ${res.status!.phase}: continue it, cancel it, or pick another --name`,
        );
      }
      // A front end killed between the Expired status write and the deletion of its Events left
      // them: delete them now (idempotent), before the resource they name is replaced.
      if (res.status!.phase === 'Expired') await this.opts.events?.prune?.(res, res.status!.history ?? []);
      await this.delete(spec.name);
      res = undefined;
    }
    if (!res) {
      const target = this.opts.target;
      if (!target) {
        throw new BadInputError(
          'no-target',
          `upgrade ${spec.name}: nothing to target; pass --statefulset NAME or --cluster-ref KIND/NAME (or create the Upgrade resource with spec.target)`,
        );
      }
      res = await this.createResource({
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: spec.name },
        spec: resourceSpecOf(spec, target, this.opts.createExtra),
      });
    }
    const record = this.recordOf(res);
    const first = { ...status, observedGeneration: record.spec.generation };
    const revision = await this.writeStatus(spec.name, first, record.revision);
    return { spec: record.spec, status: first, revision };
  }

  /** The upgrade by name (BadInputError `bad-spec` when its spec is invalid). */
  async get(name: string): Promise<UpgradeRecord | undefined> {
    const res = await this.getResource(name);
    return res ? this.recordOf(res) : undefined;
  }

  /** Every upgrade with a valid spec in the namespace, oldest first; invalid ones are logged and skipped. */
  async list(): Promise<UpgradeRecord[]> {
    const out: UpgradeRecord[] = [];
    const items = await this.listResources();
    items.sort((a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''),
    );
    for (const res of items) {
      try {
        out.push(this.recordOf(res));
      } catch (err) {
        this.logger.warn('skipping upgrade with an invalid spec', {
          upgrade: res.metadata.name,
          error: describeError(err),
        });
      }
    }
    return out;
  }

  /** Replace the status subresource at `revision`; a stale revision is a ConflictError. */
  async writeStatus(name: string, status: UpgradeStatus, revision: string): Promise<string> {
    let previous = this.seen.get(name);
    if (!previous || previous.revision !== revision) {
      const res = await this.getResource(name);
      if (!res) throw new OperationalError('upgrade-gone', `upgrade ${this.namespace}/${name} was deleted`);
      if (res.metadata.resourceVersion !== revision) {
        throw new ConflictError(`upgrade ${name} changed since revision ${revision}`);
      }
      previous = { revision, conditions: res.status?.conditions ?? [] };
    }
    const body = {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name, namespace: this.namespace, resourceVersion: revision },
      status: resourceStatusOf(status, previous.conditions),
    };
    try {
      const out = (await this.retry(`write status of upgrade ${this.namespace}/${name}`, () =>
        this.api.replaceNamespacedCustomObjectStatus({ ...this.ref, name, body }),
      )) as UpgradeResource;
      const next = out.metadata.resourceVersion!;
      this.seen.set(name, { revision: next, conditions: body.status.conditions ?? [] });
      await this.recordEvents(out, status);
      return next;
    } catch (err) {
      if (isConflict(err)) throw new ConflictError(`upgrade ${name} changed since revision ${revision}`);
      if (isNotFound(err))
        throw new OperationalError('upgrade-gone', `upgrade ${this.namespace}/${name} was deleted`);
      throw err;
    }
  }

  private async recordEvents(res: UpgradeResource, status: UpgradeStatus): Promise<void> {
    const sink = this.opts.events;
    if (!sink) return;
    const name = res.metadata.name;
    const fresh = entriesAfter(status.history, this.lastEntry.get(name));
    this.lastEntry.set(name, status.history[status.history.length - 1]);
    for (const h of fresh) await sink.emit(historyEvent(h), { upgrade: res });
    // The write that ended the upgrade Expired: its Events go with its history (EventSink.prune),
    // as the operator does when its reconcile ends it so.
    if (status.phase === 'Expired' && fresh.length > 0) await sink.prune?.(res, status.history);
  }

  /**
   * Apply `change` to the resource's spec with a merge patch guarded by resourceVersion: the fields
   * it changed, in the resource's own form (control fields, strategy, expiry, probe, version...);
   * what it left alone stays as the user wrote it. The API server bumps `metadata.generation`, also
   * when nothing changed (see {@link generationBump}). A change to what the resource cannot hold
   * (its name and cluster, component stages and prerequisites) is an error, not a silent drop.
   */
  async updateSpec(name: string, change: (spec: UpgradeSpec) => UpgradeSpec): Promise<UpgradeSpec> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.getResource(name);
      if (!res)
        throw new BadInputError(
          'no-such-upgrade',
          `no upgrade named "${name}" in namespace ${this.namespace}`,
        );
      const before = toUpgradeSpec(res, this.clusterName(res));
      const after = change(structuredClone(before));
      const layout = (s: UpgradeSpec) =>
        JSON.stringify([s.name, s.cluster, (s.components ?? []).map((c) => ({ ...c, version: undefined }))]);
      if (layout(before) !== layout(after))
        throw new Error(
          `upgrade ${name}: the name, the cluster and component stages or prerequisites cannot be changed on an Upgrade resource`,
        );
      const patch = mergePatchOf(
        resourceSpecOf(before, res.spec.target) as Record<string, Json>,
        resourceSpecOf(after, res.spec.target) as Record<string, Json>,
      );
      if (Object.keys(patch).length === 0) Object.assign(patch, generationBump(res.spec));
      try {
        const out = (await this.retry(`patch upgrade ${this.namespace}/${name}`, () =>
          this.api.patchNamespacedCustomObject(
            {
              ...this.ref,
              name,
              body: { metadata: { resourceVersion: res.metadata.resourceVersion }, spec: patch },
            },
            MERGE_PATCH,
          ),
        )) as UpgradeResource;
        return toUpgradeSpec(out, this.clusterName(out));
      } catch (err) {
        if (isConflict(err) && attempt < MAX_CONFLICT_RETRIES) continue;
        throw err;
      }
    }
  }

  /**
   * Record that a resource's spec is invalid - the one home of that rule, for the operator and any
   * other front end: phase Failed, reason `invalid spec: <error>`, conditions Progressing and Ready
   * False with reason InvalidSpec and the error (which names the field) as message, a history
   * entry, `observedGeneration`. Touches nothing but the resource's status, once per generation
   * and message ('unchanged' when it already says so). The write is conditional on the
   * resourceVersion of `res`: on a conflict the resource is read again and marked when it still
   * has the same generation ('superseded' when a newer spec is there, or after repeated
   * conflicts: the caller looks again; 'gone' when it was deleted).
   */
  async markInvalid(res: UpgradeResource, error: unknown): Promise<MarkInvalidOutcome> {
    const message = describeError(error);
    const generation = res.metadata.generation ?? 1;
    let body = res;
    for (let attempt = 0; ; attempt++) {
      if (isMarkedInvalid(body, message)) return 'unchanged';
      const status = invalidStatus(body, message, this.clock.now());
      try {
        await this.retry(`write status of upgrade ${this.namespace}/${res.metadata.name}`, () =>
          this.api.replaceNamespacedCustomObjectStatus({
            ...this.ref,
            name: res.metadata.name,
            body: { ...body, status },
          }),
        );
        return 'written';
      } catch (err) {
        if (isNotFound(err)) return 'gone';
        if (!isConflict(err)) throw err;
        if (attempt >= 3) return 'superseded';
        // Lost a race with a writer: read again; a newer generation is validated on its own turn.
        const latest = await this.getResource(res.metadata.name);
        if (!latest) return 'gone';
        if ((latest.metadata.generation ?? 1) !== generation) return 'superseded';
        body = latest;
      }
    }
  }

  /** Delete the resource (no error when it is already gone). */
  async delete(name: string): Promise<void> {
    try {
      await this.retry(`delete upgrade ${this.namespace}/${name}`, () =>
        this.api.deleteNamespacedCustomObject({ ...this.ref, name }),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.seen.delete(name);
  }
}

/** A client certificate and the CA that verifies the servers, read from a Secret. */
export interface ClientTls {
  /** PEM of the CA (`ca.crt`). */
  ca: string;
  /** PEM of the client certificate (`client.root.crt`, else `tls.crt`). */
  cert?: string;
  /** PEM of its key (`client.root.key`, else `tls.key`). */
  key?: string;
}

/** Admin credentials read from a Secret. */
export interface Credentials {
  username?: string;
  /** Empty when the Secret authenticates with a client certificate only (see {@link readCredentials}). */
  password: string;
  tls?: ClientTls;
}

/** Secret keys of a client certificate: CockroachDB's `cockroach cert` names first, then kubernetes.io/tls's. */
export const CLIENT_CERT_KEYS = {
  ca: 'ca.crt',
  cert: ['client.root.crt', 'tls.crt'],
  key: ['client.root.key', 'tls.key'],
};

/** Options of {@link readCredentials}. */
export interface ReadCredentialsOptions {
  /**
   * The engine accepts a client certificate: the Secret's `ca.crt` and the certificate and key
   * ({@link CLIENT_CERT_KEYS}) are read too, and with a certificate the password key may be absent.
   */
  clientCertificate?: boolean;
  /** How errors name the setting: `spec.credentialsSecret` (default) or the CLI's `--credentials-secret`. */
  field?: 'spec.credentialsSecret' | '--credentials-secret';
}

/**
 * Read the credentials `spec.credentialsSecret` names (keys default to `username` and
 * `password`). The values are returned, never logged nor written anywhere. BadInputError
 * `no-secret` / `no-secret-key` when the Secret or its password key is missing. With
 * `opts.clientCertificate`, `ca.crt` and a client certificate with its key (`client.root.crt` /
 * `client.root.key` as CockroachDB's tools and Helm chart name them, else `tls.crt` / `tls.key`
 * as the CockroachDB operator's `<cluster>-root` Secret does) are read as well; a certificate
 * without its key, or without `ca.crt`, is a BadInputError; with a certificate the password key
 * may be absent (password empty).
 */
export async function readCredentials(
  kc: KubeConfig,
  namespace: string,
  secretRef: NonNullable<UpgradeResourceSpec['credentialsSecret']>,
  opts: ReadCredentialsOptions = {},
): Promise<Credentials> {
  const core = kc.makeApiClient(CoreV1Api);
  let data: Record<string, string>;
  try {
    const secret = await core.readNamespacedSecret({ namespace, name: secretRef.name });
    data = secret.data ?? {};
  } catch (err) {
    if (isNotFound(err)) {
      throw new BadInputError(
        'no-secret',
        `${opts.field === '--credentials-secret' ? '--credentials-secret' : 'spec.credentialsSecret.name'}: secret ${namespace}/${secretRef.name} not found; create it or fix the name`,
      );
    }
    throw new OperationalError(
      'secret-unreadable',
      `read secret ${namespace}/${secretRef.name}: ${apiMessage(err)}`,
    );
  }
  const decode = (key: string) =>
    data[key] !== undefined ? Buffer.from(data[key], 'base64').toString('utf8') : undefined;
  const where = `${opts.field ?? 'spec.credentialsSecret'}: secret ${namespace}/${secretRef.name}`;
  const tls = opts.clientCertificate ? clientTlsOf(decode, where) : undefined;
  const passwordKey = secretRef.passwordKey ?? 'password';
  const password = decode(passwordKey) ?? (tls?.cert ? '' : undefined);
  if (password === undefined) {
    throw new BadInputError(
      'no-secret-key',
      `${where} has no key "${passwordKey}"; set passwordKey or add the key${
        opts.clientCertificate
          ? ` (or a client certificate: ${CLIENT_CERT_KEYS.ca} with client.root.crt/.key or tls.crt/.key)`
          : ''
      }`,
    );
  }
  const username = decode(secretRef.usernameKey ?? 'username');
  return { ...(username !== undefined ? { username } : {}), password, ...(tls ? { tls } : {}) };
}

function clientTlsOf(decode: (key: string) => string | undefined, where: string): ClientTls | undefined {
  const pick = (keys: string[]) => keys.find((k) => decode(k) !== undefined);
  const certKey = pick(CLIENT_CERT_KEYS.cert);
  const keyKey = pick(CLIENT_CERT_KEYS.key);
  const ca = decode(CLIENT_CERT_KEYS.ca);
  if (!certKey && !keyKey && ca === undefined) return undefined;
  if (!!certKey !== !!keyKey) {
    throw new BadInputError(
      'no-secret-key',
      `${where} has ${certKey ?? keyKey} but not its ${certKey ? 'key' : 'certificate'} (${(certKey ? CLIENT_CERT_KEYS.key : CLIENT_CERT_KEYS.cert).join(' or ')}); add it`,
    );
  }
  if (ca === undefined) {
    throw new BadInputError(
      'no-secret-key',
      `${where} has a client certificate but no "${CLIENT_CERT_KEYS.ca}" to verify the servers with; add the cluster CA`,
    );
  }
  return { ca, ...(certKey && keyKey ? { cert: decode(certKey)!, key: decode(keyKey)! } : {}) };
}
