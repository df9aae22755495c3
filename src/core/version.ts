/**
 * Version parsing and comparison for the forms these systems use: `v8.1.0` (TiDB), `17.5`
 * (PostgreSQL), `24.1.3` (CockroachDB), `3.5.9` (etcd), `7.4.6-2` (Redis Enterprise build
 * numbers), and pre-releases (`v8.5.0-rc.1`, `24.1.0-beta.2`). Anything else is a BadInputError.
 */
import { BadInputError } from './errors.js';

/** A parsed version. Missing parts are 0; `build` is the numeric suffix of `7.4.6-2`. */
export interface Version {
  raw: string;
  major: number;
  minor: number;
  patch: number;
  build: number;
  /** Pre-release identifiers (`rc.1` -> ['rc', 1]); empty for a release. */
  prerelease: (string | number)[];
  /** How many numeric parts were written (2 for `17.5`), so formatting round-trips. */
  parts: number;
  /** Written with a leading `v`. */
  v: boolean;
}

const VERSION_RE =
  /^(v)?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(?:-((?:[0-9A-Za-z-]+)(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;

/**
 * Parsed versions by their text: a plan compares the same few version strings for every member
 * (65,000 nodes on one kubelet version), so each string is parsed once. Entries are frozen (shared
 * by every caller); the memory is dropped whole when it grows past {@link PARSED_KEPT} strings.
 */
const parsed = new Map<string, Version>();
const PARSED_KEPT = 4096;

/** Parse a version string or throw a BadInputError naming the accepted forms. */
export function parseVersion(raw: string): Version {
  const known = parsed.get(raw);
  if (known) return known;
  const v = parseVersionText(raw);
  if (parsed.size >= PARSED_KEPT) parsed.clear();
  Object.freeze(v.prerelease);
  parsed.set(raw, Object.freeze(v));
  return v;
}

function parseVersionText(raw: string): Version {
  const text = raw.trim();
  const m = VERSION_RE.exec(text);
  if (!m || text.length > 64) {
    throw new BadInputError(
      'bad-version',
      `cannot parse version "${raw}": use MAJOR[.MINOR[.PATCH]] with an optional v prefix and -suffix (e.g. v8.1.0, 17.5, 24.1.3, 7.4.6-2, 8.5.0-rc.1)`,
    );
  }
  const [, v, major, minor, patch, suffix] = m;
  const parts = 1 + (minor !== undefined ? 1 : 0) + (patch !== undefined ? 1 : 0);
  let build = 0;
  let prerelease: (string | number)[] = [];
  if (suffix !== undefined) {
    if (/^\d+$/.test(suffix)) build = Number(suffix);
    else prerelease = suffix.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  }
  return {
    raw: text,
    major: Number(major),
    minor: Number(minor ?? 0),
    patch: Number(patch ?? 0),
    build,
    prerelease,
    parts,
    v: v === 'v',
  };
}

/** True when `raw` parses. */
export function isVersion(raw: string): boolean {
  try {
    parseVersion(raw);
    return true;
  } catch {
    return false;
  }
}

function comparePrerelease(a: (string | number)[], b: (string | number)[]): number {
  // A release sorts after any of its pre-releases.
  if (a.length === 0 || b.length === 0) return (a.length === 0 ? 1 : 0) - (b.length === 0 ? 1 : 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** Negative, zero or positive as `a` is older than, equal to or newer than `b`. */
export function compareVersions(a: Version | string, b: Version | string): number {
  const x = typeof a === 'string' ? parseVersion(a) : a;
  const y = typeof b === 'string' ? parseVersion(b) : b;
  return (
    x.major - y.major ||
    x.minor - y.minor ||
    x.patch - y.patch ||
    comparePrerelease(x.prerelease, y.prerelease) ||
    x.build - y.build
  );
}

/** Same release line and number, ignoring the `v` prefix and how many parts were written. */
export function sameVersion(a: Version | string, b: Version | string): boolean {
  return compareVersions(a, b) === 0;
}

/** `major.minor` as a string, e.g. "24.1". */
export function series(v: Version): string {
  return `${v.major}.${v.minor}`;
}

/**
 * Whether a member running `running` has reached `target`. Exact text comparison without the `v`
 * prefix, so build metadata counts: `3.4.23+conf.2` differs from `3.4.23` (a configuration-only
 * rolling restart is a real pass even though the release is the same).
 */
export function atVersion(running: string, target: string): boolean {
  return running === target || withoutV(running) === withoutV(target);
}

/** `raw` without its leading `v` (`v8.1.0` -> `8.1.0`); a plan calls this for every member. */
export function withoutV(raw: string): string {
  return raw.startsWith('v') ? raw.slice(1) : raw;
}
