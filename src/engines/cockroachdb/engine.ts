/**
 * The CockroachDB engine: node readiness, leases and range health through the admin client
 * (client.ts), the drain `cockroach node drain` performs before a node's process stops,
 * `cluster.preserve_downgrade_option` before a major version's roll, and finalization by
 * resetting it. Works on any platform that gives each member an endpoint from which
 * {@link CockroachEngineOptions.addresses} derives the node's SQL, HTTP and RPC addresses.
 *
 * A member is healthy when `/health?ready=1` answers, the cluster lists its node as LIVE and the
 * node's build tag names the release the platform says it runs (the real running version, not
 * the image tag alone); it is caught up when, in addition, no range is under-replicated or
 * unavailable. The cluster is healthy when every member is, and the cluster version is not in the
 * middle of a finalization.
 */
import { OperationalError } from '../../core/errors.js';
import type {
  DrainResult,
  Engine,
  EngineActionContext,
  EngineObservation,
  PortContext,
} from '../../core/ports.js';
import type {
  EngineMemberState,
  MemberView,
  PlatformMember,
  PrecheckResult,
  Snapshot,
  UpgradeSpec,
} from '../../core/types.js';
import type { EngineRules } from '../../core/rules.js';
import {
  type CockroachAddresses,
  type CockroachAdminApi,
  CockroachAdminClient,
  type CockroachAdminClientOptions,
  defaultAddresses,
} from './client.js';
import { majorOf } from './cluster-version.js';
import { type CockroachView, livenessOf, lookAt, type ReachedNode } from './observe.js';
import { cockroachPrechecks, sameRelease } from './prechecks.js';
import { cockroachdbRules } from './rules.js';
import { PRESERVE_DOWNGRADE_OPTION } from './sql.js';

/** Options of {@link CockroachEngine}. */
export interface CockroachEngineOptions {
  /** The admin client; default a new {@link CockroachAdminClient} (closed by {@link CockroachEngine.close}). */
  client?: CockroachAdminApi;
  /** Options of the default client (credentials, schemes, deadlines); ignored with `client`. */
  clientOptions?: CockroachAdminClientOptions;
  /** A member's addresses from its platform endpoint; default {@link defaultAddresses}. */
  addresses?: (endpoint: string) => CockroachAddresses;
  /** Most Drain calls one drain step makes before leaving the rest to the runner's timeout. Default 20. */
  maxDrainCalls?: number;
}

/** CockroachDB through pgwire, its HTTP endpoints and the gRPC Drain call. */
export class CockroachEngine implements Engine {
  readonly name = 'cockroachdb';
  readonly rules: EngineRules = cockroachdbRules;
  private readonly client: CockroachAdminApi;
  private readonly ownsClient: boolean;
  private readonly addressesOf: (endpoint: string) => CockroachAddresses;
  private readonly maxDrainCalls: number;

  constructor(opts: CockroachEngineOptions = {}) {
    this.ownsClient = opts.client === undefined;
    this.client = opts.client ?? new CockroachAdminClient(opts.clientOptions);
    this.addressesOf = opts.addresses ?? ((e) => defaultAddresses(e));
    this.maxDrainCalls = opts.maxDrainCalls ?? 20;
  }

  private look(members: PlatformMember[]): Promise<CockroachView> {
    return lookAt(this.client, members, this.addressesOf);
  }

  private stateOf(r: ReachedNode, view: CockroachView): EngineMemberState {
    const liveness = livenessOf(view, r.nodeId);
    const versionOk = sameRelease(r.member.version, r.buildTag);
    const healthy = r.readiness.ready && liveness === 'LIVE' && versionOk;
    const rangesOk = view.underReplicated === 0 && view.unavailable === 0;
    const problems = [
      ...(r.readiness.ready ? [] : [`not ready: ${r.readiness.reason ?? 'unknown'}`]),
      ...(liveness === 'LIVE' ? [] : [`liveness ${liveness}`]),
      ...(versionOk ? [] : [`reports ${r.buildTag}, not ${r.member.version}`]),
    ];
    return {
      role: 'follower',
      healthy,
      caughtUp: healthy && rangesOk,
      lag: view.underReplicated + view.unavailable,
      leaderCount: r.vars.leaseholders,
      detail:
        `node ${r.nodeId} ${r.buildTag}, ${r.vars.leaseholders} leases; cluster: ${view.underReplicated} under-replicated, ${view.unavailable} unavailable ranges` +
        (problems.length > 0 ? `; ${problems.join(', ')}` : ''),
    };
  }

