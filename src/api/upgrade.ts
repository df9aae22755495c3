/**
 * The `Upgrade` custom resource (group `baton.dev`, version `v1alpha1`, short name `upg`): its spec
 * schema (zod, the one the code validates with), the conversion to the core {@link UpgradeSpec},
 * and the CRD generated from the same schema, structural so the API server accepts it.
 */
import { z } from 'zod';
import { BadInputError } from '../core/errors.js';
import type { BatchPolicy, ProbeSpec, UpgradeSpec, UpgradeStatus } from '../core/types.js';
import { DEFAULT_PAUSED_EXPIRY_SECONDS, DEFAULT_STRATEGY, durationText } from '../core/defaults.js';
import { parseDurationSeconds } from '../core/duration.js';
import { makeSpec } from '../runner/start.js';
import { checkNodesTarget, KUBERNETES_NODES_ENGINE, NODE_DEFAULT_BATCH, nodesTargetSchema } from './nodes.js';

export const GROUP = 'baton.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'Upgrade';
export const PLURAL = 'upgrades';
export const SINGULAR = 'upgrade';
export const SHORT_NAMES = ['upg'];
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Labels and annotations Baton reads and writes. */
export const LABELS = {
  /** On a StatefulSet: Baton drives its rolls (value "true"). */
  managed: 'baton.dev/managed',
  /** On a managed StatefulSet: engine for its Upgrades (default `generic`). */
  engine: 'baton.dev/engine',
  /** On a managed StatefulSet: component name (default the StatefulSet name). */
  component: 'baton.dev/component',
  /** On Upgrades created for a managed StatefulSet: its name. */
  statefulSet: 'baton.dev/statefulset',
} as const;

const duration = z
  .string()
  .regex(/^\d+(\.\d+)?(ms|s|m|h|d)$/, 'a duration like 500ms, 30s, 5m, 2h or 15d')
  .describe('duration: 500ms, 30s, 5m, 2h, 15d');

const componentRef = z.object({
  name: z.string().min(1).describe('StatefulSet name'),
  component: z.string().min(1).optional().describe('component name (default: the StatefulSet name)'),
});

