/**
 * Engine-specific cluster references (`spec.target.cluster`): which StatefulSets make up the
 * cluster, as components in the engine's order; who else reconciles them; and, for a TiDB Operator
 * `TidbCluster`, how Baton pauses its reconciliation for the roll and hands the cluster back with
 * the version it then runs.
 *
 * Facts this relies on (TiDB Operator v1 and the CockroachDB operator, as documented):
 * - TiDB Operator names a cluster's StatefulSets `<name>-<component>` and labels them
 *   `app.kubernetes.io/instance=<name>` and `app.kubernetes.io/component=<component>` (pd,
 *   tiproxy, tiflash, tikv, pump, tidb, ticdc), with a controller ownerReference to the
 *   `TidbCluster` (`pingcap.com/v1alpha1`).
 * - `spec.paused: true` on a TidbCluster stops TiDB Operator from syncing it ("pause sync");
 *   `spec.version` is the image tag of every component, `spec.<component>.version` overrides it.
 * - The CockroachDB operator's `CrdbCluster` (`crdb.cockroachlabs.com/v1alpha1`) runs one
 *   StatefulSet named like the cluster; it has no documented way to pause its reconciliation.
 *
 * The decisions (selection, order, ownership verdict, hand-over) are pure functions; the reads and
 * writes are {@link resolveCluster}, {@link pauseTidbCluster} and {@link handOverTidbCluster}.
 */
import type {
  AppsV1Api,
  CustomObjectsApi,
  V1OwnerReference,
  V1Pod,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.js';
import { BadInputError, OperationalError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { PlatformMember, PrecheckResult, UpgradeSpec } from '../../core/types.js';
import type { UpgradeResource } from '../../api/upgrade.js';
import { apiMessage, httpStatus, isConflict, isNotFound, MERGE_PATCH, withRetry } from './api.js';
import { isRollingUpdate, REVISION_LABEL } from './members.js';

/** A cluster kind Baton reads as a custom object. */
export interface ClusterKind {
  group: string;
  version: string;
  plural: string;
  kind: string;
  /**
   * The engine whose rules name this kind's components, in the order they are rolled (`tidb` for
   * a TidbCluster): the platform asks the injected rules for that order, it keeps no list.
   */
  engine?: string;
}

/** TiDB Operator v1's cluster resource. */
export const TIDB_CLUSTER: ClusterKind = {
  group: 'pingcap.com',
  version: 'v1alpha1',
  plural: 'tidbclusters',
  kind: 'TidbCluster',
  engine: 'tidb',
};

/** The CockroachDB operator's cluster resource. */
export const CRDB_CLUSTER: ClusterKind = {
  group: 'crdb.cockroachlabs.com',
  version: 'v1alpha1',
  plural: 'crdbclusters',
  kind: 'CrdbCluster',
};

/**
 * The Redis Enterprise operator's cluster resource (REC). Its operator has no pause: Baton drives
 * it through its spec and gates the operator's own roll (rec-ref.ts).
 */
export const REDIS_ENTERPRISE_CLUSTER: ClusterKind = {
  group: 'app.redislabs.com',
  version: 'v1',
  plural: 'redisenterpriseclusters',
  kind: 'RedisEnterpriseCluster',
};

/** The component of a RedisEnterpriseCluster's pods (the `redis-enterprise` engine's `rec`). */
export const REC_COMPONENT = 'rec';

/** Recommended label naming the instance (cluster) an object belongs to. */
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
/** Recommended label naming the component of the instance. */
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** Baton's own component label on a StatefulSet (wins over {@link COMPONENT_LABEL} for other kinds). */
const BATON_COMPONENT_LABEL = 'baton.dev/component';

/** The one component of a CrdbCluster (the `cockroachdb` engine's component). */
export const CRDB_COMPONENT = 'cockroachdb';

/** On a TidbCluster Baton paused: the Upgrade (same namespace) that paused it. */
export const PAUSED_BY_ANNOTATION = 'baton.dev/paused-by';
/** On a TidbCluster Baton holds: "true" when it was already paused before, so it stays paused after. */
export const WAS_PAUSED_ANNOTATION = 'baton.dev/was-paused';

/** Name of the platform precheck about who reconciles the cluster's StatefulSets. */
export const OWNER_PRECHECK = 'statefulset-owner';

/** A cluster object as the API returns it (only what Baton reads). */
export interface ClusterObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
}

/** A StatefulSet of the cluster and the component its pods form. */
export interface ClusterTarget {
  name: string;
  component: string;
}

/** What a cluster reference resolved to. */
export interface ResolvedCluster {
  kind: ClusterKind;
  object: ClusterObject;
  /** The cluster's StatefulSets as components, in the order they are rolled. */
  targets: ClusterTarget[];
  /** The same StatefulSets as read (ownerReferences are judged from them). */
  statefulSets: V1StatefulSet[];
}

/** The cluster reference of an Upgrade (`spec.target.cluster`). */
export type ClusterRef = NonNullable<UpgradeResource['spec']['target']['cluster']>;

/**
 * The known kind a reference names: `TidbCluster`, `CrdbCluster` or `RedisEnterpriseCluster`, when
 * `apiVersion` is absent or in the kind's group (its version then wins). Undefined for any other kind.
 */
export function knownClusterKind(ref: ClusterRef): ClusterKind | undefined {
  for (const k of [TIDB_CLUSTER, CRDB_CLUSTER, REDIS_ENTERPRISE_CLUSTER]) {
    if (ref.kind !== k.kind) continue;
    if (!ref.apiVersion) return k;
    const [group, version] = ref.apiVersion.split('/');
    if (group === k.group && version) return { ...k, version };
  }
  return undefined;
}

/** Group and version of `apiVersion` (`group/version`); BadInputError for a core or malformed one. */
export function groupVersion(ref: ClusterRef): { group: string; version: string } {
  const parts = (ref.apiVersion ?? '').split('/');
  if (!ref.apiVersion) {
    throw new BadInputError(
      'bad-target',
      `spec.target.cluster.apiVersion is required for kind ${ref.kind} (Baton knows ${TIDB_CLUSTER.kind}, ${CRDB_CLUSTER.kind} and ${REDIS_ENTERPRISE_CLUSTER.kind} without it): set it to the resource's group/version, e.g. example.com/v1`,
    );
  }
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new BadInputError(
      'bad-target',
      `spec.target.cluster.apiVersion "${ref.apiVersion}" is not group/version: a cluster reference names a custom resource, e.g. example.com/v1`,
    );
  }
  return { group: parts[0], version: parts[1] };
}

