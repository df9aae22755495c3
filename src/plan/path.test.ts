import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadInputError } from '../core/errors.js';
import type { EngineRules, RuleVerdict, VersionRules } from '../core/rules.js';
import { findCompatiblePath, findVersionPath, parseVersionRange } from './path.js';
import type { CompatibilityConstraint, Track, TrackStep } from './path.js';
import { compareVersions, parseVersion, series } from '../core/version.js';
import type { Version } from '../core/version.js';

const SERIES = ['22.2', '23.1', '23.2', '24.1', '24.2'];
const NOTES: Record<string, string[]> = {
  '23.1.0': ['23.1: a new SQL planner default'],
  '23.2.0': ['23.2: changefeed format change'],
  '24.1.0': ['24.1: the admin UI moved'],
  '24.1.2': ['24.1.2: fixes a range split bug'],
};

/** CockroachDB-like rules: patches within a series, or one series forward/back; majors finalize. */
function crdbRules(opts: { downgrade?: RuleVerdict } = {}): EngineRules {
  return {
    name: 'crdb',
    title: 'CockroachDB',
    components: [
      { name: 'cockroachdb', topology: 'multi-raft', stage: 'cluster', prerequisites: [], quorum: true },
    ],
    versions: {
      direct(from, to) {
        const gap = Math.abs(SERIES.indexOf(series(to)) - SERIES.indexOf(series(from)));
        if (SERIES.indexOf(series(to)) < 0) return { ok: false, reason: `${to.raw} is not a known series` };
        return gap <= 1
          ? { ok: true }
          : { ok: false, reason: `${from.raw} -> ${to.raw} skips a major release` };
      },
      allowDowngrade: () => opts.downgrade ?? { ok: true },
      releases: ['22.2.0', '23.1.0', '23.1.5', 'v23.1.5', '23.2.0', '24.1.0', '24.1.2', '24.2.0'],
      notes: (v: Version) => NOTES[`${v.major}.${v.minor}.${v.patch}`] ?? [],
    },
    prechecks: [],
    hooks: [],
    finalization: { required: (from, to) => series(from) !== series(to), description: 'finalize majors' },
    drainTimeoutProceedSafe: false,
    stepEstimatesMs: {},
  };
}

test('same version: no hop', () => {
  assert.deepEqual(findVersionPath(crdbRules(), '23.1.5', '23.1.5'), []);
  assert.deepEqual(findVersionPath(crdbRules(), 'v23.1.5', '23.1.5'), []);
});

test('direct step: one hop with the notes of every release passed and finalization', () => {
  assert.deepEqual(findVersionPath(crdbRules(), '23.2.0', '24.1.2'), [
    {
      from: '23.2.0',
      to: '24.1.2',
      notes: ['24.1: the admin UI moved', '24.1.2: fixes a range split bug'],
      finalize: true,
    },
  ]);
  assert.deepEqual(findVersionPath(crdbRules(), '24.1.0', '24.1.1'), [
    { from: '24.1.0', to: '24.1.1', notes: [], finalize: false },
  ]);
});

test('multi-hop: shortest chain through known releases, each hop with its notes', () => {
  const hops = findVersionPath(crdbRules(), '22.2.0', '24.1.2');
  assert.deepEqual(
    hops.map((h) => [h.from, h.to, h.finalize]),
    [
      ['22.2.0', '23.1.5', true],
      ['23.1.5', '23.2.0', true],
      ['23.2.0', '24.1.2', true],
    ],
  );
  assert.deepEqual(hops[0]?.notes, ['23.1: a new SQL planner default']);
  assert.deepEqual(hops[1]?.notes, ['23.2: changefeed format change']);
  assert.deepEqual(hops[2]?.notes, ['24.1: the admin UI moved', '24.1.2: fixes a range split bug']);
});

test('downgrade: refused unless asked for and allowed by the engine', () => {
  assert.throws(
    () => findVersionPath(crdbRules(), '24.1.0', '23.2.0'),
    (err: unknown) =>
      err instanceof BadInputError &&
      err.code === 'downgrade-refused' &&
      err.message.includes('at or above 24.1.0'),
  );
  assert.throws(
    () =>
      findVersionPath(
        crdbRules({ downgrade: { ok: false, reason: 'the upgrade to 24.1 is finalized' } }),
        '24.1.0',
        '23.2.0',
        {
          allowDowngrade: true,
        },
      ),
    (err: unknown) =>
      err instanceof BadInputError &&
      err.code === 'downgrade-refused' &&
      err.message === 'CockroachDB cannot go down from 24.1.0 to 23.2.0: the upgrade to 24.1 is finalized',
  );
  assert.deepEqual(findVersionPath(crdbRules(), '24.1.2', '23.2.0', { allowDowngrade: true }), [
    {
      from: '24.1.2',
      to: '23.2.0',
      notes: ['24.1: the admin UI moved', '23.2: changefeed format change'],
      finalize: true,
    },
  ]);
});

