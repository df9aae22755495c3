/**
 * The Kubernetes platform of a nodes target (`spec.target.nodes`, engine `kubernetes-nodes`):
 * members are Node objects grouped into the control plane and the pools by label selector, a
 * node's version is `status.nodeInfo.kubeletVersion`, and replacing a member runs the actuator the
 * spec chose:
 *
 * - `job`: a Job pinned to the node (`nodeName`, tolerating every taint, NODE_NAME,
 *   TARGET_VERSION, NODE_ROLE, FIRST_CONTROL_PLANE), optionally privileged with the host PID
 *   namespace and `/` at `/host`: system-upgrade-controller's pattern
 *   (rancher/system-upgrade-controller pkg/upgrade/job/job.go). A failed Job is kept for the human
 *   and named; a retry creates the next attempt beside it.
 * - `replace`: the cloud's pool replaces the node. Baton records the replacement (a ConfigMap in the
 *   Upgrade's namespace, so a restarted Baton knows), runs the user's machine-deletion Job if given,
 *   deletes the Node, and the first new Ready node of that pool at the target version takes over the
 *   member's name (annotation `baton.dev/replaces` on the new Node); `endpoint` is the node's real name.
 */
import { createHash } from 'node:crypto';
import {
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1ConfigMap,
  type V1Job,
  type V1Node,
} from '@kubernetes/client-node';
import { DEFAULT_UPGRADE_NAMESPACE, matchesSelector, nodeGroups, type NodesTarget } from '../../api/nodes.js';
import type { UpgradeResource } from '../../api/upgrade.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { JournalStore, Platform, PortContext, ReplaceOptions } from '../../core/ports.js';
import type { PlatformMember } from '../../core/types.js';
import { atVersion } from '../../core/version.js';
import { apiMessage, isConflict, isNotFound, MERGE_PATCH, withRetry } from './api.js';
import { isReady } from '../../api/conditions.js';
import type { NodeInformers } from '../../api/node-informers.js';

/** Annotation of a replacement Node naming the node (member) it replaces. */
export const REPLACES_ANNOTATION = 'baton.dev/replaces';

/** Labels of Baton's upgrade Jobs. */
export const JOB_LABELS = { upgrade: 'baton.dev/upgrade', node: 'baton.dev/node' } as const;

/** Nodes in `localeCompare` order (their ordinals), with one collator instead of one per comparison. */
const BY_NAME = new Intl.Collator();

/** Options of {@link KubernetesNodesPlatform}. */
export interface NodesPlatformOptions {
  kc: KubeConfig;
  /** Namespace and name of the Upgrade. */
  namespace: string;
  name: string;
  /** The Upgrade resource, when there is one (what Events are about; the operator keeps it fresh). */
  upgrade?: UpgradeResource;
  target: NodesTarget;
  journal: JournalStore;
  clock: Clock;
  logger: Logger;
  /** Informers to list Nodes and Jobs from (shared with the node engine; see {@link jobScope}). */
  informers?: NodeInformers;
}

/** Namespace and label selector of the upgrade Jobs of Upgrade `namespace/name` (what to watch). */
export function jobScope(
  namespace: string,
  name: string,
  target: NodesTarget,
): { namespace: string; labelSelector: string } {
  const a = target.actuator;
  return {
    namespace: (a.type === 'job' ? a.job?.namespace : a.replace?.namespace) ?? DEFAULT_UPGRADE_NAMESPACE,
    labelSelector: `${JOB_LABELS.upgrade}=${upgradeLabelOf(namespace, name)}`,
  };
}

/** The label value naming Upgrade `namespace/name` on its Jobs. */
function upgradeLabelOf(namespace: string, name: string): string {
  return label(`${namespace}.${name}`, `${namespace}/${name}`);
}

function short(text: string, n = 10): string {
  return createHash('sha256').update(text).digest('hex').slice(0, n);
}

/** A DNS-1123 label of at most 63 characters from `prefix` and a hash of `key`. */
function label(prefix: string, key: string): string {
  const p = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40)
    .replace(/-+$/, '');
  return `${p}-${short(key)}`;
}

const ready = (n: V1Node): boolean => isReady(n);

function jobFailed(j: V1Job): string | undefined {
  const c = j.status?.conditions?.find((x) => x.type === 'Failed' && x.status === 'True');
  return c ? `${c.reason ?? 'Failed'}${c.message ? `: ${c.message}` : ''}` : undefined;
}

function jobDone(j: V1Job): boolean {
  return j.status?.conditions?.some((x) => x.type === 'Complete' && x.status === 'True') ?? false;
}

