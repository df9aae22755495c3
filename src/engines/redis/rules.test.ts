import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseVersion } from '../../core/version.js';
import { REDIS_RELEASES, redisRules } from './rules.js';

const v = parseVersion;
const { versions } = redisRules;

describe('redis rules', () => {
  const directCases: [string, string, boolean, RegExp?][] = [
    ['7.0.11', '7.0.15', true],
    ['7.0.15', '7.2.4', true],
    ['6.2.14', '7.0.15', true],
    ['7.4.2', '8.0.0', true],
    ['7.0.15', '7.0.15+r1', true],
    ['7.0.15+r1', '7.0.15', true],
    ['6.0.0', '8.0.0', false, /crosses 2 major versions; upgrade one major at a time/],
    ['7.2.4', '7.0.15', false, /downgrade from Redis 7\.2\.4 to 7\.0\.15 is refused: .*RDB\/AOF/],
    ['7.0.15', '7.0.11', false, /downgrade .* is refused/],
    ['7.0.0', '7.0.0-rc.1', false, /downgrade .* is refused/],
  ];
  for (const [from, to, ok, reason] of directCases) {
    it(`direct ${from} -> ${to} is ${ok ? 'allowed' : 'refused'}`, () => {
      const verdict = versions.direct(v(from), v(to));
      assert.equal(verdict.ok, ok, JSON.stringify(verdict));
      if (!verdict.ok && reason) assert.match(verdict.reason, reason);
    });
  }

  it('allows going back only between labels of the same release', () => {
    assert.equal(versions.allowDowngrade(v('7.0.15+r2'), v('7.0.15')).ok, true);
    assert.equal(versions.allowDowngrade(v('7.4.6-2'), v('7.4.6-1')).ok, true);
    assert.equal(versions.allowDowngrade(v('7.2.0'), v('7.0.15')).ok, false);
  });

  it('lists the releases one-major-at-a-time paths go through, ascending', () => {
    assert.deepEqual(versions.releases, REDIS_RELEASES);
    const sorted = [...REDIS_RELEASES].sort((a, b) => v(a).major - v(b).major || v(a).minor - v(b).minor);
    assert.deepEqual(REDIS_RELEASES, sorted);
    for (let i = 1; i < REDIS_RELEASES.length; i++) {
      assert.equal(versions.direct(v(REDIS_RELEASES[i - 1]!), v(REDIS_RELEASES[i]!)).ok, true);
    }
  });

  it('notes the format change of majors and format-raising minors', () => {
    assert.match(versions.notes!(v('7.0.15')).join(' '), /RDB version 10/);
    assert.match(versions.notes!(v('7.4.0')).join(' '), /RDB version 12/);
    assert.deepEqual(versions.notes!(v('5.0.0')), []);
  });

  it('has one sharded, quorum-keeping component and the five named prechecks', () => {
    assert.deepEqual(
      redisRules.components.map((c) => [c.name, c.topology, c.quorum]),
      [['redis', 'sharded', true]],
    );
    assert.deepEqual(
      redisRules.prechecks.map((p) => p.name),
      [
        'cluster-state-ok',
        'all-slots-covered',
        'every-primary-has-replica',
        'replicas-in-sync',
        'all-members-up',
      ],
    );
    assert.equal(redisRules.drainTimeoutProceedSafe, false);
  });
});
