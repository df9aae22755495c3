/**
 * Version paths: which rolling passes take a cluster from one version to another when the database
 * does not support the jump in one pass (one major at a time, CockroachDB's one-release rule), and
 * multi-track paths where several things must move in a compatible order (Redis Enterprise: the
 * operator and Kubernetes must support each other at every step).
 */
import { BadInputError } from '../core/errors.js';
import type { EngineRules, VersionRules } from '../core/rules.js';
import type { VersionHop } from '../core/types.js';
import { atVersion, compareVersions, parseVersion } from '../core/version.js';
import type { Version } from '../core/version.js';

interface Node {
  raw: string;
  version: Version;
}

/**
 * The releases a path may pass through, in travel order: `from`, the known `releases` strictly
 * between `from` and `to` (duplicates by version dropped), then `to`.
 */
function waypoints(from: string, to: string, releases: string[] | undefined): Node[] {
  const start: Node = { raw: from, version: parseVersion(from) };
  const end: Node = { raw: to, version: parseVersion(to) };
  if (atVersion(from, to)) return [start];
  const direction = Math.sign(compareVersions(end.version, start.version)) || 1;
  const between: Node[] = [];
  for (const raw of releases ?? []) {
    const version = parseVersion(raw);
    const afterStart = compareVersions(version, start.version) * direction > 0;
    const beforeEnd = compareVersions(end.version, version) * direction > 0;
    if (afterStart && beforeEnd && !between.some((n) => compareVersions(n.version, version) === 0)) {
      between.push({ raw, version });
    }
  }
  between.sort((a, b) => compareVersions(a.version, b.version) * direction);
  return [start, ...between, end];
}

/**
 * Compatibility notes of a hop: `rules.versions.notes` of every known release passed through, i.e.
 * in (from, to] going up or in [to, from) going down, plus `to` itself, in travel order.
 */
function hopNotes(versions: VersionRules, from: string, to: string): string[] {
  if (!versions.notes) return [];
  const passed = waypoints(from, to, versions.releases).slice(1);
  const notes: string[] = [];
  for (const node of passed) {
    for (const note of versions.notes(node.version)) if (!notes.includes(note)) notes.push(note);
  }
  return notes;
}

/** One rolling pass `from -> to` with the notes of the releases it passes and whether it finalizes. */
export function versionHop(rules: EngineRules, from: string, to: string): VersionHop {
  return {
    from,
    to,
    notes: hopNotes(rules.versions, from, to),
    finalize: rules.finalization?.required(parseVersion(from), parseVersion(to)) ?? false,
  };
}

/**
 * Shortest sequence of indices from 0 to the last waypoint where every edge i -> j (i < j) is
 * allowed by `ok`. Neighbours are tried farthest first, so among shortest paths the one whose
 * earlier hops go farther wins. Undefined when there is none.
 */
function shortestChain(count: number, ok: (i: number, j: number) => boolean): number[] | undefined {
  const parent = new Map<number, number>([[0, -1]]);
  const queue = [0];
  while (queue.length > 0) {
    const i = queue.shift() as number;
    if (i === count - 1) break;
    for (let j = count - 1; j > i; j--) {
      if (!parent.has(j) && ok(i, j)) {
        parent.set(j, i);
        queue.push(j);
      }
    }
  }
  if (!parent.has(count - 1)) return undefined;
  const chain: number[] = [];
  for (let at = count - 1; at !== -1; at = parent.get(at) as number) chain.unshift(at);
  return chain;
}

function refuseDowngrade(
  versions: VersionRules,
  title: string,
  from: string,
  to: string,
  allowed: boolean,
): void {
  // An engine that never allows a downgrade says why in its own words, asked or not.
  const verdict = versions.allowDowngrade(parseVersion(from), parseVersion(to));
  if (!verdict.ok) {
    throw new BadInputError(
      'downgrade-refused',
      `${title} cannot go down from ${from} to ${to}: ${verdict.reason}`,
    );
  }
  if (!allowed) {
    throw new BadInputError(
      'downgrade-refused',
      `refusing to downgrade ${title} from ${from} to ${to}: choose a target at or above ${from}, or allow the downgrade explicitly where ${title} supports it`,
    );
  }
}

