/**
 * The etcd engine: roles, lag and health through etcd's own admin API, leadership transfer before
 * a leader stops, and the prechecks of {@link etcdRules}. Works on any platform that gives each
 * member a client endpoint (`host:port`) and names members as etcd does (`--name`); members are
 * matched to etcd's member list by name, then by client URL.
 */
import { OperationalError, describeError } from '../../core/errors.js';
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
  Role,
  Snapshot,
  UpgradeSpec,
} from '../../core/types.js';
import type { EngineRules } from '../../core/rules.js';
import type { EtcdAdminApi, EtcdAdminClientOptions, EtcdMemberInfo, EtcdMemberStatus } from './client.js';
import { EtcdAdminClient } from './client.js';
import { etcdRules } from './rules.js';

/**
 * Default lag (raft entries between the leader's committed index and the member's) under which a
 * healthy member counts as caught up. Measured on a local 3-member cluster under four concurrent
 * writers (about 100 writes/s, fsync-bound): follower lag p50 0, p99 and max 4 entries. A member
 * that restarted after missing writes is hundreds or thousands behind until the leader streams them.
 */
export const DEFAULT_CAUGHT_UP_ENTRIES = 50;

/** Options of {@link EtcdEngine}. */
export interface EtcdEngineOptions {
  /** The admin client; default a new {@link EtcdAdminClient} (closed by {@link EtcdEngine.close}). */
  client?: EtcdAdminApi;
  /** Lag at or under which a healthy member is caught up; default {@link DEFAULT_CAUGHT_UP_ENTRIES}. */
  caughtUpEntries?: number;
  /** Credentials of the default client, for clusters with auth enabled (ignored with `client`). */
  auth?: EtcdAdminClientOptions['auth'];
}

interface Reached {
  member: PlatformMember;
  status: EtcdMemberStatus;
}

/** What one round of status calls learned; shared by observe, prechecks and drain. */
interface ClusterView {
  reached: Reached[];
  /** Members the platform lists that did not answer, with why. */
  unreachable: { member: PlatformMember; reason: string }[];
  /** etcd's member list, from the first member that answered it. */
  etcdMembers: EtcdMemberInfo[];
  /** Leader ID most reachable members agree on; `0` when none is known. */
  leaderId: string;
  leaderIndex: number;
  term: number;
}

const NO_LEADER = '0';

function endpointUrl(endpoint: string): string {
  return /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
}

function pass(name: string, reason: string): PrecheckResult {
  return { name, ok: true, reason };
}

function fail(name: string, reason: string): PrecheckResult {
  return { name, ok: false, reason };
}

/** etcd through its gRPC admin API. */
export class EtcdEngine implements Engine {
  readonly name = 'etcd';
  readonly rules: EngineRules = etcdRules;
  private readonly client: EtcdAdminApi;
  private readonly caughtUpEntries: number;
  private readonly ownsClient: boolean;

  constructor(opts: EtcdEngineOptions = {}) {
    this.ownsClient = opts.client === undefined;
    this.client = opts.client ?? new EtcdAdminClient(opts.auth ? { auth: opts.auth } : {});
    this.caughtUpEntries = opts.caughtUpEntries ?? DEFAULT_CAUGHT_UP_ENTRIES;
  }

