/**
 * The simulated world: one {@link SimCluster} holds every member's process state, roles, lag and
 * leaderships, and moves them forward over the injected clock's time. `SimPlatform` and
 * `SimEngine` are two views of it, so any runner can drive it. Deterministic: time comes only from
 * the clock, randomness only from generators seeded by the description's `seed`.
 *
 * Time model: actions schedule events (process running, ready, caught up, leadership moved, new
 * leader elected) at a time of the clock; every call first applies the events that are due, in
 * time order, so observations always show the world at the clock's now.
 */
import type { Clock } from '../../core/clock.js';
import { BadInputError, OperationalError } from '../../core/errors.js';
import type { DrainResult } from '../../core/ports.js';
import type { ClusterHealth, EngineMemberState, PlatformMember, Role } from '../../core/types.js';
import { isLeaderRole } from '../../core/types.js';
import type { ComponentRule, EngineRules, Topology } from '../../core/rules.js';
import { atVersion, compareVersions, parseVersion, series } from '../../core/version.js';
import type { SimClusterDescription, SimTimings } from './description.js';
import { FaultInjector, SimCrash, type SimCallKind, type SimFault } from './faults.js';
import { deriveSeed, mulberry32, randomInt, type Rng } from './prng.js';
import { SimRecorder } from './recorder.js';

/** Lag at or below which a follower counts as caught up (engine units). */
export const SIM_CAUGHT_UP_LAG = 50;

/** Followers' lag jitters in [0, this) from one simulated second to the next. */
const LAG_JITTER = 20;

/** A member as the simulator holds it; read-only copies are handed out by {@link SimCluster.member}. */
export interface SimMemberView {
  name: string;
  component: string;
  ordinal: number;
  topology: Topology;
  version: string;
  running: boolean;
  ready: boolean;
  role: Role;
  leaderCount: number;
  /** Current lag, undefined while the member is not reachable. */
  lag?: number;
  caughtUp: boolean;
  /** A replacement is under way (stopped, starting or not yet ready). */
  replacing: boolean;
  /** Leaderships are being kept away (TiKV evict-leader scheduler, Redis primaries failed over). */
  evicting: boolean;
  detail?: string;
}

interface MemberSim {
  name: string;
  component: string;
  ordinal: number;
  rule: ComponentRule;
  version: string;
  running: boolean;
  ready: boolean;
  role: Role;
  leaderCount: number;
  baseLag: number;
  catchUp?: { start: number; end: number; fromLag: number };
  /** Bumped on every stop or replace; events scheduled under an older generation are void. */
  gen: number;
  replacing: boolean;
  evicting: boolean;
  transferTo?: string;
  draining: boolean;
  detail?: string;
}

interface SimEvent {
  at: number;
  seq: number;
  run: () => void;
}

/** Options of a simulated cluster. */
export interface SimClusterOptions {
  /** The world's clock; pass a FakeClock for deterministic runs. */
  clock: Clock;
  /** Engine rules; default: those the description was parsed with. */
  rules?: EngineRules;
}

function followerRole(topology: Topology): Role {
  if (topology === 'raft') return 'follower';
  if (topology === 'replication') return 'replica';
  return 'none';
}

function leaderRole(topology: Topology): Role {
  return topology === 'replication' ? 'primary' : 'leader';
}

function holdsLeadership(m: MemberSim): boolean {
  const t = m.rule.topology;
  if (t === 'raft' || t === 'replication') return isLeaderRole(m.role);
  if (t === 'multi-raft' || t === 'sharded') return m.leaderCount > 0;
  return false;
}

/** The whole simulated cluster. */
export class SimCluster {
  /** The validated description it was built from. */
  readonly description: SimClusterDescription;
  readonly rules: EngineRules;
  readonly clock: Clock;
  /** Everything that happened, for invariant checks. */
  readonly recorder = new SimRecorder();
  /** Cluster settings engines change (`cluster.preserve_downgrade_option`...). */
  readonly settings = new Map<string, string>();
  /** TiDB: DDL is paused around the TiDB tier. */
  ddlPaused = false;
  /** Set by a finalization. */
  finalized = false;
  /** With an owner (`description.owner`): whether Baton holds the members (taken over, not handed back). */
  held = false;
  /** Take-overs and hand-backs that changed something, in order. */
  readonly custodyLog: ('takeOver' | 'handBack')[] = [];
  /**
   * Version the cluster was finalized at (CockroachDB's cluster version). A member started on an
   * older major afterwards refuses to start, as a real node does.
   */
  finalizedVersion: string | undefined;