/**
 * The rolling passes that take a component from `from` to `to`.
 *
 * - Same version (by {@link atVersion}): no hop.
 * - Downgrade (`to` older): BadInputError `downgrade-refused` unless `opts.allowDowngrade` is set
 *   and `rules.versions.allowDowngrade` agrees.
 * - `rules.versions.direct` allows the jump: one hop.
 * - Otherwise the shortest chain through the known `rules.versions.releases` strictly between the
 *   two (then `to`), every step allowed by `direct`; BadInputError `no-version-path` with the
 *   direct refusal reason when there is none.
 *
 * Each hop carries the notes of the releases it passes through and whether it needs finalization.
 * Throws BadInputError `bad-version` for an unparsable version.
 */
export function findVersionPath(
  rules: EngineRules,
  from: string,
  to: string,
  opts: { allowDowngrade?: boolean } = {},
): VersionHop[] {
  const nodes = waypoints(from, to, rules.versions.releases);
  if (nodes.length === 1) return [];
  const start = nodes[0] as Node;
  const end = nodes[nodes.length - 1] as Node;
  if (compareVersions(end.version, start.version) < 0) {
    refuseDowngrade(rules.versions, rules.title, from, to, opts.allowDowngrade === true);
  }
  const direct = rules.versions.direct(start.version, end.version);
  if (direct.ok) return [versionHop(rules, from, to)];
  const chain = shortestChain(
    nodes.length,
    (i, j) => rules.versions.direct((nodes[i] as Node).version, (nodes[j] as Node).version).ok,
  );
  if (!chain) {
    const through = nodes.slice(1, -1).map((n) => n.raw);
    const known =
      through.length > 0
        ? `the known releases ${through.join(', ')}`
        : 'known releases (none lie between them)';
    throw new BadInputError(
      'no-version-path',
      `no upgrade path for ${rules.title} from ${from} to ${to}: ${direct.reason}; no chain of supported steps through ${known} either; choose a nearer target version`,
    );
  }
  const hops: VersionHop[] = [];
  for (let k = 1; k < chain.length; k++) {
    hops.push(
      versionHop(rules, (nodes[chain[k - 1] as number] as Node).raw, (nodes[chain[k] as number] as Node).raw),
    );
  }
  return hops;
}

/** One thing whose version moves, e.g. the operator or the Kubernetes control plane. */
export interface Track {
  name: string;
  from: string;
  to: string;
  rules: VersionRules;
}

/**
 * "While `track` runs a version in `versions`, `requires.track` must run a version between
 * `requires.min` and `requires.max` (both inclusive, either optional)."
 *
 * `versions` is a range: comparators separated by spaces (all must hold), alternatives separated
 * by `||`. A comparator is `>=X`, `>X`, `<=X`, `<X`, `=X` or a bare `X` (equal); `*` matches any
 * version. A bound written with fewer parts stands for its whole series: `1.27` matches `1.27.4`,
 * `<7.6` excludes `7.6.2`, `>7.2` excludes `7.2.9`. `min`/`max` follow the same rule, so
 * `max: '1.27'` admits every 1.27 patch.
 */
export interface CompatibilityConstraint {
  track: string;
  versions: string;
  requires: { track: string; min?: string; max?: string };
}

/** One change in a multi-track path: `track` moves from `from` to `to`, everything else stays. */
export interface TrackStep {
  track: string;
  from: string;
  to: string;
}

/**
 * Compare `v` with `bound` at the precision `bound` was written with (see
 * {@link CompatibilityConstraint}); a bound with a pre-release or build suffix compares fully.
 */
function compareToBound(v: Version, bound: Version): number {
  if (bound.prerelease.length > 0 || bound.build !== 0) return compareVersions(v, bound);
  return (
    v.major - bound.major ||
    (bound.parts >= 2 ? v.minor - bound.minor : 0) ||
    (bound.parts >= 3 ? v.patch - bound.patch : 0)
  );
}

function parseBound(text: string, where: string): Version {
  try {
    return parseVersion(text);
  } catch {
    throw new BadInputError(
      'bad-constraint',
      `cannot parse version "${text}" in ${where}: use e.g. ">=7.2 <7.6", "1.27" or "*"`,
    );
  }
}

