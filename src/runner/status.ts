/**
 * Pure helpers that build and change an {@link UpgradeStatus}: every transition goes through here
 * so that each one lands in the history with its time and reason.
 */
import type {
  HistoryEntry,
  MemberProgress,
  MemberState,
  Phase,
  StepKind,
  UpgradeSpec,
  UpgradeStatus,
} from '../core/types.js';

/**
 * Most history entries kept; older entries are folded into one summary line. The history is the
 * largest part of a large upgrade's status (about 150 bytes an entry, 40% of a 1,000-node
 * upgrade's status at 2,000 entries), and the whole status is written on every step; every entry
 * also went out as an Event.
 */
export const HISTORY_LIMIT = 1000;
/** Most observed durations kept per step kind for the ETA. */
const DURATION_SAMPLES = 50;

/** A fresh status for a new upgrade. */
export function newStatus(spec: UpgradeSpec, now: number): UpgradeStatus {
  return {
    phase: 'Pending',
    reason: 'created',
    observedGeneration: spec.generation,
    direction: 'forward',
    hop: 0,
    prechecks: [],
    forced: [],
    members: {},
    hooksDone: [],
    batchesStarted: 0,
    batchesSincePause: 0,
    currentBatch: [],
    finalized: false,
    stepDurations: {},
    progress: { done: 0, total: 0 },
    history: [
      {
        at: now,
        type: 'phase',
        phase: 'Pending',
        message: `upgrade ${spec.name} created: ${spec.engine} to ${spec.version}`,
      },
    ],
    updatedAt: now,
  };
}

/** Append a history entry, folding the oldest step entries when the history grows past its limit. */
export function record(status: UpgradeStatus, entry: HistoryEntry): void {
  status.history.push(entry);
  if (status.history.length > HISTORY_LIMIT) {
    const cut = status.history.length - HISTORY_LIMIT + 1;
    const folded = status.history.splice(0, cut);
    // An earlier summary among them adds the entries it stood for.
    const count = folded.reduce((n, h) => n + (h.type === 'summary' ? (foldedCount(h.message) ?? 1) : 1), 0);
    status.history.unshift({
      at: folded[0]?.at ?? entry.at,
      type: 'summary',
      message: `${count} older history entries folded`,
    });
  }
}

/** The number of entries a summary entry stands for (undefined: not a fold summary). */
function foldedCount(message: string): number | undefined {
  const m = /^(\d+) older history entries folded$/.exec(message);
  return m ? Number(m[1]) : undefined;
}

/**
 * Keep the engine's current warnings in the status; each one that was not there before is
 * recorded (a `warning` history entry, hence a Warning event). A warning that went away is dropped.
 */
export function noteWarnings(status: UpgradeStatus, warnings: readonly string[], now: number): void {
  const before = new Set(status.warnings ?? []);
  for (const w of warnings) if (!before.has(w)) record(status, { at: now, type: 'warning', message: w });
  if (warnings.length > 0) status.warnings = [...warnings];
  else delete status.warnings;
}

/** Move to `phase` (no-op when already there), recording why. */
export function setPhase(status: UpgradeStatus, phase: Phase, reason: string, now: number): void {
  status.reason = reason;
  if (status.phase === phase) return;
  status.phase = phase;
  record(status, { at: now, type: 'phase', phase, message: reason });
  if (phase === 'Paused') status.pausedAt = now;
  if (phase === 'Completed' || phase === 'Failed' || phase === 'Cancelled' || phase === 'Expired') {
    status.finishedAt = now;
  }
}

/** Record how long a step took, for the ETA. */
export function observeDuration(status: UpgradeStatus, kind: StepKind, ms: number): void {
  const list = (status.stepDurations[kind] ??= []);
  list.push(Math.max(0, Math.round(ms)));
  if (list.length > DURATION_SAMPLES) list.splice(0, list.length - DURATION_SAMPLES);
}

/** Move a member to `state`, recording the duration of the state it leaves. */
export function setMemberState(
  status: UpgradeStatus,
  name: string,
  state: MemberState,
  now: number,
  message: string,
): MemberProgress {
  const m = status.members[name];
  if (!m) throw new Error(`internal: member ${name} has no progress entry`);
  const leaving: Partial<Record<MemberState, StepKind>> = {
    draining: 'drain',
    replacing: 'replace',
    verifying: 'verify',
  };
  const kind = leaving[m.state];
  if (kind && m.state !== state) observeDuration(status, kind, now - m.since);
  m.state = state;
  m.since = now;
  if (state === 'done') m.finishedAt = now;
  record(status, { at: now, type: 'step', member: name, message, state });
  return m;
}

/**
 * Prune history to a summary (Expired upgrades keep only what happened, as ACK drops the events
 * and logs of an upgrade paused for too long).
 */
export function pruneToSummary(status: UpgradeStatus, now: number): void {
  const done = Object.values(status.members).filter((m) => m.state === 'done').length;
  const total = Object.keys(status.members).length;
  const steps = status.history.filter((h) => h.type === 'step').length;
  status.history = [
    {
      at: now,
      type: 'summary',
      message: `history pruned on expiry: ${steps} steps recorded, ${done}/${total} members upgraded before the pause`,
    },
    ...status.history.filter((h) => h.type === 'phase').slice(-5),
  ];
}
