/**
 * Integration tests of the Redis engine against a real six-process Redis Cluster run by the local
 * platform (3 primaries + 3 replicas on 127.0.0.1, temp state directory, deleted afterwards).
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { systemClock } from '../../core/clock.js';
import { BadInputError } from '../../core/errors.js';
import { nullLogger } from '../../core/logger.js';
import type { EngineActionContext, PortContext } from '../../core/ports.js';
import type { Snapshot, UpgradeSpec } from '../../core/types.js';
import { observe } from '../../runner/observe.js';
import { makeSpec } from '../../runner/start.js';
import { LocalPlatform } from '../../platforms/local/platform.js';
import { RedisEngine } from './engine.js';
import { initialRoles, redisLocalAdapter } from '../../wiring/local/redis.js';

const ctx: PortContext = { clock: systemClock, logger: nullLogger };

const spec: UpgradeSpec = makeSpec({
  name: 'redis-test',
  cluster: 'rc',
  engine: 'redis',
  version: '0.0.0',
  strategy: { timeouts: { drainSeconds: 60, readySeconds: 120 } },
  pausedExpirySeconds: 3600,
});

const snapshot = (platform: LocalPlatform, engine: RedisEngine): Promise<Snapshot> =>
  observe(platform, engine, ctx);

/** Poll `check` until it returns a value, up to `ms`; the last reason is in the failure message. */
async function waitFor<T>(what: string, ms: number, check: () => Promise<T | string>): Promise<T> {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    const r = await check();
    if (typeof r !== 'string') return r;
    last = r;
    if (Date.now() > deadline) assert.fail(`${what} not reached within ${ms} ms: ${last}`);
    await systemClock.sleep(100);
  }
}

const settled = (s: Snapshot): Snapshot | string =>
  s.health.healthy && s.members.every((m) => m.ready && m.engine?.healthy && m.engine.caughtUp)
    ? s
    : `${s.health.detail}; ${s.members
        .filter((m) => !m.ready || !m.engine?.healthy || !m.engine.caughtUp)
        .map(
          (m) =>
            `${m.name}: ${m.ready ? '' : 'not ready (platform); '}${m.engine?.detail ?? m.detail ?? 'no engine state'}`,
        )
        .join('; ')}`;

