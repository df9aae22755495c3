/**
 * The durable runner: observe -> decide (pure) -> persist the intent -> one step -> persist the
 * outcome -> observe again. It holds no state of its own between reconciles besides counters for
 * back-off and, writing behind, the statuses not yet written (none of them an intent): everything
 * that matters is in the journal, so a new Runner (another process, another operator replica)
 * picks up exactly where a crashed one stopped.
 */
import pLimit from 'p-limit';
import { BadInputError, ConflictError, describeError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Engine, Platform, PortContext, UpgradeRecord } from '../core/ports.js';
import type { PrecheckResult, Snapshot, UpgradeSpec, UpgradeStatus } from '../core/types.js';
import { isTerminal } from '../core/types.js';
import { decide } from './decide.js';
import type { Action, Availability, Decision, Outcome } from './decision.js';
import { applyOutcome, applyOutcomes } from './outcome.js';
import { entriesAfter, historyEvent, type RunnerEvent } from './events.js';
import { observe } from './observe.js';

export type { RunnerEvent } from './events.js';
import { setPhase } from './status.js';

/** What a Runner needs; all passed in. */
export interface RunnerDeps {
  platform: Platform;
  engine: Engine;
  clock: Clock;
  logger: Logger;
  /** Name of the upgrade in the platform's journal. */
  name: string;
  /** Client-level availability (the probe); a failing verdict pauses the upgrade. */
  availability?: () => Availability | undefined;
  /** Called for each new history entry (events on the Upgrade and the pod concerned). */
  onEvent?: (e: RunnerEvent) => void;
  /** Called after every decision with the persisted status (progress rendering, metrics). */
  onStatus?: (status: UpgradeStatus, spec: UpgradeSpec) => void;
  /** Called after each action with its duration (metrics). */
  onAction?: (action: Action, ms: number, ok: boolean) => void;
  /**
   * Write behind: a status that records no intent (the outcomes of the actions just performed, a
   * step the platform carries out by itself, a change without an action) is written while the next
   * reconcile already observes and decides on it, one write at a time, a newer status replacing
   * one still waiting to go out. An intent is still durable before its action runs (it is written
   * after the write in flight, in the place of what waits behind it), and so is a terminal status
   * before it is reported. A crash loses at most statuses that record no intent: what a crash
   * before an outcome write loses anyway, decided again from what the cluster shows. For the
   * operator's node upgrades, whose status writes take a large part of a second each under load.
   */
  writeBehind?: boolean;
}

/** Result of one reconcile. */
export interface ReconcileResult {
  status: UpgradeStatus;
  spec: UpgradeSpec;
  /** Look again after this many ms (0: at once). */
  requeueMs: number;
  terminal: boolean;
  action?: Action;
}

/** Errors that simulate the Baton process dying: never caught, so tests can "crash" mid-step. */
export function isProcessCrash(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'SimCrash' || (err as { processCrash?: boolean }).processCrash === true)
  );
}

/** Whether an action error is worth retrying before pausing. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof BadInputError) return false;
  return true;
}

/** Every precheck of an upgrade: the platform's (binaries installed...) then the engine's. */
export async function runPrechecks(
  platform: Platform,
  engine: Engine,
  snapshot: Snapshot,
  spec: UpgradeSpec,
  ctx: PortContext,
): Promise<PrecheckResult[]> {
  return [
    ...(platform.prechecks ? await platform.prechecks(snapshot, spec, ctx) : []),
    ...(await engine.prechecks(snapshot, spec, ctx)),
  ];
}

/** Actions a platform with `durableActions` performs before their intent is journalled. */
const DURABLE: ReadonlySet<Action['kind']> = new Set(['replace', 'takeOver', 'handBack']);
const isDurable = (a: Action) => DURABLE.has(a.kind);

