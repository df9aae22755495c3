/**
 * Parsing of CLI option values into typed settings. Every failure is a BadInputError naming the
 * flag, what was given and what is accepted.
 */
import { join } from 'node:path';
import { BadInputError } from '../core/errors.js';
import type { BatchPolicy, DrainTimeoutPolicy, TimeoutPolicy } from '../core/types.js';
import { DEFAULT_EXPONENTIAL_CAP_PERCENT } from '../plan/batches.js';

/** Platforms a front end can target. */
export const PLATFORMS = ['local', 'sim', 'kubernetes'] as const;
export type PlatformName = (typeof PLATFORMS)[number];

/** Validate `--platform` (default `local`). */
export function parsePlatform(text: string | undefined): PlatformName {
  const p = text ?? 'local';
  if ((PLATFORMS as readonly string[]).includes(p)) return p as PlatformName;
  throw new BadInputError('unknown-platform', `--platform ${p}: use one of ${PLATFORMS.join(', ')}`);
}

/** `serial`, `fixed:N`, `percent:P`, `exponential` or `exponential:CAP`. */
export function parseBatch(text: string): BatchPolicy {
  const [kind, arg] = text.split(':', 2);
  const num = (what: string, lo: number, hi: number): number => {
    const n = Number(arg);
    if (arg === undefined || arg === '' || !Number.isFinite(n) || n < lo || n > hi) {
      throw new BadInputError('bad-batch', `--batch ${text}: ${what} must be a number from ${lo} to ${hi}`);
    }
    return n;
  };
  switch (kind) {
    case 'serial':
      if (arg !== undefined) {
        throw new BadInputError('bad-batch', `--batch ${text}: serial takes no size; use serial or fixed:N`);
      }
      return { kind: 'serial' };
    case 'fixed':
      return { kind: 'fixed', size: Math.floor(num('the size', 1, 100000)) };
    case 'percent':
      return { kind: 'percent', percent: num('the percent', 1, 100) };
    case 'exponential':
      return {
        kind: 'exponential',
        capPercent: arg === undefined ? DEFAULT_EXPONENTIAL_CAP_PERCENT : num('the cap percent', 1, 100),
      };
    default:
      throw new BadInputError(
        'bad-batch',
        `--batch ${text}: use serial, fixed:N, percent:P or exponential[:CAP_PERCENT]`,
      );
  }
}

export { parseDurationSeconds } from '../core/duration.js';
import { parseDurationSeconds } from '../core/duration.js';

/** A duration in seconds that must be more than zero (a timeout, an expiry). */
export function parsePositiveDurationSeconds(flag: string, text: string): number {
  const s = parseDurationSeconds(flag, text);
  if (s <= 0)
    throw new BadInputError('bad-duration', `${flag} ${text}: must be longer than zero, e.g. 90s or 15d`);
  return s;
}

/** "500ms", "0.5s" -> milliseconds. */
export function parseDurationMs(flag: string, text: string): number {
  return Math.round(parseDurationSeconds(flag, text) * 1000);
}

/** A positive whole number. */
export function parseCount(flag: string, text: string, min = 1, max = 100000): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new BadInputError('bad-number', `${flag} ${text}: must be a whole number from ${min} to ${max}`);
  }
  return n;
}

/** A number from `min` to `max` (fractions allowed). */
export function parseNumber(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new BadInputError('bad-number', `${flag} ${text}: must be a number from ${min} to ${max}`);
  }
  return n;
}

/** A fraction from 0 to 1, also accepting percents ("2%"). */
export function parseRate(flag: string, text: string): number {
  const pct = text.endsWith('%');
  const n = Number(pct ? text.slice(0, -1) : text) / (pct ? 100 : 1);
  if (!Number.isFinite(n) || n < 0 || n > 1) {
    throw new BadInputError('bad-rate', `${flag} ${text}: use a fraction from 0 to 1 or a percent like 2%`);
  }
  return n;
}

/** `pause` or `proceed`. */
export function parsePolicy(flag: string, text: string): TimeoutPolicy {
  if (text === 'pause' || text === 'proceed') return text;
  throw new BadInputError('bad-policy', `${flag} ${text}: use pause or proceed`);
}

/** A drain timeout policy: `pause` or `proceed`, or for node upgrades `delete` or `give-up`. */
export function parseDrainPolicy(flag: string, text: string): DrainTimeoutPolicy {
  if (text === 'pause' || text === 'proceed' || text === 'delete' || text === 'give-up') return text;
  throw new BadInputError('bad-policy', `${flag} ${text}: use pause, proceed, delete or give-up`);
}

/** Repeated `KEY=VALUE` flags into a record. */
export function parsePairs(flag: string, values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0 || i === v.length - 1) throw new BadInputError('bad-pair', `${flag} ${v}: use KEY=VALUE`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** `text`, `json` or `yaml`. */
export function parseOutput(text: string | undefined): 'text' | 'json' | 'yaml' {
  if (text === undefined || text === 'text' || text === 'wide') return 'text';
  if (text === 'json' || text === 'yaml') return text;
  throw new BadInputError('bad-output', `-o ${text}: use json or yaml (or omit -o for text)`);
}

/** Commander collector for a repeatable option (`--force a --force b` -> ['a', 'b']). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A Kubernetes namespace name (an RFC 1123 label: lower-case letters, digits and '-', at most 63). */
export function parseNamespace(flag: string, text: string): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(text)) {
    throw new BadInputError(
      'bad-namespace',
      `${flag} "${text}" is not a valid namespace name: use lowercase letters, digits and '-'`,
    );
  }
  return text;
}

/** Default state directory: `.baton` in the working directory. */
export function defaultStateDir(): string {
  return join(process.cwd(), '.baton');
}

/** An option parser that validates a value (throwing BadInputError) and keeps the text as given. */
export function checked(validate: (text: string) => unknown): (text: string) => string {
  return (text) => {
    validate(text);
    return text;
  };
}

/** Like {@link checked}, for a repeatable option: each value is validated, then collected. */
export function collected(
  validate: (text: string) => unknown,
): (text: string, previous?: string[]) => string[] {
  return (text, previous) => {
    validate(text);
    return collect(text, previous);
  };
}
