/**
 * Runner events: every history entry becomes a Kubernetes-Event-like notice (steps and controls
 * Normal; blocks, errors, forced checks, engine warnings, pauses and failures Warning). One mapping, used by the
 * runner's `onEvent`, the CLI's progress and the Kubernetes event recorder.
 */
import type { HistoryEntry } from '../core/types.js';

/** A Kubernetes-Event-like notice for every step and every block. */
export interface RunnerEvent {
  type: 'Normal' | 'Warning';
  /** CamelCase reason: PhaseChanged, Step, Blocked, StepFailed, Forced, EngineWarning, Control, Summary. */
  reason: string;
  message: string;
  member?: string;
  at: number;
}

const KIND: Record<HistoryEntry['type'], [RunnerEvent['type'], string]> = {
  phase: ['Normal', 'PhaseChanged'],
  step: ['Normal', 'Step'],
  control: ['Normal', 'Control'],
  block: ['Warning', 'Blocked'],
  error: ['Warning', 'StepFailed'],
  force: ['Warning', 'Forced'],
  warning: ['Warning', 'EngineWarning'],
  summary: ['Normal', 'Summary'],
};

/** The event for a history entry. */
export function historyEvent(h: HistoryEntry): RunnerEvent {
  const [type, reason] = KIND[h.type];
  const warn = h.type === 'phase' && (h.phase === 'Paused' || h.phase === 'Failed' || h.phase === 'Expired');
  return { type: warn ? 'Warning' : type, reason, message: h.message, member: h.member, at: h.at };
}

/**
 * Entries of `next` after the entry `last`: all of them when `last` is absent, and those newer
 * than it when it was folded away or pruned.
 */
export function entriesAfter(next: HistoryEntry[], last: HistoryEntry | undefined): HistoryEntry[] {
  if (!last) return next;
  for (let i = next.length - 1; i >= 0; i--) {
    const h = next[i]!;
    if (h.at === last.at && h.type === last.type && h.message === last.message) return next.slice(i + 1);
  }
  return next.filter((h) => h.at > last.at);
}