  private readonly members: MemberSim[] = [];
  private readonly byName = new Map<string, MemberSim>();
  private readonly timings: SimTimings;
  private readonly rng: Rng;
  private readonly injector: FaultInjector;
  private readonly queue: SimEvent[] = [];
  private seq = 0;
  private eventTime: number | undefined;
  private readonly electionPending = new Set<string>();
  private readonly orphaned = new Map<string, number>();
  private readonly lastRequested = new Map<string, string>();
  private expected: Record<string, string> = {};

  constructor(description: SimClusterDescription, opts: SimClusterOptions) {
    this.description = description;
    this.rules = opts.rules ?? description.rules;
    this.clock = opts.clock;
    this.timings = description.timings;
    this.rng = mulberry32(deriveSeed(description.seed, 'world'));
    this.injector = new FaultInjector(
      description.faults,
      mulberry32(deriveSeed(description.seed, 'faults')),
      (f) => this.recorder.fault({ ...f, at: this.now() }),
    );
    for (const c of description.components) {
      const rule = this.rules.components.find((r) => r.name === c.name);
      if (!rule)
        throw new BadInputError('bad-cluster', `component "${c.name}" is not part of ${this.rules.name}`);
      const members = c.members.map((d, ordinal): MemberSim => ({
        name: d.name,
        component: c.name,
        ordinal,
        rule,
        version: d.version,
        running: true,
        ready: d.ready,
        role: d.role ?? followerRole(rule.topology),
        leaderCount: 0,
        baseLag: d.lag,
        gen: 0,
        replacing: false,
        evicting: false,
        draining: false,
        ...(d.ready ? {} : { detail: 'not ready since before the upgrade' }),
      }));
      this.assignLeadership(
        rule,
        members,
        c.members.map((d) => d.leaderCount),
      );
      for (const m of members) {
        this.members.push(m);
        this.byName.set(m.name, m);
      }
    }
    this.trackUnavailable();
  }

  /** The cluster's name as the platform knows it. */
  get name(): string {
    return this.description.name;
  }

  /** Apply every event due at the clock's now. Every port call does this first. */
  settle(): void {
    const now = this.clock.now();
    while (this.queue.length > 0 && (this.queue[0] as SimEvent).at <= now) {
      const ev = this.queue.shift() as SimEvent;
      this.eventTime = ev.at;
      ev.run();
      this.trackUnavailable();
    }
    this.eventTime = undefined;
  }

  /** Let `ms` of the clock's time pass (sleeping on the clock), then settle. */
  async advance(ms: number): Promise<void> {
    await this.clock.sleep(ms);
    this.settle();
  }

  /** Time of the next scheduled event, if any (lets a harness jump straight to it). */
  nextEventAt(): number | undefined {
    return this.queue[0]?.at;
  }

  /**
   * Declare the target version per component of the upgrade under test. The prerequisite
   * invariant then checks prerequisites against these instead of inferring the target from the
   * last version requested for the component.
   */
  expectTargets(targets: Record<string, string>): void {
    this.expected = { ...targets };
  }

  /** A copy of one member's state; BadInputError for an unknown name. */
  member(name: string): SimMemberView {
    this.settle();
    return this.view(this.get(name));
  }

  /** Copies of every member's state, in description order. */
  memberViews(): SimMemberView[] {
    this.settle();
    return this.members.map((m) => this.view(m));
  }

  /** Name of the leader/primary of a raft or replication component, if it has one. */
  leaderOf(component: string): string | undefined {
    this.settle();
    return this.members.find((m) => m.component === component && m.running && isLeaderRole(m.role))?.name;
  }

  /** The platform's view of every member. */
  platformMembers(): PlatformMember[] {
    this.settle();
    return this.members.map((m) => {
      const pm: PlatformMember = {
        name: m.name,
        component: m.component,
        ordinal: m.ordinal,
        version: m.version,
        ready: m.ready,
        running: m.running,
        endpoint: `sim://${this.name}/${m.name}`,
      };
      if (m.detail !== undefined) pm.detail = m.detail;
      return pm;
    });
  }