  /**
   * Ask every running member with an endpoint for its status, in parallel. Never throws for a
   * member that does not answer: it is left out of the result.
   */
  private async look(members: PlatformMember[], ctx: PortContext): Promise<ClusterView> {
    const candidates = members.filter((m) => m.endpoint && m.running);
    const results = await Promise.all(
      candidates.map(async (member) => {
        try {
          return { member, status: await this.client.status(member.endpoint as string) };
        } catch (err) {
          return { member, error: describeError(err) };
        }
      }),
    );
    const reached: Reached[] = [];
    const unreachable: ClusterView['unreachable'] = members
      .filter((m) => !candidates.includes(m))
      .map((member) => ({
        member,
        reason: member.detail ?? (member.running ? 'no client endpoint' : 'not running'),
      }));
    for (const r of results) {
      if ('status' in r && r.status) reached.push({ member: r.member, status: r.status });
      else unreachable.push({ member: r.member, reason: 'error' in r ? (r.error as string) : 'no answer' });
    }
    let etcdMembers: EtcdMemberInfo[] = [];
    for (const r of reached) {
      try {
        etcdMembers = await this.client.memberList(r.member.endpoint as string);
        break;
      } catch (err) {
        ctx.logger.debug('etcd member list failed', { member: r.member.name, error: describeError(err) });
      }
    }
    const votes = new Map<string, number>();
    for (const r of reached) {
      if (r.status.leaderId !== NO_LEADER)
        votes.set(r.status.leaderId, (votes.get(r.status.leaderId) ?? 0) + 1);
    }
    let leaderId = NO_LEADER;
    for (const [id, n] of votes) if (n > (votes.get(leaderId) ?? 0)) leaderId = id;
    const leader = reached.find((r) => r.status.memberId === leaderId);
    const leaderIndex = leader
      ? leader.status.raftIndex
      : Math.max(0, ...reached.map((r) => r.status.raftIndex));
    const term = Math.max(0, ...reached.map((r) => r.status.raftTerm));
    return { reached, unreachable, etcdMembers, leaderId, leaderIndex, term };
  }

  /** The etcd member ID of a platform member: by name in etcd's member list, then by client URL. */
  private idOf(member: PlatformMember, view: ClusterView): string | undefined {
    const own = view.reached.find((r) => r.member.name === member.name);
    if (own) return own.status.memberId;
    const byName = view.etcdMembers.find((m) => m.name === member.name);
    if (byName) return byName.id;
    const url = member.endpoint ? endpointUrl(member.endpoint) : undefined;
    return view.etcdMembers.find((m) => url !== undefined && m.clientURLs.includes(url))?.id;
  }

  private nameOf(id: string, view: ClusterView): string {
    return (
      view.reached.find((r) => r.status.memberId === id)?.member.name ??
      view.etcdMembers.find((m) => m.id === id)?.name ??
      `member ${id}`
    );
  }

  private stateOf(r: Reached, view: ClusterView): EngineMemberState {
    const s = r.status;
    const role: Role = s.isLearner ? 'learner' : s.memberId === view.leaderId ? 'leader' : 'follower';
    const lag = role === 'leader' ? 0 : Math.max(0, view.leaderIndex - s.raftIndex);
    const knowsLeader = s.leaderId !== NO_LEADER && s.leaderId === view.leaderId;
    const healthy = s.errors.length === 0 && knowsLeader;
    const applyLag = Math.max(0, s.raftIndex - s.raftAppliedIndex);
    const problems = [
      ...(s.errors.length > 0 ? [`errors: ${s.errors.join('; ')}`] : []),
      ...(s.leaderId === NO_LEADER ? ['knows no leader'] : []),
      ...(s.leaderId !== NO_LEADER && s.leaderId !== view.leaderId
        ? [`follows ${this.nameOf(s.leaderId, view)}`]
        : []),
    ];
    return {
      role,
      healthy,
      caughtUp: healthy && lag <= this.caughtUpEntries && applyLag <= this.caughtUpEntries,
      lag,
      leaderCount: role === 'leader' ? 1 : 0,
      detail:
        `etcd ${s.version}, raft index ${s.raftIndex} (applied ${s.raftAppliedIndex}), leader at ${view.leaderIndex}, term ${s.raftTerm}` +
        (problems.length > 0 ? `; ${problems.join(', ')}` : ''),
    };
  }

  /**
   * Quorum arithmetic over etcd's voting members (learners excluded). Falls back to the platform's
   * member count when no member answered the member list.
   */
  private quorum(
    view: ClusterView,
    platformCount: number,
  ): { voters: number; needed: number; healthyVoters: number } {
    const voters =
      view.etcdMembers.length > 0 ? view.etcdMembers.filter((m) => !m.isLearner).length : platformCount;
    const healthyVoters = view.reached.filter(
      (r) =>
        !r.status.isLearner &&
        r.status.errors.length === 0 &&
        r.status.leaderId !== NO_LEADER &&
        r.status.leaderId === view.leaderId,
    ).length;
    return { voters, needed: Math.floor(voters / 2) + 1, healthyVoters };
  }

