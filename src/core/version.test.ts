import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadInputError } from './errors.js';
import { atVersion, compareVersions, isVersion, parseVersion, sameVersion, series } from './version.js';

test('parseVersion reads every form the engines use', () => {
  const cases: [string, Partial<ReturnType<typeof parseVersion>>][] = [
    ['v8.1.0', { major: 8, minor: 1, patch: 0, build: 0, prerelease: [], parts: 3, v: true }],
    ['17.5', { major: 17, minor: 5, patch: 0, parts: 2, v: false }],
    ['24.1.3', { major: 24, minor: 1, patch: 3, parts: 3 }],
    ['3.5.9', { major: 3, minor: 5, patch: 9 }],
    ['7.4.6-2', { major: 7, minor: 4, patch: 6, build: 2, prerelease: [] }],
    ['v8.5.0-rc.1', { major: 8, minor: 5, patch: 0, prerelease: ['rc', 1], build: 0 }],
    ['24.1.0-beta.2', { prerelease: ['beta', 2] }],
    ['1.29', { major: 1, minor: 29, parts: 2 }],
    ['7', { major: 7, minor: 0, patch: 0, parts: 1 }],
    ['3.4.23+conf.2', { major: 3, minor: 4, patch: 23, build: 0, prerelease: [] }],
    ['  17.6 ', { raw: '17.6', major: 17, minor: 6 }],
  ];
  for (const [raw, expected] of cases) {
    const v = parseVersion(raw);
    for (const [key, value] of Object.entries(expected)) {
      assert.deepEqual(v[key as keyof typeof v], value, `${raw}: ${key}`);
    }
  }
});

test('parseVersion refuses garbage with a bad-version BadInputError', () => {
  for (const raw of [
    '',
    'latest',
    'v',
    '1.2.3.4',
    '01.2',
    '1..2',
    'x1.2',
    '1.2-',
    '1.2.3-+',
    `1.${'9'.repeat(70)}`,
  ]) {
    assert.throws(
      () => parseVersion(raw),
      (err: unknown) =>
        err instanceof BadInputError && err.code === 'bad-version' && err.message.includes('e.g.'),
      raw,
    );
    assert.equal(isVersion(raw), false, raw);
  }
  assert.equal(isVersion('v8.1.0'), true);
});

test('compareVersions orders releases, pre-releases and build numbers', () => {
  const ascending = [
    '3.4.23',
    '3.5.0-alpha.1',
    '3.5.0-alpha.2',
    '3.5.0-alpha.beta',
    '3.5.0-beta',
    '3.5.0-rc.1',
    '3.5.0',
    '3.5.0-1',
    '3.5.0-2',
    '3.5.9',
    '3.10',
    '4',
  ];
  for (let i = 0; i < ascending.length; i++) {
    for (let j = 0; j < ascending.length; j++) {
      const a = ascending[i] as string;
      const b = ascending[j] as string;
      assert.equal(Math.sign(compareVersions(a, b)), Math.sign(i - j), `${a} vs ${b}`);
    }
  }
});

test('compareVersions treats written forms of one version as equal', () => {
  const equal: [string, string][] = [
    ['v8.1.0', '8.1.0'],
    ['17.5', '17.5.0'],
    ['7', '7.0.0'],
    ['3.4.23', '3.4.23+conf.2'],
  ];
  for (const [a, b] of equal) {
    assert.equal(compareVersions(a, b), 0, `${a} vs ${b}`);
    assert.equal(sameVersion(a, b), true);
  }
  assert.equal(sameVersion('17.5', '17.6'), false);
});

test('atVersion compares the written text without the v prefix', () => {
  assert.equal(atVersion('v8.1.0', '8.1.0'), true);
  assert.equal(atVersion('8.1.0', 'v8.1.0'), true);
  assert.equal(atVersion('3.4.23', '3.4.23+conf.2'), false);
  assert.equal(atVersion('17.5', '17.5.0'), false);
});

test('series is major.minor', () => {
  assert.equal(series(parseVersion('24.1.3')), '24.1');
  assert.equal(series(parseVersion('v8')), '8.0');
});