/**
 * Most actions of one decision (a batch's drains, replacements...) run at the same time, this many
 * at once. A decision's reconcile lasts as long as its slowest action: at 32 the 99 drains of a
 * 1,000-node pool's batch went out in four waves spread over 2.5 to 5.8 s under load that every
 * node of the batch waited for. 64 took bench:nodes from 1.34x to 1.26x the floor, and the
 * operator's peak RSS from 200 MB to 223 MB under glibc's malloc; with the bundled program and
 * jemalloc of the image (src/operator/bundle.ts, OPERATOR_IMAGE_ENV) it peaks at 189 MB (budget 200).
 */
export const ACTION_CONCURRENCY = 64;

/** How often a changed wait reason alone is persisted. */
export const REASON_WRITE_INTERVAL_MS = 2000;

/**
 * Everything in a status that matters for resuming or for users, without the wording of waits and
 * the ETA, which change on every poll.
 */
export function fingerprint(s: UpgradeStatus): string {
  return JSON.stringify([
    s.phase,
    s.observedGeneration,
    s.direction,
    s.hop,
    s.history.length,
    s.history[s.history.length - 1]?.message,
    s.members,
    s.currentBatch,
    s.batchReadyAt,
    s.batchesStarted,
    s.batchesSincePause,
    s.blockedBy,
    s.warnings,
    s.hooksDone,
    s.custody,
    s.handBackWait,
    s.retry,
    s.pauseCause,
    s.pausedGeneration,
    s.supervisedGate,
    s.finalized,
    s.prechecksAt,
  ]);
}

/** Drives one upgrade. */
export class Runner {
  private observeFailures = 0;
  private lastWriteAt = -Infinity;
  /** Write behind: the record as last written (what the next write is based on). */
  private written?: UpgradeRecord;
  /** Write behind: the newest status decided, written or not (what the next decision starts from). */
  private latest?: UpgradeRecord;
  /** Write behind: the status waiting for the write in flight. */
  private waiting?: UpgradeStatus;
  private writing?: Promise<void>;
  /** Write behind: why a write failed (reported by the next reconcile, which then reads afresh). */
  private writeError?: { err: unknown };
  /** Write behind: the last write that landed (an intent written behind reads its revision here). */
  private landed?: UpgradeRecord;

  constructor(private readonly deps: RunnerDeps) {}

  private ctx(signal?: AbortSignal): PortContext {
    return { clock: this.deps.clock, logger: this.deps.logger, signal };
  }