  /**
   * Roles (leader/follower/learner), lag (leader's committed raft index minus the member's),
   * caught-up and health for every member that answers. The cluster is healthy when a leader is
   * elected and a majority of voting members are healthy followers of it.
   */
  async observe(members: PlatformMember[], ctx: PortContext): Promise<EngineObservation> {
    const view = await this.look(members, ctx);
    const states: Record<string, EngineMemberState> = {};
    for (const r of view.reached) states[r.member.name] = this.stateOf(r, view);
    const q = this.quorum(view, members.length);
    const hasLeader =
      view.leaderId !== NO_LEADER && view.reached.some((r) => r.status.memberId === view.leaderId);
    const leaderName = view.leaderId !== NO_LEADER ? this.nameOf(view.leaderId, view) : undefined;
    const healthy = hasLeader && q.healthyVoters >= q.needed;
    const down = view.unreachable.map((u) => u.member.name);
    const detail = !leaderName
      ? `no leader elected; ${q.healthyVoters}/${q.voters} voting members healthy`
      : `leader ${leaderName} (term ${view.term}); ${q.healthyVoters}/${q.voters} voting members healthy, quorum ${q.needed}` +
        (down.length > 0 ? `; unreachable: ${down.join(', ')}` : '');
    return {
      members: states,
      health: {
        healthy,
        detail: healthy || !leaderName ? detail : `quorum lost: ${detail}`,
        facts: {
          leader: leaderName ?? '',
          term: view.term,
          raftIndex: view.leaderIndex,
          voters: q.voters,
          healthyVoters: q.healthyVoters,
          quorum: q.needed,
        },
      },
    };
  }

  /** Every precheck of {@link etcdRules}, each with a reason naming the members concerned. */
  async prechecks(snapshot: Snapshot, _spec: UpgradeSpec, ctx: PortContext): Promise<PrecheckResult[]> {
    const view = await this.look(snapshot.members, ctx);
    const byName = new Map(view.reached.map((r) => [r.member.name, r]));
    const results: PrecheckResult[] = [];

    const unhealthy: string[] = [];
    for (const m of snapshot.members) {
      const r = byName.get(m.name);
      if (!r) {
        const why = view.unreachable.find((u) => u.member.name === m.name)?.reason ?? 'no answer';
        unhealthy.push(`${m.name} (${why})`);
        continue;
      }
      const state = this.stateOf(r, view);
      if (!state.healthy) unhealthy.push(`${m.name} (${state.detail})`);
    }
    const platformNames = new Set(snapshot.members.map((m) => m.name));
    const strangers = view.etcdMembers
      .filter((e) => !platformNames.has(e.name))
      .map((e) => e.name || `unstarted member ${e.id}`);
    if (unhealthy.length > 0) {
      results.push(fail('all-members-healthy', `not healthy: ${unhealthy.join('; ')}`));
    } else if (strangers.length > 0) {
      results.push(
        fail(
          'all-members-healthy',
          `etcd lists members the platform does not run: ${strangers.join(', ')}; remove them (etcdctl member remove) or add them to the platform`,
        ),
      );
    } else {
      results.push(pass('all-members-healthy', `all ${snapshot.members.length} members healthy`));
    }

    const q = this.quorum(view, snapshot.members.length);
    if (q.healthyVoters - 1 >= q.needed) {
      results.push(
        pass(
          'quorum',
          `${q.healthyVoters}/${q.voters} voting members healthy; one may restart and ${q.needed} remain for quorum`,
        ),
      );
    } else if (q.voters === 1) {
      results.push(
        fail(
          'quorum',
          'a 1-member cluster has no quorum while its only member restarts; add members first or force this check to accept downtime',
        ),
      );
    } else {
      results.push(
        fail(
          'quorum',
          `${q.healthyVoters}/${q.voters} voting members healthy: restarting one would leave ${q.healthyVoters - 1}, below the quorum of ${q.needed}`,
        ),
      );
    }

    if (view.leaderId === NO_LEADER) {
      results.push(fail('leader-elected', 'no reachable member knows a leader'));
    } else {
      const dissent = view.reached
        .filter((r) => r.status.leaderId !== view.leaderId)
        .map(
          (r) =>
            `${r.member.name} follows ${r.status.leaderId === NO_LEADER ? 'no leader' : this.nameOf(r.status.leaderId, view)}`,
        );
      results.push(
        dissent.length > 0
          ? fail(
              'leader-elected',
              `members disagree on the leader (${this.nameOf(view.leaderId, view)}): ${dissent.join(', ')}`,
            )
          : pass('leader-elected', `leader ${this.nameOf(view.leaderId, view)}, term ${view.term}`),
      );
    }

    results.push(await this.alarmCheck(view, ctx));

    const versions = new Map<string, string[]>();
    for (const r of view.reached)
      versions.set(r.status.version, [...(versions.get(r.status.version) ?? []), r.member.name]);
    if (view.reached.length === 0) {
      results.push(fail('versions-uniform', 'no member answered, so their versions are unknown'));
    } else if (versions.size > 1) {
      const list = [...versions].map(([v, names]) => `${names.join(', ')} on ${v}`).join('; ');
      results.push(
        fail(
          'versions-uniform',
          `members run different etcd versions (${list}); finish or roll back the previous upgrade first`,
        ),
      );
    } else {
      results.push(pass('versions-uniform', `every reachable member runs etcd ${[...versions.keys()][0]}`));
    }
    return results;
  }

