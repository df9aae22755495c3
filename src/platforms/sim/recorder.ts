/**
 * What happened in a simulated cluster, for invariant checks: every port call with its time and
 * outcome, real restarts per member and target version, the most members of each component that
 * were unavailable at once, leaders stopped while they still led, members replaced before their
 * prerequisites were done, elections, transfers, hooks, finalizations and faults.
 */
import type { FiredFault, SimCallKind } from './faults.js';

/** One port call. */
export interface SimCall {
  at: number;
  kind: SimCallKind;
  /** Member the call is about, when there is one. */
  member?: string;
  /** Version, target member, hook name... depending on the call. */
  args?: Record<string, unknown>;
  outcome: 'ok' | 'error' | 'crash';
  /** Error message when the call failed. */
  error?: string;
}

/** A member stopped while it still held leadership (raft/replication) or leaders (multi-raft/sharded). */
export interface LeaderStop {
  at: number;
  member: string;
  component: string;
  /** Role it held, or the number of leaderships for multi-raft/sharded members. */
  held: string;
  /** A ready, healthy, caught-up member of the same component that could have taken over. */
  healthyTarget?: string;
}

/** A member replaced while a prerequisite component was not fully upgraded and healthy. */
export interface PrerequisiteViolation {
  at: number;
  member: string;
  component: string;
  prerequisite: string;
  reason: string;
}

/** A new leader after a leader stopped while leading. */
export interface Election {
  at: number;
  component: string;
  leader: string;
  previous?: string;
}

/** A completed leadership hand-over requested by a drain. */
export interface Transfer {
  at: number;
  component: string;
  from: string;
  /** Receiving member, or `several` for multi-raft/sharded moves. */
  to: string;
  /** Leaderships moved (1 for raft/replication). */
  count: number;
}

/** A hook or finalization the engine ran. */
export interface EngineAction {
  at: number;
  name: string;
  component?: string;
  message: string;
}

/** Peak unavailability of one component. */
export interface UnavailabilityPeak {
  count: number;
  at: number;
  members: string[];
}

/** Collects events; the simulator writes, tests read through the typed accessors. */
export class SimRecorder {
  private readonly callLog: SimCall[] = [];
  private readonly restartLog = new Map<string, Map<string, number>>();
  private readonly peaks = new Map<string, UnavailabilityPeak>();
  private readonly leaderStopLog: LeaderStop[] = [];
  private readonly prerequisiteLog: PrerequisiteViolation[] = [];
  private readonly electionLog: Election[] = [];
  private readonly transferLog: Transfer[] = [];
  private readonly hookLog: EngineAction[] = [];
  private readonly finalizeLog: EngineAction[] = [];
  private readonly faultLog: FiredFault[] = [];

  /** Record a call (the simulator does this for every port method). */
  call(entry: SimCall): void {
    this.callLog.push(entry);
  }

  /** Record a real restart of `member` onto `version`. */
  restart(member: string, version: string): void {
    const perVersion = this.restartLog.get(member) ?? new Map<string, number>();
    perVersion.set(version, (perVersion.get(version) ?? 0) + 1);
    this.restartLog.set(member, perVersion);
  }

  /** Record the members of `component` unavailable now; keeps the peak. */
  unavailable(component: string, members: string[], at: number): void {
    const peak = this.peaks.get(component);
    if (!peak || members.length > peak.count) {
      this.peaks.set(component, { count: members.length, at, members: [...members] });
    }
  }

  leaderStop(entry: LeaderStop): void {
    this.leaderStopLog.push(entry);
  }

  prerequisiteViolation(entry: PrerequisiteViolation): void {
    this.prerequisiteLog.push(entry);
  }

  election(entry: Election): void {
    this.electionLog.push(entry);
  }

  transfer(entry: Transfer): void {
    this.transferLog.push(entry);
  }

  hook(entry: EngineAction): void {
    this.hookLog.push(entry);
  }

  finalization(entry: EngineAction): void {
    this.finalizeLog.push(entry);
  }

  fault(entry: FiredFault): void {
    this.faultLog.push(entry);
  }

  /** Every call, or those of one kind, oldest first. */
  calls(kind?: SimCallKind): SimCall[] {
    return this.callLog.filter((c) => kind === undefined || c.kind === kind).map((c) => ({ ...c }));
  }

  /** Real restarts of `member` per target version. */
  restarts(member: string): Record<string, number> {
    return Object.fromEntries(this.restartLog.get(member) ?? []);
  }

  /** Real restarts of `member` onto `version`. */
  restartCount(member: string, version: string): number {
    return this.restartLog.get(member)?.get(version) ?? 0;
  }

  /** Total real restarts of every member. */
  totalRestarts(): number {
    let n = 0;
    for (const perVersion of this.restartLog.values()) for (const c of perVersion.values()) n += c;
    return n;
  }

  /** Members restarted more than once onto the same version: each is a doubled step. */
  repeatedRestarts(): { member: string; version: string; count: number }[] {
    const out: { member: string; version: string; count: number }[] = [];
    for (const [member, perVersion] of this.restartLog) {
      for (const [version, count] of perVersion) if (count > 1) out.push({ member, version, count });
    }
    return out;
  }

  /** Most members of `component` unavailable at once (0 when it never lost one). */
  maxUnavailable(component: string): number {
    return this.peaks.get(component)?.count ?? 0;
  }

  /** Peak unavailability per component, with when and who. */
  unavailabilityPeaks(): Record<string, UnavailabilityPeak> {
    return Object.fromEntries([...this.peaks].map(([k, v]) => [k, { ...v, members: [...v.members] }]));
  }

  /** Every leader that stopped while leading. */
  leaderStops(): LeaderStop[] {
    return this.leaderStopLog.map((e) => ({ ...e }));
  }

  /** Leader stops while a healthy target existed: leadership should have been handed over first. */
  leaderStopViolations(): LeaderStop[] {
    return this.leaderStops().filter((e) => e.healthyTarget !== undefined);
  }

  prerequisiteViolations(): PrerequisiteViolation[] {
    return this.prerequisiteLog.map((e) => ({ ...e }));
  }

  elections(): Election[] {
    return this.electionLog.map((e) => ({ ...e }));
  }

  transfers(): Transfer[] {
    return this.transferLog.map((e) => ({ ...e }));
  }

  hooks(): EngineAction[] {
    return this.hookLog.map((e) => ({ ...e }));
  }

  finalizations(): EngineAction[] {
    return this.finalizeLog.map((e) => ({ ...e }));
  }

  faults(): FiredFault[] {
    return this.faultLog.map((e) => ({ ...e }));
  }

  /**
   * Safety invariants broken so far, one line each: restarts repeated onto the same version,
   * leaders stopped while a healthy target existed, prerequisites not done. Empty when safe.
   */
  violations(): string[] {
    return [
      ...this.repeatedRestarts().map((r) => `${r.member} restarted ${r.count} times onto ${r.version}`),
      ...this.leaderStopViolations().map(
        (s) => `${s.member} stopped while holding ${s.held} although ${s.healthyTarget} could take over`,
      ),
      ...this.prerequisiteLog.map(
        (p) => `${p.member} replaced before prerequisite ${p.prerequisite} was done: ${p.reason}`,
      ),
    ];
  }
}
