/**
 * RedisEngine.drain against scripted nodes (an injected connection factory answering CLUSTER
 * NODES / CLUSTER INFO / INFO replication from a small model) and a FakeClock, to pin down the
 * paths a real cluster produces only by chance: an abandoned manual failover, a promotion never
 * seen, gossip that has not converged, and members with nothing to move.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { OperationalError } from '../../core/errors.js';
import { nullLogger, type Logger } from '../../core/logger.js';
import type { EngineActionContext, Platform } from '../../core/ports.js';
import type { MemberView, Snapshot, UpgradeSpec } from '../../core/types.js';
import type { RedisConnection, RedisConnectionFactory } from './client.js';
import { RedisEngine } from './engine.js';

interface ModelNode {
  member: string;
  id: string;
  port: number;
  /** Id of the primary this node replicates; undefined for a primary. */
  primary?: string;
  slots?: string;
  up: boolean;
  linkUp: boolean;
}

/** A six-node cluster: redis-0..2 primaries, redis-3..5 their replicas. */
class Model {
  nodes: ModelNode[];
  /** Per observer member: node id -> primary id it believes (overrides the truth; stale gossip). */
  stale = new Map<string, Map<string, string | undefined>>();
  failovers: string[] = [];
  /** Decides what a CLUSTER FAILOVER sent to `member` does; default: promote at once. */
  onFailover: (member: string, attempt: number) => void = (m) => this.promote(m);

  constructor() {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'].map((c) => c.repeat(40));
    const slots = ['0-5460', '5461-10922', '10923-16383'];
    this.nodes = ids.map((id, i) => ({
      member: `redis-${i}`,
      id,
      port: 7000 + i,
      primary: i < 3 ? undefined : ids[i - 3],
      slots: i < 3 ? slots[i] : undefined,
      up: true,
      linkUp: true,
    }));
  }

  byMember(m: string): ModelNode {
    return this.nodes.find((n) => n.member === m)!;
  }

  promote(member: string): void {
    const r = this.byMember(member);
    const p = this.nodes.find((n) => n.id === r.primary)!;
    r.slots = p.slots;
    r.primary = undefined;
    p.slots = undefined;
    p.primary = r.id;
  }

  clusterNodes(observer: ModelNode): string {
    return this.nodes
      .map((n) => {
        const override = this.stale.get(observer.member);
        const primary = override?.has(n.id) ? override.get(n.id) : n.primary;
        const role = primary ? 'slave' : 'master';
        const flags = [...(n === observer ? ['myself'] : []), role, ...(n.up ? [] : ['fail'])].join(',');
        const slots = !primary && n.slots ? ` ${n.slots}` : '';
        return `${n.id} 127.0.0.1:${n.port}@${n.port + 100} ${flags} ${primary ?? '-'} 0 0 1 ${n.up ? 'connected' : 'disconnected'}${slots}`;
      })
      .join('\n');
  }

  reply(port: number, args: (string | number)[]): unknown {
    const n = this.nodes.find((x) => x.port === port)!;
    if (!n.up) throw new Error('connect ECONNREFUSED');
    const cmd = args.join(' ').toUpperCase();
    if (cmd === 'CLUSTER NODES') return this.clusterNodes(n);
    if (cmd === 'CLUSTER INFO') return 'cluster_state:ok\r\ncluster_current_epoch:6\r\n';
    if (cmd === 'INFO REPLICATION') {
      return n.primary
        ? `role:slave\r\nmaster_link_status:${n.linkUp ? 'up' : 'down'}\r\nmaster_sync_in_progress:0\r\nslave_repl_offset:100\r\n`
        : 'role:master\r\nmaster_repl_offset:100\r\n';
    }
    if (cmd === 'CLUSTER FAILOVER') {
      this.failovers.push(n.member);
      this.onFailover(n.member, this.failovers.length);
      return 'OK';
    }
    throw new Error(`unexpected command ${cmd}`);
  }

  factory(): RedisConnectionFactory {
    return (_host, port): RedisConnection => ({
      call: async (command, ...args) => this.reply(port, [command, ...args]),
      closed: false,
      close() {},
    });
  }

  members(): MemberView[] {
    return this.nodes.map((n, i) => ({
      name: n.member,
      component: 'redis',
      ordinal: i,
      version: '7.0.15',
      ready: n.up,
      running: n.up,
      endpoint: `127.0.0.1:${n.port}`,
    }));
  }
}

function setup(model: Model, opts: { failoverWaitMs?: number; attemptMs?: number } = {}) {
  const clock = new FakeClock();
  const engine = new RedisEngine({ connect: model.factory(), pollMs: 50, ...opts });
  const snapshot: Snapshot = {
    observedAt: clock.now(),
    members: model.members(),
    health: { healthy: true, detail: '' },
  };
  const ctx = {
    clock,
    logger: nullLogger,
    platform: {} as Platform,
    spec: {} as UpgradeSpec,
  } satisfies EngineActionContext;
  const member = (name: string) => snapshot.members.find((m) => m.name === name)!;
  return { clock, engine, snapshot, ctx, member };
}