  /**
   * Per member: role `follower` (leases are spread: `leaderCount` is the node's leaseholders),
   * health and caught-up as described above, lag = ranges under-replicated or unavailable.
   */
  async observe(members: PlatformMember[], _ctx: PortContext): Promise<EngineObservation> {
    const view = await this.look(members);
    const states: Record<string, EngineMemberState> = {};
    for (const r of view.reached) states[r.member.name] = this.stateOf(r, view);
    const unhealthy = Object.entries(states)
      .filter(([, s]) => !s.healthy)
      .map(([n]) => n);
    const down = view.unreachable.map((u) => u.member.name);
    const cv = view.clusterVersion;
    const problems = [
      ...(down.length > 0 ? [`unreachable: ${down.join(', ')}`] : []),
      ...(unhealthy.length > 0 ? [`not healthy: ${unhealthy.join(', ')}`] : []),
      ...(view.unavailable > 0 ? [`${view.unavailable} unavailable ranges`] : []),
      ...(view.underReplicated > 0 ? [`${view.underReplicated} under-replicated ranges`] : []),
      ...(!cv ? [`cluster version unknown (${view.clusterError})`] : []),
      ...(cv?.upgradingTo ? [`finalization to ${cv.upgradingTo} running (cluster version ${cv.raw})`] : []),
    ];
    const versionText = cv
      ? `cluster version ${cv.raw}${view.preserveDowngrade ? `, ${PRESERVE_DOWNGRADE_OPTION} = '${view.preserveDowngrade}'` : ''}`
      : 'cluster version unknown';
    return {
      members: states,
      health: {
        healthy: problems.length === 0,
        detail:
          problems.length === 0
            ? `${view.reached.length} nodes live; ${versionText}`
            : `${problems.join('; ')}; ${versionText}`,
        facts: {
          clusterVersion: cv?.raw ?? '',
          preserveDowngrade: view.preserveDowngrade ?? '',
          underReplicated: view.underReplicated,
          unavailable: view.unavailable,
          liveNodes: view.nodes.filter((n) => n.liveness === 'LIVE').length,
          nodes: view.nodes.length,
        },
      },
    };
  }

  /** Every precheck of {@link cockroachdbRules} (prechecks.ts). */
  async prechecks(snapshot: Snapshot, spec: UpgradeSpec, _ctx: PortContext): Promise<PrecheckResult[]> {
    return cockroachPrechecks(await this.look(snapshot.members), snapshot, spec);
  }

  /**
   * Drain the node as `cockroach node drain` does: Drain calls until one reports nothing left
   * (each call works server-side within its own budget, so this loop never sleeps), at most
   * `maxDrainCalls`. Leases left after that are the runner's to wait for, under its drain timeout.
   */
  async drain(
    member: MemberView,
    _target: MemberView | undefined,
    _snapshot: Snapshot,
    ctx: EngineActionContext,
  ): Promise<DrainResult> {
    if (!member.endpoint) {
      throw new OperationalError(
        'cockroachdb-no-endpoint',
        `cannot drain ${member.name}: it has no endpoint`,
      );
    }
    const addresses = this.addressesOf(member.endpoint);
    const started = ctx.clock.now();
    let calls = 0;
    let first: number | undefined;
    let remaining = Infinity;
    while (remaining > 0 && calls < this.maxDrainCalls && !ctx.signal?.aborted) {
      const p = await this.client.drain(addresses);
      calls += 1;
      first ??= p.remaining;
      remaining = p.remaining;
    }
    // Cut short by Baton's own shutdown, the drain is not a step done: reported as one, the next
    // Baton would wait for leases that only another Drain call moves (a draining node's leases are
    // not rebalanced away), until the drain timeout. Failed, it is performed again.
    ctx.signal?.throwIfAborted();
    const ms = ctx.clock.now() - started;
    ctx.logger.info('cockroachdb node drained', { member: member.name, calls, ms });
    return {
      message:
        remaining === 0
          ? `drained ${member.name} (${first} leases and clients to move) in ${calls} Drain call(s), ${ms} ms`
          : `drain of ${member.name} still has work left after ${calls} Drain call(s) (${remaining}); waiting for its leases to move`,
    };
  }

