/**
 * A harness that drives the real Runner over a simulated cluster the way an operator would:
 * reconcile, sleep the requeue on a fake clock, survive simulated crashes by starting a fresh
 * Runner on the same world and journal, flip control fields of the spec, and stop when the
 * upgrade is terminal, waits for a human, or is blocked by a named check. Used by the property
 * tests; every scenario is plain data, so a counterexample prints as a reproducible value.
 */
import { FakeClock } from '../../src/core/clock.js';
import { OperationalError } from '../../src/core/errors.js';
import { nullLogger } from '../../src/core/logger.js';
import type { JournalStore } from '../../src/core/ports.js';
import type { BatchPolicy, TimeoutPolicy, UpgradeSpec, UpgradeStatus } from '../../src/core/types.js';
import { isTerminal } from '../../src/core/types.js';
import { engineRules } from '../../src/engines/registry.js';
import {
  createSimWorld,
  parseSimClusterDescription,
  type SimFault,
  type SimWorld,
} from '../../src/platforms/sim/index.js';
import { fingerprint, isProcessCrash, type ReconcileResult, Runner } from '../../src/runner/runner.js';
import { createUpgrade, makeSpec } from '../../src/runner/start.js';
import { engineRegistry } from '../../src/engines/registry.js';

/** One member of a scenario. */
export interface ScenarioMember {
  ready: boolean;
  lag: number;
  /** Starts already on the upgrade's target version. */
  atTarget: boolean;
}

/** A user control applied when the harness has done `after` reconciles. */
export interface ScenarioControl {
  after: number;
  kind: 'pause' | 'cancel' | 'rollback';
}

/** Everything that defines one simulated upgrade; plain data. */
export interface Scenario {
  engine: string;
  seed: number;
  from: string;
  to: string;
  components: { name: string; members: ScenarioMember[] }[];
  batch: BatchPolicy;
  maxUnavailable: number;
  soakSeconds: number;
  pauseAfterFirstBatch: boolean;
  pauseAfterEachBatch: boolean;
  supervised: boolean;
  drainPolicy: TimeoutPolicy;
  drainSeconds: number;
  readySeconds: number;
  finalize: 'auto' | 'manual';
  force: string[];
  faults: SimFault[];
  timings: { replaceMs: number; readyMs: number; catchUpMs: number; drainMs: number; electionMs: number };
  controls: ScenarioControl[];
  /** Times the harness answers a pause caused by Baton itself with `baton resume`. */
  resumes: number;
  /** The members have an owner: the runner takes them over and hands them back (see `owner`). */
  owner?: boolean;
}

/** How a driven run stopped. */
export type StopKind = 'terminal' | 'awaiting-finalization' | 'paused' | 'blocked' | 'stalled' | 'step-limit';

/** The end of a driven run and what it went through. */
export interface RunOutcome {
  world: SimWorld;
  spec: UpgradeSpec;
  status: UpgradeStatus;
  stop: StopKind;
  reconciles: number;
  actions: number;
  crashes: number;
  /** Controls applied, in order. */
  applied: string[];
  /** Versions per member before anything moved. */
  initialVersions: Record<string, string>;
  /** Members not ready before anything moved, per component. */
  initiallyUnready: Record<string, number>;
}

/** A blocked run stops after this long of fake time behind the same named check. */
export const BLOCKED_LIMIT_MS = 60_000;
/** A running upgrade that takes no action for this long, without a blocking check, has stalled. */
export const STALL_LIMIT_MS = 3600_000;

/** What a driven run may be given besides its scenario. */
export interface DriveOptions {
  /** The journal the platform stores the upgrade in (default: a fresh in-memory one). */
  journal?: JournalStore;
  /** Most reconciles before the run counts as endless. */
  maxReconciles?: number;
  /** Called with every reconcile that returned (not with those a crash ended). */
  onReconcile?: (r: ReconcileResult) => void;
  /**
   * Milliseconds the restarted process waits after a crash before it looks again (default 0:
   * at once).
   */
  restartDelayMs?: (crash: unknown) => number;
  /** Drive with the runner writing behind (`RunnerDeps.writeBehind`, as the operator does). */
  writeBehind?: boolean;
}

