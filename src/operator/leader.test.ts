import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { FakeClock, systemClock } from '../core/clock.js';
import { nullLogger } from '../core/logger.js';
import { LeaderElector, microTime } from './leader.js';
import { startCluster } from '../../test/kube/test-cluster.js';

/** A test namespace on the real control plane, a fake clock, and candidates for one Lease of `leaseDurationMs`. */
async function electors(t: TestContext, leaseDurationMs: number) {
  const server = await startCluster(t);
  const kc = server.kubeConfig();
  const namespace = server.namespace;
  const clock = new FakeClock();
  const mk = (identity: string) =>
    new LeaderElector({ kc, namespace, identity, clock, logger: nullLogger, leaseDurationMs });
  return { server, kc, namespace, clock, mk };
}

describe('LeaderElector', () => {
  it('one candidate wins; the other takes over only after the lease went unrenewed for its duration', async (t) => {
    const { kc, namespace, clock, mk } = await electors(t, 10_000);
    const a = mk('a');
    const b = mk('b');
    assert.equal(await a.tryAcquireOrRenew(), true, 'a creates the Lease');
    assert.equal(await b.tryAcquireOrRenew(), false, 'b sees a valid holder');
    clock.advance(6_000);
    assert.equal(await a.tryAcquireOrRenew(), true, 'a renews');
    clock.advance(6_000);
    assert.equal(await b.tryAcquireOrRenew(), false, 'renewed 6 s ago: still held');
    clock.advance(10_000);
    assert.equal(await b.tryAcquireOrRenew(), true, 'unchanged for a lease duration: b takes over');
    assert.equal(await a.tryAcquireOrRenew(), false, 'a lost it');
    const lease = await kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: 'baton-operator', namespace });
    assert.equal(lease.spec?.holderIdentity, 'b');
    assert.equal(lease.spec?.leaseTransitions, 1);
    assert.equal(lease.spec?.leaseDurationSeconds, 10);
    assert.match(String(lease.spec?.renewTime), /\.\d{6}Z$/, 'MicroTime with microseconds');
  });

  it('racing writers: a stale resourceVersion loses with 409 and stays follower', async (t) => {
    const { clock, mk } = await electors(t, 1_000);
    const a = mk('a');
    const b = mk('b');
    const c = mk('c');
    assert.equal(await a.tryAcquireOrRenew(), true);
    await b.tryAcquireOrRenew();
    await c.tryAcquireOrRenew();
    clock.advance(2_000);
    const results = await Promise.all([b.tryAcquireOrRenew(), c.tryAcquireOrRenew()]);
    assert.equal(results.filter(Boolean).length, 1, `exactly one wins (${results})`);
  });

  it('release on graceful stop lets a successor acquire at once', async (t) => {
    const server = await startCluster(t);
    const kc = server.kubeConfig();
    const namespace = server.namespace;
    const clock = systemClock;
    let started = 0;
    let stopped = 0;
    const a = new LeaderElector({
      kc,
      namespace,
      identity: 'a',
      clock,
      logger: nullLogger,
      leaseDurationMs: 60_000,
      retryPeriodMs: 1_000_000,
      onStartedLeading: () => started++,
      onStoppedLeading: () => stopped++,
    });
    a.start();
    const deadline = Date.now() + 5000;
    while (!a.isLeader() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(a.isLeader(), true);
    await a.stop({ release: true });
    assert.equal(a.isLeader(), false);
    assert.deepEqual([started, stopped], [1, 1]);
    const b = new LeaderElector({
      kc,
      namespace,
      identity: 'b',
      clock,
      logger: nullLogger,
      leaseDurationMs: 60_000,
    });
    assert.equal(await b.tryAcquireOrRenew(), true, 'no wait for expiry after a release');
  });

  it('formats MicroTime with six fractional digits', () => {
    assert.equal(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), '2026-01-02T03:04:05.678000Z');
  });
});
