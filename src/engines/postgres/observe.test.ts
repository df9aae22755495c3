import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PlatformMember } from '../../core/types.js';
import { assessCluster, type MemberRead } from './observe.js';

const MiB = 1024 * 1024;

function member(i: number): PlatformMember {
  return {
    name: `pg-${i}`,
    component: 'postgres',
    ordinal: i,
    version: '17.5',
    ready: true,
    running: true,
    endpoint: `127.0.0.1:${5430 + i}`,
  };
}

function primary(lsn: string, streaming: string[], writeError?: string): MemberRead {
  return {
    sql: { inRecovery: false, lsn, receiveLsn: null, serverVersion: '17.5' },
    replication: streaming.map((n) => ({
      applicationName: n,
      clientAddr: '127.0.0.1',
      state: 'streaming',
      replayLsn: lsn,
    })),
    ...(writeError !== undefined ? { writeError } : {}),
  };
}

function standby(replay: string, status: string | undefined, senderPort = 5430): MemberRead {
  return {
    sql: { inRecovery: true, lsn: replay, receiveLsn: replay, serverVersion: '17.5' },
    ...(status ? { receiver: { status, senderHost: '127.0.0.1', senderPort, flushedLsn: replay } } : {}),
  };
}

const members = [member(0), member(1), member(2)];

describe('assessCluster', () => {
  it('reports one writable primary and caught-up streaming standbys', () => {
    const obs = assessCluster(
      members,
      {
        'pg-0': primary('0/3001000', ['pg-1', 'pg-2']),
        'pg-1': standby('0/3001000', 'streaming'),
        'pg-2': standby('0/3000000', 'streaming'),
      },
      MiB,
    );
    assert.equal(obs.health.healthy, true, obs.health.detail);
    assert.equal(obs.health.facts?.primary, 'pg-0');
    assert.deepEqual(obs.members['pg-0'], {
      role: 'primary',
      healthy: true,
      caughtUp: true,
      lag: 0,
      leaderCount: 1,
      detail: 'primary at 0/3001000, streaming to pg-1, pg-2',
    });
    assert.equal(obs.members['pg-1']?.lag, 0);
    assert.equal(obs.members['pg-2']?.lag, 0x1000);
    assert.equal(obs.members['pg-2']?.caughtUp, true);
    assert.equal(obs.health.facts?.maxLagBytes, 0x1000);
  });

  it('marks a standby beyond the threshold as not caught up, with its lag', () => {
    const obs = assessCluster(
      members,
      {
        'pg-0': primary('0/5000000', ['pg-1', 'pg-2']),
        'pg-1': standby('0/5000000', 'streaming'),
        'pg-2': standby('0/3000000', 'streaming'),
      },
      MiB,
    );
    assert.equal(obs.members['pg-2']?.healthy, true);
    assert.equal(obs.members['pg-2']?.caughtUp, false);
    assert.equal(obs.members['pg-2']?.lag, 32 * MiB);
    assert.match(obs.members['pg-2']?.detail ?? '', /32\.0 MiB behind pg-0/);
  });

  it('recognises a standby by its sender address when the primary has not listed it yet', () => {
    const obs = assessCluster(
      members,
      {
        'pg-0': primary('0/3000000', ['pg-1']),
        'pg-1': standby('0/3000000', 'streaming'),
        'pg-2': standby('0/3000000', 'streaming', 5430),
      },
      MiB,
    );
    assert.equal(obs.members['pg-2']?.healthy, true);
  });

  it('flags a standby following another server or not receiving at all', () => {
    const obs = assessCluster(
      members,
      {
        'pg-0': primary('0/3000000', ['pg-1']),
        'pg-1': standby('0/3000000', 'streaming'),
        'pg-2': standby('0/3000000', 'streaming', 9999),
      },
      MiB,
    );
    assert.equal(obs.members['pg-2']?.healthy, false);
    assert.equal(obs.members['pg-2']?.caughtUp, false);
    assert.match(obs.members['pg-2']?.detail ?? '', /not streaming from pg-0/);
    assert.equal(obs.health.healthy, true);
    assert.match(obs.health.detail, /not streaming: pg-2/);
    const idle = assessCluster(
      members,
      { 'pg-0': primary('0/3000000', []), 'pg-1': standby('0/3000000', undefined) },
      MiB,
    );
    assert.match(idle.members['pg-1']?.detail ?? '', /no WAL receiver/);
    assert.match(idle.health.detail, /unreachable: pg-2/);
  });

  it('is unhealthy with no primary, with two primaries, and when the primary rejects writes', () => {
    const none = assessCluster(
      members,
      { 'pg-1': standby('0/1', 'waiting'), 'pg-2': standby('0/1', 'waiting') },
      MiB,
    );
    assert.equal(none.health.healthy, false);
    assert.match(none.health.detail, /no primary/);
    assert.equal(none.members['pg-1']?.caughtUp, false);
    const split = assessCluster(members, { 'pg-0': primary('0/1', []), 'pg-1': primary('0/2', []) }, MiB);
    assert.equal(split.health.healthy, false);
    assert.match(split.health.detail, /2 primaries \(pg-0, pg-1\): split brain/);
    const readOnly = assessCluster(
      members,
      { 'pg-0': primary('0/1', [], 'cannot execute in a read-only transaction') },
      MiB,
    );
    assert.equal(readOnly.health.healthy, false);
    assert.equal(readOnly.members['pg-0']?.healthy, false);
    assert.match(readOnly.health.detail, /rejects writes: cannot execute/);
  });
});