/** Spec schema of the Upgrade resource. */
export const upgradeSpecSchema = z
  .object({
    target: z
      .object({
        statefulSet: z.string().min(1).optional().describe('one StatefulSet: one component'),
        statefulSets: z.array(componentRef).optional().describe('several StatefulSets, one component each'),
        cluster: z
          .object({
            apiVersion: z
              .string()
              .optional()
              .describe('group/version of the kind (optional for TidbCluster and CrdbCluster)'),
            kind: z.string().min(1).describe('TidbCluster, CrdbCluster, or any kind that owns StatefulSets'),
            name: z.string().min(1).describe('name of the cluster object in the Upgrade namespace'),
          })
          .optional()
          .describe(
            'engine-specific cluster reference: its StatefulSets are the components (a TidbCluster is paused for the roll and handed back with the new version)',
          ),
        service: z
          .string()
          .optional()
          .describe('headless Service for pod DNS names (default: the StatefulSet serviceName)'),
        endpointTemplate: z
          .string()
          .optional()
          .describe('admin endpoint of a member: placeholders {pod} {service} {namespace} {port} {podIP}'),
        endpoints: z
          .record(z.string(), z.string().min(1))
          .optional()
          .describe(
            'admin endpoint (host:port) per pod name; overrides endpointTemplate for the pods it names (port-forwards, tests)',
          ),
        port: z.number().int().min(1).max(65535).optional().describe('admin port of the engine'),
        container: z
          .string()
          .optional()
          .describe('container whose image tag is the version (default: the first)'),
        nodes: nodesTargetSchema.optional(),
      })
      .describe('what to upgrade'),
    engine: z
      .string()
      .min(1)
      .default('generic')
      .describe(
        'database engine: generic, etcd, postgres, redis, cockroachdb, tidb; kubernetes-nodes for a nodes target',
      ),
    version: z.string().min(1).describe('target version (image tag)'),
    componentVersions: z.record(z.string(), z.string()).optional().describe('per-component target versions'),
    strategy: z
      .object({
        batch: z
          .object({
            type: z.enum(['serial', 'fixed', 'percent', 'exponential']).default(DEFAULT_STRATEGY.batch.kind),
            size: z.number().int().min(1).optional(),
            percent: z.number().min(1).max(100).optional(),
            capPercent: z.number().min(1).max(100).optional(),
          })
          .optional(),
        maxUnavailable: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('most members of a component down at once (nodes: default the batch cap)'),
        maxFailedMembers: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe('members (nodes) that may fail and be left for a human before the upgrade pauses'),
        soak: duration.optional(),
        pauseAfterFirstBatch: z.boolean().optional(),
        pauseAfterEachBatch: z.boolean().optional(),
        minReadySeconds: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe('a replaced pod must stay Ready this long'),
        timeouts: z
          .object({
            drain: duration.optional(),
            drainPolicy: z
              .enum(['pause', 'proceed', 'delete', 'give-up'])
              .optional()
              .describe('pause, proceed (where safe); node upgrades also delete or give-up'),
            ready: duration.optional(),
            readyPolicy: z.enum(['pause', 'proceed']).optional(),
          })
          .optional(),
      })
      .optional(),
    paused: z.boolean().optional(),
    cancel: z.boolean().optional(),
    force: z.array(z.string()).optional().describe('failing prechecks to skip (* for all)'),
    finalize: z.enum(['auto', 'manual']).optional(),
    finalizeRequested: z.boolean().optional(),
    rollback: z.boolean().optional(),
    supervised: z.boolean().optional(),
    expiry: duration
      .optional()
      .describe(
        `a paused upgrade expires after this long (default ${durationText(DEFAULT_PAUSED_EXPIRY_SECONDS)})`,
      ),
    probe: z
      .object({
        rate: z.number().min(0.1).max(100000).optional().describe('operations per second, open loop'),
        workers: z.number().int().min(1).max(256).optional().describe('connections (operations in flight)'),
        readRatio: z.number().min(0).max(1).optional().describe('share of reads'),
        maxWriteGap: duration.optional().describe('pause when no write is acknowledged for this long'),
        maxErrorRate: z
          .number()
          .min(0)
          .max(1)
          .optional()
          .describe('pause above this share of failed operations'),
        maxP99: duration.optional().describe('pause when p99 latency over the last 10 s exceeds this'),
      })
      .optional()
      .describe('client probe load and safety gate, used when the upgrade is driven with a probe'),
    credentialsSecret: z
      .object({
        name: z.string().min(1),
        usernameKey: z.string().optional(),
        passwordKey: z.string().optional(),
      })
      .optional()
      .describe('Secret with the engine admin credentials (never logged or put in status)'),
  })
  .describe('Upgrade spec');

/** The spec as written in the resource. */
export type UpgradeResourceSpec = z.infer<typeof upgradeSpecSchema>;

/** The resource as the API returns it. */
export interface UpgradeResource {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: UpgradeResourceSpec;
  status?: UpgradeResourceStatus;
}

