import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterNodeEntry, SlotRange } from './parse.js';
import {
  authoritativeView,
  chooseFailover,
  clusterHealth,
  evaluatePrechecks,
  memberStates,
  uncoveredSlots,
  viewsBehind,
  type ClusterTopology,
  type MemberRef,
  type NodeObservation,
} from './topology.js';

interface Spec {
  member: string;
  primary?: string;
  slots?: SlotRange[];
  offset?: number;
  link?: 'up' | 'down';
  state?: 'ok' | 'fail';
  reachable?: boolean;
  epoch?: number;
  failing?: boolean;
  syncing?: boolean;
  /** Its own view of itself, when it disagrees with everyone else's. */
  selfSlots?: SlotRange[];
}

const idOf = (member: string) => `${member.replace(/\W/g, '')}`.padEnd(40, '0');
const portOf = (member: string) => 7000 + Number(member.split('-')[1]);

function entry(s: Spec, myself: boolean, bySelf = false): ClusterNodeEntry {
  const slots = bySelf && s.selfSlots ? s.selfSlots : (s.slots ?? []);
  const replica = s.primary !== undefined && !(bySelf && s.selfSlots);
  const flags = [
    ...(myself ? ['myself'] : []),
    replica ? 'slave' : 'master',
    ...(s.failing && !myself ? ['fail'] : []),
  ];
  return {
    id: idOf(s.member),
    address: `127.0.0.1:${portOf(s.member)}`,
    busPort: portOf(s.member) + 100,
    flags,
    masterId: replica ? idOf(s.primary!) : undefined,
    configEpoch: 1,
    linkState: 'connected',
    slots,
  };
}

function build(specs: Spec[]): ClusterTopology {
  const nodes = specs.map((s): NodeObservation => {
    const base = { member: s.member, endpoint: `127.0.0.1:${portOf(s.member)}` };
    if (s.reachable === false)
      return {
        ...base,
        reachable: false,
        error: 'connect ECONNREFUSED',
        nodes: [],
        clusterInfo: {},
        replication: {},
      };
    const replica = s.primary !== undefined && !s.selfSlots;
    const replication: Record<string, string> = replica
      ? {
          role: 'slave',
          master_link_status: s.link ?? 'up',
          master_sync_in_progress: s.syncing ? '1' : '0',
          slave_repl_offset: String(s.offset ?? 1000),
        }
      : { role: 'master', master_repl_offset: String(s.offset ?? 1000) };
    if (!replica) {
      specs
        .filter((r) => r.primary === s.member && r.reachable !== false)
        .forEach((r, i) => {
          replication[`slave${i}`] =
            `ip=127.0.0.1,port=${portOf(r.member)},state=online,offset=${r.offset ?? 1000},lag=0`;
        });
    }
    return {
      ...base,
      reachable: true,
      myself: entry(s, true, true),
      nodes: specs.map((o) => entry(o, o.member === s.member, o.member === s.member)),
      clusterInfo: { cluster_state: s.state ?? 'ok', cluster_current_epoch: String(s.epoch ?? 6) },
      replication,
    };
  });
  return { nodes };
}

const healthy: Spec[] = [
  { member: 'redis-0', slots: [{ start: 0, end: 5460 }] },
  { member: 'redis-1', slots: [{ start: 5461, end: 10922 }] },
  { member: 'redis-2', slots: [{ start: 10923, end: 16383 }] },
  { member: 'redis-3', primary: 'redis-0' },
  { member: 'redis-4', primary: 'redis-1' },
  { member: 'redis-5', primary: 'redis-2' },
];

const refs = (specs: Spec[], over: Partial<Record<string, Partial<MemberRef>>> = {}): MemberRef[] =>
  specs.map((s) => ({
    name: s.member,
    endpoint: `127.0.0.1:${portOf(s.member)}`,
    running: true,
    ready: true,
    ...over[s.member],
  }));

const change = (member: string, patch: Partial<Spec>): Spec[] =>
  healthy.map((s) => (s.member === member ? { ...s, ...patch } : s));

