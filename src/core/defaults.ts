/**
 * The defaults of an upgrade's spec, in one place for every front end: `makeSpec` fills them in,
 * the Upgrade resource (api/upgrade.ts) and the CLI's flags (whose help shows them) leave a field
 * out to get them, and the operator's metrics report them for a resource that does not set them.
 */
import type { StrategySpec } from './types.js';

/** Serial, one member down at a time, no soak, no pauses, 120 s to drain and 10 min to be ready. */
export const DEFAULT_STRATEGY: StrategySpec = {
  batch: { kind: 'serial' },
  maxUnavailable: 1,
  soakSeconds: 0,
  pauseAfterFirstBatch: false,
  pauseAfterEachBatch: false,
  timeouts: { drainSeconds: 120, drainPolicy: 'pause', readySeconds: 600, readyPolicy: 'pause' },
};

/** Fifteen days, as ACK terminates an upgrade paused for longer. */
export const DEFAULT_PAUSED_EXPIRY_SECONDS = 15 * 24 * 3600;

/** `seconds` as the shortest duration text that reads back to it (`120s`, `10m`, `15d`). */
export function durationText(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