/** Wire the world of a scenario and create its upgrade. */
export async function setUp(
  s: Scenario,
  opts: Pick<DriveOptions, 'journal'> = {},
): Promise<{ world: SimWorld; clock: FakeClock; spec: UpgradeSpec }> {
  const clock = new FakeClock();
  const world = createSimWorld(
    parseSimClusterDescription(
      {
        engine: s.engine,
        version: s.from,
        seed: s.seed,
        timings: s.timings,
        faults: s.faults,
        ...(s.owner ? { owner: true } : {}),
        components: s.components.map((c) => ({
          name: c.name,
          members: c.members.map((m) => ({
            ready: m.ready,
            lag: m.lag,
            ...(m.atTarget ? { version: s.to } : {}),
          })),
        })),
      },
      engineRegistry,
    ),
    { clock, ...(opts.journal ? { journal: opts.journal } : {}) },
  );
  const spec = makeSpec({
    name: 'up',
    cluster: world.cluster.name,
    engine: s.engine,
    version: s.to,
    strategy: {
      batch: s.batch,
      maxUnavailable: s.maxUnavailable,
      soakSeconds: s.soakSeconds,
      pauseAfterFirstBatch: s.pauseAfterFirstBatch,
      pauseAfterEachBatch: s.pauseAfterEachBatch,
      timeouts: {
        drainSeconds: s.drainSeconds,
        drainPolicy: s.drainPolicy,
        readySeconds: s.readySeconds,
        readyPolicy: 'pause',
      },
    },
    supervised: s.supervised,
    finalize: s.finalize,
    force: s.force,
  });
  // An injected API error may hit the observation of `baton apply`; the user runs it again.
  for (let attempt = 1; ; attempt++) {
    try {
      await createUpgrade(world.platform, world.engine, spec, { clock, logger: nullLogger });
      return { world, clock, spec };
    } catch (err) {
      if (!(err instanceof OperationalError) || attempt >= 3) throw err;
    }
  }
}

function isGatePause(status: UpgradeStatus): boolean {
  return status.batchGate !== undefined || status.supervisedGate !== undefined;
}

/**
 * Drive a scenario to its end. Gates (pause after batch, supervised) are always resumed; a pause
 * Baton took for an error is resumed `s.resumes` times; AwaitingFinalization is finalized.
 * A process crash (SimCrash, or any error {@link isProcessCrash} recognises) ends the current
 * Runner; a fresh one continues from the journal.
 */