  /** What the database reports about a member; undefined while it cannot be reached. */
  engineState(name: string): EngineMemberState | undefined {
    this.settle();
    const m = this.byName.get(name);
    if (!m || !m.running || !m.ready) return undefined;
    const t = this.clock.now();
    const lag = this.lagOf(m, t);
    const state: EngineMemberState = {
      role: m.role,
      healthy: true,
      caughtUp: this.caughtUp(m, t),
      lag,
      detail: `${m.role} on ${m.version}${m.catchUp && t < m.catchUp.end ? ', catching up' : ''}${m.evicting ? ', kept free of leaderships' : ''}`,
    };
    if (m.rule.topology === 'multi-raft' || m.rule.topology === 'sharded') state.leaderCount = m.leaderCount;
    return state;
  }

  /** Cluster-wide health: every quorum component has a leader and a majority, no leaderless ranges. */
  health(): ClusterHealth {
    this.settle();
    const problems: string[] = [];
    let underReplicated = 0;
    let leaders = 0;
    for (const rule of this.rules.components) {
      const ms = this.members.filter((m) => m.component === rule.name);
      if (ms.length === 0) continue;
      const up = ms.filter((m) => m.running && m.ready);
      const t = rule.topology;
      if ((t === 'raft' || t === 'replication') && !ms.some((m) => m.running && isLeaderRole(m.role))) {
        problems.push(`${rule.name} has no ${leaderRole(t)}`);
      }
      if (rule.quorum && up.length * 2 <= ms.length) {
        problems.push(`${rule.name} has ${up.length} of ${ms.length} members up, no quorum`);
      }
      if (t === 'multi-raft' || t === 'sharded') {
        const orphan = this.orphaned.get(rule.name) ?? 0;
        if (orphan > 0) problems.push(`${rule.name}: ${orphan} leaderships being re-elected`);
        const total = ms.reduce((n, m) => n + m.leaderCount, 0) + orphan;
        leaders += total;
        const replicasPerMember = Math.ceil((total * Math.min(3, ms.length)) / ms.length);
        underReplicated += (ms.length - up.length) * replicasPerMember;
      }
    }
    return {
      healthy: problems.length === 0,
      detail: problems.length === 0 ? 'every component has its leader and a quorum' : problems.join('; '),
      facts: {
        underReplicatedRanges: underReplicated,
        leaders,
        ddlPaused: this.ddlPaused,
        finalized: this.finalized,
      },
    };
  }

  /**
   * Run one port call: apply due events, count it for faults (an api-error or a crash `before`
   * throws without effect), run `fn`, then let a crash `after` fire. Every call is recorded.
   */
  async invoke<T>(
    kind: SimCallKind,
    info: { member?: string; args?: Record<string, unknown> },
    fn: () => T,
  ): Promise<T> {
    this.settle();
    const base = { at: this.clock.now(), kind, ...info };
    let nth = 0;
    try {
      nth = this.injector.beforeCall(kind);
      const result = fn();
      this.trackUnavailable();
      this.injector.afterCall(kind, nth);
      this.recorder.call({ ...base, outcome: 'ok' });
      return result;
    } catch (err) {
      this.trackUnavailable();
      const crashed = err instanceof SimCrash;
      this.recorder.call({ ...base, outcome: crashed ? 'crash' : 'error', error: (err as Error).message });
      throw err;
    }
  }

  /**
   * Replace `name` so it runs `version`: it stops at once (not ready), runs the new version after
   * `replaceMs`, is ready `readyMs` later and caught up `catchUpMs` after that. A member already
   * running or starting `version` is left alone (returns false). Returns true when it restarted.
   */
  replace(name: string, version: string): boolean {
    const m = this.get(name);
    if (atVersion(m.version, version) && (m.running || m.replacing)) return false;
    if (this.description.owner && !this.held) {
      throw new Error(`${name}: its owner still rolls it; take the members over first`);
    }
    this.checkPrerequisites(m);
    this.lastRequested.set(m.component, version);
    this.stopProcess(m);
    m.version = version;
    m.replacing = true;
    m.baseLag = 0;
    m.detail = `starting ${version}`;
    this.recorder.restart(name, version);
    const gen = m.gen;
    const f = this.slowFactor(name);
    this.schedule(this.timings.replaceMs * f, () => {
      if (m.gen !== gen) return;
      m.running = true;
      m.detail = `running ${version}, not ready yet`;
      const refusal = this.refusesToStart(version);
      if (refusal) {
        m.detail = refusal;
        return;
      }
      const never = this.neverReady(name, version);
      if (never) {
        m.detail = `running ${version}, never becomes ready`;
        this.recorder.fault({
          at: this.now(),
          fault: never,
          member: name,
          message: `${name} never becomes ready on ${version}`,
        });
        return;
      }
      this.schedule(this.timings.readyMs * f, () => {
        if (m.gen !== gen) return;
        m.ready = true;
        m.replacing = false;
        delete m.detail;
        if (m.role !== 'learner') m.role = followerRole(m.rule.topology);
        const now = this.now();
        m.catchUp = {
          start: now,
          end: now + this.timings.catchUpMs * f,
          fromLag: randomInt(this.rng, 500, 5000),
        };
        this.afterReady(m);
      });
    });
    return true;
  }

