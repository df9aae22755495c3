/** Durations as users write them: "500ms", "90s", "5m", "2h", "15d" (a bare number is seconds). */
import { BadInputError } from './errors.js';

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Parse a duration into seconds; `flag` names the option or field in the error. */
export function parseDurationSeconds(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m)
    throw new BadInputError('bad-duration', `${flag} ${text}: use a duration like 500ms, 90s, 5m, 2h or 15d`);
  return Number(m[1]) * (UNITS[m[2] ?? 's'] ?? 1);
}