describe('redis engine on a local 6-member cluster', { timeout: 180_000 }, () => {
  let stateDir: string;
  let platform: LocalPlatform | undefined;
  let version: string;
  const engine = new RedisEngine();
  let client: Cluster | undefined;

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'baton-redis-'));
    version = (await redisLocalAdapter.installedVersions({ registeredBinaries: {} }))[0]!;
    platform = await LocalPlatform.create({
      stateDir,
      name: 'rc',
      adapter: redisLocalAdapter,
      version,
      members: 6,
      ctx,
    });
  });

  after(async () => {
    client?.disconnect();
    await engine.close();
    await platform?.delete(ctx);
    await rm(stateDir, { recursive: true, force: true });
  });

  it('refuses member counts that cannot give each of 3+ primaries a replica', async () => {
    for (const n of [3, 5, 7]) assert.throws(() => initialRoles(n), /even number of members, at least 6/);
    await assert.rejects(
      LocalPlatform.create({
        stateDir,
        name: 'too-small',
        adapter: redisLocalAdapter,
        version,
        members: 3,
        ctx,
      }),
      (err: unknown) => err instanceof BadInputError && err.code === 'redis-member-count',
    );
    await assert.rejects(stat(join(stateDir, 'clusters', 'too-small')));
  });

  it('forms the cluster: 3 primaries and 3 replicas, every slot served, replicas caught up', async () => {
    const s = await waitFor('settled cluster', 30_000, async () =>
      settled(await snapshot(platform!, engine)),
    );
    const roles = s.members.map((m) => [m.name, m.engine?.role, m.engine?.leaderCount]);
    assert.deepEqual(roles, [
      ['redis-0', 'primary', 1],
      ['redis-1', 'primary', 1],
      ['redis-2', 'primary', 1],
      ['redis-3', 'replica', 0],
      ['redis-4', 'replica', 0],
      ['redis-5', 'replica', 0],
    ]);
    assert.equal(s.health.facts?.slotsServed, 16384);
    assert.match(s.members[3]!.engine!.detail!, /replica of redis-0, link up/);
    const checks = await engine.prechecks(s, spec, ctx);
    assert.deepEqual(
      checks.filter((c) => !c.ok),
      [],
    );
    assert.equal(checks.length, 5);

    // Bootstrapping a formed cluster again changes nothing.
    await redisLocalAdapter.bootstrap!(platform!.adapterContext(ctx));
    const again = await snapshot(platform!, engine);
    assert.deepEqual(
      again.members.map((m) => [m.name, m.engine?.role]),
      roles.map(([name, role]) => [name, role]),
    );
  });

  it('drains a primary by CLUSTER FAILOVER without losing an acknowledged write', async (t: TestContext) => {
    const before = await snapshot(platform!, engine);
    const seed = before.members.find((m) => m.name === 'redis-0')!;
    client = new Cluster([{ host: '127.0.0.1', port: Number(seed.endpoint!.split(':')[1]) }], {
      redisOptions: { protocol: 2, disableClientInfo: true, connectTimeout: 2000 },
      retryDelayOnMoved: 0,
    });
    const acked = new Map<string, string>();
    for (let i = 0; i < 500; i++) {
      await client.set(`pre:${i}`, `v${i}`);
      acked.set(`pre:${i}`, `v${i}`);
    }
    // A writer runs through the failover; every acknowledged write must survive it.
    let writing = true;
    let lastAck = Date.now();
    let maxGap = 0;
    let failures = 0;
    const writer = (async () => {
      for (let j = 0; writing; j++) {
        try {
          await client!.set(`w:${j}`, `x${j}`);
          acked.set(`w:${j}`, `x${j}`);
          const now = Date.now();
          maxGap = Math.max(maxGap, now - lastAck);
          lastAck = now;
        } catch {
          failures++;
        }
      }
    })();
    await systemClock.sleep(300);
    const target = before.members.find((m) => m.name === 'redis-0')!;
    const started = Date.now();
    const result = await engine.drain(target, undefined, before, {
      ...ctx,
      platform: platform!,
      spec,
    } as EngineActionContext);
    const drainMs = Date.now() - started;
    await systemClock.sleep(300);
    writing = false;
    await writer;

    assert.equal(result.movedTo, 'redis-3');
    assert.match(
      result.message,
      /failed over slots 0-5460 from redis-0 to redis-3 \(most caught-up of 1 linked replica\(s\), offset \d+\) in \d+ ms/,
    );
    const afterDrain = await waitFor('roles swapped and settled', 30_000, async () => {
      const s = settled(await snapshot(platform!, engine));
      if (typeof s === 'string') return s;
      const r0 = s.members.find((m) => m.name === 'redis-0')!.engine!;
      return r0.role === 'replica' ? s : `redis-0 is still ${r0.role}`;
    });
    const r3 = afterDrain.members.find((m) => m.name === 'redis-3')!.engine!;
    assert.equal(r3.role, 'primary');
    assert.equal(r3.leaderCount, 1);
    assert.match(r3.detail!, /primary of slots 0-5460/);
    assert.match(
      afterDrain.members.find((m) => m.name === 'redis-0')!.engine!.detail!,
      /replica of redis-3, link up/,
    );

    const lost: string[] = [];
    for (const [k, v] of acked) if ((await client.get(k)) !== v) lost.push(k);
    assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged writes lost`);
    t.diagnostic(
      `drain (CLUSTER FAILOVER until promotion seen) ${drainMs} ms; max write gap ${maxGap} ms; ` +
        `${acked.size} acknowledged writes, ${failures} failed attempts`,
    );

    const again = await engine.drain(
      afterDrain.members.find((m) => m.name === 'redis-0')!,
      undefined,
      afterDrain,
      { ...ctx, platform: platform!, spec } as EngineActionContext,
    );
    assert.equal(again.movedTo, undefined);
    assert.match(again.message, /redis-0 serves no slots \(replica\); nothing to move/);
  });

  it('replaces the drained former primary with a +r1 label; it rejoins as a linked replica', async () => {
    const label = `${version}+r1`;
    await platform!.replaceMember('redis-0', label, {}, ctx);
    const s = await waitFor('redis-0 back as a caught-up replica', 60_000, async () => {
      const snap = await snapshot(platform!, engine);
      const r0 = snap.members.find((m) => m.name === 'redis-0')!;
      if (!r0.ready) return `redis-0 not ready: ${r0.detail ?? ''}`;
      return settled(snap);
    });
    const r0 = s.members.find((m) => m.name === 'redis-0')!;
    assert.equal(r0.version, label);
    assert.equal(r0.engine!.role, 'replica');
    assert.match(r0.engine!.detail!, /replica of redis-3, link up/);
    assert.match(s.health.detail, /cluster_state:ok on 6\/6 answering nodes/);
    assert.equal((await platform!.listMembers(ctx)).find((m) => m.name === 'redis-0')!.version, label);
    assert.equal(await client!.get('pre:42'), 'v42');
  });

  it('fails prechecks with reasons while a member is stopped, and passes again once it is back', async () => {
    await platform!.stopMember('redis-4', ctx);
    const s = await snapshot(platform!, engine);
    assert.equal(s.members.find((m) => m.name === 'redis-4')!.engine, undefined);
    assert.match(s.health.detail, /not answering: redis-4/);
    const checks = Object.fromEntries((await engine.prechecks(s, spec, ctx)).map((c) => [c.name, c]));
    assert.equal(checks['all-members-up']!.ok, false);
    assert.match(checks['all-members-up']!.reason, /redis-4 is not running/);
    assert.equal(checks['every-primary-has-replica']!.ok, false);
    assert.match(checks['every-primary-has-replica']!.reason, /primary redis-1 \(slots 5461-10922\)/);
    assert.equal(checks['all-slots-covered']!.ok, true);

    await platform!.startMember('redis-4', ctx);
    const back = await waitFor('redis-4 back', 60_000, async () =>
      settled(await snapshot(platform!, engine)),
    );
    const again = await engine.prechecks(back, spec, ctx);
    assert.deepEqual(
      again.filter((c) => !c.ok).map((c) => `${c.name}: ${c.reason}`),
      [],
    );
  });

  it('rolls every member to a +r2 label, replicas first and primaries drained last, under writes', async (t: TestContext) => {
    const label = `${version}+r2`;
    const acked = new Map<string, string>();
    let writing = true;
    const writer = (async () => {
      for (let j = 0; writing; j++) {
        try {
          await client!.set(`roll:${j}`, `r${j}`);
          acked.set(`roll:${j}`, `r${j}`);
        } catch {
          // A failed write is not acknowledged; only acknowledged ones must survive.
        }
      }
    })();
    const start = await snapshot(platform!, engine);
    const order = [
      ...start.members.filter((m) => m.engine?.role === 'replica'),
      ...start.members.filter((m) => m.engine?.role === 'primary'),
    ].map((m) => m.name);
    assert.equal(order.length, 6);
    const moves: string[] = [];
    const t0 = Date.now();
    for (const name of order) {
      const snap = await snapshot(platform!, engine);
      const m = snap.members.find((x) => x.name === name)!;
      if (m.engine?.role === 'primary') {
        const res = await engine.drain(m, undefined, snap, {
          ...ctx,
          platform: platform!,
          spec,
        } as EngineActionContext);
        assert.ok(res.movedTo, res.message);
        moves.push(res.message);
      }
      await platform!.replaceMember(name, label, {}, ctx);
      await waitFor(`${name} back on ${label}`, 60_000, async () => {
        const s = await snapshot(platform!, engine);
        const x = s.members.find((y) => y.name === name)!;
        if (!x.ready || x.version !== label) return `${name} not ready on ${label}: ${x.detail ?? ''}`;
        return settled(s);
      });
    }
    writing = false;
    await writer;
    const rollMs = Date.now() - t0;
    const end = await snapshot(platform!, engine);
    assert.deepEqual(
      end.members.filter((m) => m.version !== label).map((m) => m.name),
      [],
    );
    assert.equal(end.members.filter((m) => m.engine?.role === 'primary').length, 3);
    assert.equal(end.health.facts?.slotsServed, 16384);
    const lost: string[] = [];
    for (const [k, v] of acked) if ((await client!.get(k)) !== v) lost.push(k);
    assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged writes lost`);
    t.diagnostic(
      `rolled 6 members with ${moves.length} failovers in ${rollMs} ms; ${acked.size} acknowledged writes, none lost`,
    );

    // Bootstrapping again after failovers moved the roles keeps them.
    await redisLocalAdapter.bootstrap!(platform!.adapterContext(ctx));
    const kept = await snapshot(platform!, engine);
    assert.deepEqual(
      kept.members.map((m) => m.engine?.role),
      end.members.map((m) => m.engine?.role),
    );
  });
});