  /** Hold the members so their owner rolls nothing by itself. Idempotent. */
  takeOver(): string {
    if (this.held) return 'the members are already held';
    this.held = true;
    this.custodyLog.push('takeOver');
    return `took ${this.members.length} member(s) over from their owner`;
  }

  /**
   * Give the members back to their owner, once every member runs and is ready (an owner handed a
   * member half-way through a restart would restart it again). Idempotent.
   */
  handBack(): { done: true; message: string } | { done: false; reason: string } {
    if (!this.held) return { done: true, message: 'the members are already back with their owner' };
    const busy = this.members.filter((m) => !m.running || m.replacing || !m.ready).map((m) => m.name);
    if (busy.length > 0) return { done: false, reason: `${busy.join(', ')} not ready yet` };
    this.held = false;
    this.custodyLog.push('handBack');
    return { done: true, message: `handed ${this.members.length} member(s) back to their owner` };
  }

  /** Stop `name` without starting it again. Idempotent; returns false when it was already stopped. */
  stop(name: string): boolean {
    const m = this.get(name);
    if (!m.running && !m.replacing) return false;
    this.stopProcess(m);
    m.detail = 'stopped';
    return true;
  }

  /**
   * Move leadership away from `name` (to `targetName` when given, else the most caught-up healthy
   * member). raft/replication: the transfer completes after `drainMs`. multi-raft/sharded: the
   * member is marked evicting and its leaderships move away in four steps over `drainMs`.
   * Idempotent: a transfer already under way is not requested twice.
   */
  drain(name: string, targetName?: string): DrainResult {
    const m = this.get(name);
    const t = m.rule.topology;
    if (t === 'stateless') return { message: `${name} is stateless: nothing to move` };
    if (t === 'raft' || t === 'replication') return this.drainLeader(m, targetName);
    m.evicting = true;
    const what = t === 'multi-raft' ? 'region leaders' : 'primary shards';
    if (m.draining)
      return { message: `moving ${what} off ${name} already under way (${m.leaderCount} left)` };
    if (m.leaderCount === 0) return { message: `${name} holds no ${what}; kept free of them until restored` };
    m.draining = true;
    const count = m.leaderCount;
    if (this.drainTimeout(name)) return { message: `requested moving ${count} ${what} off ${name}` };
    const gen = m.gen;
    const step = (this.timings.drainMs * this.slowFactor(name)) / 4;
    for (let k = 1; k <= 4; k++) {
      this.schedule(step * k, () => {
        if (m.gen !== gen || !m.draining) return;
        const moved = this.moveLeaders(m, Math.ceil(m.leaderCount / (5 - k)));
        if (moved > 0)
          this.recorder.transfer({
            at: this.now(),
            component: m.component,
            from: name,
            to: 'several',
            count: moved,
          });
        if (k === 4) m.draining = false;
      });
    }
    return { message: `requested moving ${count} ${what} off ${name}` };
  }

  /** Let `name` take leaderships again (remove its evict-leader scheduler); they come back after `drainMs`. */
  restore(name: string): string {
    const m = this.get(name);
    if (!m.evicting) return `${name} was not kept free of leaderships: nothing to restore`;
    m.evicting = false;
    m.draining = false;
    this.scheduleRebalance(m);
    return `${name} may take leaderships again`;
  }