  private async alarmCheck(view: ClusterView, ctx: PortContext): Promise<PrecheckResult> {
    const errors = view.reached.flatMap((r) => r.status.errors.map((e) => `${r.member.name}: ${e}`));
    for (const r of view.reached) {
      try {
        const alarms = await this.client.alarms(r.member.endpoint as string);
        if (alarms.length === 0 && errors.length === 0) return pass('no-alarms', 'no alarm raised');
        const raised = alarms.map((a) => `${a.alarm.toUpperCase()} on ${this.nameOf(a.memberId, view)}`);
        return fail(
          'no-alarms',
          `alarms raised: ${[...raised, ...errors].join('; ')}; fix the cause (compact and defragment for NOSPACE) and disarm them (etcdctl alarm disarm)`,
        );
      } catch (err) {
        ctx.logger.debug('etcd alarm list failed', { member: r.member.name, error: describeError(err) });
      }
    }
    return fail('no-alarms', 'no member answered the alarm list');
  }

  /**
   * If `member` leads, move leadership to `target` when it is a healthy voting follower, else to
   * the healthy voting follower with the smallest lag. No-op when `member` does not lead.
   * OperationalError when it leads and no healthy follower can take over.
   */
  async drain(
    member: MemberView,
    target: MemberView | undefined,
    snapshot: Snapshot,
    ctx: EngineActionContext,
  ): Promise<DrainResult> {
    const view = await this.look(snapshot.members, ctx);
    const memberId = this.idOf(member, view);
    if (view.leaderId === NO_LEADER) {
      throw new OperationalError(
        'etcd-no-leader',
        `cannot drain ${member.name}: no etcd member knows a leader`,
      );
    }
    if (memberId === undefined || memberId !== view.leaderId) {
      return {
        message: `${member.name} is not the etcd leader (${this.nameOf(view.leaderId, view)} is); nothing to move`,
      };
    }
    const candidates = view.reached
      .filter((r) => r.member.name !== member.name)
      .map((r) => ({ r, state: this.stateOf(r, view) }))
      .filter((c) => c.state.healthy && c.state.role === 'follower')
      .sort((a, b) => a.state.lag - b.state.lag || a.r.member.ordinal - b.r.member.ordinal);
    const chosen = candidates.find((c) => c.r.member.name === target?.name) ?? candidates[0];
    if (!chosen) {
      throw new OperationalError(
        'etcd-no-drain-target',
        `cannot move etcd leadership away from ${member.name}: no healthy voting follower`,
      );
    }
    const started = ctx.clock.now();
    await this.client.moveLeader(member.endpoint as string, chosen.r.status.memberId);
    const ms = ctx.clock.now() - started;
    ctx.logger.info('etcd leadership moved', { from: member.name, to: chosen.r.member.name, ms });
    const why =
      target && chosen.r.member.name !== target.name
        ? ` (planned target ${target.name} was not a healthy follower)`
        : '';
    return {
      movedTo: chosen.r.member.name,
      message: `moved etcd leadership from ${member.name} to ${chosen.r.member.name} in ${ms} ms${why}`,
    };
  }

  /** Close the admin client's connections when the engine created it (a passed-in one stays open). */
  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}