/** A predicate for a range in the syntax documented on {@link CompatibilityConstraint}. */
export function parseVersionRange(range: string): (v: Version) => boolean {
  const alternatives = range.split('||').map((alt) =>
    alt
      .trim()
      .split(/[\s,]+/)
      .filter((t) => t.length > 0)
      .map((token): ((v: Version) => boolean) => {
        if (token === '*') return () => true;
        const m = /^(>=|<=|>|<|=)?(.+)$/.exec(token) as RegExpExecArray;
        const op = m[1] ?? '=';
        const bound = parseBound(m[2] as string, `range "${range}"`);
        switch (op) {
          case '>=':
            return (v) => compareToBound(v, bound) >= 0;
          case '<=':
            return (v) => compareToBound(v, bound) <= 0;
          case '>':
            return (v) => compareToBound(v, bound) > 0;
          case '<':
            return (v) => compareToBound(v, bound) < 0;
          default:
            return (v) => compareToBound(v, bound) === 0;
        }
      }),
  );
  return (v) => alternatives.some((all) => all.every((test) => test(v)));
}

interface CompiledConstraint {
  text: string;
  track: number;
  matches: (v: Version) => boolean;
  requires: number;
  satisfied: (v: Version) => boolean;
}

function describeConstraint(c: CompatibilityConstraint): string {
  const bounds = [c.requires.min ? `>=${c.requires.min}` : '', c.requires.max ? `<=${c.requires.max}` : '']
    .filter((b) => b)
    .join(' ');
  return `${c.track} ${c.versions} requires ${c.requires.track} ${bounds || '(any version)'}`;
}

function compileConstraints(tracks: Track[], constraints: CompatibilityConstraint[]): CompiledConstraint[] {
  const index = (name: string, c: CompatibilityConstraint) => {
    const i = tracks.findIndex((t) => t.name === name);
    if (i < 0) {
      throw new BadInputError(
        'bad-constraint',
        `constraint "${describeConstraint(c)}" names track ${name}, which is not one of ${tracks.map((t) => t.name).join(', ')}`,
      );
    }
    return i;
  };
  return constraints.map((c) => {
    const text = describeConstraint(c);
    const min = c.requires.min !== undefined ? parseBound(c.requires.min, `constraint "${text}"`) : undefined;
    const max = c.requires.max !== undefined ? parseBound(c.requires.max, `constraint "${text}"`) : undefined;
    return {
      text,
      track: index(c.track, c),
      matches: parseVersionRange(c.versions),
      requires: index(c.requires.track, c),
      satisfied: (v: Version) =>
        (min === undefined || compareToBound(v, min) >= 0) &&
        (max === undefined || compareToBound(v, max) <= 0),
    };
  });
}

/** Largest number of version combinations searched before giving up. */
const MAX_STATES = 1_000_000;

/**
 * The shortest sequence of single-track steps taking every track from its `from` to its `to` such
 * that every combination passed through (the starting one included) satisfies every constraint.
 * Each track moves through its own releases between `from` and `to` inclusive, always toward `to`,
 * each step allowed by that track's `rules.direct`; a track moving down needs its
 * `rules.allowDowngrade` to agree.
 *
 * Throws BadInputError `no-compatible-path` naming the constraint(s) that block, or the track whose
 * steps its own rules refuse; `bad-constraint` for a constraint naming an unknown track or an
 * unparsable range; `bad-version` for an unparsable version.
 */
