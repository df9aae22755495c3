import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineMemberState, MemberView } from '../core/types.js';
import { orderMembers, pickLeadershipTarget } from './order.js';

function member(
  name: string,
  engine: Partial<EngineMemberState> | undefined,
  platform: Partial<MemberView> = {},
): MemberView {
  const ordinal = Number(/(\d+)$/.exec(name)?.[1] ?? 0);
  return {
    name,
    component: name.replace(/-\d+$/, ''),
    ordinal,
    version: '3.4.23',
    ready: true,
    running: true,
    ...platform,
    ...(engine ? { engine: { role: 'follower', healthy: true, caughtUp: true, lag: 0, ...engine } } : {}),
  };
}

const names = (ordered: { member: MemberView }[]) => ordered.map((o) => o.member.name);

test('raft: unready first, followers most lagging first, leader last, with reasons', () => {
  const members = [
    member('etcd-0', { role: 'leader' }),
    member('etcd-1', { lag: 5 }),
    member('etcd-2', { lag: 120 }),
    member('etcd-3', { lag: 5 }),
    member('etcd-4', { role: 'follower' }, { ready: false, detail: 'CrashLoopBackOff' }),
  ];
  const ordered = orderMembers(members, 'raft');
  assert.deepEqual(names(ordered), ['etcd-4', 'etcd-2', 'etcd-3', 'etcd-1', 'etcd-0']);
  assert.deepEqual(
    ordered.map((o) => o.reason),
    [
      'unready first: not Ready (CrashLoopBackOff)',
      'follower, lag 120',
      'follower, lag 5',
      'follower, lag 5',
      'leader last',
    ],
  );
});

test('unready covers not running and engine-unhealthy; highest ordinal first among them', () => {
  const members = [
    member('pg-0', { role: 'primary' }),
    member('pg-1', { role: 'replica', healthy: false, detail: 'replication link down' }),
    member('pg-2', undefined, { running: false, ready: false }),
    member('pg-3', { role: 'replica', lag: 10 }),
  ];
  const ordered = orderMembers(members, 'replication');
  assert.deepEqual(names(ordered), ['pg-2', 'pg-1', 'pg-3', 'pg-0']);
  assert.equal(ordered[0]?.reason, 'unready first: not running');
  assert.equal(ordered[1]?.reason, 'unready first: unhealthy (replication link down)');
  assert.equal(ordered[2]?.reason, 'replica, lag 10');
  assert.equal(ordered[3]?.reason, 'primary last');
});

test('members without engine state count as followers with lag 0', () => {
  const members = [
    member('etcd-0', { role: 'leader' }),
    member('etcd-1', undefined),
    member('etcd-2', { lag: 3 }),
  ];
  const ordered = orderMembers(members, 'raft');
  assert.deepEqual(names(ordered), ['etcd-2', 'etcd-1', 'etcd-0']);
  assert.equal(ordered[1]?.reason, 'no engine state: counted as a follower with lag 0');
});

test('multi-raft and sharded go by leaderships held, fewest first', () => {
  const members = [
    member('tikv-0', { role: 'none', leaderCount: 37 }),
    member('tikv-1', { role: 'none', leaderCount: 2 }),
    member('tikv-2', { role: 'none', leaderCount: 0, lag: 4 }),
    member('tikv-3', { role: 'none' }, { ready: false }),
    member('tikv-4', { role: 'none', leaderCount: 2 }),
  ];
  const ordered = orderMembers(members, 'multi-raft');
  assert.deepEqual(names(ordered), ['tikv-3', 'tikv-2', 'tikv-4', 'tikv-1', 'tikv-0']);
  assert.equal(ordered[1]?.reason, 'holds no leaderships');
  assert.equal(ordered[4]?.reason, 'holds 37 leaderships (fewest first)');

  const redis = [
    member('redis-0', { role: 'primary', leaderCount: 3 }),
    member('redis-1', { role: 'replica' }),
    member('redis-2', { role: 'primary' }),
  ];
  const shards = orderMembers(redis, 'sharded');
  assert.deepEqual(names(shards), ['redis-1', 'redis-2', 'redis-0']);
  assert.equal(shards[1]?.reason, 'holds 1 leadership (fewest first)');
});

test('order does not depend on input order', () => {
  const members = [
    member('etcd-0', { lag: 1 }),
    member('etcd-1', { role: 'leader' }),
    member('etcd-2', { lag: 1 }),
    member('etcd-3', { lag: 1 }, { ready: false }),
  ];
  const expected = names(orderMembers(members, 'raft'));
  assert.deepEqual(expected, ['etcd-3', 'etcd-2', 'etcd-0', 'etcd-1']);
  assert.deepEqual(names(orderMembers([...members].reverse(), 'raft')), expected);
});

test('pickLeadershipTarget prefers members at the target version, then lowest lag, then lowest ordinal', () => {
  const leader = member('etcd-0', { role: 'leader' });
  const members = [
    leader,
    member('etcd-1', { lag: 0 }),
    member('etcd-2', { lag: 3 }, { version: '3.5.9' }),
    member('etcd-3', { lag: 0 }),
  ];
  const withTarget = pickLeadershipTarget(leader, members, { targetVersion: '3.5.9' });
  assert.equal(withTarget.target?.name, 'etcd-2');
  assert.equal(withTarget.reason, 'transferring to etcd-2 (lag 3, already at 3.5.9)');
  const without = pickLeadershipTarget(leader, members, {});
  assert.equal(without.target?.name, 'etcd-1');
  assert.equal(without.reason, 'transferring to etcd-1 (lag 0)');
  const excluding = pickLeadershipTarget(leader, members, { exclude: ['etcd-1', 'etcd-2'] });
  assert.equal(excluding.target?.name, 'etcd-3');
});

test('pickLeadershipTarget says why no member qualifies', () => {
  const leader = member('etcd-0', { role: 'leader' });
  const members = [
    leader,
    member('etcd-1', {}, { ready: false }),
    member('etcd-2', { lag: 500, caughtUp: false }),
    member('etcd-3', { healthy: false }),
    member('etcd-4', undefined),
    member('etcd-5', { role: 'learner' }),
    member('etcd-6', {}),
    member('other-7', {}),
  ];
  const pick = pickLeadershipTarget(leader, members, { exclude: new Set(['etcd-6']) });
  assert.equal(pick.target, undefined);
  assert.equal(
    pick.reason,
    'no healthy caught-up member to take leadership of etcd-0: etcd-1 not ready, etcd-2 lag 500, etcd-3 unhealthy, etcd-4 not reachable by the engine, etcd-5 a learner, etcd-6 in the same batch',
  );
  const alone = pickLeadershipTarget(leader, [leader, member('other-1', {})], {});
  assert.equal(alone.reason, 'no other member of etcd to take leadership of etcd-0');
});

test('orderMembers follows rollRank (partition stepping) instead of the safety order', () => {
  {
    const mk = (name: string, ordinal: number, role: 'leader' | 'follower', rank: number): MemberView => ({
      name,
      component: 'db',
      ordinal,
      version: '1',
      ready: true,
      running: true,
      rollRank: rank,
      engine: { role, healthy: true, caughtUp: true, lag: 0 },
    });
    const order = orderMembers(
      [mk('db-0', 0, 'follower', 2), mk('db-2', 2, 'leader', 0), mk('db-1', 1, 'follower', 1)],
      'raft',
    );
    assert.deepEqual(
      order.map((o) => o.member.name),
      ['db-2', 'db-1', 'db-0'],
    );
    assert.match(order[0]!.reason, /platform order/);
  }
});
