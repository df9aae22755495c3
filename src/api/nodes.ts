/**
 * `spec.target.nodes` of an Upgrade: a Kubernetes node upgrade (engine `kubernetes-nodes`). Which
 * nodes form the control plane and each pool (label selectors; pools are components, upgraded
 * after the control plane), the intermediate releases of a multi-minor jump, how a node is drained,
 * and the actuator that upgrades it: a Job pinned to the node (`job`, system-upgrade-controller's
 * pattern; kubeadm clusters) or the cloud replacing it (`replace`). Parsed with zod; every default
 * lives here.
 */
import { z } from 'zod';
import { BadInputError } from '../core/errors.js';
import type { BatchPolicy } from '../core/types.js';

/** The engine that upgrades a nodes target (`spec.engine`, `--engine`). */
export const KUBERNETES_NODES_ENGINE = 'kubernetes-nodes';

/**
 * Batches of a node upgrade unless the spec or `--batch` says otherwise: ACK's 1, 2, 4, ... capped at
 * 10% of each pool (the control plane is always one node at a time).
 */
export const NODE_DEFAULT_BATCH: BatchPolicy = { kind: 'exponential', capPercent: 10 };

/** Label of control-plane nodes (kubeadm, and most distributions). */
export const CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane';

/** Namespace of Baton's upgrade Jobs unless the spec names another (ACK uses `kube-upgrade`). */
export const DEFAULT_UPGRADE_NAMESPACE = 'kube-upgrade';

const SELECTOR =
  /^!?[A-Za-z0-9./_-]+((=|==|!=)[A-Za-z0-9._-]*)?(,\s*!?[A-Za-z0-9./_-]+((=|==|!=)[A-Za-z0-9._-]*)?)*$/;

/** A node label selector as the spec and the CLI take it. */
export const labelSelectorSchema = z
  .string()
  .min(1)
  .regex(SELECTOR, 'a label selector such as pool=gpu or node-role.kubernetes.io/control-plane')
  .describe('label selector (key, key=value, key!=value, !key; comma-separated)');

const envVar = z.object({ name: z.string().min(1), value: z.string() });

const jobSpec = z
  .object({
    image: z.string().min(1).describe('image of the upgrade Job'),
    command: z.array(z.string()).min(1).optional().describe('command (default: the image entrypoint)'),
    args: z.array(z.string()).optional(),
    env: z
      .array(envVar)
      .optional()
      .describe(
        'extra environment; NODE_NAME, TARGET_VERSION, NODE_ROLE and FIRST_CONTROL_PLANE are set by Baton',
      ),
    privileged: z.boolean().optional().describe('run privileged with the host PID namespace and / at /host'),
    hostPID: z.boolean().optional(),
    namespace: z
      .string()
      .min(1)
      .optional()
      .describe(`namespace of the Jobs (default ${DEFAULT_UPGRADE_NAMESPACE})`),
    serviceAccountName: z.string().min(1).optional(),
    backoffLimit: z.number().int().min(0).max(10).optional().describe('retries of the Job pod (default 0)'),
  })
  .describe('a Job pinned to the node runs the upgrade (kubeadm upgrade apply|node, then kubelet)');

const replaceSpec = z
  .object({
    image: z.string().min(1).optional().describe('image of the Job that deletes the machine'),
    command: z
      .array(z.string())
      .min(1)
      .optional()
      .describe(
        'command of that Job (NODE_NAME, PROVIDER_ID and TARGET_VERSION set); absent: only the Node is deleted',
      ),
    namespace: z.string().min(1).optional(),
    serviceAccountName: z.string().min(1).optional(),
  })
  .describe(
    'the node pool replaces the node: Baton deletes it and waits for a new node at the target version',
  );