  /** Restore every member still kept free of leaderships; returns their names. */
  restoreAll(): string[] {
    return this.members.filter((m) => m.evicting).map((m) => (this.restore(m.name), m.name));
  }

  private drainLeader(m: MemberSim, targetName: string | undefined): DrainResult {
    const kind = leaderRole(m.rule.topology);
    if (!m.running || !isLeaderRole(m.role))
      return { message: `${m.name} is not the ${kind}: nothing to move` };
    if (m.transferTo !== undefined) {
      return {
        movedTo: m.transferTo,
        message: `moving ${m.component} ${kind} from ${m.name} to ${m.transferTo} already under way`,
      };
    }
    const target = targetName !== undefined ? this.get(targetName) : this.bestTarget(m);
    if (!target) {
      throw new OperationalError(
        'no-leadership-target',
        `no ready, caught-up member of ${m.component} can take the ${kind} role from ${m.name}`,
      );
    }
    if (target.component !== m.component || target === m) {
      throw new BadInputError(
        'bad-drain-target',
        `${target.name} cannot take the ${kind} role from ${m.name}: pick another member of ${m.component}`,
      );
    }
    m.transferTo = target.name;
    const message = `requested moving ${m.component} ${kind} from ${m.name} to ${target.name}`;
    if (this.drainTimeout(m.name)) return { movedTo: target.name, message };
    const gen = m.gen;
    this.schedule(this.timings.drainMs * this.slowFactor(m.name), () => {
      if (m.gen !== gen || m.transferTo !== target.name) return;
      delete m.transferTo;
      if (!isLeaderRole(m.role) || !target.running || !target.ready || target.replacing) return;
      m.role = followerRole(m.rule.topology);
      target.role = leaderRole(m.rule.topology);
      this.recorder.transfer({
        at: this.now(),
        component: m.component,
        from: m.name,
        to: target.name,
        count: 1,
      });
    });
    return { movedTo: target.name, message };
  }

  private get(name: string): MemberSim {
    const m = this.byName.get(name);
    if (!m) {
      throw new BadInputError(
        'unknown-member',
        `no member named "${name}" in ${this.name}; members: ${[...this.byName.keys()].join(', ')}`,
      );
    }
    return m;
  }

  private view(m: MemberSim): SimMemberView {
    const t = this.clock.now();
    const reachable = m.running && m.ready;
    const v: SimMemberView = {
      name: m.name,
      component: m.component,
      ordinal: m.ordinal,
      topology: m.rule.topology,
      version: m.version,
      running: m.running,
      ready: m.ready,
      role: m.role,
      leaderCount: m.leaderCount,
      caughtUp: reachable && this.caughtUp(m, t),
      replacing: m.replacing,
      evicting: m.evicting,
    };
    if (reachable) v.lag = this.lagOf(m, t);
    if (m.detail !== undefined) v.detail = m.detail;
    return v;
  }

  private now(): number {
    return this.eventTime ?? this.clock.now();
  }