  /**
   * `beforeUpgrade`, run before each hop's roll: when the hop leaves the cluster's major, set
   * `cluster.preserve_downgrade_option` to the active cluster version read from the cluster, so
   * the hop stays reversible until finalized. Nothing for a patch hop or on the way back (the
   * option is what keeps the way back open).
   */
  async hook(
    name: string,
    _component: string | undefined,
    snapshot: Snapshot,
    ctx: EngineActionContext,
  ): Promise<string> {
    if (name !== 'beforeUpgrade') return `${name}: nothing to do for CockroachDB`;
    const view = await this.look(snapshot.members);
    const cv = view.clusterVersion;
    const node = this.sqlNode(view);
    if (!cv || !node) {
      throw new OperationalError(
        'cockroachdb-cluster-version',
        `cannot read the cluster version: ${view.clusterError}`,
      );
    }
    if (cv.upgradingTo) {
      throw new OperationalError(
        'cockroachdb-finalizing',
        `the cluster is still finalizing ${cv.upgradingTo} (cluster version ${cv.raw}); wait until it reports ${cv.upgradingTo}`,
      );
    }
    if (ctx.spec.rollback) {
      return `rolling back: ${PRESERVE_DOWNGRADE_OPTION} stays '${view.preserveDowngrade ?? ''}'`;
    }
    if (majorOf(ctx.spec.version) === cv.major) {
      return `patch upgrade within ${cv.major}: ${PRESERVE_DOWNGRADE_OPTION} not needed`;
    }
    if (view.preserveDowngrade === cv.major) {
      return `${PRESERVE_DOWNGRADE_OPTION} already '${cv.major}'`;
    }
    await this.client.setPreserveDowngrade(node.addresses, cv.major);
    return `SET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION} = '${cv.major}'`;
  }

  /**
   * Finalize: `RESET CLUSTER SETTING cluster.preserve_downgrade_option`, after which the cluster
   * runs the upgrade migrations and moves its version to the nodes' major by itself. Returns once
   * the reset is done; the observation reports the cluster unhealthy ("finalization running")
   * until the version has moved, which the runner waits for. Idempotent.
   */
  async finalize(snapshot: Snapshot, _ctx: PortContext): Promise<string> {
    const view = await this.look(snapshot.members);
    const node = this.sqlNode(view);
    const cv = view.clusterVersion;
    if (!cv || !node) {
      throw new OperationalError(
        'cockroachdb-cluster-version',
        `cannot read the cluster version: ${view.clusterError}`,
      );
    }
    const binaries = [...new Set(view.reached.map((r) => r.buildTag))].join(', ');
    if (view.preserveDowngrade) await this.client.resetPreserveDowngrade(node.addresses);
    const what = view.preserveDowngrade
      ? `RESET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION} (was '${view.preserveDowngrade}')`
      : `${PRESERVE_DOWNGRADE_OPTION} already reset`;
    return `${what}; cluster version ${cv.raw}, nodes run ${binaries}: the cluster finalizes by itself`;
  }

  /** A ready node for SQL (a draining one refuses clients). */
  private sqlNode(view: CockroachView): ReachedNode | undefined {
    return view.reached.find((r) => r.readiness.ready) ?? view.reached[0];
  }

  /** Close the admin client's channels when the engine created it. */
  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}