export function findCompatiblePath(tracks: Track[], constraints: CompatibilityConstraint[]): TrackStep[] {
  const names = new Set(tracks.map((t) => t.name));
  if (names.size !== tracks.length) {
    throw new BadInputError(
      'bad-constraint',
      `track names must be unique: ${tracks.map((t) => t.name).join(', ')}`,
    );
  }
  const compiled = compileConstraints(tracks, constraints);
  const nodes = tracks.map((t) => waypoints(t.from, t.to, t.rules.releases));
  tracks.forEach((t, k) => {
    const list = nodes[k] as Node[];
    const last = list[list.length - 1] as Node;
    if (compareVersions(last.version, (list[0] as Node).version) < 0) {
      const verdict = t.rules.allowDowngrade((list[0] as Node).version, last.version);
      if (!verdict.ok) {
        throw new BadInputError(
          'downgrade-refused',
          `${t.name} cannot go down from ${t.from} to ${t.to}: ${verdict.reason}`,
        );
      }
    }
  });
  const states = nodes.reduce((n, list) => n * list.length, 1);
  if (states > MAX_STATES) {
    throw new BadInputError(
      'no-compatible-path',
      `too many version combinations to search (${states}); plan a nearer target for one of ${tracks.map((t) => t.name).join(', ')}`,
    );
  }

  const versionAt = (state: number[], k: number) =>
    ((nodes[k] as Node[])[state[k] as number] as Node).version;
  const rawAt = (state: number[], k: number) => ((nodes[k] as Node[])[state[k] as number] as Node).raw;
  const describe = (state: number[]) => tracks.map((t, k) => `${t.name} ${rawAt(state, k)}`).join(', ');
  const broken = (state: number[]) =>
    compiled.filter(
      (c) => c.matches(versionAt(state, c.track)) && !c.satisfied(versionAt(state, c.requires)),
    );

  const start = tracks.map(() => 0);
  const goal = nodes.map((list) => list.length - 1);
  const startBroken = broken(start);
  if (startBroken.length > 0) {
    throw new BadInputError(
      'no-compatible-path',
      `the current versions (${describe(start)}) already break "${(startBroken[0] as CompiledConstraint).text}"; fix that first`,
    );
  }

  // Allowed single steps per track and position, farthest first, asked of the rules once each.
  const firstRefusal = new Map<number, string>();
  const stepCache = new Map<string, number[]>();
  const stepsFrom = (k: number, i: number): number[] => {
    const key = `${k}:${i}`;
    let steps = stepCache.get(key);
    if (!steps) {
      steps = [];
      const list = nodes[k] as Node[];
      for (let j = list.length - 1; j > i; j--) {
        const answer = (tracks[k] as Track).rules.direct(
          (list[i] as Node).version,
          (list[j] as Node).version,
        );
        if (answer.ok) steps.push(j);
        else if (!firstRefusal.has(k)) firstRefusal.set(k, answer.reason);
      }
      stepCache.set(key, steps);
    }
    return steps;
  };

  const keyOf = (state: number[]) => state.join(',');
  const parents = new Map<string, { parent: number[]; step: TrackStep } | null>([[keyOf(start), null]]);
  // Per constraint, the furthest-progressed combination it kept the search from entering.
  const blockers = new Map<CompiledConstraint, { example: string; progress: number }>();
  const progressOf = (state: number[]) => state.reduce((sum, i) => sum + i, 0);
  const furthest = tracks.map(() => 0);
  if (keyOf(start) === keyOf(goal)) return [];
  const goalKey = keyOf(goal);
  const queue: number[][] = [start];
  let head = 0;
  let found: number[] | undefined;
  while (head < queue.length && !found) {
    const state = queue[head++] as number[];
    for (let k = 0; k < tracks.length && !found; k++) {
      for (const j of stepsFrom(k, state[k] as number)) {
        const next = [...state];
        next[k] = j;
        const key = keyOf(next);
        if (parents.has(key)) continue;
        const breaks = broken(next);
        if (breaks.length > 0) {
          const progress = progressOf(state);
          for (const c of breaks) {
            if ((blockers.get(c)?.progress ?? -1) < progress)
              blockers.set(c, { example: describe(next), progress });
          }
          continue;
        }
        parents.set(key, {
          parent: state,
          step: { track: (tracks[k] as Track).name, from: rawAt(state, k), to: rawAt(next, k) },
        });
        furthest[k] = Math.max(furthest[k] as number, j);
        if (key === goalKey) {
          found = next;
          break;
        }
        queue.push(next);
      }
    }
  }
  if (!found) {
    const prefix = `no compatible path from ${describe(start)} to ${describe(goal)}`;
    const goalBroken = broken(goal);
    if (goalBroken.length > 0) {
      const texts = goalBroken.map((c) => `"${c.text}"`).join(' and ');
      throw new BadInputError(
        'no-compatible-path',
        `${prefix}: the target combination itself breaks ${texts}; choose targets that support each other`,
      );
    }
    if (blockers.size > 0) {
      const furthestBlock = Math.max(...[...blockers.values()].map((b) => b.progress));
      const why = [...blockers]
        .filter(([, b]) => b.progress === furthestBlock)
        .map(([c, b]) => `"${c.text}" (it would break at ${b.example})`);
      throw new BadInputError('no-compatible-path', `${prefix}: blocked by ${why.join('; ')}`);
    }
    const why = tracks
      .map((t, k) =>
        (furthest[k] as number) < (goal[k] as number)
          ? `${t.name} has no supported step toward ${t.to}: ${firstRefusal.get(k) ?? 'no release to step through'}`
          : '',
      )
      .filter((w) => w);
    throw new BadInputError('no-compatible-path', `${prefix}: ${why.join('; ')}`);
  }
  const steps: TrackStep[] = [];
  for (let entry = parents.get(keyOf(found)); entry; entry = parents.get(keyOf(entry.parent)))
    steps.unshift(entry.step);
  return steps;
}