  private schedule(delay: number, run: () => void): void {
    const ev: SimEvent = { at: this.now() + Math.max(0, Math.round(delay)), seq: this.seq++, run };
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1] as SimEvent).at > ev.at) i--;
    this.queue.splice(i, 0, ev);
  }

  private assignLeadership(rule: ComponentRule, members: MemberSim[], counts: (number | undefined)[]): void {
    const t = rule.topology;
    const ready = members.filter((m) => m.ready && m.role !== 'learner');
    if (t === 'raft' || t === 'replication') {
      if (members.some((m) => isLeaderRole(m.role)) || ready.length === 0) return;
      const leader = ready[Math.floor(this.rng() * ready.length)] as MemberSim;
      leader.role = leaderRole(t);
      return;
    }
    // A multi-raft component without quorum (TiFlash) holds learner replicas only: no leaders.
    if (t === 'sharded' || (t === 'multi-raft' && rule.quorum)) {
      members.forEach((m, i) => {
        const given = counts[i];
        if (given !== undefined) m.leaderCount = given;
        else if (m.ready)
          m.leaderCount = t === 'multi-raft' ? randomInt(this.rng, 80, 120) : randomInt(this.rng, 1, 3);
      });
    }
  }

  private lagOf(m: MemberSim, t: number): number {
    if (isLeaderRole(m.role) || m.rule.topology === 'stateless') return 0;
    let lag = m.baseLag;
    const c = m.catchUp;
    if (c && t < c.end) lag += Math.ceil((c.fromLag * (c.end - t)) / Math.max(1, c.end - c.start));
    const jitter = mulberry32(deriveSeed(this.description.seed, 'lag', m.name, Math.floor(t / 1000)))();
    return lag + Math.floor(jitter * LAG_JITTER);
  }

  private caughtUp(m: MemberSim, t: number): boolean {
    if (m.catchUp && t < m.catchUp.end) return false;
    return this.lagOf(m, t) <= SIM_CAUGHT_UP_LAG;
  }

  private usable(m: MemberSim): boolean {
    return m.running && m.ready && !m.replacing;
  }

  /** The ready, caught-up member of the same component best placed to take over from `m`. */
  private bestTarget(m: MemberSim): MemberSim | undefined {
    const t = this.now();
    return this.members
      .filter(
        (o) =>
          o !== m &&
          o.component === m.component &&
          o.role !== 'learner' &&
          this.usable(o) &&
          !o.evicting &&
          this.caughtUp(o, t),
      )
      .sort((a, b) => this.lagOf(a, t) - this.lagOf(b, t) || a.ordinal - b.ordinal)[0];
  }

  private stopProcess(m: MemberSim): void {
    m.gen += 1;
    delete m.transferTo;
    m.draining = false;
    delete m.catchUp;
    if (m.running && holdsLeadership(m)) {
      const target = this.bestTarget(m);
      const t = m.rule.topology;
      const held = t === 'raft' || t === 'replication' ? m.role : `${m.leaderCount} leaderships`;
      this.recorder.leaderStop({
        at: this.now(),
        member: m.name,
        component: m.component,
        held,
        ...(target ? { healthyTarget: target.name } : {}),
      });
      if (t === 'raft' || t === 'replication') {
        m.role = followerRole(t);
        this.scheduleElection(m.component, m.name);
      } else {
        this.orphaned.set(m.component, (this.orphaned.get(m.component) ?? 0) + m.leaderCount);
        m.leaderCount = 0;
        this.scheduleReelection(m.component);
      }
    } else if (m.rule.topology === 'multi-raft' || m.rule.topology === 'sharded') {
      m.leaderCount = 0;
    }
    m.running = false;
    m.ready = false;
    m.replacing = false;
  }

  private scheduleElection(component: string, previous: string | undefined): void {
    if (this.electionPending.has(component)) return;
    this.electionPending.add(component);
    this.schedule(this.timings.electionMs, () => {
      this.electionPending.delete(component);
      const ms = this.members.filter((m) => m.component === component);
      if (ms.some((m) => m.running && isLeaderRole(m.role))) return;
      const up = ms.filter((m) => this.usable(m) && m.role !== 'learner');
      const rule = ms[0]?.rule;
      if (!rule || up.length === 0 || (rule.topology === 'raft' && up.length * 2 <= ms.length)) {
        this.scheduleElection(component, previous);
        return;
      }
      const t = this.now();
      const leader = up.sort(
        (a, b) => this.lagOf(a, t) - this.lagOf(b, t) || a.ordinal - b.ordinal,
      )[0] as MemberSim;
      leader.role = leaderRole(rule.topology);
      this.recorder.election({ at: t, component, leader: leader.name, ...(previous ? { previous } : {}) });
    });
  }

  private scheduleReelection(component: string): void {
    if (this.electionPending.has(component)) return;
    this.electionPending.add(component);
    this.schedule(this.timings.electionMs, () => {
      this.electionPending.delete(component);
      const orphan = this.orphaned.get(component) ?? 0;
      if (orphan === 0) return;
      const left = this.distribute(component, orphan, undefined);
      if (left < orphan) {
        this.recorder.election({ at: this.now(), component, leader: 'several' });
      }
      this.orphaned.set(component, left);
      if (left > 0) this.scheduleReelection(component);
    });
  }

  /** Give `count` leaderships to eligible members of `component` (fewest first); returns those left. */
  private distribute(component: string, count: number, except: MemberSim | undefined): number {
    const eligible = this.members.filter(
      (o) => o.component === component && o !== except && this.usable(o) && !o.evicting,
    );
    if (eligible.length === 0) return count;
    let left = count;
    while (left > 0) {
      const to = eligible.reduce((a, b) => (b.leaderCount < a.leaderCount ? b : a));
      to.leaderCount += 1;
      left -= 1;
    }
    return 0;
  }

  private moveLeaders(m: MemberSim, count: number): number {
    const n = Math.min(count, m.leaderCount);
    if (n <= 0) return 0;
    const left = this.distribute(m.component, n, m);
    m.leaderCount -= n - left;
    return n - left;
  }

  private scheduleRebalance(m: MemberSim): void {
    const gen = m.gen;
    this.schedule(this.timings.drainMs * this.slowFactor(m.name), () => {
      if (m.gen !== gen || !this.usable(m) || m.evicting) return;
      const peers = this.members.filter((o) => o.component === m.component && this.usable(o) && !o.evicting);
      const total = peers.reduce((n, o) => n + o.leaderCount, 0);
      const fair = Math.floor(total / peers.length);
      let need = fair - m.leaderCount;
      for (const donor of peers.filter((o) => o !== m).sort((a, b) => b.leaderCount - a.leaderCount)) {
        if (need <= 0) break;
        const give = Math.min(need, donor.leaderCount - fair);
        if (give <= 0) continue;
        donor.leaderCount -= give;
        m.leaderCount += give;
        need -= give;
      }
    });
  }

  private afterReady(m: MemberSim): void {
    const t = m.rule.topology;
    if (
      (t === 'raft' || t === 'replication') &&
      !this.members.some((o) => o.component === m.component && o.running && isLeaderRole(o.role))
    ) {
      this.scheduleElection(m.component, undefined);
    }
    if ((t === 'multi-raft' || t === 'sharded') && !m.evicting) this.scheduleRebalance(m);
  }

  private checkPrerequisites(m: MemberSim): void {
    for (const p of m.rule.prerequisites) {
      const ms = this.members.filter((o) => o.component === p);
      if (ms.length === 0) continue;
      const target = this.expected[p] ?? this.lastRequested.get(p);
      const problems: string[] = [];
      for (const o of ms) {
        if (!this.usable(o)) problems.push(`${o.name} not ready`);
        else if (target !== undefined && !atVersion(o.version, target))
          problems.push(`${o.name} on ${o.version}, not ${target}`);
      }
      if (target === undefined && new Set(ms.map((o) => o.version)).size > 1) {
        problems.push(`members on mixed versions ${[...new Set(ms.map((o) => o.version))].join(', ')}`);
      }
      if (problems.length > 0) {
        this.recorder.prerequisiteViolation({
          at: this.now(),
          member: m.name,
          component: m.component,
          prerequisite: p,
          reason: problems.join(', '),
        });
      }
    }
  }

  private trackUnavailable(): void {
    const at = this.now();
    const down = new Map<string, string[]>();
    for (const m of this.members) {
      const list = down.get(m.component) ?? [];
      if (!m.ready) list.push(m.name);
      down.set(m.component, list);
    }
    for (const [component, names] of down) this.recorder.unavailable(component, names, at);
  }

  /** Mark the upgrade finalized at `version` (the newest version the members run). */
  finalize(version: string): void {
    this.finalized = true;
    this.finalizedVersion = version;
  }

  private refusesToStart(version: string): string | undefined {
    const at = this.finalizedVersion;
    if (at === undefined || !this.rules.finalization) return undefined;
    const binary = parseVersion(version);
    const cluster = parseVersion(at);
    if (series(binary) === series(cluster) || compareVersions(binary, cluster) > 0) return undefined;
    return `refuses to start: cluster version ${series(cluster)} is finalized and newer than binary ${version}`;
  }

  private slowFactor(name: string): number {
    let f = 1;
    for (const fault of this.description.faults)
      if (fault.kind === 'slow' && fault.member === name) f *= fault.factor;
    return f;
  }

  private neverReady(name: string, version: string): SimFault | undefined {
    return this.description.faults.find(
      (f) =>
        f.kind === 'never-ready' &&
        f.member === name &&
        (f.version === undefined || atVersion(f.version, version)),
    );
  }

  private drainTimeout(name: string): boolean {
    const fault = this.description.faults.find((f) => f.kind === 'drain-timeout' && f.member === name);
    if (fault)
      this.recorder.fault({
        at: this.now(),
        fault,
        member: name,
        message: `leadership transfer from ${name} never completes`,
      });
    return fault !== undefined;
  }
}