/** Schema of `spec.target.nodes`. */
export const nodesTargetSchema = z
  .object({
    controlPlane: z
      .object({ selector: labelSelectorSchema.optional() })
      .optional()
      .describe(`control-plane nodes (default selector ${CONTROL_PLANE_LABEL})`),
    pools: z
      .array(z.object({ name: z.string().min(1), selector: labelSelectorSchema }))
      .optional()
      .describe('node pools in order, each a component (default: one pool "workers" of every other node)'),
    via: z
      .array(z.string().min(1))
      .optional()
      .describe('release of each minor a multi-minor jump passes through, e.g. v1.36.4'),
    actuator: z
      .object({
        type: z.enum(['job', 'replace']),
        job: jobSpec.optional(),
        replace: replaceSpec.optional(),
      })
      .describe('how a drained node is upgraded'),
    drain: z
      .object({
        gracePeriodSeconds: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe("each evicted pod's grace period (default: the pod's own)"),
        podsWithoutController: z
          .enum(['refuse', 'delete'])
          .optional()
          .describe('pods no controller recreates: refuse to drain (default) or delete them'),
        localStorage: z
          .enum(['refuse', 'evict'])
          .optional()
          .describe('pods with emptyDir data: refuse to drain (default) or evict them, losing the data'),
      })
      .optional(),
  })
  .describe('Kubernetes nodes: the control plane one node at a time, then each pool in batches');

/** `spec.target.nodes` as written. */
export type NodesTarget = z.infer<typeof nodesTargetSchema>;

/** A pool with its selector, in upgrade order (the control plane first). */
export interface NodeGroup {
  component: string;
  selector: string;
}

/** What a node's drain does with pods an eviction cannot handle, with defaults applied. */
export interface DrainOptions {
  gracePeriodSeconds?: number;
  podsWithoutController: 'refuse' | 'delete';
  localStorage: 'refuse' | 'evict';
}

/**
 * Label of a StatefulSet that runs a database Baton knows (its value: the engine, e.g. `etcd`): a node
 * drain hands over what such a pod holds through that engine before evicting it.
 */
export const DATABASE_ENGINE_LABEL = 'baton.dev/engine';

/**
 * Labels of such a StatefulSet naming which of the engine's components it runs (its value: a
 * component of the engine's rules, e.g. `pd`, `tikv` or `tidb`), first found wins: Baton's own, then
 * the recommended Kubernetes label that TiDB Operator puts on its StatefulSets. A value that is not a
 * component of the engine is ignored (the engine's components together decide).
 */
export const DATABASE_COMPONENT_LABELS = ['baton.dev/component', 'app.kubernetes.io/component'] as const;

/** Annotations Baton writes on the Nodes it drains. */
export const NODE_ANNOTATIONS = {
  /**
   * `<namespace>/<upgrade>` of the Upgrade that cordoned the node. Present only on a node Baton
   * cordoned: Baton uncordons only such a node, so an admin's cordon stays.
   */
  cordonedBy: 'baton.dev/cordoned-by',
  /**
   * JSON {@link DrainRecord}: what the drain took off the node, so that after the node is back the
   * wait for its evicted workloads and database members survives a restart of Baton.
   */
  drained: 'baton.dev/drained',
} as const;

/** What a node's drain took off it: the workloads and database members to wait for afterwards. */
export interface DrainRecord {
  /** `<namespace>/<upgrade>` that drained it. */
  upgrade: string;
  /** Controllers of the evicted pods, `<namespace>/<Kind>/<name>` (Deployment, StatefulSet, ...). */
  workloads: string[];
  /** Database members evicted, `<namespace>/<statefulset>/<pod>`. */
  databases: string[];
  /**
   * Per workload of `workloads`, how many of its desired replicas were already unavailable when this
   * drain first recorded it (before it evicted anything of it); absent means none. The catch-up
   * waits until the workload is no worse than that, so a replica broken before the drain does not
   * hold the node.
   */
  unavailableBefore?: Record<string, number>;
}

