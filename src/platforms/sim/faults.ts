/**
 * Faults a simulated cluster can be told to suffer. Each is deterministic: it names the member,
 * version or call it applies to, or draws from the cluster's seeded fault stream.
 */
import { OperationalError } from '../../core/errors.js';
import type { Rng } from './prng.js';

/** Every call the simulator counts, by port method. */
export const SIM_CALL_KINDS = [
  'listMembers',
  'replaceMember',
  'stopMember',
  'observe',
  'prechecks',
  'drain',
  'replaceOptions',
  'restore',
  'hook',
  'finalize',
  'takeOver',
  'handBack',
] as const;

/** A port method of the simulated platform or engine. */
export type SimCallKind = (typeof SIM_CALL_KINDS)[number];

/** Calls that change the cluster; `crash` counts only these. */
export const DISRUPTIVE_CALLS: readonly SimCallKind[] = [
  'replaceMember',
  'stopMember',
  'drain',
  'restore',
  'hook',
  'finalize',
  'takeOver',
  'handBack',
];

/** Member `member` never becomes ready once it runs `version` (any new version when omitted). */
export interface NeverReadyFault {
  kind: 'never-ready';
  member: string;
  version?: string;
}

/** Leadership transfers away from `member` are accepted but never complete. */
export interface DrainTimeoutFault {
  kind: 'drain-timeout';
  member: string;
}

/** The `nth` call of kind `call` (1-based), or each such call with `probability`, fails. */
export interface ApiErrorFault {
  kind: 'api-error';
  call: SimCallKind;
  nth?: number;
  probability?: number;
}

/**
 * The `nth` disruptive call (1-based, over all kinds) throws {@link SimCrash}: `before` it takes
 * effect, or (default) `after`, which is the case that tests idempotency after a crash.
 */
export interface CrashFault {
  kind: 'crash';
  nth: number;
  when: 'before' | 'after';
}

/** Member `member` restarts, becomes ready, catches up and hands over leadership `factor` times slower. */
export interface SlowFault {
  kind: 'slow';
  member: string;
  factor: number;
}

/** Any fault of a simulated cluster. */
export type SimFault = NeverReadyFault | DrainTimeoutFault | ApiErrorFault | CrashFault | SlowFault;

/**
 * Thrown by a simulated call to stand for the runner process dying at that point. It is not a
 * BatonError on purpose: nothing should handle it except the test harness, which then starts a
 * fresh runner on the same cluster and journal.
 */
export class SimCrash extends Error {
  /** The call that crashed and its 1-based number among disruptive calls. */
  readonly call: SimCallKind;
  readonly nth: number;
  readonly when: 'before' | 'after';

  constructor(call: SimCallKind, nth: number, when: 'before' | 'after') {
    super(`simulated crash ${when} disruptive call #${nth} (${call})`);
    this.name = 'SimCrash';
    this.call = call;
    this.nth = nth;
    this.when = when;
  }
}

/** A fault that fired, for the recorder. */
export interface FiredFault {
  at: number;
  fault: SimFault;
  call?: SimCallKind;
  member?: string;
  message: string;
}

/**
 * Decides, call by call, whether an api-error or crash fault fires. Counters live here, so a
 * fresh runner after a crash continues the same count on the same cluster.
 */
export class FaultInjector {
  private readonly counts = new Map<SimCallKind, number>();
  private disruptive = 0;
  private readonly firedCrashes = new Set<CrashFault>();

  constructor(
    readonly faults: readonly SimFault[],
    private readonly rng: Rng,
    private readonly onFire: (fired: Omit<FiredFault, 'at'>) => void,
  ) {}

  /**
   * Count a call of `kind` and throw what fires before it takes effect. Returns the disruptive
   * call number (0 for a read) for {@link afterCall}.
   */
  beforeCall(kind: SimCallKind): number {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    for (const f of this.faults) {
      if (f.kind !== 'api-error' || f.call !== kind) continue;
      const hit = f.nth !== undefined ? f.nth === n : this.rng() < (f.probability ?? 0);
      if (hit) {
        const message = `simulated API error on ${kind} call #${n}`;
        this.onFire({ fault: f, call: kind, message });
        throw new OperationalError('sim-api-error', message);
      }
    }
    if (!DISRUPTIVE_CALLS.includes(kind)) return 0;
    this.disruptive += 1;
    this.maybeCrash(kind, this.disruptive, 'before');
    return this.disruptive;
  }

  /** Throw a crash that fires after disruptive call number `nth` took effect. */
  afterCall(kind: SimCallKind, nth: number): void {
    if (nth > 0) this.maybeCrash(kind, nth, 'after');
  }

  /** Calls of `kind` counted so far. */
  count(kind: SimCallKind): number {
    return this.counts.get(kind) ?? 0;
  }

  private maybeCrash(kind: SimCallKind, nth: number, when: 'before' | 'after'): void {
    for (const f of this.faults) {
      if (f.kind !== 'crash' || f.nth !== nth || f.when !== when || this.firedCrashes.has(f)) continue;
      this.firedCrashes.add(f);
      const crash = new SimCrash(kind, nth, when);
      this.onFire({ fault: f, call: kind, message: crash.message });
      throw crash;
    }
  }
}