/**
 * The Nodes of the target's groups as members, by name within each group (ordinals count from 0 per
 * group); `replacing`: a node that replaced another stands for it (its annotation), and the
 * members so claimed are returned.
 */
type Groups = { component: string; selector: string }[];

/** The component (control plane or pool) whose selector picks `n`, if any. */
function groupOf(groups: Groups, n: V1Node): string | undefined {
  return groups.find((g) => matchesSelector(n.metadata?.labels, g.selector))?.component;
}

function membersOfNodes(
  nodes: V1Node[],
  groups: Groups,
  replacing: boolean,
): { members: PlatformMember[]; byComponent: Map<string, number>; claimed: Set<string> } {
  const members: PlatformMember[] = [];
  const byComponent = new Map<string, number>();
  const claimed = new Set<string>();
  const sorted = [...nodes].sort((a, b) => BY_NAME.compare(a.metadata!.name!, b.metadata!.name!));
  for (const n of sorted) {
    const component = groupOf(groups, n);
    if (!component) continue;
    const node = n.metadata!.name!;
    const member = (replacing && n.metadata?.annotations?.[REPLACES_ANNOTATION]) || node;
    if (member !== node) claimed.add(member);
    const ordinal = byComponent.get(component) ?? 0;
    byComponent.set(component, ordinal + 1);
    members.push({
      name: member,
      component,
      ordinal,
      version: n.status?.nodeInfo?.kubeletVersion ?? '0.0.0',
      ready: ready(n),
      running: true,
      endpoint: node,
    });
  }
  return { members, byComponent, claimed };
}

/**
 * What the upgrade Jobs say of each member, in place: failed (its last Jobs failed and none runs,
 * named in the detail, kept for a human), and a NotReady node said so.
 */
function withJobs(members: PlatformMember[], jobs: V1Job[], jobNamespace: string): PlatformMember[] {
  const jobsByNode = new Map<string, V1Job[]>();
  for (const j of jobs) {
    const n = j.metadata?.annotations?.[JOB_LABELS.node];
    if (n) jobsByNode.set(n, [...(jobsByNode.get(n) ?? []), j]);
  }
  for (const m of members) {
    const node = m.endpoint ?? m.name;
    const own = jobsByNode.get(node) ?? [];
    const last = own.filter(jobFailed).at(-1);
    if (last && !own.some((j) => !jobFailed(j) && !jobDone(j))) {
      m.failed = true;
      m.detail = `upgrade Job ${jobNamespace}/${last.metadata?.name} failed (${jobFailed(last)}); it is kept for inspection`;
    }
    if (!m.ready && !m.detail) m.detail = `${node} is NotReady`;
  }
  return members;
}

/** Nodes of a nodes target as members; the actuator replaces them. */
export class KubernetesNodesPlatform implements Platform {
  readonly name = 'kubernetes';
  /** An upgrade Job (or a recorded replacement, then the Node's deletion) runs without Baton. */
  readonly durableActions = true;
  readonly journal: JournalStore;
  private readonly core: CoreV1Api;
  private readonly batch: BatchV1Api;
  private readonly o: NodesPlatformOptions;
  /** The Upgrade as `namespace.name` (a label value). */
  private readonly upgradeLabel: string;
  /**
   * The members last built from the informers' Node cache, with its change count then: a batch's
   * replacements and the observations after them reuse them while no Node changed, instead of
   * sorting and matching every Node again. Keyed by the Jobs' changes too, as it was, each of the
   * 64 replacements a batch starts at once built its own while the Jobs it created came in: 1.8 s
   * of the operator's CPU before the batch's first Job went out.
   */
  private built?: { changes: number; members: PlatformMember[] };
  private upgradeResource?: UpgradeResource;

  constructor(o: NodesPlatformOptions) {
    this.o = o;
    this.journal = o.journal;
    this.core = o.kc.makeApiClient(CoreV1Api);
    this.batch = o.kc.makeApiClient(BatchV1Api);
    this.upgradeLabel = upgradeLabelOf(o.namespace, o.name);
    this.upgradeResource = o.upgrade;
  }

  /** The latest copy of the Upgrade resource given (what runner Events are about). */
  get upgrade(): UpgradeResource | undefined {
    return this.upgradeResource;
  }

  /** Use a newer copy of the Upgrade resource (the operator calls this after each read). */
  setUpgrade(upgrade: UpgradeResource): void {
    this.upgradeResource = upgrade;
  }

  /** StatefulSets this target's members belong to: none (its members are Nodes). */
  knownTargetNames(): string[] {
    return [];
  }

