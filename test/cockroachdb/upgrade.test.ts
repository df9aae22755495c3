/**
 * CockroachDB end to end without Kubernetes: the real runner and engine roll a three-node double
 * (pgwire + HTTP + gRPC, state moving as nodes drain, stop and restart) through major upgrades,
 * manual and automatic finalization, rollback and refusals.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { CockroachEngine } from '../../src/engines/cockroachdb/engine.js';
import { Runner } from '../../src/runner/runner.js';
import { crdbFixture, untilPausedOr } from './fixture.js';

type Fixture = Awaited<ReturnType<typeof crdbFixture>>;
let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const STRATEGY = {
  timeouts: {
    drainSeconds: 20,
    drainPolicy: 'pause' as const,
    readySeconds: 20,
    readyPolicy: 'pause' as const,
  },
};

describe('CockroachDB upgrade against the double', () => {
  it('a major upgrade preserves the old major, drains and restarts one node at a time, then finalizes', async () => {
    f = await crdbFixture({ version: '23.2.5' });
    const runner = await f.upgrade('24.1.3', { finalize: 'auto' });
    const r = await runner.run({ stopWhen: untilPausedOr() });
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(r.status.reason, 'upgrade finalized: rollback is no longer possible');
    assert.deepEqual(f.binaries(), ['24.1.3', '24.1.3', '24.1.3']);
    const c = f.double.cluster;
    assert.equal(c.clusterVersionString(), '24.1');
    assert.equal(c.preserveDowngrade, '');
    // The option was set before the first node went, from the version the cluster reported.
    const set = c.statements.indexOf("SET CLUSTER SETTING cluster.preserve_downgrade_option = '23.2'");
    assert.ok(set >= 0, c.statements.join('\n'));
    assert.ok(c.statements.indexOf('RESET CLUSTER SETTING cluster.preserve_downgrade_option') > set);
    // Every node drained before it stopped; one node down at a time; ranges under-replicated
    // while a node was down, and none when the next one went.
    for (const id of [1, 2, 3]) assert.ok((c.drains.get(id) ?? 0) >= 1, `node ${id} drained`);
    assert.equal(f.samples.maxNodesDown, 1);
    assert.ok(f.samples.maxUnderReplicated > 0, 'ranges were under-replicated while a node was down');
    assert.deepEqual(f.samples.clusterVersions, ['23.2', '23.2-upgrading-to-24.1', '24.1']);
    const drains = r.status.history.filter((h) => /^drained crdb-\d/.test(h.message));
    assert.equal(drains.length, 3, r.status.history.map((h) => h.message).join('\n'));
  });

  it('manual finalization waits; a rollback then rolls every node back to the old binary', async () => {
    f = await crdbFixture({ version: '23.2.5' });
    const runner = await f.upgrade('24.1.3', { finalize: 'manual', strategy: STRATEGY as never });
    let r = await runner.run({ stopWhen: untilPausedOr('AwaitingFinalization') });
    assert.equal(r.status.phase, 'AwaitingFinalization', r.status.reason);
    const c = f.double.cluster;
    assert.equal(c.clusterVersionString(), '23.2', 'not finalized while the option is set');
    assert.equal(c.preserveDowngrade, '23.2');
    await f.update({ rollback: true });
    r = await runner.run({ stopWhen: untilPausedOr() });
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(r.status.direction, 'rollback');
    assert.deepEqual(f.binaries(), ['23.2.5', '23.2.5', '23.2.5']);
    assert.equal(c.clusterVersionString(), '23.2');
    assert.ok(!c.statements.includes('RESET CLUSTER SETTING cluster.preserve_downgrade_option'));
  });

  it('baton finalize moves the cluster version; a rollback after it is refused and nothing restarts', async () => {
    f = await crdbFixture({ version: '23.2.5' });
    const runner = await f.upgrade('24.1.3', { finalize: 'manual', strategy: STRATEGY as never });
    await runner.run({ stopWhen: untilPausedOr('AwaitingFinalization') });
    await f.update({ finalizeRequested: true });
    let r = await runner.run({ stopWhen: untilPausedOr() });
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(r.status.finalized, true);
    assert.equal(f.double.cluster.clusterVersionString(), '24.1');
    const restarts = f.platform.replaced.length;
    await f.update({ rollback: true });
    r = await runner.reconcile();
    assert.equal(r.status.phase, 'Completed');
    assert.equal(f.platform.replaced.length, restarts);
  });

  it('a patch upgrade sets nothing and needs no finalization', async () => {
    f = await crdbFixture({ version: '24.1.1' });
    const runner = await f.upgrade('24.1.3', { finalize: 'manual' });
    const r = await runner.run({ stopWhen: untilPausedOr('AwaitingFinalization') });
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.deepEqual(
      f.double.cluster.statements.filter((s) => !s.startsWith('SHOW')),
      [],
      'no cluster setting written',
    );
  });

  it('two majors are planned as two hops, each finalized before the next starts', async () => {
    f = await crdbFixture({ version: '23.1.4' });
    const runner = await f.upgrade('24.1.3', { finalize: 'auto' });
    const r = await runner.run({ stopWhen: untilPausedOr() });
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.deepEqual(
      r.status.plan?.path.map((h) => `${h.from}->${h.to}`),
      ['23.1.4->23.2', '23.2->24.1.3'],
    );
    assert.deepEqual(f.samples.clusterVersions, [
      '23.1',
      '23.1-upgrading-to-23.2',
      '23.2',
      '23.2-upgrading-to-24.1',
      '24.1',
    ]);
    const settings = f.double.cluster.statements.filter((s) => !s.startsWith('SHOW'));
    assert.deepEqual(settings, [
      "SET CLUSTER SETTING cluster.preserve_downgrade_option = '23.1'",
      'RESET CLUSTER SETTING cluster.preserve_downgrade_option',
      "SET CLUSTER SETTING cluster.preserve_downgrade_option = '23.2'",
      'RESET CLUSTER SETTING cluster.preserve_downgrade_option',
    ]);
  });
});

describe('CockroachDB against the double: failures, crashes and control', () => {
  it('ranges that stay under-replicated after a restart pause the upgrade with the cause, before the next node', async () => {
    f = await crdbFixture({ version: '24.1.1' });
    const strategy = { ...STRATEGY, timeouts: { ...STRATEGY.timeouts, readySeconds: 2 } };
    const runner = await f.upgrade('24.1.3', { strategy: strategy as never });
    const double = f.double;
    const r = await runner.run({
      stopWhen: (x) => {
        if (f!.platform.replaced.length === 1) double.cluster.extraUnderReplicated = 3;
        return untilPausedOr()(x);
      },
    });
    assert.equal(r.status.phase, 'Paused', r.status.reason);
    assert.match(
      r.status.pauseCause ?? '',
      /crdb-2 not ready on 24\.1\.3 after 2s: catching up \(lag 3, .*3 under-replicated/,
    );
    assert.equal(f.platform.replaced.length, 1, 'the next node did not go');
  });

  it('a new Baton process resumes from the journal: every node replaced exactly once', async () => {
    f = await crdbFixture({ version: '23.2.5' });
    const first = await f.upgrade('24.1.3');
    await first.run({ stopWhen: () => f!.platform.replaced.length === 1 });
    // The first process is gone; a second one, with its own engine and clients, carries on.
    const byEndpoint = new Map(
      f.double.cluster.nodes.map((n) => [f!.platform.endpointOf(n.id), f!.double.addresses(n.id)]),
    );
    const engine = new CockroachEngine({ addresses: (e) => byEndpoint.get(e)! });
    const second = new Runner({
      platform: f.platform,
      engine,
      clock: systemClock,
      logger: nullLogger,
      name: 'up',
    });
    const r = await second.run({ stopWhen: untilPausedOr() });
    await engine.close();
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.deepEqual(
      f.platform.replaced.map((x) => x.member).sort(),
      ['crdb-0', 'crdb-1', 'crdb-2'],
      'each node replaced once',
    );
    assert.equal(f.double.cluster.clusterVersionString(), '24.1');
  });

  it('a Baton stopped in the middle of a drain drains again when it resumes, until the leases are gone', async () => {
    // Drain calls that move two leases each (of six), so the drain needs several of them.
    f = await crdbFixture({ version: '24.1.1', leaseTransferMs: 10, drainBudgetMs: 25 });
    const strategy = { ...STRATEGY, timeouts: { ...STRATEGY.timeouts, drainSeconds: 5 } };
    const first = await f.upgrade('24.1.3', { strategy: strategy as never });
    // The operator's shutdown: its signal aborts right after the first Drain call began.
    const stop = new AbortController();
    const c = f.double.cluster;
    const watch = setInterval(() => {
      if ([...c.drains.values()].some((n) => n > 0)) stop.abort(new Error('operator killed'));
    }, 2);
    await assert.rejects(first.run({ signal: stop.signal }), /operator killed/);
    clearInterval(watch);
    const drained = c.nodes.find((n) => n.draining)!;
    assert.ok(drained, 'a node was being drained');
    assert.ok(
      c.ranges.some((r) => r.leaseholder === drained.id),
      'the drain was cut short with leases left on the node',
    );

    const byEndpoint = new Map(c.nodes.map((n) => [f!.platform.endpointOf(n.id), f!.double.addresses(n.id)]));
    const engine = new CockroachEngine({ addresses: (e) => byEndpoint.get(e)! });
    const second = new Runner({
      platform: f.platform,
      engine,
      clock: systemClock,
      logger: nullLogger,
      name: 'up',
    });
    const r = await second.run({ stopWhen: untilPausedOr(), signal: AbortSignal.timeout(60_000) });
    await engine.close();
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.deepEqual(f.binaries(), ['24.1.3', '24.1.3', '24.1.3']);
  });

  it('pause lets the node in flight finish and starts no other; resume completes', async () => {
    f = await crdbFixture({ version: '24.1.1' });
    const runner = await f.upgrade('24.1.3');
    await runner.run({ stopWhen: () => f!.platform.replaced.length === 1 });
    await f.update({ paused: true });
    let r = await runner.run({ stopWhen: (x) => x.status.phase === 'Paused' });
    for (let i = 0; i < 6; i++) r = await runner.reconcile();
    assert.equal(r.status.phase, 'Paused');
    assert.equal(f.platform.replaced.length, 1);
    await f.update({ paused: false });
    r = await runner.run({ stopWhen: untilPausedOr() });
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.equal(f.platform.replaced.length, 3);
  });
});