test('no path: BadInputError naming the direct refusal', () => {
  assert.throws(
    () => findVersionPath(crdbRules(), '22.2.0', '25.1.0'),
    (err: unknown) =>
      err instanceof BadInputError &&
      err.code === 'no-version-path' &&
      err.message.includes('25.1.0 is not a known series') &&
      err.message.includes('23.1.0'),
  );
  const noReleases = crdbRules();
  delete noReleases.versions.releases;
  assert.throws(
    () => findVersionPath(noReleases, '22.2.0', '24.1.0'),
    (err: unknown) =>
      err instanceof BadInputError &&
      err.code === 'no-version-path' &&
      err.message.includes('skips a major release'),
  );
  assert.throws(
    () => findVersionPath(crdbRules(), 'latest', '24.1.0'),
    (err: unknown) => err instanceof BadInputError && err.code === 'bad-version',
  );
});

test('parseVersionRange accepts comparators, bare versions, series precision, wildcards and alternatives', () => {
  const cases: [string, string, boolean][] = [
    ['>=7.2 <7.6', '7.2.0', true],
    ['>=7.2 <7.6', '7.4.6-2', true],
    ['>=7.2 <7.6', '7.6.2', false],
    ['>=7.2 <7.6', '7.1.9', false],
    ['>7.2', '7.2.9', false],
    ['>7.2', '7.3.0', true],
    ['<=1.27', '1.27.4', true],
    ['<=1.27', '1.28', false],
    ['1.27', '1.27.4', true],
    ['=1.27.4', '1.27.4', true],
    ['1.27.4', '1.27.5', false],
    ['7.4.6-2', '7.4.6-2', true],
    ['7.4.6-2', '7.4.6-3', false],
    ['7.4.6', '7.4.6-3', true],
    ['*', '0.1', true],
    ['6.2 || >=7.4', '6.2.10', true],
    ['6.2 || >=7.4', '7.2.4', false],
    ['6.2 || >=7.4', '7.4.0', true],
    ['>=1.2, <1.4', '1.3.0', true],
  ];
  for (const [range, version, expected] of cases) {
    assert.equal(parseVersionRange(range)(parseVersion(version)), expected, `${version} in "${range}"`);
  }
  assert.throws(
    () => parseVersionRange('>=seven'),
    (err: unknown) => err instanceof BadInputError && err.code === 'bad-constraint',
  );
});

const K8S_RELEASES = ['1.23', '1.24', '1.25', '1.26', '1.27', '1.28', '1.29', '1.30'];
const OPERATOR_RELEASES = ['6.2.10-45', '6.4.2-8', '7.2.4-12', '7.4.6-2'];

/** Kubernetes: one minor at a time, never down. */
const k8sRules: VersionRules = {
  direct: (from, to) =>
    to.major === from.major && to.minor - from.minor === 1
      ? { ok: true }
      : { ok: false, reason: `Kubernetes moves one minor version at a time (${from.raw} -> ${to.raw})` },
  allowDowngrade: () => ({ ok: false, reason: 'Kubernetes control planes do not downgrade' }),
  releases: K8S_RELEASES,
};

/** Redis Enterprise operator: any forward jump between its releases. */
const operatorRules: VersionRules = {
  direct: (from, to) =>
    compareVersions(to, from) > 0 ? { ok: true } : { ok: false, reason: 'operator only moves forward' },
  allowDowngrade: () => ({ ok: false, reason: 'the operator does not downgrade' }),
  releases: OPERATOR_RELEASES,
};

/** Which Kubernetes versions each operator release supports (a Redis Enterprise-like matrix). */
const MATRIX: CompatibilityConstraint[] = [
  { track: 'operator', versions: '6.2.10', requires: { track: 'kubernetes', min: '1.21', max: '1.24' } },
  { track: 'operator', versions: '>=6.4 <7', requires: { track: 'kubernetes', min: '1.23', max: '1.26' } },
  { track: 'operator', versions: '7.2', requires: { track: 'kubernetes', min: '1.25', max: '1.28' } },
  { track: 'operator', versions: '>=7.4', requires: { track: 'kubernetes', min: '1.27', max: '1.29' } },
];

function tracks(operatorTo: string, k8sTo: string): Track[] {
  return [
    { name: 'operator', from: '6.2.10-45', to: operatorTo, rules: operatorRules },
    { name: 'kubernetes', from: '1.23', to: k8sTo, rules: k8sRules },
  ];
}

function replay(start: Record<string, string>, steps: TrackStep[]): Record<string, string>[] {
  const states = [{ ...start }];
  for (const s of steps) {
    const current = { ...(states[states.length - 1] as Record<string, string>) };
    assert.equal(current[s.track], s.from, `step ${JSON.stringify(s)} starts where the track is`);
    current[s.track] = s.to;
    states.push(current);
  }
  return states;
}