/** A Kubernetes condition. */
export interface Condition {
  type: 'Progressing' | 'Paused' | 'Blocked' | 'Ready' | 'Warning';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Status of the resource: the runner's journal plus Kubernetes conditions and printer fields. */
export interface UpgradeResourceStatus extends Partial<UpgradeStatus> {
  conditions?: Condition[];
  /** "7/12" for the printer column. */
  progressText?: string;
  /** The step in progress, for the printer column. */
  currentStep?: string;
}

/** Validate a resource spec; BadInputError naming the field. */
export function parseResourceSpec(spec: unknown): UpgradeResourceSpec {
  const r = upgradeSpecSchema.safeParse(spec);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = ['spec', ...issue.path.map(String)].join('.');
    throw new BadInputError('bad-spec', `${path}: ${issue.message}`);
  }
  const t = r.data.target;
  const refs = [t.statefulSet, t.statefulSets, t.cluster, t.nodes].filter((x) => x !== undefined).length;
  if (refs !== 1) {
    throw new BadInputError(
      'bad-spec',
      'spec.target: set exactly one of statefulSet, statefulSets, cluster or nodes',
    );
  }
  if (t.nodes) {
    checkNodesTarget(t.nodes);
    // A nodes target is upgraded by the node engine; `generic` is only the schema's default.
    if (r.data.engine === 'generic') return { ...r.data, engine: KUBERNETES_NODES_ENGINE };
    if (r.data.engine !== KUBERNETES_NODES_ENGINE) {
      throw new BadInputError(
        'bad-spec',
        `spec.engine: a nodes target is upgraded by engine ${KUBERNETES_NODES_ENGINE}, not ${r.data.engine}; drop spec.engine or set it to ${KUBERNETES_NODES_ENGINE}`,
      );
    }
  } else if (r.data.engine === KUBERNETES_NODES_ENGINE) {
    throw new BadInputError(
      'bad-spec',
      `spec.target.nodes: engine ${KUBERNETES_NODES_ENGINE} upgrades nodes; give spec.target.nodes (the control plane, pools and actuator)`,
    );
  }
  return r.data;
}

/** Members of a component that may be down at once when the spec gives no limit (node pools: the batch cap). */
export const NO_UNAVAILABILITY_LIMIT = 1_000_000;

function batchOf(b: NonNullable<NonNullable<UpgradeResourceSpec['strategy']>['batch']>): BatchPolicy {
  switch (b.type) {
    case 'serial':
      return { kind: 'serial' };
    case 'fixed':
      if (!b.size) throw new BadInputError('bad-spec', 'spec.strategy.batch.size is required for type fixed');
      return { kind: 'fixed', size: b.size };
    case 'percent':
      if (!b.percent)
        throw new BadInputError('bad-spec', 'spec.strategy.batch.percent is required for type percent');
      return { kind: 'percent', percent: b.percent };
    case 'exponential':
      return { kind: 'exponential', capPercent: b.capPercent ?? 10 };
  }
}

/** Core spec of a resource (validated). `cluster` is the namespace/name the platform reports. */
export function toUpgradeSpec(res: UpgradeResource, cluster: string): UpgradeSpec {
  const s = parseResourceSpec(res.spec);
  const st = s.strategy ?? {};
  const nodes = s.target.nodes !== undefined;
  if (st.timeouts?.drainPolicy === 'delete' || st.timeouts?.drainPolicy === 'give-up') {
    if (!nodes) {
      throw new BadInputError(
        'bad-spec',
        `spec.strategy.timeouts.drainPolicy: ${st.timeouts.drainPolicy} applies to node upgrades (spec.target.nodes); use pause or proceed`,
      );
    }
  }
  return makeSpec({
    name: res.metadata.name,
    cluster,
    engine: s.engine,
    version: s.version,
    components: s.componentVersions
      ? Object.entries(s.componentVersions).map(([name, version]) => ({ name, version }))
      : undefined,
    strategy: {
      // Node upgrades default to ACK's batches (1, 2, 4, ... capped at 10% of each pool), limited only
      // by that cap; everything else to one member at a time.
      batch: st.batch ? batchOf(st.batch) : nodes ? NODE_DEFAULT_BATCH : DEFAULT_STRATEGY.batch,
      maxUnavailable:
        st.maxUnavailable ?? (nodes ? NO_UNAVAILABILITY_LIMIT : DEFAULT_STRATEGY.maxUnavailable),
      ...(st.maxFailedMembers !== undefined ? { maxFailedMembers: st.maxFailedMembers } : {}),
      // Fields left out take the defaults of core/defaults.ts (makeSpec fills them in).
      soakSeconds: st.soak ? parseDurationSeconds('spec.strategy.soak', st.soak) : undefined,
      pauseAfterFirstBatch: st.pauseAfterFirstBatch,
      pauseAfterEachBatch: st.pauseAfterEachBatch,
      timeouts: {
        drainSeconds: st.timeouts?.drain
          ? parseDurationSeconds('spec.strategy.timeouts.drain', st.timeouts.drain)
          : undefined,
        drainPolicy: st.timeouts?.drainPolicy,
        readySeconds: st.timeouts?.ready
          ? parseDurationSeconds('spec.strategy.timeouts.ready', st.timeouts.ready)
          : undefined,
        readyPolicy: st.timeouts?.readyPolicy,
      },
    },
    paused: s.paused ?? false,
    cancel: s.cancel ?? false,
    force: s.force ?? [],
    finalize: s.finalize ?? 'auto',
    finalizeRequested: s.finalizeRequested ?? false,
    rollback: s.rollback ?? false,
    supervised: s.supervised ?? false,
    pausedExpirySeconds: s.expiry ? parseDurationSeconds('spec.expiry', s.expiry) : undefined,
    generation: res.metadata.generation ?? 1,
    probe: s.probe ? probeSpecOf(s.probe) : undefined,
  });
}