/** The drain record of a node's annotations, or undefined when absent or unreadable. */
export function readDrainRecord(annotations: Record<string, string> | undefined): DrainRecord | undefined {
  const raw = annotations?.[NODE_ANNOTATIONS.drained];
  if (!raw) return undefined;
  try {
    const r = JSON.parse(raw) as Partial<DrainRecord>;
    if (typeof r.upgrade !== 'string') return undefined;
    const strings = (x: unknown) =>
      Array.isArray(x) ? x.filter((v): v is string => typeof v === 'string') : [];
    const before = Object.entries(r.unavailableBefore ?? {}).filter(
      (e): e is [string, number] => Number.isInteger(e[1]) && (e[1] as number) > 0,
    );
    return {
      upgrade: r.upgrade,
      workloads: strings(r.workloads),
      databases: strings(r.databases),
      ...(before.length > 0 ? { unavailableBefore: Object.fromEntries(before) } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether `labels` satisfy `selector` (the equality-based label selectors of {@link nodesTargetSchema}:
 * `key`, `!key`, `key=value`, `key==value`, `key!=value`, comma-separated, all must hold).
 */
export function matchesSelector(labels: Record<string, string> | undefined, selector: string): boolean {
  const l = labels ?? {};
  return selector
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .every((term) => {
      if (term.startsWith('!')) return !Object.hasOwn(l, term.slice(1));
      const ne = term.indexOf('!=');
      if (ne > 0) return l[term.slice(0, ne)] !== term.slice(ne + 2);
      const eq = term.indexOf('=');
      if (eq < 0) return Object.hasOwn(l, term);
      const value = term.slice(term[eq + 1] === '=' ? eq + 2 : eq + 1);
      return l[term.slice(0, eq)] === value;
    });
}

/** The control plane and pools of a nodes target, with defaults: the control plane first. */
export function nodeGroups(t: NodesTarget): NodeGroup[] {
  const cp = t.controlPlane?.selector ?? CONTROL_PLANE_LABEL;
  const pools = t.pools && t.pools.length > 0 ? t.pools : [{ name: 'workers', selector: notSelected(cp) }];
  return [
    { component: 'control-plane', selector: cp },
    ...pools.map((p) => ({ component: p.name, selector: p.selector })),
  ];
}

/** The drain options of a nodes target, with defaults. */
export function drainOptions(t: NodesTarget): DrainOptions {
  return {
    ...(t.drain?.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: t.drain.gracePeriodSeconds } : {}),
    podsWithoutController: t.drain?.podsWithoutController ?? 'refuse',
    localStorage: t.drain?.localStorage ?? 'refuse',
  };
}

/** The selector of every node the control-plane selector does not pick (a single key or key=value). */
function notSelected(cp: string): string {
  const m = /^([A-Za-z0-9./_-]+)(?:(=|==)([A-Za-z0-9._-]*))?$/.exec(cp);
  if (!m) {
    throw new BadInputError(
      'bad-spec',
      `spec.target.nodes.pools: the control-plane selector "${cp}" has several terms, so "every other node" cannot be written as one selector: list the pools with their selectors`,
    );
  }
  return m[3] === undefined ? `!${m[1]}` : `${m[1]}!=${m[3]}`;
}

/**
 * Validate the parts of a nodes target zod cannot express: pool names are distinct DNS labels and
 * not `control-plane`, the actuator has its settings, `via` entries parse as versions elsewhere.
 * Throws BadInputError naming the field.
 */
export function checkNodesTarget(t: NodesTarget): void {
  const names = (t.pools ?? []).map((p) => p.name);
  for (const [i, name] of names.entries()) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 40) {
      throw new BadInputError(
        'bad-spec',
        `spec.target.nodes.pools.${i}.name: "${name}" is not a pool name; use lower-case letters, digits and '-' (at most 40)`,
      );
    }
    if (name === 'control-plane') {
      throw new BadInputError(
        'bad-spec',
        `spec.target.nodes.pools.${i}.name: "control-plane" is the control plane's; name the pool otherwise`,
      );
    }
    if (names.indexOf(name) !== i) {
      throw new BadInputError(
        'bad-spec',
        `spec.target.nodes.pools.${i}.name: pool "${name}" is listed twice; merge the entries`,
      );
    }
  }
  const a = t.actuator;
  if (a.type === 'job' && !a.job) {
    throw new BadInputError(
      'bad-spec',
      'spec.target.nodes.actuator.job: required for actuator type job (image and command of the upgrade Job)',
    );
  }
  if (a.type === 'replace' && a.replace?.command && !a.replace.image) {
    throw new BadInputError(
      'bad-spec',
      'spec.target.nodes.actuator.replace.image: required with replace.command (the image that runs it)',
    );
  }
  nodeGroups(t);
}
