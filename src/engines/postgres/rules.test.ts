import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadInputError } from '../../core/errors.js';
import { findVersionPath } from '../../plan/path.js';
import { parseVersion } from '../../core/version.js';
import { majorLine, postgresRules } from './rules.js';

const v = parseVersion;
const { versions } = postgresRules;

describe('postgres rules', () => {
  const cases: [string, string, boolean][] = [
    ['17.5', '17.6', true],
    ['17.6', '17.5', true],
    ['17.6', '17.6+r1', true],
    ['17.6+r1', '17.6', true],
    ['17.0', '17.9', true],
    ['9.6.1', '9.6.24', true],
    ['16.4', '17.5', false],
    ['17.5', '16.4', false],
    ['9.5.3', '9.6.1', false],
    ['9.6.24', '10.1', false],
  ];
  for (const [from, to, ok] of cases) {
    it(`direct ${from} -> ${to} is ${ok ? 'allowed' : 'refused'}`, () => {
      const verdict = versions.direct(v(from), v(to));
      assert.equal(verdict.ok, ok);
      if (!verdict.ok)
        assert.match(verdict.reason, /changes the major release .*pg_upgrade or logical replication/);
      assert.equal(versions.allowDowngrade(v(from), v(to)).ok, ok);
    });
  }

  it('names the major line the way PostgreSQL numbers releases', () => {
    assert.equal(majorLine(v('17.6')), '17');
    assert.equal(majorLine(v('10.23')), '10');
    assert.equal(majorLine(v('9.6.24')), '9.6');
  });

  it('plans a minor upgrade and a config restart as one hop, refuses a major with the reason', () => {
    assert.deepEqual(
      findVersionPath(postgresRules, '17.5', '17.6').map((h) => [h.from, h.to, h.finalize]),
      [['17.5', '17.6', false]],
    );
    assert.equal(findVersionPath(postgresRules, '17.6', '17.6+r1').length, 1);
    assert.equal(findVersionPath(postgresRules, '17.6', '17.5', { allowDowngrade: true }).length, 1);
    assert.throws(
      () => findVersionPath(postgresRules, '16.4', '17.5'),
      (err: unknown) => err instanceof BadInputError && /pg_upgrade/.test(err.message),
    );
  });

  it('has one replication component without quorum, the four prechecks, no finalization', () => {
    assert.deepEqual(postgresRules.components, [
      { name: 'postgres', topology: 'replication', stage: 'cluster', prerequisites: [], quorum: false },
    ]);
    assert.deepEqual(
      postgresRules.prechecks.map((p) => p.name),
      ['all-members-up', 'primary-unique', 'standbys-streaming', 'replication-lag-under-threshold'],
    );
    assert.equal(postgresRules.finalization, undefined);
    assert.equal(postgresRules.drainTimeoutProceedSafe, false);
  });
});
