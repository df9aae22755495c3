import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineMemberState, MemberView } from '../core/types.js';
import type { ComponentRule } from '../core/rules.js';
import {
  budgetVerdict,
  firstDenial,
  inSyncCopyVerdict,
  leadershipVerdict,
  prerequisitesVerdict,
  quorumVerdict,
} from './safety.js';

function member(
  name: string,
  engine: Partial<EngineMemberState> | null = {},
  platform: Partial<MemberView> = {},
): MemberView {
  return {
    name,
    component: name.replace(/-\d+$/, ''),
    ordinal: Number(/(\d+)$/.exec(name)?.[1] ?? 0),
    version: '3.4.23',
    ready: true,
    running: true,
    ...platform,
    ...(engine ? { engine: { role: 'follower', healthy: true, caughtUp: true, lag: 0, ...engine } } : {}),
  };
}

const rule = (topology: ComponentRule['topology'], quorum: boolean, name = 'etcd'): ComponentRule => ({
  name,
  topology,
  stage: 'cluster',
  prerequisites: [],
  quorum,
});

test('budgetVerdict counts members already down plus new candidates', () => {
  const members = [
    member('etcd-0'),
    member('etcd-1', {}, { ready: false }),
    member('etcd-2'),
    member('etcd-3'),
  ];
  const cases: [string[], number, boolean][] = [
    [[], 1, true],
    [['etcd-1'], 1, true],
    [['etcd-0'], 1, false],
    [['etcd-0'], 2, true],
    [['etcd-0', 'etcd-2'], 2, false],
    [['etcd-0', 'etcd-0'], 2, true],
    [[], 0, false],
  ];
  for (const [candidates, budget, allow] of cases) {
    const v = budgetVerdict(members, candidates, budget);
    assert.equal(v.allow, allow, `${candidates.join(',')} budget ${budget}: ${v.reason}`);
    assert.equal(v.check, 'unavailability-budget');
  }
  assert.equal(
    budgetVerdict(members, ['etcd-0'], 1).reason,
    '2 of 4 etcd members unavailable (down: etcd-1; stopping: etcd-0) would exceed maxUnavailable 1',
  );
  assert.equal(
    budgetVerdict(members, ['etcd-1'], 1).reason,
    '1 of 4 etcd members unavailable (down: etcd-1; stopping: none), within budget 1',
  );
  const stopped = [member('etcd-0', {}, { running: false, ready: true }), member('etcd-1')];
  assert.equal(budgetVerdict(stopped, ['etcd-1'], 1).allow, false);
});

test('quorumVerdict keeps a strict majority ready and healthy', () => {
  const three = [member('etcd-0'), member('etcd-1'), member('etcd-2')];
  assert.equal(quorumVerdict(three, ['etcd-0'], rule('raft', true)).allow, true);
  assert.equal(quorumVerdict(three, ['etcd-0', 'etcd-1'], rule('raft', true)).allow, false);
  assert.equal(
    quorumVerdict(three, ['etcd-0', 'etcd-1'], rule('raft', true)).reason,
    'stopping etcd-0, etcd-1 leaves 1 of 3 etcd members ready and healthy; quorum needs 2',
  );
  const degraded = [member('etcd-0'), member('etcd-1', { healthy: false }), member('etcd-2', null)];
  const v = quorumVerdict(degraded, ['etcd-0'], rule('raft', true));
  assert.equal(v.allow, false, 'unhealthy and unreachable members do not count');
  const four = [member('etcd-0'), member('etcd-1'), member('etcd-2'), member('etcd-3')];
  assert.equal(
    quorumVerdict(four, ['etcd-0', 'etcd-1'], rule('raft', true)).allow,
    false,
    '2 of 4 is no majority',
  );
  assert.equal(quorumVerdict(four, ['etcd-0', 'etcd-1'], rule('stateless', false)).allow, true);
  assert.equal(quorumVerdict(four, [], rule('raft', false)).reason, 'etcd has no quorum to keep');
});