test('compatible path: operator and Kubernetes leapfrog, every combination supported', () => {
  const steps = findCompatiblePath(tracks('7.4.6-2', '1.29'), MATRIX);
  const states = replay({ operator: '6.2.10-45', kubernetes: '1.23' }, steps);
  assert.deepEqual(states[states.length - 1], { operator: '7.4.6-2', kubernetes: '1.29' });
  for (const state of states) {
    for (const c of MATRIX) {
      const v = parseVersion(state[c.requires.track] as string);
      if (parseVersionRange(c.versions)(parseVersion(state[c.track] as string))) {
        assert.ok(
          compareVersions(v, c.requires.min as string) >= 0 &&
            compareVersions(`${v.major}.${v.minor}`, c.requires.max as string) <= 0,
          `${JSON.stringify(state)} breaks ${JSON.stringify(c)}`,
        );
      }
    }
  }
  assert.equal(steps.length, 9, 'six Kubernetes minors and three operator releases');
  assert.deepEqual(
    steps.filter((s) => s.track === 'operator').map((s) => s.to),
    ['6.4.2-8', '7.2.4-12', '7.4.6-2'],
  );
  assert.deepEqual(steps.slice(0, 2), [
    { track: 'operator', from: '6.2.10-45', to: '6.4.2-8' },
    { track: 'kubernetes', from: '1.23', to: '1.24' },
  ]);
});

test('compatible path: nothing to do, or a single track', () => {
  assert.deepEqual(findCompatiblePath(tracks('6.2.10-45', '1.23'), MATRIX), []);
  assert.deepEqual(findCompatiblePath(tracks('6.2.10-45', '1.24'), MATRIX), [
    { track: 'kubernetes', from: '1.23', to: '1.24' },
  ]);
});

test('compatible path: refusals name the blocking constraint or rule', () => {
  assert.throws(
    () => findCompatiblePath(tracks('7.4.6-2', '1.30'), MATRIX),
    (err: unknown) =>
      err instanceof BadInputError &&
      err.code === 'no-compatible-path' &&
      err.message.includes('"operator >=7.4 requires kubernetes >=1.27 <=1.29"'),
  );
  assert.throws(
    () =>
      findCompatiblePath(
        [
          { name: 'operator', from: '7.2.4-12', to: '7.4.6-2', rules: operatorRules },
          { name: 'kubernetes', from: '1.23', to: '1.28', rules: k8sRules },
        ],
        MATRIX,
      ),
    (err: unknown) =>
      err instanceof BadInputError &&
      err.code === 'no-compatible-path' &&
      err.message.includes('already break "operator 7.2 requires'),
  );
  const gap = [
    ...MATRIX.slice(0, 3),
    { track: 'operator', versions: '>=7.4', requires: { track: 'kubernetes', min: '1.29' } },
  ];
  assert.throws(
    () => findCompatiblePath(tracks('7.4.6-2', '1.30'), gap),
    (err: unknown) =>
      err instanceof BadInputError &&
      err.code === 'no-compatible-path' &&
      err.message.includes(
        'blocked by "operator >=7.4 requires kubernetes >=1.29" (it would break at operator 7.4.6-2, kubernetes 1.28)',
      ) &&
      err.message.includes(
        '"operator 7.2 requires kubernetes >=1.25 <=1.28" (it would break at operator 7.2.4-12, kubernetes 1.29)',
      ),
  );
  const strict: VersionRules = { ...k8sRules, releases: ['1.23', '1.25'] };
  assert.throws(
    () => findCompatiblePath([{ name: 'kubernetes', from: '1.23', to: '1.25', rules: strict }], []),
    (err: unknown) =>
      err instanceof BadInputError &&
      err.code === 'no-compatible-path' &&
      err.message.includes('one minor version at a time'),
  );
  assert.throws(
    () => findCompatiblePath([{ name: 'kubernetes', from: '1.25', to: '1.24', rules: k8sRules }], []),
    (err: unknown) => err instanceof BadInputError && err.code === 'downgrade-refused',
  );
  assert.throws(
    () =>
      findCompatiblePath(tracks('7.4.6-2', '1.29'), [
        { track: 'k8s', versions: '*', requires: { track: 'operator' } },
      ]),
    (err: unknown) =>
      err instanceof BadInputError && err.code === 'bad-constraint' && err.message.includes('k8s'),
  );
  assert.throws(
    () =>
      findCompatiblePath(
        [...tracks('7.4.6-2', '1.29'), { name: 'operator', from: '1', to: '2', rules: operatorRules }],
        [],
      ),
    (err: unknown) => err instanceof BadInputError && err.code === 'bad-constraint',
  );
});