describe('RedisEngine.drain (scripted nodes)', () => {
  it('fails a primary over to its replica and reports where its slots went', async () => {
    const model = new Model();
    const { engine, snapshot, ctx, member } = setup(model);
    const res = await engine.drain(member('redis-1'), undefined, snapshot, ctx);
    assert.equal(res.movedTo, 'redis-4');
    assert.match(
      res.message,
      /^failed over slots 5461-10922 from redis-1 to redis-4 \(most caught-up .*\) in \d+ ms$/,
    );
    assert.deepEqual(model.failovers, ['redis-4']);
    assert.equal(model.byMember('redis-4').slots, '5461-10922');
  });

  it('is a no-op for a replica and for a primary that already moved', async () => {
    const model = new Model();
    const { engine, snapshot, ctx, member } = setup(model);
    const replica = await engine.drain(member('redis-3'), undefined, snapshot, ctx);
    assert.equal(replica.movedTo, undefined);
    assert.match(replica.message, /redis-3 serves no slots \(replica\); nothing to move/);
    await engine.drain(member('redis-0'), undefined, snapshot, ctx);
    const again = await engine.drain(member('redis-0'), undefined, snapshot, ctx);
    assert.match(again.message, /redis-0 serves no slots/);
    assert.deepEqual(model.failovers, ['redis-3']);
  });

  it('asks again when Redis abandons the first manual failover', async () => {
    const model = new Model();
    model.onFailover = (m, attempt) => attempt >= 2 && model.promote(m);
    const { engine, snapshot, ctx, member, clock } = setup(model, {
      attemptMs: 5_500,
      failoverWaitMs: 15_000,
    });
    const t0 = clock.now();
    const res = await engine.drain(member('redis-2'), undefined, snapshot, ctx);
    assert.deepEqual(model.failovers, ['redis-5', 'redis-5']);
    assert.match(res.message, /after 2 CLUSTER FAILOVER attempts/);
    assert.ok(clock.now() - t0 >= 5_500);
  });

  it('returns "not yet seen" when no promotion happens within the wait', async () => {
    const model = new Model();
    model.onFailover = () => {};
    const { engine, snapshot, ctx, member } = setup(model, { attemptMs: 5_500, failoverWaitMs: 12_000 });
    const res = await engine.drain(member('redis-0'), undefined, snapshot, ctx);
    assert.equal(res.movedTo, 'redis-3');
    assert.match(
      res.message,
      /requested CLUSTER FAILOVER of redis-0's slots 0-5460 to redis-3 3 time\(s\); promotion not yet seen after 12000 ms/,
    );
    assert.equal(model.byMember('redis-0').slots, '0-5460');
  });

  it('shows what it waits for while it waits: the gossip, then each failover attempt', async () => {
    const model = new Model();
    const r3 = model.byMember('redis-3');
    model.stale.set('redis-0', new Map([[r3.id, undefined]]));
    model.onFailover = () => {};
    const { engine, snapshot, ctx, member, clock } = setup(model, {
      attemptMs: 1_000,
      failoverWaitMs: 2_500,
    });
    const lines: string[] = [];
    const logger: Logger = { ...nullLogger, info: (msg) => lines.push(msg) };
    const t0 = clock.now();
    const res = await engine.drain(member('redis-0'), undefined, snapshot, { ...ctx, logger });
    assert.match(res.message, /3 time\(s\); promotion not yet seen after 2500 ms/);
    // Gossip never caught up: one attempt's time (1 s), then 2.5 s of failover wait.
    assert.equal(clock.now() - t0, 3_500);
    assert.deepEqual(
      lines.filter((l) => l.startsWith('waiting for ')),
      [
        'waiting for every node to see redis-0 as primary and redis-3 as its replica (redis-0 not yet)',
        "waiting for redis-3 to serve redis-0's slots 0-5460 after CLUSTER FAILOVER (attempt 1)",
        "waiting for redis-3 to serve redis-0's slots 0-5460 after CLUSTER FAILOVER (attempt 2)",
        "waiting for redis-3 to serve redis-0's slots 0-5460 after CLUSTER FAILOVER (attempt 3)",
      ],
    );
  });

  it('waits for every node to see the replica as such before asking it to take over', async () => {
    const model = new Model();
    const r3 = model.byMember('redis-3');
    // redis-0 (the primary) still believes redis-3 is a master: it would ignore the failover.
    model.stale.set('redis-0', new Map([[r3.id, undefined]]));
    let observedStale = 0;
    const base = model.onFailover;
    model.onFailover = (m, n) => {
      observedStale = model.stale.size;
      base(m, n);
    };
    const { engine, snapshot, ctx, member } = setup(model);
    // Gossip catches up after a few polls.
    const origReply = model.reply.bind(model);
    let polls = 0;
    model.reply = (port, args) => {
      if (args.join(' ').toUpperCase() === 'CLUSTER NODES' && ++polls > 20) model.stale.clear();
      return origReply(port, args);
    };
    const res = await engine.drain(member('redis-0'), undefined, snapshot, ctx);
    assert.equal(observedStale, 0, 'CLUSTER FAILOVER was sent before the primary knew its replica');
    assert.equal(res.movedTo, 'redis-3');
  });

  it('prefers the planner target only when it replicates the drained primary', async () => {
    const model = new Model();
    const { engine, snapshot, ctx, member } = setup(model);
    const res = await engine.drain(member('redis-0'), member('redis-4'), snapshot, ctx);
    assert.equal(res.movedTo, 'redis-3');
  });

  it('throws when the primary has no linked replica to take its slots', async () => {
    const model = new Model();
    model.byMember('redis-4').linkUp = false;
    const { engine, snapshot, ctx, member } = setup(model);
    await assert.rejects(
      engine.drain(member('redis-1'), undefined, snapshot, ctx),
      (err: unknown) => err instanceof OperationalError && err.code === 'redis-no-replica',
    );
    assert.deepEqual(model.failovers, []);
  });

  it('leaves a primary that does not answer to automatic failover', async () => {
    const model = new Model();
    model.byMember('redis-2').up = false;
    const { engine, snapshot, ctx, member } = setup(model);
    const res = await engine.drain(member('redis-2'), undefined, snapshot, ctx);
    assert.equal(res.movedTo, undefined);
    assert.match(res.message, /redis-2 does not answer .* automatic failover after cluster-node-timeout/);
    assert.deepEqual(model.failovers, []);
  });
});