  /** One observe -> decide -> act -> persist cycle. */
  async reconcile(signal?: AbortSignal): Promise<ReconcileResult> {
    const { platform, engine, clock, logger, name } = this.deps;
    if (this.writeError) {
      const conflict = await this.settled().then(
        () => false,
        (err: unknown) => {
          if (err instanceof ConflictError) return true;
          throw err;
        },
      );
      // Someone else wrote (a spec change, another replica): decide again on a fresh read.
      if (conflict)
        logger.info('a status written behind met a newer revision; reading again', { upgrade: name });
    }
    let record = await platform.journal.get(name);
    if (record && this.latest) {
      if (record.spec.generation === this.latest.spec.generation) {
        // Decide on what was decided last, written or not.
        record = this.latest;
      } else {
        // The spec changed while statuses were written behind: let them land (or fail), read again.
        await this.settled().catch((err: unknown) => {
          if (!(err instanceof ConflictError)) throw err;
        });
        record = await platform.journal.get(name);
      }
    }
    if (!record) throw new BadInputError('no-such-upgrade', `no upgrade named "${name}"`);
    if (isTerminal(record.status.phase)) {
      return { status: record.status, spec: record.spec, requeueMs: 0, terminal: true };
    }

    let snapshot: Snapshot;
    try {
      snapshot = await observe(platform, engine, this.ctx(signal));
      this.observeFailures = 0;
    } catch (err) {
      if (isProcessCrash(err)) throw err;
      this.observeFailures += 1;
      const backoff = Math.min(30_000, 250 * 2 ** Math.min(this.observeFailures, 7));
      logger.warn('observation failed', {
        upgrade: name,
        error: describeError(err),
        attempt: this.observeFailures,
      });
      return { status: record.status, spec: record.spec, requeueMs: backoff, terminal: false };
    }

    let decision = this.decideOn(record.spec, record.status, snapshot);
    if (decision.action?.kind === 'precheck') {
      ({ decision, snapshot } = await this.precheckThenDecide(record, decision, snapshot, signal));
    }
    let revision = record.revision;
    const now = clock.now();
    const actions = decision.action ? (decision.actions ?? [decision.action]) : [];
    // Performed first and journalled with their outcome, in one write (a crash in between decides
    // them again): a restore, whose intent changes nothing in the journal, and a replacement,
    // take-over or hand-back that the cluster carries out by itself.
    const actFirst =
      actions.length > 0 &&
      actions.every((a) => a.kind === 'restore' || (platform.durableActions === true && isDurable(a)));
    // A wait that changed nothing but its wording is not worth a journal write on every poll; the
    // wording is still persisted every few seconds so `baton status` elsewhere stays current.
    const worthWriting =
      decision.action !== undefined ||
      fingerprint(decision.status) !== fingerprint(record.status) ||
      (decision.reason !== record.status.reason && now - this.lastWriteAt >= REASON_WRITE_INTERVAL_MS);
    let base = record;
    if (worthWriting && !actFirst && this.deps.writeBehind && !decision.action) {
      this.writeLater(record, decision.status);
    } else if (worthWriting && !actFirst) {
      try {
        // An intent goes out after everything written behind, and is durable before its action.
        if (this.writing) {
          // It holds all that waits behind the write in flight: it takes that place.
          this.writeLater(record, decision.status);
          await this.settled();
          const landed = this.landed;
          if (landed?.status !== decision.status) throw new Error('the intent was not written');
          base = landed;
          revision = landed.revision;
        } else {
          base = (await this.settled()) ?? record;
          revision = await this.persist(base, decision.status, base.revision);
          this.lastWriteAt = now;
        }
      } catch (err) {
        if (err instanceof ConflictError)
          return { status: record.status, spec: record.spec, requeueMs: 0, terminal: false };
        throw err;
      }
    } else if (!actFirst) {
      this.deps.onStatus?.(decision.status, record.spec);
    }
    let status = decision.status;
    if (decision.action) {
      logger.info(decision.reason, { upgrade: name, action: decision.action.kind });
      // Several actions are the same step for members of one batch: they run together, a bounded
      // number at a time, and every outcome is folded into the status before it is persisted.
      const limit = pLimit(ACTION_CONCURRENCY);
      const outcomes = await Promise.all(
        actions.map((a) => limit(() => this.perform(a, snapshot, record.spec, signal))),
      );
      status = applyOutcomes(
        { spec: record.spec, status, now: clock.now() },
        actions.map((a, i) => [a, outcomes[i]!] as const),
      );
      const before = actFirst ? record : { ...base, status: decision.status, revision };
      if (this.deps.writeBehind) {
        this.writeLater(before, status);
      } else {
        try {
          await this.persist(before, status, revision);
          if (actFirst) this.lastWriteAt = now;
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
        }
      }
    } else if (decision.reason !== record.status.reason) {
      logger.info(decision.reason, { upgrade: name });
    }
    if (isTerminal(status.phase) && this.deps.writeBehind) {
      // An end is reported only once it is written.
      try {
        await this.settled();
      } catch (err) {
        if (err instanceof ConflictError)
          return { status: record.status, spec: record.spec, requeueMs: 0, terminal: false };
        throw err;
      }
    }
    const retry = status.retry ? Math.min(10_000, 500 * 2 ** status.retry.count) : undefined;
    return {
      status,
      spec: record.spec,
      requeueMs: retry ?? decision.requeueMs,
      terminal: isTerminal(status.phase),
      action: decision.action,
    };
  }

