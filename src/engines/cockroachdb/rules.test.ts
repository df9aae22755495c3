import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cockroachdbRules } from './rules.js';
import { compareVersions, parseVersion } from '../../core/version.js';
import { findVersionPath } from '../../plan/path.js';

const v = parseVersion;
const { versions, finalization } = cockroachdbRules;

describe('cockroachdb rules', () => {
  const directCases: [string, string, boolean, RegExp?][] = [
    ['24.1.3', '24.1.5', true],
    ['v24.1.5', 'v24.1.3', true],
    ['23.2.5', '24.1.3', true],
    ['22.2.19', '23.1.0', true],
    ['23.1.11', '23.2.0', true],
    ['24.1.3', '24.2.0', true],
    // an Innovation release may be skipped between two Regular releases
    ['24.1.3', '24.3.1', true],
    ['24.3.2', '25.2.0', true],
    // from an Innovation release only the next Regular release
    ['24.2.4', '24.3.0', true],
    ['24.2.4', '25.1.0', false, /one major version at a time.*24\.3/],
    ['23.1.11', '24.1.0', false, /23\.1 -> 24\.1 skips 23\.2; upgrade to 23\.2 first/],
    ['22.2.19', '23.2.0', false, /skips 23\.1/],
    ['24.1.3', '25.1.0', false, /skips 24\.2, 24\.3/],
    // one major back is a rollback (only allowed before finalization; the runner knows that)
    ['24.1.3', '23.2.5', true],
    ['24.3.1', '24.1.3', true],
    ['24.1.3', '23.1.5', false, /rolls back only to the major version/],
    ['21.2.0', '22.1.0', false, /21\.2 is not a known major/],
  ];
  for (const [from, to, ok, reason] of directCases) {
    it(`direct ${from} -> ${to} is ${ok ? 'allowed' : 'refused'}`, () => {
      const verdict = versions.direct(v(from), v(to));
      assert.equal(verdict.ok, ok);
      if (!verdict.ok && reason) assert.match(verdict.reason, reason);
    });
  }

  const downgradeCases: [string, string, boolean][] = [
    ['24.1.5', '24.1.3', true],
    ['24.1.3', '23.2.5', true],
    ['24.3.1', '24.1.3', true],
    ['24.3.1', '24.2.3', true],
    ['24.1.3', '23.1.5', false],
    ['25.2.0', '24.1.3', false],
  ];
  for (const [from, to, ok] of downgradeCases) {
    it(`allowDowngrade ${from} -> ${to} is ${ok}`, () => {
      const verdict = versions.allowDowngrade(v(from), v(to));
      assert.equal(verdict.ok, ok);
      if (!verdict.ok) assert.match(verdict.reason, /previous major version/);
    });
  }

  it('requires finalization on a major change only', () => {
    assert.ok(finalization);
    assert.equal(finalization.required(v('23.2.5'), v('24.1.3')), true);
    assert.equal(finalization.required(v('24.1.3'), v('24.1.5')), false);
    assert.equal(finalization.required(v('24.1.3'), v('23.2.5')), false, 'a rollback is not finalized');
    assert.match(finalization.description, /RESET CLUSTER SETTING cluster\.preserve_downgrade_option/);
  });

  it('names the backward-incompatible changes of each major', () => {
    const notes = versions.notes?.(v('24.1')) ?? [];
    assert.equal(notes.length, 1);
    assert.match(notes[0] ?? '', /Backward-incompatible changes.*v24\.1\.0.*Regular/);
    assert.match(versions.notes?.(v('24.2.0'))?.[0] ?? '', /Innovation/);
    assert.deepEqual(versions.notes?.(v('24.1.3')), []);
  });

  it('lists majors in ascending order, each parsable', () => {
    const releases = versions.releases ?? [];
    assert.ok(releases.length >= 8);
    for (let i = 1; i < releases.length; i++) {
      assert.ok(compareVersions(releases[i - 1] as string, releases[i] as string) < 0);
    }
  });

  it('has one multi-raft quorum component, the beforeUpgrade hook and the documented prechecks', () => {
    assert.deepEqual(
      cockroachdbRules.components.map((c) => [c.name, c.topology, c.quorum]),
      [['cockroachdb', 'multi-raft', true]],
    );
    assert.deepEqual(cockroachdbRules.hooks, ['beforeUpgrade']);
    assert.deepEqual(
      cockroachdbRules.prechecks.map((p) => p.name),
      [
        'all-nodes-live',
        'no-under-replicated-ranges',
        'versions-uniform',
        'running-version-matches',
        'previous-upgrade-finalized',
      ],
    );
  });

  it('plans 23.1 -> 25.2 major by major, skipping the Innovation releases, each hop finalized', () => {
    const path = findVersionPath(cockroachdbRules, '23.1.11', '25.2.0');
    assert.deepEqual(
      path.map((h) => [h.from, h.to, h.finalize]),
      [
        ['23.1.11', '23.2', true],
        ['23.2', '24.1', true],
        ['24.1', '24.3', true],
        ['24.3', '25.2.0', true],
      ],
    );
    // Skipping an Innovation release still means reading its backward-incompatible changes.
    assert.deepEqual(
      path.map((h) => h.notes.map((n) => /CockroachDB v(\S+) release notes/.exec(n)?.[1])),
      [['23.2.0'], ['24.1.0'], ['24.2.0', '24.3.0'], ['25.1.0', '25.2.0']],
    );
    assert.deepEqual(
      findVersionPath(cockroachdbRules, '24.1.3', '24.1.5').map((h) => h.finalize),
      [false],
    );
  });

  it('rolls back one major only when asked to', () => {
    assert.throws(() => findVersionPath(cockroachdbRules, '24.1.3', '23.2.5'), /downgrade/);
    const back = findVersionPath(cockroachdbRules, '24.1.3', '23.2.5', { allowDowngrade: true });
    assert.deepEqual(
      back.map((h) => [h.from, h.to, h.finalize]),
      [['24.1.3', '23.2.5', false]],
    );
    assert.throws(
      () => findVersionPath(cockroachdbRules, '24.1.3', '23.1.5', { allowDowngrade: true }),
      /previous major/,
    );
  });
});
