/**
 * Driving an upgrade in the foreground: the runner loop with live progress, stopping when the
 * upgrade ends, pauses or waits for a human (finalization, failing prechecks).
 */
import { KUBERNETES_NODES_ENGINE } from '../api/nodes.js';
import { ConflictError } from '../core/errors.js';
import type { UpgradeRecord } from '../core/ports.js';
import type { Snapshot, UpgradeStatus } from '../core/types.js';
import { isTerminal } from '../core/types.js';
import { expiring, type Availability } from '../runner/decide.js';
import { observe } from '../runner/observe.js';
import { type ReconcileResult, Runner } from '../runner/runner.js';
import type { CliIO } from '../wiring/io.js';
import { ProgressReporter } from './progress.js';
import type { Target } from '../wiring/targets.js';

/** Why a foreground drive returned. */
export type DriveEnd = 'terminal' | 'paused' | 'awaiting-finalization' | 'prechecks-failed';

/** Result of {@link driveUpgrade}. */
export interface DriveResult {
  end: DriveEnd;
  status: UpgradeStatus;
  record: UpgradeRecord;
  /** Simulated or real duration of the drive in ms. */
  elapsedMs: number;
  actions: number;
}

/** Exit code for the end of a drive: 0 when the upgrade did what was asked, 1 otherwise. */
export function exitCodeFor(r: DriveResult): 0 | 1 {
  if (r.end === 'awaiting-finalization') return 0;
  if (r.end === 'paused') return r.status.pauseCause ? 1 : 0;
  if (r.end === 'terminal') return r.status.phase === 'Completed' ? 0 : 1;
  return 1;
}

/** Run the upgrade `name` on `target` until it ends or needs a human. */
export async function driveUpgrade(
  target: Target,
  name: string,
  io: CliIO,
  opts: {
    quiet?: boolean;
    availability?: () => Availability | undefined;
    /** Keep going while paused by the user (`status --watch` style); default false. */
    stayWhilePaused?: boolean;
  } = {},
): Promise<DriveResult> {
  const { clock } = target;
  const reporter = opts.quiet ? undefined : new ProgressReporter(io.stdout, () => clock.now());
  let lastSnapshot: Snapshot | undefined;
  let actions = 0;
  const started = clock.now();
  const runner = new Runner({
    platform: target.platform,
    engine: target.engine,
    clock,
    logger: io.logger,
    name,
    availability: opts.availability,
    onEvent: (e) => reporter?.event(e),
    onStatus: (s, spec) => reporter?.status(s, spec, lastSnapshot),
    onAction: () => {
      actions += 1;
    },
    // As in the operator (src/operator/reconcile.ts): a node upgrade's status holds every node,
    // hundreds of KB and up to a second a write under load, so the next reconcile does not wait for
    // an outcome's write (Runner's writeBehind; an intent is still written before its action).
    writeBehind: target.kind === 'kubernetes' && target.engine.name === KUBERNETES_NODES_ENGINE,
  });
  const refreshSnapshot = async () => {
    if (!reporter || !io.stdout.isTTY) return;
    try {
      lastSnapshot = await observe(target.platform, target.engine, { clock, logger: io.logger });
    } catch {
      lastSnapshot = undefined;
    }
  };
  let pausedSeen = false;
  const stopWhen = (r: ReconcileResult): boolean => {
    const s = r.status;
    if (s.phase === 'AwaitingFinalization') return true;
    if (s.phase === 'Prechecking' && s.blockedBy?.check.startsWith('precheck') && s.prechecks.length > 0)
      return true;
    if (s.phase === 'Paused') {
      // A pause past its expiry: restore what was drained and end Expired before returning.
      if (expiring(r.spec, s, clock.now())) return false;
      // Let members in flight finish before returning after a requested pause. An automatic pause
      // (pauseCause) is often caused by a member in flight that will not finish (it failed to
      // start): waiting for it would never return.
      // A member still draining while paused is a node being evacuated: it finishes too.
      const inFlight = Object.values(s.members).some(
        (m) => m.state === 'draining' || m.state === 'replacing' || m.state === 'verifying',
      );
      if ((!inFlight || s.pauseCause) && !opts.stayWhilePaused) pausedSeen = true;
      return pausedSeen;
    }
    return false;
  };
  let lastRefresh = -Infinity;
  try {
    for (;;) {
      io.signal?.throwIfAborted();
      if (clock.now() - lastRefresh >= 2000) {
        lastRefresh = clock.now();
        await refreshSnapshot();
      }
      const r = await runner.reconcile(io.signal);
      if (r.terminal || stopWhen(r)) {
        // What was written behind is in the journal before the drive reads it and returns; a write
        // that met a newer revision (someone paused or changed the spec meanwhile) decides again.
        try {
          await runner.flush();
        } catch (err) {
          if (err instanceof ConflictError) continue;
          throw err;
        }
        break;
      }
      if (r.requeueMs > 0) await clock.sleep(r.requeueMs, io.signal);
    }
  } finally {
    // Interrupted (Ctrl-C) or failed: what is decided is written before the process goes, if it can.
    await runner.flush().catch(() => undefined);
  }
  reporter?.finish();
  const record = (await target.platform.journal.get(name))!;
  const s = record.status;
  const end: DriveEnd = isTerminal(s.phase)
    ? 'terminal'
    : s.phase === 'AwaitingFinalization'
      ? 'awaiting-finalization'
      : s.phase === 'Paused'
        ? 'paused'
        : 'prechecks-failed';
  return { end, status: s, record, elapsedMs: clock.now() - started, actions };
}