describe('memberStates', () => {
  it('reports primaries with one leadership and replicas with their lag', () => {
    const states = memberStates(
      build(
        change('redis-4', { offset: 400 }).map((s) => (s.member === 'redis-1' ? { ...s, offset: 1000 } : s)),
      ),
    );
    assert.equal(states['redis-0']!.role, 'primary');
    assert.equal(states['redis-0']!.leaderCount, 1);
    assert.equal(states['redis-0']!.lag, 0);
    assert.match(states['redis-0']!.detail!, /primary of slots 0-5460 \(5461\), 1 replica\(s\) online/);
    assert.equal(states['redis-4']!.role, 'replica');
    assert.equal(states['redis-4']!.leaderCount, 0);
    assert.equal(states['redis-4']!.lag, 600);
    assert.equal(states['redis-4']!.caughtUp, true);
    assert.match(states['redis-4']!.detail!, /replica of redis-1, link up, offset 400, lag 600 bytes/);
  });

  it('is not caught up when the link is down, a full sync runs, or lag exceeds the policy', () => {
    assert.equal(memberStates(build(change('redis-3', { link: 'down' })))['redis-3']!.caughtUp, false);
    assert.equal(memberStates(build(change('redis-3', { link: 'down' })))['redis-3']!.healthy, false);
    assert.equal(memberStates(build(change('redis-3', { syncing: true })))['redis-3']!.caughtUp, false);
    const lagging = build(change('redis-3', { offset: 0 }));
    assert.equal(memberStates(lagging, { maxLagBytes: 999 })['redis-3']!.caughtUp, false);
    assert.equal(memberStates(lagging, { maxLagBytes: 1000 })['redis-3']!.caughtUp, true);
  });

  it('reports an unknown lag as the largest when the primary does not answer', () => {
    const s = memberStates(build(change('redis-0', { reachable: false })))['redis-3']!;
    assert.equal(s.lag, Number.MAX_SAFE_INTEGER);
    assert.equal(s.caughtUp, false);
    assert.match(s.detail!, /lag unknown/);
  });

  it('is not caught up until every other node sees it in its new role', () => {
    const topo = build(healthy);
    // redis-1 has not yet heard that redis-3 became a replica of redis-0.
    const stale = topo.nodes[1]!.nodes.find((e) => e.address === '127.0.0.1:7003')!;
    stale.flags = ['master'];
    stale.masterId = undefined;
    const me = topo.nodes[3]!.myself!;
    assert.deepEqual(viewsBehind(topo, me), ['redis-1']);
    const s = memberStates(topo)['redis-3']!;
    assert.equal(s.caughtUp, false);
    assert.equal(s.healthy, true);
    assert.match(s.detail!, /not yet seen in this role by redis-1/);
    assert.equal(memberStates(build(healthy))['redis-3']!.caughtUp, true);
  });

  it('leaves out members that do not answer', () => {
    assert.equal(memberStates(build(change('redis-5', { reachable: false })))['redis-5'], undefined);
  });

  it('does not trust a restarted former primary whose own view still claims the slots', () => {
    // redis-0 was failed over to redis-3; restarted from an old nodes.conf, it still thinks it owns 0-5460.
    const specs: Spec[] = [
      {
        member: 'redis-0',
        primary: 'redis-3',
        selfSlots: [{ start: 0, end: 5460 }],
        epoch: 6,
        state: 'fail',
      },
      healthy[1]!,
      healthy[2]!,
      { member: 'redis-3', slots: [{ start: 0, end: 5460 }], epoch: 7 },
      { ...healthy[4]!, epoch: 7 },
      { ...healthy[5]!, epoch: 7 },
    ];
    const topo = build(specs);
    assert.equal(authoritativeView(topo)!.member, 'redis-3');
    const s = memberStates(topo)['redis-0']!;
    assert.equal(s.healthy, false);
    assert.equal(s.caughtUp, false);
    assert.match(s.detail!, /disagrees with redis-3/);
    assert.equal(memberStates(topo)['redis-3']!.role, 'primary');
  });
});

describe('clusterHealth', () => {
  it('is healthy when every node is ok and every slot is served', () => {
    const h = clusterHealth(build(healthy));
    assert.equal(h.healthy, true);
    assert.match(
      h.detail,
      /cluster_state:ok on 6\/6 answering nodes; 16384\/16384 slots served by 3 primaries with 3 replicas/,
    );
    assert.equal(h.facts!.slotsServed, 16384);
  });

  it('names the nodes whose state is not ok and the unserved slots', () => {
    const h = clusterHealth(build(change('redis-1', { failing: true, state: 'fail' })));
    assert.equal(h.healthy, false);
    assert.match(h.detail, /cluster_state not ok on redis-1 \(fail\)/);
    assert.match(h.detail, /10922\/16384 slots served.*unserved slots 5461-10922/);
  });

  it('stays healthy with a replica down, and names it', () => {
    const h = clusterHealth(build(change('redis-4', { reachable: false })));
    assert.equal(h.healthy, true);
    assert.match(h.detail, /not answering: redis-4/);
  });

  it('is unhealthy when nothing answers', () => {
    const h = clusterHealth(build(healthy.map((s) => ({ ...s, reachable: false }))));
    assert.equal(h.healthy, false);
    assert.equal(h.detail, 'no redis node answered');
  });
});

describe('uncoveredSlots', () => {
  it('lists ranges with no non-failing owner', () => {
    const topo = build(change('redis-2', { failing: true }));
    assert.deepEqual(uncoveredSlots(topo.nodes[0]!.nodes), [{ start: 10923, end: 16383 }]);
  });
});