/** The controller ownerReference of an object, if any. */
export function controllerOf(sts: V1StatefulSet): V1OwnerReference | undefined {
  return sts.metadata?.ownerReferences?.find((r) => r.controller === true);
}

function orderIndex(order: readonly string[], component: string): number {
  const i = order.indexOf(component);
  return i < 0 ? order.length : i;
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Targets sorted by `order` (components it does not name after, by name, as the planner places
 * them), then by StatefulSet name.
 */
export function orderTargets(targets: ClusterTarget[], order: readonly string[]): ClusterTarget[] {
  return [...targets].sort(
    (a, b) =>
      orderIndex(order, a.component) - orderIndex(order, b.component) ||
      byCodeUnits(a.component, b.component) ||
      byCodeUnits(a.name, b.name),
  );
}

/**
 * The StatefulSets (from `all`, the namespace's) that make up cluster `object` of `kind`, as
 * components in the order they are rolled:
 * - TidbCluster: labelled `app.kubernetes.io/instance=<name>` with a component label, or named
 *   `<name>-<component>` for a component `engineOrder` names; the component is the label (else
 *   the suffix); ordered by `engineOrder` (the platform passes the `tidb` rules' order).
 * - CrdbCluster: the StatefulSet named like the cluster, component {@link CRDB_COMPONENT}.
 * - RedisEnterpriseCluster: the StatefulSet named like the cluster (the Redis operator names it so),
 *   component {@link REC_COMPONENT}.
 * - any other kind: those with a controller ownerReference to the object (its uid), else those
 *   labelled `app.kubernetes.io/instance=<name>`; the component is the `baton.dev/component` label,
 *   else `app.kubernetes.io/component`, else the StatefulSet name; ordered by `engineOrder`.
 */
export function selectClusterStatefulSets(
  kind: ClusterKind,
  object: ClusterObject,
  all: V1StatefulSet[],
  engineOrder: readonly string[],
): { targets: ClusterTarget[]; statefulSets: V1StatefulSet[] } {
  const name = object.metadata.name;
  const picked: { sts: V1StatefulSet; component: string }[] = [];
  if (kind.kind === TIDB_CLUSTER.kind && kind.group === TIDB_CLUSTER.group) {
    for (const sts of all) {
      const labels = sts.metadata?.labels ?? {};
      const stsName = sts.metadata?.name ?? '';
      const suffix = stsName.startsWith(`${name}-`) ? stsName.slice(name.length + 1) : undefined;
      if (labels[INSTANCE_LABEL] === name && labels[COMPONENT_LABEL]) {
        picked.push({ sts, component: labels[COMPONENT_LABEL] });
      } else if (suffix && engineOrder.includes(suffix) && !labels[INSTANCE_LABEL]) {
        picked.push({ sts, component: suffix });
      }
    }
    return finish(picked, engineOrder);
  }
  if (kind.kind === CRDB_CLUSTER.kind && kind.group === CRDB_CLUSTER.group) {
    const sts = all.find((s) => s.metadata?.name === name);
    return finish(sts ? [{ sts, component: CRDB_COMPONENT }] : [], [CRDB_COMPONENT]);
  }
  if (kind.kind === REDIS_ENTERPRISE_CLUSTER.kind && kind.group === REDIS_ENTERPRISE_CLUSTER.group) {
    const sts = all.find((s) => s.metadata?.name === name);
    return finish(sts ? [{ sts, component: REC_COMPONENT }] : [], [REC_COMPONENT]);
  }
  const uid = object.metadata.uid;
  const owned = all.filter((s) => uid !== undefined && controllerOf(s)?.uid === uid);
  const chosen = owned.length > 0 ? owned : all.filter((s) => s.metadata?.labels?.[INSTANCE_LABEL] === name);
  for (const sts of chosen) {
    const labels = sts.metadata?.labels ?? {};
    picked.push({
      sts,
      component: labels[BATON_COMPONENT_LABEL] ?? labels[COMPONENT_LABEL] ?? sts.metadata!.name!,
    });
  }
  return finish(picked, engineOrder);
}

function finish(
  picked: { sts: V1StatefulSet; component: string }[],
  order: readonly string[],
): { targets: ClusterTarget[]; statefulSets: V1StatefulSet[] } {
  const targets = orderTargets(
    picked.map((p) => ({ name: p.sts.metadata!.name!, component: p.component })),
    order,
  );
  const byName = new Map(picked.map((p) => [p.sts.metadata!.name!, p.sts]));
  return { targets, statefulSets: targets.map((t) => byName.get(t.name)!) };
}

/** Whether Baton knows how to pause the reconciliation of `kind` (TidbCluster: `spec.paused`). */
export function isPausable(kind: ClusterKind): boolean {
  return kind.kind === TIDB_CLUSTER.kind && kind.group === TIDB_CLUSTER.group;
}

function describeOwner(ref: V1OwnerReference): string {
  return `${ref.kind} ${ref.name} (${ref.apiVersion})`;
}

/**
 * The failing {@link OWNER_PRECHECK} verdict when another Upgrade holds the cluster (the
 * {@link PAUSED_BY_ANNOTATION} names it), or undefined; `how` says what that holding means for
 * this kind ("held paused", "driven"...).
 */
export function heldByAnother(
  object: ClusterObject,
  self: string,
  upgradeName: string,
  how: string,
): PrecheckResult | undefined {
  const holder = object.metadata.annotations?.[PAUSED_BY_ANNOTATION];
  if (!holder || holder === upgradeName) return undefined;
  return {
    name: OWNER_PRECHECK,
    ok: false,
    reason: `${self} is ${how} by Upgrade ${holder} (annotation ${PAUSED_BY_ANNOTATION}): let that upgrade finish, or remove the annotation if it is gone, then retry`,
  };
}

/**
 * The {@link OWNER_PRECHECK} verdict: fails when a StatefulSet of the cluster is reconciled (a
 * controller ownerReference) by an object Baton cannot pause (another object than the cluster, or
 * the cluster itself when its kind has no pause Baton knows), since that controller would undo
 * Baton's template and partition changes; also when another Upgrade holds the cluster paused.
 */
export function ownerVerdict(cluster: ResolvedCluster, upgradeName: string): PrecheckResult {
  const { kind, object } = cluster;
  const uid = object.metadata.uid;
  const self = `${kind.kind} ${object.metadata.name}`;
  for (const sts of cluster.statefulSets) {
    const owner = controllerOf(sts);
    if (!owner) continue;
    const stsName = sts.metadata!.name!;
    if (owner.uid !== uid) {
      return {
        name: OWNER_PRECHECK,
        ok: false,
        reason: `statefulset ${stsName} is reconciled by ${describeOwner(owner)}, not by ${self}, and Baton cannot pause it (it would undo Baton's changes): upgrade it through ${owner.kind} ${owner.name}, or remove that ownerReference, then retry`,
      };
    }
    if (!isPausable(kind)) {
      return {
        name: OWNER_PRECHECK,
        ok: false,
        reason: `statefulset ${stsName} is reconciled by ${describeOwner(owner)}, which Baton cannot pause (it would undo Baton's changes): upgrade through ${self} itself, or stop its operator and remove the ownerReference, then retry`,
      };
    }
  }
  const held = heldByAnother(object, self, upgradeName, 'held paused');
  if (held) return held;
  const owned = cluster.statefulSets
    .filter((s) => controllerOf(s)?.uid === uid)
    .map((s) => s.metadata!.name!);
  return {
    name: OWNER_PRECHECK,
    ok: true,
    reason:
      owned.length > 0
        ? `${self} reconciles ${owned.join(', ')}: Baton pauses it (spec.paused) for the roll and hands it back with the version it then runs`
        : `no other controller reconciles ${cluster.targets.map((t) => t.name).join(', ')}`,
  };
}

/** One target StatefulSet as observed: the object, its pods by name, and its members. */
export interface ObservedTarget {
  component: string;
  sts: V1StatefulSet;
  pods: Map<string, V1Pod>;
  members: PlatformMember[];
}

/** Why a StatefulSet is not at rest yet (the controller or a pod still has work), or undefined. */
export function unsettled(o: ObservedTarget): string | undefined {
  const name = o.sts.metadata?.name ?? '?';
  if ((o.sts.status?.observedGeneration ?? 0) < (o.sts.metadata?.generation ?? 0)) {
    return `statefulset ${name}: the controller has not seen its latest template yet`;
  }
  const down = o.members.filter((m) => !m.ready || !m.running || m.failed).map((m) => m.name);
  if (down.length > 0) return `${down.join(', ')} not ready`;
  const update = o.sts.status?.updateRevision;
  if (isRollingUpdate(o.sts) && update) {
    const partition = o.sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    const behind = o.members.filter(
      (m) => m.ordinal >= partition && o.pods.get(m.name)?.metadata?.labels?.[REVISION_LABEL] !== update,
    );
    if (behind.length > 0) {
      return `${behind.map((m) => m.name).join(', ')} not yet at the update revision`;
    }
  }
  return undefined;
}

/** The version a TidbCluster spec tells TiDB Operator component `c` runs. */
export function recordedVersion(spec: Record<string, unknown> | undefined, c: string): string | undefined {
  const own = (spec?.[c] as { version?: unknown } | undefined)?.version;
  if (typeof own === 'string' && own) return own;
  return typeof spec?.version === 'string' ? spec.version : undefined;
}

/**
 * The TidbCluster spec fields that make every component of `want` run its version: `spec.version`
 * set to `cluster` (when given and different), and `spec.<component>.version` wherever the
 * component's version would otherwise differ (an override already set, or a component whose
 * version differs from the cluster-wide one).
 */
export function versionFields(
  spec: Record<string, unknown> | undefined,
  want: Record<string, string>,
  cluster: string | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const current = typeof spec?.version === 'string' ? spec.version : undefined;
  if (cluster !== undefined && cluster !== current) out.version = cluster;
  const base = cluster ?? current;
  for (const [c, v] of Object.entries(want)) {
    const own = (spec?.[c] as { version?: unknown } | undefined)?.version;
    const effective = typeof own === 'string' && own ? own : base;
    if (effective !== v) out[c] = { version: v };
  }
  return out;
}

/** What the Upgrade asks for, as far as handing a cluster back goes. */
export interface HandOverIntent {
  /** Target version of every component without its own. */
  version: string;
  /** Per-component targets. */
  componentVersions?: Record<string, string>;
  /**
   * Components on their own release line (the engine's `ownVersion`, TiProxy): without a
   * per-component target they keep what they run, which the hand-over pins in `spec.<c>.version`.
   */
  ownVersion?: string[];
  cancel: boolean;
  rollback: boolean;
}

/** The intent of an Upgrade resource's spec. */
export function intentOfResource(spec: UpgradeResource['spec']): HandOverIntent {
  return {
    version: spec.version,
    ...(spec.componentVersions ? { componentVersions: spec.componentVersions } : {}),
    cancel: spec.cancel ?? false,
    rollback: spec.rollback ?? false,
  };
}

/** The intent of a core spec (as the journal returns it); `ownVersion` as {@link HandOverIntent}. */
export function intentOfSpec(spec: UpgradeSpec, ownVersion: string[] = []): HandOverIntent {
  const own = (spec.components ?? []).filter((c) => c.version !== undefined);
  return {
    version: spec.version,
    ...(own.length > 0
      ? { componentVersions: Object.fromEntries(own.map((c) => [c.name, c.version!])) }
      : {}),
    ...(ownVersion.length > 0 ? { ownVersion } : {}),
    cancel: spec.cancel,
    rollback: spec.rollback,
  };
}

/** What to do with a TidbCluster Baton holds paused, after one observation. */
export type HandOver =
  | { ready: false; reason: string }
  | {
      ready: true;
      /** Spec fields to write (versions and `paused`). */
      spec: Record<string, unknown>;
      /** One line for events and logs. */
      message: string;
    };

/**
 * Whether the roll of a held TidbCluster is over, and what to write when it is:
 * - forward: every component at its target (`componentVersions[c]`, else what it runs for an
 *   `ownVersion` component, else `version`) with every
 *   StatefulSet at rest -> `spec.version` (and `spec.<c>.version` where needed) as targets;
 * - `rollback`: every component back at the version the TidbCluster still records -> unchanged;
 * - `cancel`: every StatefulSet at rest and each component on one version -> those versions; a
 *   component left on two versions stays paused (un-pausing would let TiDB Operator restart pods
 *   the cancel kept as they are), and the reason says so.
 * `spec.paused` goes back to what it was before Baton paused it.
 */
export function handOverDecision(
  spec: HandOverIntent,
  object: ClusterObject,
  observed: ObservedTarget[],
): HandOver {
  for (const o of observed) {
    const why = unsettled(o);
    if (why) return { ready: false, reason: why };
  }
  const runs: Record<string, string> = {};
  for (const o of observed) {
    const versions = [...new Set(o.members.map((m) => m.version))];
    if (versions.length !== 1) {
      return {
        ready: false,
        reason: `${o.component} runs ${versions.join(' and ')}: ${object.metadata.name} stays paused until one version runs everywhere (set spec.${o.component}.version and spec.paused: false yourself to let TiDB Operator finish)`,
      };
    }
    runs[o.component] = versions[0]!;
  }
  const wasPaused = object.metadata.annotations?.[WAS_PAUSED_ANNOTATION] === 'true';
  let cluster: string | undefined;
  if (spec.rollback) {
    for (const [c, v] of Object.entries(runs)) {
      const recorded = recordedVersion(object.spec, c);
      if (recorded !== undefined && recorded !== v) {
        return { ready: false, reason: `rollback: ${c} runs ${v}, not yet back at ${recorded}` };
      }
    }
  } else if (!spec.cancel) {
    for (const [c, v] of Object.entries(runs)) {
      const target = spec.componentVersions?.[c] ?? (spec.ownVersion?.includes(c) ? v : spec.version);
      if (v !== target) return { ready: false, reason: `${c} runs ${v}, not yet ${target}` };
    }
    cluster = spec.version;
  } else {
    const distinct = [...new Set(Object.values(runs))];
    if (distinct.length === 1) cluster = distinct[0];
  }
  const fields = versionFields(object.spec, runs, cluster);
  const written = Object.entries(fields).map(([k, v]) =>
    k === 'version' ? `spec.version=${String(v)}` : `spec.${k}.version=${(v as { version: string }).version}`,
  );
  return {
    ready: true,
    spec: { ...fields, paused: wasPaused },
    message: `${TIDB_CLUSTER.kind} ${object.metadata.name} handed back to TiDB Operator${
      written.length > 0 ? ` with ${written.join(', ')}` : ' (versions unchanged)'
    }${wasPaused ? '; it stays paused, as it was before' : ', spec.paused=false'}`,
  };
}

/** Clients and context for the reads and writes below. */
export interface ClusterIo {
  custom: CustomObjectsApi;
  apps: AppsV1Api;
  namespace: string;
  deps: { clock: Clock; logger: Logger; signal?: AbortSignal };
}

function missing(upgrade: UpgradeResource, what: string): BadInputError {
  return new BadInputError(
    'bad-target',
    `spec.target: upgrade ${upgrade.metadata.name} names no StatefulSet: ${what}`,
  );
}

async function kindOf(io: ClusterIo, upgrade: UpgradeResource, ref: ClusterRef): Promise<ClusterKind> {
  const known = knownClusterKind(ref);
  if (known) return known;
  const { group, version } = groupVersion(ref);
  let resources: { name: string; kind: string }[];
  try {
    const list = await withRetry(
      `discover ${group}/${version}`,
      () => io.custom.getAPIResources({ group, version }),
      io.deps,
    );
    resources = list.resources ?? [];
  } catch (err) {
    if (!isNotFound(err)) throw err;
    resources = [];
  }
  const r = resources.find((x) => x.kind === ref.kind && !x.name.includes('/'));
  if (!r) {
    throw missing(
      upgrade,
      `the API server serves no kind ${ref.kind} in ${group}/${version} (spec.target.cluster): fix kind or apiVersion, or install its CRD`,
    );
  }
  return { group, version, plural: r.name, kind: ref.kind };
}

/** Read the cluster object; BadInputError naming `spec.target.cluster` when it does not exist. */
export async function readClusterObject(
  io: ClusterIo,
  upgrade: UpgradeResource,
  kind: ClusterKind,
  name: string,
): Promise<ClusterObject> {
  const where = `${kind.kind} ${io.namespace}/${name}`;
  try {
    return (await withRetry(
      `read ${where}`,
      () =>
        io.custom.getNamespacedCustomObject({
          group: kind.group,
          version: kind.version,
          plural: kind.plural,
          namespace: io.namespace,
          name,
        }),
      io.deps,
    )) as ClusterObject;
  } catch (err) {
    if (isNotFound(err)) {
      throw missing(
        upgrade,
        `${where} (spec.target.cluster) not found: create it, or fix spec.target.cluster (kind, name, apiVersion) and the namespace`,
      );
    }
    if (httpStatus(err) === 403) {
      throw new BadInputError(
        'forbidden',
        `Baton may not read ${where} (spec.target.cluster): grant get on ${kind.plural}.${kind.group} to Baton's ServiceAccount (${apiMessage(err)})`,
      );
    }
    throw err;
  }
}

/**
 * Resolve an Upgrade's `spec.target.cluster`: the cluster object (GET; missing -> BadInputError
 * naming `spec.target.cluster`) and its StatefulSets (one LIST of the namespace's; none ->
 * BadInputError likewise), ordered as {@link selectClusterStatefulSets} says, in the component
 * order `orderOf` gives for the kind (from the engine rules the platform was given).
 */
export async function resolveCluster(
  io: ClusterIo,
  upgrade: UpgradeResource,
  orderOf: (kind: ClusterKind) => readonly string[],
): Promise<ResolvedCluster> {
  const ref = upgrade.spec.target.cluster;
  if (!ref) throw missing(upgrade, 'spec.target.cluster is not set');
  const kind = await kindOf(io, upgrade, ref);
  const engineOrder = orderOf(kind);
  const object = await readClusterObject(io, upgrade, kind, ref.name);
  const list = await withRetry(
    `list statefulsets in ${io.namespace}`,
    () => io.apps.listNamespacedStatefulSet({ namespace: io.namespace }),
    io.deps,
  );
  const { targets, statefulSets } = selectClusterStatefulSets(kind, object, list.items, engineOrder);
  if (targets.length === 0) {
    throw missing(
      upgrade,
      `${kind.kind} ${io.namespace}/${ref.name} (spec.target.cluster) has no StatefulSets (${lookedFor(kind, ref.name, engineOrder)}): check spec.target.cluster and that the cluster has been deployed`,
    );
  }
  return { kind, object, targets, statefulSets };
}

function lookedFor(kind: ClusterKind, name: string, order: readonly string[]): string {
  if (isPausable(kind)) return `looked for ${INSTANCE_LABEL}=${name} or ${name}-<${order.join('|')}>`;
  if (kind.kind === CRDB_CLUSTER.kind || kind.kind === REDIS_ENTERPRISE_CLUSTER.kind)
    return `looked for statefulset ${name}`;
  return `looked for a controller ownerReference to it, or ${INSTANCE_LABEL}=${name}`;
}

/** A JSON merge patch of the cluster object `name` (retried as every write is). */
export async function patchCluster(
  io: ClusterIo,
  kind: ClusterKind,
  name: string,
  body: object,
): Promise<ClusterObject> {
  return (await withRetry(
    `patch ${kind.kind} ${io.namespace}/${name}`,
    () =>
      io.custom.patchNamespacedCustomObject(
        {
          group: kind.group,
          version: kind.version,
          plural: kind.plural,
          namespace: io.namespace,
          name,
          body,
        },
        MERGE_PATCH,
      ),
    io.deps,
  )) as ClusterObject;
}

const MAX_CONFLICTS = 5;

/** How {@link markHeld} words and vetoes a mark. */
export interface MarkOptions {
  /** How the holder relates to the cluster, for messages (`held`, `driven`). */
  verb: string;
  /** Why this cluster may not be marked (OperationalError `owner-refused`), or undefined. */
  refuse?: (object: ClusterObject) => string | undefined;
}

/**
 * Mark cluster `name` as held by `upgrade`: the annotation {@link PAUSED_BY_ANNOTATION}, in one
 * resourceVersion-guarded merge patch (the custody of a CrdbCluster, the mark of a
 * RedisEnterpriseCluster). Idempotent: false when `upgrade` holds it already, true when written.
 * OperationalError `owner-held` when another Upgrade holds it, `owner-refused` when `opts.refuse`
 * says so.
 */
export async function markHeld(
  io: ClusterIo,
  upgrade: UpgradeResource,
  kind: ClusterKind,
  name: string,
  opts: MarkOptions,
): Promise<boolean> {
  const me = upgrade.metadata.name;
  for (let attempt = 0; ; attempt++) {
    const object = await readClusterObject(io, upgrade, kind, name);
    const holder = object.metadata.annotations?.[PAUSED_BY_ANNOTATION];
    if (holder === me) return false;
    if (holder) {
      throw new OperationalError(
        'owner-held',
        `${kind.kind} ${name} is ${opts.verb} by Upgrade ${holder} (annotation ${PAUSED_BY_ANNOTATION}): let that upgrade finish, or remove the annotation if it is gone`,
      );
    }
    const refusal = opts.refuse?.(object);
    if (refusal) throw new OperationalError('owner-refused', refusal);
    try {
      await patchCluster(io, kind, name, {
        metadata: {
          resourceVersion: object.metadata.resourceVersion,
          annotations: { [PAUSED_BY_ANNOTATION]: me },
        },
      });
      return true;
    } catch (err) {
      if (isConflict(err) && attempt < MAX_CONFLICTS) continue;
      throw err;
    }
  }
}

/**
 * Remove the mark of {@link markHeld} once `decide` (given the object as read) says the hand-back
 * is ready, in one resourceVersion-guarded merge patch. Undefined when `upgrade` does not hold it;
 * otherwise the decision (a decision that is not ready writes nothing).
 */
export async function unmarkHeld(
  io: ClusterIo,
  upgrade: UpgradeResource,
  kind: ClusterKind,
  name: string,
  decide: (object: ClusterObject) => HandOver,
): Promise<HandOver | undefined> {
  for (let attempt = 0; ; attempt++) {
    const object = await readClusterObject(io, upgrade, kind, name);
    if (object.metadata.annotations?.[PAUSED_BY_ANNOTATION] !== upgrade.metadata.name) return undefined;
    const decision = decide(object);
    if (!decision.ready) return decision;
    try {
      await patchCluster(io, kind, name, {
        metadata: {
          resourceVersion: object.metadata.resourceVersion,
          annotations: { [PAUSED_BY_ANNOTATION]: null },
        },
      });
      return decision;
    } catch (err) {
      if (isConflict(err) && attempt < MAX_CONFLICTS) continue;
      throw err;
    }
  }
}

/**
 * Make sure TiDB Operator leaves the TidbCluster's StatefulSets to Baton: `spec.paused: true`, with
 * {@link PAUSED_BY_ANNOTATION} naming `upgradeName` (and {@link WAS_PAUSED_ANNOTATION} when a user
 * had paused it already), in one resourceVersion-guarded merge patch. Idempotent. Returns a line
 * for events when it wrote something. OperationalError `owner-held` when another Upgrade holds it.
 */
export async function pauseTidbCluster(
  io: ClusterIo,
  upgrade: UpgradeResource,
  kind: ClusterKind,
  name: string,
): Promise<string | undefined> {
  const upgradeName = upgrade.metadata.name;
  for (let attempt = 0; ; attempt++) {
    const object = await readClusterObject(io, upgrade, kind, name);
    const holder = object.metadata.annotations?.[PAUSED_BY_ANNOTATION];
    if (holder && holder !== upgradeName) {
      throw new OperationalError(
        'owner-held',
        `${kind.kind} ${name} is held paused by Upgrade ${holder} (annotation ${PAUSED_BY_ANNOTATION}): let that upgrade finish, or remove the annotation if it is gone`,
      );
    }
    const paused = object.spec?.paused === true;
    if (holder === upgradeName && paused) return undefined;
    const annotations: Record<string, string> = { [PAUSED_BY_ANNOTATION]: upgradeName };
    if (!holder && paused) annotations[WAS_PAUSED_ANNOTATION] = 'true';
    try {
      await patchCluster(io, kind, object.metadata.name, {
        metadata: { resourceVersion: object.metadata.resourceVersion, annotations },
        spec: { paused: true },
      });
      return `${kind.kind} ${name}: spec.paused=true (TiDB Operator stops syncing it while Baton rolls its StatefulSets; annotation ${PAUSED_BY_ANNOTATION}=${upgradeName})`;
    } catch (err) {
      if (isConflict(err) && attempt < MAX_CONFLICTS) continue;
      throw err;
    }
  }
}

/**
 * After an observation, give a TidbCluster that `upgrade` holds paused back to TiDB Operator when
 * {@link handOverDecision} says the roll is over: versions, `spec.paused` as it was, annotations
 * removed, in one resourceVersion-guarded merge patch. Returns the decision (for logs and events);
 * a TidbCluster this Upgrade does not hold is left alone (`undefined`).
 *
 * Requests are spent only when the roll may be over: first, with `cached` (a copy of the
 * TidbCluster), every StatefulSet must be at rest with one version per component, which every
 * hand-over needs whatever the Upgrade asks; only then are the current `intent` (the Upgrade's
 * spec may have changed: cancel, rollback) and the TidbCluster read.
 */
export async function handOverTidbCluster(
  io: ClusterIo,
  upgrade: UpgradeResource,
  intent: () => Promise<HandOverIntent>,
  kind: ClusterKind,
  name: string,
  observed: ObservedTarget[],
  cached: ClusterObject,
): Promise<HandOver | undefined> {
  const atRest = handOverDecision(
    { ...intentOfResource(upgrade.spec), cancel: true, rollback: false },
    cached,
    observed,
  );
  if (!atRest.ready) return atRest;
  const wants = await intent();
  for (let attempt = 0; ; attempt++) {
    const object = await readClusterObject(io, upgrade, kind, name);
    if (object.metadata.annotations?.[PAUSED_BY_ANNOTATION] !== upgrade.metadata.name) return undefined;
    const decision = handOverDecision(wants, object, observed);
    if (!decision.ready) return decision;
    try {
      await patchCluster(io, kind, object.metadata.name, {
        metadata: {
          resourceVersion: object.metadata.resourceVersion,
          annotations: { [PAUSED_BY_ANNOTATION]: null, [WAS_PAUSED_ANNOTATION]: null },
        },
        spec: decision.spec,
      });
      return decision;
    } catch (err) {
      if (isConflict(err) && attempt < MAX_CONFLICTS) continue;
      throw err;
    }
  }
}