test('leadershipVerdict', () => {
  const leader = member('etcd-0', { role: 'leader' });
  const follower = member('etcd-1');
  const lagging = member('etcd-2', { caughtUp: false, lag: 500 });
  assert.deepEqual(leadershipVerdict(leader, [leader], {}), {
    allow: true,
    check: 'leadership-target',
    reason: 'single member: nothing to hand over',
  });
  const none = leadershipVerdict(follower, [leader, follower, lagging], {});
  assert.equal(none.allow, true);
  assert.equal(none.target, undefined);
  assert.equal(none.reason, 'etcd-1 holds no leadership: nothing to hand over');
  const moved = leadershipVerdict(leader, [leader, follower, lagging], {});
  assert.equal(moved.allow, true);
  assert.equal(moved.target?.name, 'etcd-1');
  assert.equal(moved.reason, 'transferring to etcd-1 (lag 0)');
  const blocked = leadershipVerdict(leader, [leader, follower, lagging], { exclude: ['etcd-1'] });
  assert.equal(blocked.allow, false);
  assert.equal(
    blocked.reason,
    'no healthy caught-up member to take leadership of etcd-0: etcd-1 in the same batch, etcd-2 lag 500',
  );
  const store = member('tikv-0', { role: 'none', leaderCount: 12 });
  assert.equal(
    leadershipVerdict(store, [store, member('tikv-1', { role: 'none' })], {}).target?.name,
    'tikv-1',
  );
  const downStore = member('tikv-1', { role: 'none' }, { ready: false });
  assert.equal(leadershipVerdict(store, [store, downStore], {}).allow, false);
});

test('inSyncCopyVerdict keeps one healthy caught-up copy outside the stopping set', () => {
  const primary = member('pg-0', { role: 'primary' });
  const replica = member('pg-1', { role: 'replica', caughtUp: false, lag: 9000 });
  const members = [primary, replica];
  const repl = rule('replication', false, 'pg');
  assert.equal(inSyncCopyVerdict(members, ['pg-1'], repl).allow, true);
  const v = inSyncCopyVerdict(members, ['pg-0'], repl);
  assert.equal(v.allow, false);
  assert.equal(v.check, 'last-in-sync-copy');
  assert.equal(v.reason, 'stopping pg-0 would leave no healthy caught-up pg member outside it');
  assert.equal(inSyncCopyVerdict([primary], ['pg-0'], repl).allow, true, 'single member');
  assert.equal(inSyncCopyVerdict(members, ['pg-0'], rule('raft', true)).allow, true, 'raft relies on quorum');
  assert.equal(inSyncCopyVerdict(members, ['pg-0'], rule('sharded', false)).allow, false);
  const notReady = [primary, member('pg-1', { role: 'replica' }, { ready: false })];
  assert.equal(inSyncCopyVerdict(notReady, ['pg-0'], rule('multi-raft', false)).allow, false);
});

test('prerequisitesVerdict needs every prerequisite member at target, ready and healthy', () => {
  const members = [
    member('pd-0', {}, { version: 'v8.5.0' }),
    member('pd-1', {}, { version: 'v8.1.0' }),
    member('pd-2', {}, { version: 'v8.5.0', ready: false }),
    member('tikv-0', {}, { version: 'v8.1.0' }),
  ];
  const targets = { pd: '8.5.0', tikv: 'v8.5.0' };
  const v = prerequisitesVerdict('tikv', ['pd'], members, targets);
  assert.equal(v.allow, false);
  assert.equal(v.check, 'prerequisites');
  assert.equal(v.reason, 'tikv waits for pd: pd-1 at v8.1.0 (target 8.5.0), pd-2 not ready');
  const done = [member('pd-0', {}, { version: 'v8.5.0' }), member('pd-1', {}, { version: 'v8.5.0' })];
  assert.equal(prerequisitesVerdict('tikv', ['pd'], done, targets).allow, true);
  const unknown = [
    member('pd-0', null, { version: 'v8.5.0' }),
    member('pd-1', { healthy: false }, { version: 'v8.5.0' }),
  ];
  assert.equal(
    prerequisitesVerdict('tikv', ['pd'], unknown, targets).reason,
    'tikv waits for pd: pd-0 not reachable by the engine, pd-1 unhealthy',
  );
  assert.equal(prerequisitesVerdict('tikv', [], members, targets).allow, true);
  assert.equal(prerequisitesVerdict('tidb', ['tiflash'], members, targets).allow, true, 'absent component');
  assert.equal(prerequisitesVerdict('tikv', ['pd'], done, {}).allow, false, 'no target');
});

test('firstDenial returns the first verdict that denies', () => {
  const ok = { allow: true, check: 'a', reason: 'fine' };
  const no1 = { allow: false, check: 'b', reason: 'no' };
  const no2 = { allow: false, check: 'c', reason: 'also no' };
  assert.equal(firstDenial([ok, no1, no2]), no1);
  assert.equal(firstDenial([ok]), undefined);
  assert.equal(firstDenial([]), undefined);
});