export async function drive(s: Scenario, opts: DriveOptions = {}): Promise<RunOutcome> {
  const maxReconciles = opts.maxReconciles ?? 20_000;
  const { world, clock, spec: created } = await setUp(s, opts);
  const journal = world.platform.journal;
  const initialVersions = Object.fromEntries(world.cluster.memberViews().map((m) => [m.name, m.version]));
  const initiallyUnready: Record<string, number> = {};
  for (const m of world.cluster.memberViews()) {
    initiallyUnready[m.component] = (initiallyUnready[m.component] ?? 0) + (m.ready ? 0 : 1);
  }
  const fresh = () =>
    new Runner({ ...world, clock, logger: nullLogger, name: created.name, writeBehind: opts.writeBehind });
  let runner = fresh();
  let reconciles = 0;
  let actions = 0;
  let crashes = 0;
  let resumesLeft = s.resumes;
  let lastActionAt = clock.now();
  const applied: string[] = [];
  const controls = [...s.controls].sort((a, b) => a.after - b.after);
  let last: ReconcileResult | undefined;
  let stop: StopKind = 'step-limit';
  const userPaused = { at: -1 };
  let blocked: { check: string; since: number } | undefined;
  /** The last status the harness reacted to. */
  let seen = '';

  /**
   * What the user does on seeing `st` (resume a gate, finalize...), or how the run stops. Called
   * after every reconcile, and after a crash on what the journal holds.
   */
  const react = async (st: UpgradeStatus, sp: UpgradeSpec): Promise<StopKind | undefined> => {
    if (st.phase === 'Paused') {
      // A user pause is lifted a few reconciles later (members in flight finish meanwhile).
      if (sp.paused && reconciles - userPaused.at >= 5) {
        applied.push('resume');
        await journal.updateSpec(created.name, (x) => ({ ...x, paused: false }));
      } else if (!sp.paused && isGatePause(st)) {
        applied.push('resume-gate');
        await journal.updateSpec(created.name, (x) => ({ ...x, paused: false }));
      } else if (!sp.paused && resumesLeft > 0) {
        resumesLeft -= 1;
        applied.push('resume-error');
        await journal.updateSpec(created.name, (x) => ({ ...x, paused: false }));
      } else if (!sp.paused) {
        return 'paused';
      }
    } else if (st.phase === 'AwaitingFinalization') {
      if (sp.finalizeRequested || sp.rollback) {
        // already asked: keep reconciling
      } else if (s.finalize === 'manual') {
        applied.push('finalize');
        await journal.updateSpec(created.name, (x) => ({ ...x, finalizeRequested: true }));
      } else {
        return 'awaiting-finalization';
      }
    }
    return undefined;
  };

  /** Whether `st` has been blocked by the same check, or running without an action, too long. */
  const track = (st: UpgradeStatus): StopKind | undefined => {
    if (!st.blockedBy) blocked = undefined;
    else if (blocked?.check !== st.blockedBy.check)
      blocked = { check: st.blockedBy.check, since: clock.now() };
    else if (clock.now() - blocked.since >= BLOCKED_LIMIT_MS) return 'blocked';
    if (!st.blockedBy && st.phase === 'Running' && clock.now() - lastActionAt >= STALL_LIMIT_MS)
      return 'stalled';
    return undefined;
  };

  while (reconciles < maxReconciles) {
    while (controls.length > 0 && controls[0]!.after <= reconciles) {
      const c = controls.shift()!;
      applied.push(c.kind);
      if (c.kind === 'pause') userPaused.at = reconciles;
      await journal.updateSpec(created.name, (sp) => ({
        ...sp,
        ...(c.kind === 'pause'
          ? { paused: true }
          : c.kind === 'cancel'
            ? { cancel: true }
            : { rollback: true }),
      }));
    }
    let r: ReconcileResult;
    /** The process died (`err`): a fresh one looks at the journal; the run's end, if that is one. */
    const crashed = async (err: unknown): Promise<StopKind | undefined> => {
      if (!isProcessCrash(err)) throw err;
      crashes += 1;
      runner = fresh();
      last = undefined;
      // A status the crashed reconcile wrote but could not return is seen in the journal, as a
      // user watching `baton status` would see it.
      const rec = await journal.get(created.name);
      if (rec && fingerprint(rec.status) !== seen) {
        seen = fingerprint(rec.status);
        const ended = isTerminal(rec.status.phase)
          ? 'terminal'
          : ((await react(rec.status, rec.spec)) ?? track(rec.status));
        if (ended) return ended;
      }
      const delay = opts.restartDelayMs?.(err) ?? 0;
      if (delay > 0) await clock.sleep(delay);
      return undefined;
    };
    /** A runner writing behind has written what it reports before the run ends on it. */
    const ends = async (kind: StopKind): Promise<StopKind | 'crashed' | undefined> => {
      if (!opts.writeBehind) return kind;
      try {
        await runner.flush();
        return kind;
      } catch (err) {
        return (await crashed(err)) ?? 'crashed';
      }
    };
    try {
      reconciles += 1;
      r = await runner.reconcile();
    } catch (err) {
      const ended = await crashed(err);
      if (ended) {
        stop = ended;
        break;
      }
      continue;
    }
    opts.onReconcile?.(r);
    last = r;
    seen = fingerprint(r.status);
    if (r.action) {
      actions += 1;
      lastActionAt = clock.now();
    }
    const st = r.status;
    const end = r.terminal ? 'terminal' : ((await react(st, r.spec)) ?? track(st));
    if (end) {
      const ended = await ends(end);
      if (ended === 'crashed') continue;
      if (ended) {
        stop = ended;
        break;
      }
    }
    if (r.requeueMs > 0) await clock.sleep(r.requeueMs);
  }
  const rec = await journal.get(created.name);
  return {
    world,
    spec: rec!.spec,
    status: last?.status ?? rec!.status,
    stop,
    reconciles,
    actions,
    crashes,
    applied,
    initialVersions,
    initiallyUnready,
  };
}

/** The version the scenario's components end on (the engine's target for every component). */
export function targetOf(s: Scenario): string {
  return s.to;
}

/** Components of an engine in its default order. */
export function componentsOf(engine: string): string[] {
  return engineRules(engine).components.map((c) => c.name);
}