describe('evaluatePrechecks', () => {
  const byName = (r: ReturnType<typeof evaluatePrechecks>) => Object.fromEntries(r.map((x) => [x.name, x]));

  it('passes all five on a healthy cluster, each with a reason', () => {
    const r = evaluatePrechecks(build(healthy), refs(healthy));
    assert.deepEqual(
      r.map((x) => [x.name, x.ok]),
      [
        ['cluster-state-ok', true],
        ['all-slots-covered', true],
        ['every-primary-has-replica', true],
        ['replicas-in-sync', true],
        ['all-members-up', true],
      ],
    );
    for (const x of r) assert.ok(x.reason.length > 0);
  });

  it('fails with reasons when a replica member is stopped', () => {
    const specs = change('redis-4', { reachable: false });
    const r = byName(
      evaluatePrechecks(build(specs), refs(specs, { 'redis-4': { running: false, ready: false } })),
    );
    assert.equal(r['cluster-state-ok']!.ok, true);
    assert.equal(r['every-primary-has-replica']!.ok, false);
    assert.match(r['every-primary-has-replica']!.reason, /primary redis-1 \(slots 5461-10922\)/);
    assert.equal(r['all-members-up']!.ok, false);
    assert.match(r['all-members-up']!.reason, /redis-4 is not running/);
  });

  it('fails replicas-in-sync for a lagging replica and names it', () => {
    const specs = change('redis-5', { link: 'down' });
    const r = byName(evaluatePrechecks(build(specs), refs(specs)));
    assert.equal(r['replicas-in-sync']!.ok, false);
    assert.match(r['replicas-in-sync']!.reason, /redis-5 \(replica of redis-2, link down/);
    assert.equal(r['every-primary-has-replica']!.ok, false);
  });

  it('fails slot coverage and cluster state when a primary failed', () => {
    const specs = change('redis-0', { failing: true, state: 'fail' });
    const r = byName(evaluatePrechecks(build(specs), refs(specs)));
    assert.equal(r['cluster-state-ok']!.ok, false);
    assert.equal(r['all-slots-covered']!.ok, false);
    assert.match(r['all-slots-covered']!.reason, /5461 of 16384 slots have no healthy primary \(0-5460\)/);
    assert.match(r['all-members-up']!.reason, /redis-0 is flagged failing/);
  });

  it('fails all-members-up for a node in the cluster that is no member', () => {
    const topo = build([...healthy, { member: 'stray-9', primary: 'redis-0' }]);
    topo.nodes = topo.nodes.filter((n) => n.member !== 'stray-9');
    const r = byName(evaluatePrechecks(topo, refs(healthy)));
    assert.equal(r['all-members-up']!.ok, false);
    assert.match(r['all-members-up']!.reason, /is in the cluster but is no member/);
  });
});

describe('chooseFailover', () => {
  it('is a no-op for a replica', () => {
    const c = chooseFailover(build(healthy), 'redis-3');
    assert.equal(c.kind, 'not-primary');
  });

  it('picks the only linked replica of a primary', () => {
    const c = chooseFailover(build(healthy), 'redis-1');
    assert.equal(c.kind, 'failover');
    if (c.kind !== 'failover') return;
    assert.equal(c.replica, 'redis-4');
    assert.equal(c.replicaEndpoint, '127.0.0.1:7004');
    assert.deepEqual(c.slots, [{ start: 5461, end: 10922 }]);
  });

  it('prefers the planner target, else the most caught-up replica', () => {
    const specs: Spec[] = [...healthy, { member: 'redis-6', primary: 'redis-0', offset: 2000 }];
    const best = chooseFailover(build(specs), 'redis-0');
    assert.equal(best.kind === 'failover' && best.replica, 'redis-6');
    const preferred = chooseFailover(build(specs), 'redis-0', 'redis-3');
    assert.equal(preferred.kind === 'failover' && preferred.replica, 'redis-3');
    const notReplica = chooseFailover(build(specs), 'redis-0', 'redis-4');
    assert.equal(notReplica.kind === 'failover' && notReplica.replica, 'redis-6');
  });

  it('refuses when the primary has no linked replica', () => {
    const c = chooseFailover(build(change('redis-3', { link: 'down' })), 'redis-0');
    assert.equal(c.kind, 'no-replica');
    assert.match(c.reason, /none of its replicas on other members answers with its link up/);
  });

  it('leaves an unreachable primary to automatic failover', () => {
    const c = chooseFailover(build(change('redis-2', { reachable: false })), 'redis-2');
    assert.equal(c.kind, 'unreachable');
    assert.match(c.reason, /automatic failover after cluster-node-timeout/);
  });
});