  /** The pure decision on `status` and `snapshot`, now. */
  private decideOn(spec: UpgradeSpec, status: UpgradeStatus, snapshot: Snapshot): Decision {
    return decide({
      spec,
      status,
      snapshot,
      rules: this.deps.engine.rules,
      now: this.deps.clock.now(),
      availability: this.deps.availability?.(),
    });
  }

  /**
   * Prechecks only read, so they get no journal write of their own: run them, fold their results
   * in, look again and decide once more, so that the results and the step they allow (the first
   * disruptive action, whose intent must be journalled before it runs) reach the journal in one
   * write. A crash before that write only means the prechecks run again. The decision returned
   * never asks for another precheck in the same reconcile.
   */
  private async precheckThenDecide(
    record: UpgradeRecord,
    decision: Decision,
    snapshot: Snapshot,
    signal?: AbortSignal,
  ): Promise<{ decision: Decision; snapshot: Snapshot }> {
    const { platform, engine, clock, logger, name } = this.deps;
    const action = decision.action!;
    logger.info(decision.reason, { upgrade: name, action: action.kind });
    const outcome = await this.perform(action, snapshot, record.spec, signal);
    const checked = applyOutcome(
      { spec: record.spec, status: decision.status, now: clock.now() },
      action,
      outcome,
    );
    const settled: Decision = { status: checked, reason: checked.reason, requeueMs: 0 };
    let fresh: Snapshot;
    try {
      fresh = await observe(platform, engine, this.ctx(signal));
    } catch (err) {
      if (isProcessCrash(err)) throw err;
      // The next reconcile observes (and backs off) on its own; keep what the prechecks found.
      return { decision: settled, snapshot };
    }
    const next = this.decideOn(record.spec, checked, fresh);
    if (next.action?.kind === 'precheck') return { decision: settled, snapshot: fresh };
    return { decision: next, snapshot: fresh };
  }

  /**
   * Write behind: queue `status`, decided on `before` (the record as written when nothing is
   * pending), after the write in flight; a status still waiting is replaced by it.
   */
  private writeLater(before: UpgradeRecord, status: UpgradeStatus): void {
    if (!this.writing) this.written = before;
    this.latest = { spec: before.spec, status, revision: before.revision };
    this.waiting = status;
    this.writing ??= this.writeWaiting();
  }

  private async writeWaiting(): Promise<void> {
    while (this.waiting && !this.writeError) {
      const status = this.waiting;
      this.waiting = undefined;
      const from = this.written!;
      try {
        const revision = await this.persist(from, status, from.revision);
        this.written = { spec: from.spec, status, revision };
        this.landed = this.written;
        // A reconcile deciding on this status meanwhile writes on from its revision.
        if (this.latest?.status === status) this.latest.revision = revision;
        this.lastWriteAt = this.deps.clock.now();
      } catch (err) {
        this.writeError = { err };
      }
    }
    this.writing = undefined;
    // Nothing pending: the next reconcile reads the journal again (a spec change shows there).
    if (!this.writeError) {
      this.latest = undefined;
      this.written = undefined;
    }
  }

  /**
   * Wait for every status written behind: the record as last written (undefined when nothing was
   * written behind since the last call). Throws what a write failed with, once; the next reconcile
   * then reads the journal afresh.
   */
  private async settled(): Promise<UpgradeRecord | undefined> {
    while (this.writing) await this.writing;
    const { written, writeError } = this;
    this.written = undefined;
    this.latest = undefined;
    this.waiting = undefined;
    this.writeError = undefined;
    if (writeError) throw writeError.err;
    return written;
  }

  /**
   * Wait until every status written behind is written. Throws what a write failed with (a
   * ConflictError: the journal changed meanwhile, decide again); the next reconcile reads afresh.
   */
  async flush(): Promise<void> {
    await this.settled();
  }

  private async persist(before: UpgradeRecord, status: UpgradeStatus, revision: string): Promise<string> {
    const next = await this.deps.platform.journal.writeStatus(this.deps.name, status, revision);
    for (const h of entriesAfter(status.history, before.status.history.at(-1)))
      this.deps.onEvent?.(historyEvent(h));
    this.deps.onStatus?.(status, before.spec);
    return next;
  }

