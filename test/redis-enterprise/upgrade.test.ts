/**
 * Redis Enterprise end to end without Kubernetes: the real runner and engine drive the REST double
 * (shards with roles on nodes, actions that take time) through the seed's three stages.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import type { UpgradeSpec } from '../../src/core/types.js';
import { RedisEnterpriseEngine } from '../../src/engines/redis-enterprise/engine.js';
import { type ReconcileResult, Runner } from '../../src/runner/runner.js';
import { createUpgrade, makeSpec } from '../../src/runner/start.js';
import { REC_PASSWORD, REC_USER, RecDouble, RecPlatform } from './double.js';

const untilPaused = (r: ReconcileResult) =>
  r.status.phase === 'Paused' || (r.status.phase === 'Prechecking' && !!r.status.blockedBy);

async function fixture(kubernetes = '1.27.3') {
  const double = await RecDouble.start({
    nodes: 3,
    softwareVersion: '7.2.4-92',
    databases: [
      { name: 'cache', redisVersion: '7.2', shards: 2 },
      { name: 'sessions', redisVersion: '7.2', shards: 1 },
    ],
  });
  const platform = new RecPlatform(double, '7.2.4-12');
  const engine = new RedisEnterpriseEngine({
    rest: { baseUrl: double.baseUrl, username: REC_USER, password: REC_PASSWORD },
    kubernetesVersion: async () => kubernetes,
  });
  const ctx = { clock: systemClock, logger: nullLogger };
  async function upgrade(spec: Partial<UpgradeSpec> = {}) {
    await createUpgrade(
      platform,
      engine,
      makeSpec({
        name: 'up',
        cluster: 'rec',
        engine: 'redis-enterprise',
        version: '7.4.6-2',
        components: [
          { name: 'rec', version: '7.4.6-22' },
          { name: 'redb', version: '7.4' },
        ],
        ...spec,
      }),
      ctx,
    );
    return new Runner({ platform, engine, clock: systemClock, logger: nullLogger, name: 'up' });
  }
  return {
    double,
    platform,
    upgrade,
    close: async () => {
      platform.close();
      await double.close();
    },
  };
}

let f: Awaited<ReturnType<typeof fixture>> | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe('Redis Enterprise upgrade against the REST double', () => {
  it('operator, then cluster pods one by one with their primaries failed over first, then databases', async () => {
    f = await fixture();
    const runner = await f.upgrade();
    const r = await runner.run({ stopWhen: untilPaused });
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    const c = f.double.cluster;
    assert.equal(f.platform.operatorVersion, '7.4.6-2');
    assert.deepEqual(
      c.nodes.map((n) => n.softwareVersion),
      ['7.4.6-22', '7.4.6-22', '7.4.6-22'],
    );
    assert.deepEqual(
      c.bdbs.map((b) => b.redisVersion),
      ['7.4', '7.4'],
    );
    // Stages in order: the operator first, every REC pod before any database.
    const order = f.platform.replaced.map((x) => x.member);
    assert.equal(order[0], 'redis-enterprise-operator');
    assert.deepEqual(order.slice(1, 4).sort(), ['rec-0', 'rec-1', 'rec-2']);
    assert.deepEqual(order.slice(4).sort(), ['cache', 'sessions']);
    // No pod went while it hosted a primary shard or was the cluster's master node.
    for (const s of f.platform.stops) {
      assert.equal(s.primaries, 0, `${s.member} hosted primaries when it stopped`);
      assert.equal(s.wasMaster, false, `${s.member} was the master node when it stopped`);
    }
    assert.ok(c.requests.includes('POST /v1/shards/actions/failover'));
    const on = c.requests.filter((x) => /maintenance_on$/.test(x)).length;
    const off = c.requests.filter((x) => /maintenance_off$/.test(x)).length;
    assert.ok(on >= 1 && on === off, `maintenance on ${on}, off ${off}`);
    assert.ok(
      c.nodes.every((n) => n.snapshots.length === 0),
      'no node left in maintenance',
    );
    assert.equal(
      c.requests.filter((x) => /\/upgrade$/.test(x)).length,
      0,
      'databases upgraded by the platform',
    );
  });

  it('refuses an operator that does not support the Kubernetes version, and changes nothing', async () => {
    f = await fixture('1.31.2');
    const runner = await f.upgrade();
    const r = await runner.run({ stopWhen: untilPaused });
    assert.equal(r.status.phase, 'Prechecking');
    assert.equal(r.status.blockedBy?.check, 'precheck:operator-supports-kubernetes');
    assert.match(
      r.status.blockedBy?.reason ?? '',
      /the running operator \(7\.2\.4-12\) supports Kubernetes 1\.24-1\.28, not 1\.31/,
    );
    assert.deepEqual(f.platform.replaced, []);
  });
});

describe('Redis Enterprise: a hand-over that cannot finish', () => {
  it('a failover whose replica is not in sync fails, is tried again, and the upgrade pauses with the cause; the pod never goes', async () => {
    f = await fixture();
    const c = f.double.cluster;
    const runner = await f.upgrade({
      strategy: {
        ...makeSpec({ name: 'x', cluster: 'x', engine: 'redis-enterprise', version: '1.0.0' }).strategy,
        timeouts: { drainSeconds: 3, drainPolicy: 'pause', readySeconds: 30, readyPolicy: 'pause' },
      },
    });
    await runner.run({ stopWhen: (x) => x.status.members['redis-enterprise-operator']?.state === 'done' });
    // Once the cluster stage starts, the replica of every primary on rec-2 (the first pod to go)
    // falls out of sync and stays so.
    for (const s of c.shards.filter((x) => x.nodeUid === 3 && x.role === 'master')) {
      c.partner(s)!.syncingUntil = Date.now() + 3_600_000;
    }
    const r = await runner.run({ stopWhen: untilPaused });
    assert.equal(r.status.phase, 'Paused', r.status.reason);
    assert.match(r.status.pauseCause ?? '', /moving leadership away from rec-2 timed out/);
    assert.match(
      r.status.pauseCause ?? '',
      /failover action \S+ failed: replica of shard \d+ is not in sync/,
    );
    assert.ok(
      r.status.history.some((h) => /rec-2: the drain is no longer in place/.test(h.message)),
      'the failed failover was tried again',
    );
    assert.deepEqual(f.platform.stops, [], 'no REC pod stopped');
    assert.equal(f.platform.replaced.length, 1, 'only the operator was replaced');
  });
});