function probeSpecOf(p: NonNullable<UpgradeResourceSpec['probe']>): ProbeSpec {
  const ms = (field: string, d: string | undefined) =>
    d === undefined ? undefined : Math.round(parseDurationSeconds(`spec.probe.${field}`, d) * 1000);
  const spec: ProbeSpec = {
    rate: p.rate,
    workers: p.workers,
    readRatio: p.readRatio,
    maxWriteGapMs: ms('maxWriteGap', p.maxWriteGap),
    maxErrorRate: p.maxErrorRate,
    maxP99Ms: ms('maxP99', p.maxP99),
  };
  return Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as ProbeSpec;
}

type JsonSchema = Record<string, unknown>;

/**
 * Make a JSON schema structural for Kubernetes: no `oneOf`/`anyOf` without types, no
 * `additionalProperties: false`, no JavaScript-only bounds, every node typed.
 */
export function structural(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$schema' || (k === 'additionalProperties' && v === false)) continue;
    if (
      (k === 'maximum' && v === Number.MAX_SAFE_INTEGER) ||
      (k === 'minimum' && v === Number.MIN_SAFE_INTEGER)
    )
      continue;
    if (k === 'properties' && v && typeof v === 'object') {
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, JsonSchema>).map(([p, s]) => [p, structural(s)]),
      );
    } else if ((k === 'items' || k === 'additionalProperties') && v && typeof v === 'object') {
      out[k] = structural(v as JsonSchema);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** OpenAPI v3 schema of the whole resource (spec from zod; status preserved as written by Baton). */
export function upgradeOpenApiSchema(): JsonSchema {
  const spec = structural(
    z.toJSONSchema(upgradeSpecSchema, { target: 'openapi-3.0', io: 'input' }) as JsonSchema,
  );
  return {
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec,
      status: {
        type: 'object',
        description: 'Written by Baton: phase, conditions, plan, progress, members, history (the journal).',
        'x-kubernetes-preserve-unknown-fields': true,
        // Only Baton writes status, always whole (PUT to /status). As an atomic map the apiserver
        // tracks one managed field for it instead of one per leaf of the journal (members,
        // history...), so each status write computes and stores a fieldset of one entry, not
        // hundreds, and `kubectl get -o yaml` is not mostly managedFields.
        'x-kubernetes-map-type': 'atomic',
        properties: {
          phase: { type: 'string' },
          reason: { type: 'string' },
          observedGeneration: { type: 'integer' },
          progressText: { type: 'string' },
          currentStep: { type: 'string' },
          conditions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['type', 'status'],
              properties: {
                type: { type: 'string' },
                status: { type: 'string' },
                reason: { type: 'string' },
                message: { type: 'string' },
                lastTransitionTime: { type: 'string', format: 'date-time' },
                observedGeneration: { type: 'integer' },
              },
            },
          },
        },
      },
    },
    required: ['spec'],
  };
}

/** The CustomResourceDefinition of `Upgrade`. */
export function upgradeCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: SHORT_NAMES,
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Progress', type: 'string', jsonPath: '.status.progressText' },
            { name: 'Step', type: 'string', jsonPath: '.status.currentStep', priority: 0 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: upgradeOpenApiSchema() },
        },
      ],
    },
  };
}
