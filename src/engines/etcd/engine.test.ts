/** EtcdEngine decisions against a recording fake of the admin API (no processes). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../core/clock.js';
import { nullLogger } from '../../core/logger.js';
import type { EngineActionContext, Platform } from '../../core/ports.js';
import type { MemberView, PlatformMember, Snapshot, UpgradeSpec } from '../../core/types.js';
import type { EtcdAdminApi, EtcdAlarm, EtcdMemberInfo, EtcdMemberStatus } from './client.js';
import { EtcdEngine } from './engine.js';

const ctx = { clock: new FakeClock(), logger: nullLogger };

/** A cluster as the fake serves it: status per endpoint (undefined = unreachable). */
class FakeEtcd implements EtcdAdminApi {
  statuses = new Map<string, EtcdMemberStatus | undefined>();
  members: EtcdMemberInfo[] = [];
  raised: EtcdAlarm[] = [];
  moves: { from: string; to: string }[] = [];
  closed = false;

  async status(endpoint: string): Promise<EtcdMemberStatus> {
    const s = this.statuses.get(endpoint);
    if (!s) throw new Error(`connect ECONNREFUSED ${endpoint}`);
    return s;
  }
  async memberList(endpoint: string): Promise<EtcdMemberInfo[]> {
    await this.status(endpoint);
    return this.members;
  }
  async alarms(endpoint: string): Promise<EtcdAlarm[]> {
    await this.status(endpoint);
    return this.raised;
  }
  async moveLeader(endpoint: string, targetId: string): Promise<void> {
    this.moves.push({ from: endpoint, to: targetId });
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function status(id: string, over: Partial<EtcdMemberStatus> = {}): EtcdMemberStatus {
  return {
    memberId: id,
    leaderId: '1',
    raftIndex: 1000,
    raftAppliedIndex: 1000,
    raftTerm: 3,
    version: '3.4.23',
    errors: [],
    isLearner: false,
    dbSize: 20480,
    ...over,
  };
}

function member(i: number, over: Partial<PlatformMember> = {}): PlatformMember {
  return {
    name: `etcd-${i}`,
    component: 'etcd',
    ordinal: i,
    version: '3.4.23',
    ready: true,
    running: true,
    endpoint: `127.0.0.1:${2379 + i * 10}`,
    ...over,
  };
}

/** Three members with IDs 1, 2, 3; etcd-0 (ID 1) leads. */
function cluster(): { fake: FakeEtcd; members: PlatformMember[] } {
  const fake = new FakeEtcd();
  const members = [0, 1, 2].map((i) => member(i));
  members.forEach((m, i) => fake.statuses.set(m.endpoint as string, status(String(i + 1))));
  fake.members = members.map((m, i) => ({
    id: String(i + 1),
    name: m.name,
    peerURLs: [],
    clientURLs: [`http://${m.endpoint}`],
    isLearner: false,
  }));
  return { fake, members };
}

async function snapshotOf(engine: EtcdEngine, members: PlatformMember[]): Promise<Snapshot> {
  const obs = await engine.observe(members, ctx);
  const views: MemberView[] = members.map((m) => ({
    ...m,
    ...(obs.members[m.name] ? { engine: obs.members[m.name] } : {}),
  }));
  return { observedAt: ctx.clock.now(), members: views, health: obs.health };
}

const spec = {} as UpgradeSpec;
const actx: EngineActionContext = { ...ctx, platform: {} as Platform, spec };

test('observe reports roles, lag from the leader index, caught-up against the threshold', async () => {
  const { fake, members } = cluster();
  fake.statuses.set(members[1]?.endpoint as string, status('2', { raftIndex: 990, raftAppliedIndex: 990 }));
  fake.statuses.set(members[2]?.endpoint as string, status('3', { raftIndex: 700, raftAppliedIndex: 650 }));
  const engine = new EtcdEngine({ client: fake, caughtUpEntries: 50 });
  const obs = await engine.observe(members, ctx);
  assert.deepEqual(
    Object.entries(obs.members).map(([n, s]) => [n, s.role, s.lag, s.caughtUp, s.healthy, s.leaderCount]),
    [
      ['etcd-0', 'leader', 0, true, true, 1],
      ['etcd-1', 'follower', 10, true, true, 0],
      ['etcd-2', 'follower', 300, false, true, 0],
    ],
  );
  assert.match(obs.members['etcd-2']?.detail ?? '', /raft index 700 \(applied 650\), leader at 1000/);
  assert.equal(obs.health.healthy, true);
  assert.equal(obs.health.facts?.leader, 'etcd-0');
  assert.equal(obs.health.detail, 'leader etcd-0 (term 3); 3/3 voting members healthy, quorum 2');
});

test('observe omits unreachable and stopped members without throwing, and keeps quorum arithmetic', async () => {
  const { fake, members } = cluster();
  fake.statuses.set(members[2]?.endpoint as string, undefined);
  const withStopped = [
    members[0] as PlatformMember,
    { ...(members[1] as PlatformMember), running: false, ready: false },
    members[2] as PlatformMember,
  ];
  const engine = new EtcdEngine({ client: fake });
  const obs = await engine.observe(withStopped, ctx);
  assert.deepEqual(Object.keys(obs.members), ['etcd-0']);
  assert.equal(obs.health.healthy, false);
  assert.match(
    obs.health.detail,
    /quorum lost: leader etcd-0 \(term 3\); 1\/3 voting members healthy, quorum 2; unreachable: etcd-1, etcd-2/,
  );
});

test('a member that knows no leader, or reports errors, is unhealthy; learners are not voters', async () => {
  const { fake, members } = cluster();
  fake.statuses.set(members[1]?.endpoint as string, status('2', { leaderId: '0' }));
  fake.statuses.set(members[2]?.endpoint as string, status('3', { isLearner: true }));
  (fake.members[2] as EtcdMemberInfo).isLearner = true;
  const engine = new EtcdEngine({ client: fake });
  const obs = await engine.observe(members, ctx);
  assert.deepEqual([obs.members['etcd-1']?.healthy, obs.members['etcd-1']?.caughtUp], [false, false]);
  assert.match(obs.members['etcd-1']?.detail ?? '', /knows no leader/);
  assert.equal(obs.members['etcd-2']?.role, 'learner');
  assert.equal(obs.health.facts?.voters, 2);
  assert.equal(obs.health.healthy, false, 'one healthy voter of two is not a majority');
});

test('prechecks pass on a healthy cluster', async () => {
  const { fake, members } = cluster();
  const engine = new EtcdEngine({ client: fake });
  const results = await engine.prechecks(await snapshotOf(engine, members), spec, ctx);
  assert.deepEqual(
    results.map((r) => [r.name, r.ok]),
    [
      ['all-members-healthy', true],
      ['quorum', true],
      ['leader-elected', true],
      ['no-alarms', true],
      ['versions-uniform', true],
    ],
  );
});

test('prechecks fail with reasons naming the members concerned', async () => {
  const { fake, members } = cluster();
  fake.statuses.set(members[2]?.endpoint as string, undefined);
  fake.statuses.set(members[1]?.endpoint as string, status('2', { version: '3.4.20', leaderId: '3' }));
  fake.raised = [{ memberId: '1', alarm: 'Nospace' }];
  const engine = new EtcdEngine({ client: fake });
  const byName = Object.fromEntries(
    (await engine.prechecks(await snapshotOf(engine, members), spec, ctx)).map((r) => [r.name, r]),
  );
  assert.match(
    byName['all-members-healthy']?.reason ?? '',
    /etcd-1 \(.*follows etcd-2\).*etcd-2 \(.*ECONNREFUSED/,
  );
  assert.match(
    byName.quorum?.reason ?? '',
    /1\/3 voting members healthy: restarting one would leave 0, below the quorum of 2/,
  );
  assert.match(byName['leader-elected']?.reason ?? '', /etcd-1 follows etcd-2/);
  assert.match(byName['no-alarms']?.reason ?? '', /NOSPACE on etcd-0/);
  assert.match(byName['versions-uniform']?.reason ?? '', /etcd-0 on 3\.4\.23; etcd-1 on 3\.4\.20/);
  assert.ok(Object.values(byName).every((r) => !r.ok));
});

test('a member etcd lists but the platform does not run fails all-members-healthy; a 1-member cluster fails quorum', async () => {
  const { fake, members } = cluster();
  fake.members.push({
    id: '9',
    name: '',
    peerURLs: ['http://10.0.0.9:2380'],
    clientURLs: [],
    isLearner: false,
  });
  const engine = new EtcdEngine({ client: fake });
  const results = await engine.prechecks(await snapshotOf(engine, members), spec, ctx);
  assert.match(results[0]?.reason ?? '', /does not run: unstarted member 9/);

  const single = new FakeEtcd();
  const only = member(0);
  single.statuses.set(only.endpoint as string, status('1'));
  single.members = [{ id: '1', name: 'etcd-0', peerURLs: [], clientURLs: [], isLearner: false }];
  const one = new EtcdEngine({ client: single });
  const q = (await one.prechecks(await snapshotOf(one, [only]), spec, ctx)).find((r) => r.name === 'quorum');
  assert.equal(q?.ok, false);
  assert.match(q?.reason ?? '', /1-member cluster/);
});

test('drain moves leadership from the leader to the planned target, or the least lagging follower', async () => {
  const { fake, members } = cluster();
  fake.statuses.set(members[1]?.endpoint as string, status('2', { raftIndex: 900 }));
  const engine = new EtcdEngine({ client: fake });
  const snap = await snapshotOf(engine, members);
  const [leader, f1, f2] = snap.members as [MemberView, MemberView, MemberView];

  const planned = await engine.drain(leader, f1, snap, actx);
  assert.equal(planned.movedTo, 'etcd-1');
  assert.deepEqual(fake.moves.at(-1), { from: leader.endpoint, to: '2' });

  const auto = await engine.drain(leader, undefined, snap, actx);
  assert.equal(auto.movedTo, 'etcd-2', 'etcd-2 lags 0, etcd-1 lags 100');
  assert.deepEqual(fake.moves.at(-1), { from: leader.endpoint, to: '3' });

  fake.statuses.set(f1.endpoint as string, undefined);
  const fallback = await engine.drain(leader, f1, snap, actx);
  assert.equal(fallback.movedTo, 'etcd-2');
  assert.match(fallback.message, /planned target etcd-1 was not a healthy follower/);

  const noop = await engine.drain(f2, leader, snap, actx);
  assert.equal(noop.movedTo, undefined);
  assert.match(noop.message, /etcd-2 is not the etcd leader \(etcd-0 is\); nothing to move/);
  assert.equal(fake.moves.length, 3);
});

test('drain fails clearly when the leader has no healthy follower; close leaves a passed-in client open', async () => {
  const { fake, members } = cluster();
  fake.statuses.set(members[1]?.endpoint as string, undefined);
  fake.statuses.set(members[2]?.endpoint as string, status('3', { errors: ['NOSPACE'] }));
  const engine = new EtcdEngine({ client: fake });
  const snap = await snapshotOf(engine, members);
  await assert.rejects(
    engine.drain(snap.members[0] as MemberView, undefined, snap, actx),
    /no healthy voting follower/,
  );
  await engine.close();
  assert.equal(fake.closed, false);
});