  private deps(ctx: PortContext) {
    return { clock: ctx.clock, logger: ctx.logger, signal: ctx.signal };
  }

  private get jobNamespace(): string {
    return jobScope(this.o.namespace, this.o.name, this.o.target).namespace;
  }

  private get replacementsName(): string {
    return label(`baton-replaced-${this.o.name}`, `${this.o.namespace}/${this.o.name}`);
  }

  private listNodes(ctx: PortContext): Promise<{ items: V1Node[] }> {
    return withRetry('list nodes', () => this.core.listNode(), this.deps(ctx));
  }

  private listJobs(ctx: PortContext): Promise<{ items: V1Job[] }> {
    return withRetry(
      'list upgrade jobs',
      () =>
        this.batch
          .listNamespacedJob({
            namespace: this.jobNamespace,
            labelSelector: `${JOB_LABELS.upgrade}=${this.upgradeLabel}`,
          })
          .catch((err: unknown) => {
            if (isNotFound(err)) return { items: [] as V1Job[] };
            throw err;
          }),
      this.deps(ctx),
    );
  }

  async listMembers(ctx: PortContext): Promise<PlatformMember[]> {
    const replacing = this.o.target.actuator.type === 'replace';
    const inf = this.o.informers;
    const cached = inf && (await inf.fresh(ctx.signal));
    // The replace actuator also reads its record of replaced nodes (and may claim new ones).
    if (!cached || replacing) {
      this.built = undefined;
      return this.buildMembers(ctx, replacing, cached ? inf : undefined);
    }
    // Copies: callers annotate the members they are given.
    return withJobs(
      this.nodeMembers(inf).map((m) => ({ ...m })),
      inf.jobs.list(),
      this.jobNamespace,
    );
  }

  /**
   * The members as the Node cache shows them (no Job state), built again only once a Node changed.
   * Synchronous, so the replacements of a batch that start together share one build.
   */
  private nodeMembers(inf: NodeInformers): PlatformMember[] {
    const changes = inf.nodes.changes;
    if (this.built?.changes !== changes) {
      this.built = {
        changes,
        members: membersOfNodes(inf.nodes.list(), nodeGroups(this.o.target), false).members,
      };
    }
    return this.built.members;
  }

  private async buildMembers(
    ctx: PortContext,
    replacing: boolean,
    inf: NodeInformers | undefined,
  ): Promise<PlatformMember[]> {
    const cached = inf !== undefined;
    const [nodes, jobs, replaced] = await Promise.all([
      cached ? { items: inf.nodes.list() } : this.listNodes(ctx),
      cached ? { items: inf.jobs.list() } : this.listJobs(ctx),
      replacing ? this.readReplacements(ctx) : Promise.resolve(undefined),
    ]);
    const groups = nodeGroups(this.o.target);
    const { members: out, byComponent, claimed } = membersOfNodes(nodes.items, groups, replacing);
    withJobs(out, jobs.items, this.jobNamespace);
    // A node being replaced whose successor has not appeared yet: not running.
    for (const [old, r] of Object.entries(replaced ?? {})) {
      if (claimed.has(old) || out.some((m) => m.name === old)) continue;
      out.push({
        name: old,
        component: r.component,
        ordinal: byComponent.get(r.component) ?? 0,
        version: r.from,
        ready: false,
        running: false,
        detail: `${old} deleted; waiting for a new ${r.component} node at ${r.to}`,
      });
    }
    if (replaced) await this.claim(out, nodes.items, replaced, (n) => groupOf(groups, n), ctx);
    return out;
  }

  /** Give each replaced node without a successor the first unclaimed new node of its pool at the target. */
  private async claim(
    members: PlatformMember[],
    nodes: V1Node[],
    replaced: Record<string, Replacement>,
    groupOf: (n: V1Node) => string | undefined,
    ctx: PortContext,
  ): Promise<void> {
    const waiting = members.filter((m) => !m.running && replaced[m.name]);
    for (const m of waiting) {
      const r = replaced[m.name]!;
      const fresh = nodes.find(
        (n) =>
          groupOf(n) === r.component &&
          !n.metadata?.annotations?.[REPLACES_ANNOTATION] &&
          !replaced[n.metadata!.name!] &&
          atVersion(n.status?.nodeInfo?.kubeletVersion ?? '', r.to) &&
          !r.before.includes(n.metadata!.name!),
      );
      if (!fresh) continue;
      const node = fresh.metadata!.name!;
      try {
        const written = await this.core.patchNode(
          {
            name: node,
            body: {
              metadata: {
                resourceVersion: fresh.metadata?.resourceVersion,
                annotations: { [REPLACES_ANNOTATION]: m.name },
              },
            },
          },
          MERGE_PATCH,
        );
        this.o.informers?.wrote(node, written.metadata?.resourceVersion);
      } catch (err) {
        if (isConflict(err)) continue; // changed under us: claim on the next observation
        throw err;
      }
      ctx.logger.info('replacement node claimed', { member: m.name, node });
      const i = members.findIndex((x) => x.name === node);
      if (i >= 0) members.splice(i, 1);
      Object.assign(m, {
        running: true,
        ready: ready(fresh),
        version: fresh.status?.nodeInfo?.kubeletVersion ?? r.to,
        endpoint: node,
        detail: `replaced by ${node}`,
      });
    }
  }

