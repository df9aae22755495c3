/**
 * Starting an upgrade: validate the request, observe the cluster, build the plan, and create the
 * journal record. Bad input (unknown component, unparsable version, downgrade, impossible path) is
 * rejected here, before anything is written.
 */
import { DEFAULT_PAUSED_EXPIRY_SECONDS, DEFAULT_STRATEGY } from '../core/defaults.js';
import { BadInputError } from '../core/errors.js';
import type { Engine, Platform, PortContext, UpgradeRecord } from '../core/ports.js';
import type { MemberProgress, Snapshot, StrategySpec, UpgradeSpec, UpgradeStatus } from '../core/types.js';
import { hopTarget } from '../plan/hop.js';
import { buildPlan } from '../plan/plan.js';
import type { Plan } from '../core/types.js';
import { atVersion, parseVersion } from '../core/version.js';
import { observe } from './observe.js';
import { newStatus, record } from './status.js';

export { DEFAULT_PAUSED_EXPIRY_SECONDS, DEFAULT_STRATEGY };

function definedFields<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A complete spec from the fields a user gave (left out or undefined: the default). */
export function makeSpec(
  input: Pick<UpgradeSpec, 'cluster' | 'engine' | 'version'> &
    Partial<Omit<UpgradeSpec, 'strategy'>> & {
      strategy?: Partial<Omit<StrategySpec, 'timeouts'>> & { timeouts?: Partial<StrategySpec['timeouts']> };
    },
): UpgradeSpec {
  parseVersion(input.version);
  // A field left out, or given as undefined, takes its default (core/defaults.ts).
  const strategy: StrategySpec = {
    ...DEFAULT_STRATEGY,
    ...definedFields(input.strategy),
    timeouts: { ...DEFAULT_STRATEGY.timeouts, ...definedFields(input.strategy?.timeouts) },
  };
  if (!Number.isInteger(strategy.maxUnavailable) || strategy.maxUnavailable < 1) {
    throw new BadInputError(
      'bad-budget',
      `maxUnavailable must be a whole number >= 1 (got ${strategy.maxUnavailable})`,
    );
  }
  if (strategy.soakSeconds < 0) throw new BadInputError('bad-soak', `soak time must be >= 0 seconds`);
  for (const [k, v] of Object.entries(strategy.timeouts)) {
    if (typeof v === 'number' && !(v > 0))
      throw new BadInputError('bad-timeout', `timeout ${k} must be > 0 seconds`);
  }
  return {
    name: input.name ?? `${input.cluster}-upgrade`,
    cluster: input.cluster,
    engine: input.engine,
    version: input.version,
    components: input.components,
    strategy,
    paused: input.paused ?? false,
    cancel: input.cancel ?? false,
    force: input.force ?? [],
    finalize: input.finalize ?? 'auto',
    finalizeRequested: input.finalizeRequested ?? false,
    rollback: input.rollback ?? false,
    supervised: input.supervised ?? false,
    pausedExpirySeconds: input.pausedExpirySeconds ?? DEFAULT_PAUSED_EXPIRY_SECONDS,
    generation: input.generation ?? 1,
    ...(input.probe ? { probe: input.probe } : {}),
  };
}

/** Observe and plan without writing anything (`baton plan`). */
export async function previewPlan(
  platform: Platform,
  engine: Engine,
  spec: UpgradeSpec,
  ctx: PortContext,
): Promise<{ plan: Plan; snapshot: Snapshot }> {
  const snapshot = await observe(platform, engine, ctx);
  if (snapshot.members.length === 0) {
    throw new BadInputError('empty-cluster', `cluster "${spec.cluster}" has no members: check its name`);
  }
  const plan = buildPlan({ spec, snapshot, rules: engine.rules });
  if (platform.custody) plan.custody = await platform.custody.describe(ctx);
  return { plan, snapshot };
}

/** Member progress entries for the first pass of a plan. */
export function initialMembers(plan: Plan, snapshot: Snapshot, now: number): Record<string, MemberProgress> {
  const members: Record<string, MemberProgress> = {};
  const views = new Map(snapshot.members.map((m) => [m.name, m]));
  for (const c of plan.components) {
    // The first hop's target; null when the component stays where it is in it (a node pool the
    // version skew policy lets wait while the control plane takes an intermediate minor).
    const to = hopTarget(plan.path, 0, c);
    const planned = new Map(c.members.map((m) => [m.name, m]));
    const current = new Set(c.upToDate);
    for (const name of [...c.members.map((m) => m.name), ...c.upToDate]) {
      const from = views.get(name)?.version ?? planned.get(name)?.version ?? to ?? c.version;
      const upToDate = current.has(name) && atVersion(from, c.version);
      const stays = to === null && !upToDate;
      members[name] = {
        component: c.name,
        state: upToDate || stays ? 'done' : 'pending',
        from,
        to: upToDate ? c.version : (to ?? from),
        since: now,
        replaceCalls: 0,
        ...(upToDate || stays ? { finishedAt: now } : {}),
      };
    }
  }
  return members;
}

/** The status of a new upgrade (phase Pending) with its plan and the first pass's members. */
export function initialStatus(spec: UpgradeSpec, plan: Plan, snapshot: Snapshot, now: number): UpgradeStatus {
  const status = newStatus(spec, now);
  status.plan = plan;
  status.startedAt = now;
  status.members = initialMembers(plan, snapshot, now);
  status.progress = {
    done: Object.values(status.members).filter((m) => m.state === 'done').length,
    total: Object.keys(status.members).length,
  };
  record(status, {
    at: now,
    type: 'step',
    message: `planned ${plan.path.map((h) => `${h.from} -> ${h.to}`).join(', ') || 'no version change'}: ${plan.components
      .map((c) => `${c.name} (${c.batches.length} batch(es))`)
      .join(', ')}`,
  });
  return status;
}

/** Plan and create the journal record of a new upgrade (status Pending). */
export async function createUpgrade(
  platform: Platform,
  engine: Engine,
  spec: UpgradeSpec,
  ctx: PortContext,
): Promise<UpgradeRecord> {
  const { plan, snapshot } = await previewPlan(platform, engine, spec, ctx);
  const status = initialStatus(spec, plan, snapshot, ctx.clock.now());
  return platform.journal.create(spec, status);
}