  private async perform(
    action: Action,
    snapshot: Snapshot,
    spec: UpgradeSpec,
    signal?: AbortSignal,
  ): Promise<Outcome> {
    const { platform, engine, clock } = this.deps;
    const ctx = this.ctx(signal);
    const started = clock.now();
    const member = (n: string) => snapshot.members.find((m) => m.name === n);
    try {
      let outcome: Outcome;
      switch (action.kind) {
        case 'precheck':
          outcome = { ok: true, prechecks: await runPrechecks(platform, engine, snapshot, spec, ctx) };
          break;
        case 'hook': {
          const message = engine.hook
            ? await engine.hook(action.hook, action.component, snapshot, { ...ctx, platform, spec })
            : `${action.hook}: nothing to do for ${engine.name}`;
          outcome = { ok: true, message };
          break;
        }
        case 'drain': {
          const m = member(action.member);
          if (!m) throw new Error(`member ${action.member} is no longer listed by the platform`);
          const r = await engine.drain(m, action.target ? member(action.target) : undefined, snapshot, {
            ...ctx,
            platform,
            spec,
            ...(action.timedOut ? { timedOut: true } : {}),
          });
          outcome = { ok: true, message: r.message, movedTo: r.movedTo };
          break;
        }
        case 'replace': {
          const m = member(action.member);
          const opts = m && engine.replaceOptions ? await engine.replaceOptions(m, snapshot, ctx) : {};
          await platform.replaceMember(action.member, action.version, opts, ctx);
          outcome = { ok: true };
          break;
        }
        case 'restore': {
          const m = member(action.member);
          if (m && engine.restore) await engine.restore(m, snapshot, ctx);
          outcome = { ok: true };
          break;
        }
        case 'finalize': {
          const message = engine.finalize ? await engine.finalize(snapshot, ctx) : 'nothing to finalize';
          outcome = { ok: true, message };
          break;
        }
        case 'takeOver': {
          const message = platform.custody
            ? await platform.custody.takeOver(spec, ctx)
            : `${platform.name}: no owner to take the members over from`;
          outcome = { ok: true, message };
          break;
        }
        case 'handBack': {
          const r = platform.custody
            ? await platform.custody.handBack(spec, ctx)
            : { done: true as const, message: `${platform.name}: no owner to hand the members back to` };
          outcome = r.done ? { ok: true, message: r.message } : { ok: true, notYet: r.reason };
          break;
        }
      }
      this.deps.onAction?.(action, clock.now() - started, true);
      return outcome;
    } catch (err) {
      if (isProcessCrash(err)) throw err;
      this.deps.onAction?.(action, clock.now() - started, false);
      return { ok: false, error: err, retryable: isRetryable(err) };
    }
  }

  /**
   * Reconcile until the upgrade is terminal, `stopWhen` says so, or the signal aborts. Requeues
   * with the delay each decision asks for (the injected clock sleeps; a fake clock makes it instant).
   */
  async run(
    opts: { signal?: AbortSignal; stopWhen?: (r: ReconcileResult) => boolean } = {},
  ): Promise<ReconcileResult> {
    for (;;) {
      opts.signal?.throwIfAborted();
      const r = await this.reconcile(opts.signal);
      if (r.terminal || opts.stopWhen?.(r)) {
        try {
          await this.flush();
        } catch (err) {
          if (err instanceof ConflictError) continue;
          throw err;
        }
        return r;
      }
      if (r.requeueMs > 0) await this.deps.clock.sleep(r.requeueMs, opts.signal);
    }
  }
}

/** Mark an upgrade Failed (used when the journal cannot be continued, e.g. the cluster vanished). */
export function failStatus(status: UpgradeStatus, reason: string, now: number): UpgradeStatus {
  const next = structuredClone(status);
  setPhase(next, 'Failed', reason, now);
  return next;
}