  async replaceMember(name: string, version: string, _opts: ReplaceOptions, ctx: PortContext): Promise<void> {
    const inf = this.o.informers;
    // An upgrade Job reads only the Nodes of the members (no copies; runJob reads the Jobs itself).
    const members =
      this.o.target.actuator.type !== 'job'
        ? await this.listMembers(ctx)
        : inf && (await inf.fresh(ctx.signal))
          ? this.nodeMembers(inf)
          : await this.buildMembers(ctx, false, undefined);
    const m = members.find((x) => x.name === name);
    if (!m) throw new Error(`node ${name} is not part of this upgrade's target`);
    if (atVersion(m.version, version) && m.running) return;
    if (this.o.target.actuator.type === 'job') return this.runJob(m, version, members, ctx);
    return this.replaceNode(m, version, ctx);
  }

  private async runJob(
    m: PlatformMember,
    version: string,
    members: PlatformMember[],
    ctx: PortContext,
  ): Promise<void> {
    const spec = this.o.target.actuator.job!;
    const node = m.endpoint ?? m.name;
    const existing = await this.jobsOf(node, version, ctx);
    if (existing.some((j) => !jobFailed(j))) return; // running or done: the node restarts on its own
    const cp = members.filter((x) => x.component === 'control-plane');
    const first =
      m.component === 'control-plane' && !cp.some((x) => x.name !== m.name && atVersion(x.version, version));
    const env = [
      { name: 'NODE_NAME', value: node },
      { name: 'TARGET_VERSION', value: version },
      { name: 'NODE_ROLE', value: m.component === 'control-plane' ? 'control-plane' : 'worker' },
      { name: 'FIRST_CONTROL_PLANE', value: String(first) },
      ...(spec.env ?? []),
    ];
    const privileged = spec.privileged === true;
    const job: V1Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: label(`upgrade-${node}`, `${node}@${version}#${existing.length}`),
        namespace: this.jobNamespace,
        labels: { [JOB_LABELS.upgrade]: this.upgradeLabel, [JOB_LABELS.node]: label('n', node) },
        annotations: {
          [JOB_LABELS.node]: node,
          'baton.dev/target-version': version,
          'baton.dev/upgrade-name': `${this.o.namespace}/${this.o.name}`,
        },
      },
      spec: {
        backoffLimit: spec.backoffLimit ?? 0,
        template: {
          metadata: { labels: { [JOB_LABELS.upgrade]: this.upgradeLabel } },
          spec: {
            nodeName: node,
            restartPolicy: 'Never',
            tolerations: [{ operator: 'Exists' }],
            ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
            ...(privileged || spec.hostPID ? { hostPID: true } : {}),
            containers: [
              {
                name: 'upgrade',
                image: spec.image,
                ...(spec.command ? { command: spec.command } : {}),
                ...(spec.args ? { args: spec.args } : {}),
                env,
                ...(privileged
                  ? {
                      securityContext: { privileged: true },
                      volumeMounts: [{ name: 'host', mountPath: '/host' }],
                    }
                  : {}),
              },
            ],
            ...(privileged ? { volumes: [{ name: 'host', hostPath: { path: '/' } }] } : {}),
          },
        },
      },
    };
    await this.createJob(job, ctx);
    ctx.logger.info('upgrade job created', { node, job: job.metadata!.name, version });
  }

  /**
   * The upgrade Jobs of `node` for `version`: from the informers' cache when it is fresh (a batch of
   * hundreds of nodes sends no LIST per node), else one LIST. A Job this process created a moment
   * ago and the cache has not seen yet only makes the create meet its own name (409: the same Job).
   */
  private async jobsOf(node: string, version: string, ctx: PortContext): Promise<V1Job[]> {
    const forVersion = (jobs: V1Job[]) =>
      jobs.filter((j) => atVersion(j.metadata?.annotations?.['baton.dev/target-version'] ?? '', version));
    const inf = this.o.informers;
    if (inf && (await inf.fresh(ctx.signal))) {
      return forVersion(inf.jobs.list().filter((j) => j.metadata?.annotations?.[JOB_LABELS.node] === node));
    }
    const list = await withRetry(
      'list upgrade jobs',
      () =>
        this.batch.listNamespacedJob({
          namespace: this.jobNamespace,
          labelSelector: `${JOB_LABELS.upgrade}=${this.upgradeLabel},${JOB_LABELS.node}=${label('n', node)}`,
        }),
      this.deps(ctx),
    ).catch((err: unknown) => {
      if (isNotFound(err)) return { items: [] as V1Job[] };
      throw err;
    });
    return forVersion(list.items);
  }

  private async createJob(job: V1Job, ctx: PortContext): Promise<void> {
    try {
      await withRetry(
        'create upgrade job',
        () => this.batch.createNamespacedJob({ namespace: job.metadata!.namespace!, body: job }),
        this.deps(ctx),
      );
    } catch (err) {
      if (isConflict(err)) return; // created before a crash: the same Job
      throw new Error(
        `cannot create upgrade Job ${job.metadata?.namespace}/${job.metadata?.name}: ${apiMessage(err)}`,
        { cause: err },
      );
    }
  }

  private async replaceNode(m: PlatformMember, version: string, ctx: PortContext): Promise<void> {
    if (!m.running) return; // deleted already; waiting for its successor
    const node = m.endpoint ?? m.name;
    // The pool's nodes now: its replacement is a node of the pool not among them.
    const before = (await this.listMembers(ctx))
      .filter((x) => x.component === m.component)
      .map((x) => x.endpoint ?? x.name);
    await this.recordReplacement(
      m.name,
      { component: m.component, from: m.version, to: version, before },
      ctx,
    );
    const spec = this.o.target.actuator.replace;
    if (spec?.command) {
      const n = await this.core.readNode({ name: node }).catch(() => undefined);
      const job: V1Job = {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: {
          name: label(`delete-${node}`, `${node}@${version}`),
          namespace: this.jobNamespace,
          labels: { [JOB_LABELS.upgrade]: this.upgradeLabel },
          annotations: { 'baton.dev/deletes-node': node, 'baton.dev/target-version': version },
        },
        spec: {
          backoffLimit: 2,
          template: {
            spec: {
              restartPolicy: 'Never',
              ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
              containers: [
                {
                  name: 'delete-machine',
                  image: spec.image!,
                  command: spec.command,
                  env: [
                    { name: 'NODE_NAME', value: node },
                    { name: 'PROVIDER_ID', value: n?.spec?.providerID ?? '' },
                    { name: 'TARGET_VERSION', value: version },
                  ],
                },
              ],
            },
          },
        },
      };
      await this.createJob(job, ctx);
    }
    try {
      await withRetry('delete node', () => this.core.deleteNode({ name: node }), this.deps(ctx));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    ctx.logger.info('node deleted for replacement', { node, version });
  }

  private async readReplacements(ctx: PortContext): Promise<Record<string, Replacement>> {
    try {
      const cm = await withRetry(
        'read replacements',
        () => this.core.readNamespacedConfigMap({ name: this.replacementsName, namespace: this.o.namespace }),
        this.deps(ctx),
      );
      const out: Record<string, Replacement> = {};
      for (const [k, v] of Object.entries(cm.data ?? {})) {
        try {
          out[k] = JSON.parse(v) as Replacement;
        } catch {
          // not ours
        }
      }
      return out;
    } catch (err) {
      if (isNotFound(err)) return {};
      throw err;
    }
  }

  private async recordReplacement(member: string, r: Replacement, ctx: PortContext): Promise<void> {
    const known = await this.readReplacements(ctx);
    const prev = known[member];
    if (prev && atVersion(prev.to, r.to)) return;
    const body: V1ConfigMap = {
      metadata: {
        name: this.replacementsName,
        namespace: this.o.namespace,
        labels: { [JOB_LABELS.upgrade]: this.upgradeLabel },
      },
      data: { [member]: JSON.stringify(r) },
    };
    try {
      await this.core.createNamespacedConfigMap({ namespace: this.o.namespace, body });
    } catch (err) {
      if (!isConflict(err)) throw err;
      await this.core.patchNamespacedConfigMap(
        { name: this.replacementsName, namespace: this.o.namespace, body: { data: body.data } },
        MERGE_PATCH,
      );
    }
  }
}

/** A node deleted for replacement: its pool, versions, and the pool's nodes when it was deleted. */
interface Replacement {
  component: string;
  from: string;
  to: string;
  before: string[];
}
