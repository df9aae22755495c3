import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findVersionPath } from '../../plan/path.js';
import { parseVersion } from '../../core/version.js';
import { etcdRules } from './rules.js';

const direct = (from: string, to: string) => etcdRules.versions.direct(parseVersion(from), parseVersion(to));
const down = (from: string, to: string) =>
  etcdRules.versions.allowDowngrade(parseVersion(from), parseVersion(to));

test('patch upgrades, one minor forward and build-label restarts are direct', () => {
  for (const [from, to] of [
    ['3.4.20', '3.4.23'],
    ['3.4.23', '3.5.0'],
    ['3.5.26', '3.6.0'],
    ['3.4.23', '3.4.23+r1'],
    ['3.4.23+r1', '3.4.23+r2'],
  ] as const) {
    assert.deepEqual(direct(from, to), { ok: true }, `${from} -> ${to}`);
  }
});

test('skipping a minor, crossing a major, or entering 3.6 from an old 3.5 patch is refused with the next step', () => {
  const skip = direct('3.4.23', '3.6.0');
  assert.equal(skip.ok, false);
  assert.match(
    !skip.ok ? skip.reason : '',
    /one minor version at a time: 3\.4 -> 3\.6 skips 3\.5; upgrade to 3\.5 first/,
  );
  const early = direct('3.5.9', '3.6.0');
  assert.match(!early.ok ? early.reason : '', /3\.5\.26 or later first/);
  assert.equal(direct('3.6.0', '4.0.0').ok, false);
});

test('downgrades: patch within a minor allowed, across minors refused naming the downgrade API', () => {
  assert.deepEqual(down('3.4.23', '3.4.20'), { ok: true });
  const minor = down('3.5.9', '3.4.23');
  assert.equal(minor.ok, false);
  assert.match(!minor.ok ? minor.reason : '', /downgrade API.*Baton does not drive/);
  assert.equal(direct('3.5.9', '3.4.23').ok, false);
});

test('multi-step paths go one minor at a time, through 3.5.26 into 3.6', () => {
  assert.deepEqual(
    findVersionPath(etcdRules, '3.4.23', '3.6.0').map((h) => [h.from, h.to]),
    [
      ['3.4.23', '3.5.26'],
      ['3.5.26', '3.6.0'],
    ],
  );
  assert.deepEqual(
    findVersionPath(etcdRules, '3.3.10', '3.5.9').map((h) => [h.from, h.to]),
    [
      ['3.3.10', '3.4.0'],
      ['3.4.0', '3.5.9'],
    ],
  );
  assert.deepEqual(
    findVersionPath(etcdRules, '3.4.23', '3.4.23+r1').map((h) => h.to),
    ['3.4.23+r1'],
  );
  assert.throws(() => findVersionPath(etcdRules, '3.5.9', '3.4.23'), /downgrade/);
});

test('hops into a new minor carry its upgrade guide', () => {
  const [hop] = findVersionPath(etcdRules, '3.4.23', '3.5.0');
  assert.ok(hop?.notes.some((n) => n.includes('https://etcd.io/docs/v3.5/upgrades/upgrade_3_5/')));
  assert.ok(hop?.notes.some((n) => /auth/.test(n)));
  assert.deepEqual(findVersionPath(etcdRules, '3.4.20', '3.4.23')[0]?.notes, []);
});

test('rules describe one raft component with the five prechecks', () => {
  assert.deepEqual(
    etcdRules.components.map((c) => [c.name, c.topology, c.quorum]),
    [['etcd', 'raft', true]],
  );
  assert.deepEqual(
    etcdRules.prechecks.map((p) => p.name),
    ['all-members-healthy', 'quorum', 'leader-elected', 'no-alarms', 'versions-uniform'],
  );
  assert.equal(etcdRules.finalization, undefined);
});
