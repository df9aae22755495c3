/**
 * End to end: Baton's runner and TidbEngine upgrade a three-PD, three-TiKV, two-TiDB cluster
 * double (whose PD, TiDB, TiKV and TiCDC servers follow the real handlers; see test/tidb/*.ts)
 * under the TiDB probe. Checked: PD leader last after a transfer, each store's leaders evicted
 * before its restart and back after, smooth upgrade around the TiDB tier, no scheduler left, one
 * restart and one eviction per member even when Baton is killed at many steps, PD forgetting the
 * scheduler, the DDL gate, TiCDC, refusals, and force upgrade. Figures are diagnostics, not asserts.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it, type TestContext } from 'node:test';
import type { UpgradeStatus } from '../../src/core/types.js';
import { renderStatus } from '../../src/cli/render.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { FORCE_UPGRADE_ANNOTATION, TidbEngine } from '../../src/engines/tidb/engine.js';
import { TIDB_NO_DOWNGRADE } from '../../src/engines/tidb/rules.js';
import { DoubleCluster, type DoubleClusterOptions } from './cluster.js';
import { runUpgrade } from './harness.js';
import { QUICK_TIMING } from './model.js';

let cluster: DoubleCluster | undefined;
const CTX = { clock: systemClock, logger: nullLogger };

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function make(opts: Partial<DoubleClusterOptions> & { version: string }): Promise<DoubleCluster> {
  // PD schedules at its fastest unless a test sets its own pace (see QUICK_TIMING).
  cluster = await DoubleCluster.create({ pd: 3, tikv: 3, tidb: 2, timing: QUICK_TIMING, ...opts });
  return cluster;
}

const STORES = ['tikv-0', 'tikv-1', 'tikv-2'];

/** Per-store eviction time (drain step -> replacing) and leaders-back time (restore -> done). */
function storeFigures(status: UpgradeStatus): Record<string, { evictMs: number; backMs: number }> {
  const out: Record<string, { evictMs: number; backMs: number }> = {};
  for (const name of STORES) {
    const h = status.history.filter(
      (e) => e.member === name || e.message.startsWith(`${name}:`) || e.message.startsWith(`${name} `),
    );
    const drained = h.find((e) => /evict-leader scheduler/.test(e.message))?.at;
    const replacing = h.find((e) => /leadership moved.*replacing/.test(e.message))?.at;
    const back = h.find((e) => /leads \d+ again/.test(e.message))?.at;
    const restoredAt = status.members[name]?.restoredAt;
    out[name] = {
      evictMs: drained !== undefined && replacing !== undefined ? replacing - drained : NaN,
      backMs: back !== undefined && restoredAt !== undefined ? back - restoredAt : NaN,
    };
  }
  return out;
}

function assertCleanRoll(c: DoubleCluster, status: UpgradeStatus, version: string): void {
  assert.equal(status.phase, 'Completed', status.reason);
  const m = c.model;
  for (const name of ['pd-0', 'pd-1', 'pd-2', ...STORES, 'tidb-0', 'tidb-1']) {
    assert.equal(m.counters.restarts[name], 1, `${name} restarted once`);
    assert.equal(c.versionOf(name), version);
  }
  for (const s of m.stores) {
    assert.equal(m.counters.leadersAtStop[s.name], 0, `${s.name} held no leader when it stopped`);
    assert.equal(m.counters.evictRemovals[s.id], 1, `${s.name} left the scheduler once`);
  }
  assert.deepEqual([...m.evictStores], [], 'no store left in the evict-leader scheduler');
  assert.ok(!m.schedulers.has('evict-leader-scheduler'), 'no evict-leader scheduler left');
}

describe('TiDB upgrade against the cluster double', () => {
  it('v7.5.0 -> v8.1.0 under the probe: PD leader last, leaders evicted and back, smooth upgrade', async (t: TestContext) => {
    const c = await make({ version: 'v7.5.0' });
    const leaderBefore = c.model.pdLeader as string;
    const run = await runUpgrade(c, { version: 'v8.1.0', probe: true });
    const status = run.result.status;
    assertCleanRoll(c, status, 'v8.1.0');
    const m = c.model;
    const pdOrder = m.counters.restartLog.filter((r) => r.name.startsWith('pd-')).map((r) => r.name);
    assert.equal(pdOrder.at(-1), leaderBefore, 'the PD leader restarted last');
    assert.equal(m.counters.pdTransfers.length, 1, 'one PD leader transfer');
    assert.notEqual(m.counters.pdTransfers[0], leaderBefore);
    for (const s of m.stores) assert.equal(m.counters.evictAdds[s.id], 1);
    const order = m.counters.restartLog.map((r) => r.name.replace(/-\d+$/, ''));
    assert.deepEqual([...new Set(order)], ['pd', 'tikv', 'tidb'], 'PD, then TiKV, then TiDB');
    assert.equal(m.counters.upgradeStart, 1);
    assert.equal(m.counters.upgradeFinish, 1);
    assert.equal(m.upgrading, false);
    assert.ok(status.history.some((h) => /POST \/upgrade\/start: success!/.test(h.message)));
    for (const name of STORES)
      assert.ok(
        status.history.some((h) => h.message.startsWith(`${name} leads `)),
        `${name}: leaders came back`,
      );
    const probe = run.probe!;
    assert.equal(probe.lostWrites, 0);
    assert.equal(probe.failedOps, 0, JSON.stringify(probe.errors));
    t.diagnostic(
      `upgrade ${run.ms} ms; probe ${probe.ops} ops, ${probe.failedOps} failed, max gap ${probe.maxGapMs} ms, p99 ${probe.p99Ms} ms`,
    );
    t.diagnostic(`per store: ${JSON.stringify(storeFigures(status))}`);
  });

  it('Baton killed at many steps resumes without a second eviction or restart', async (t: TestContext) => {
    const c = await make({ version: 'v7.5.0', regions: 300 });
    const crashAt = Array.from({ length: 40 }, (_, i) => 2 + i * 3);
    const run = await runUpgrade(c, { version: 'v8.1.0', crashAt });
    assertCleanRoll(c, run.result.status, 'v8.1.0');
    for (const s of c.model.stores)
      assert.equal(c.model.counters.evictAdds[s.id], 1, `${s.name} evicted once`);
    assert.ok(run.crashes >= 20, `crashed ${run.crashes} times`);
    t.diagnostic(`${run.crashes} crashes, ${run.ms} ms`);
  });

  it('PD forgetting the evict-leader scheduler when its leader changes: Baton adds it again', async () => {
    const c = await make({
      version: 'v7.5.0',
      regions: 360,
      timing: { evictBatch: 1, scheduleIntervalMs: 30 },
    });
    c.model.forgetSchedulersOnLeaderChange = true;
    let moved = false;
    const watcher = setInterval(() => {
      const m = c.model;
      if (!moved && m.evictStores.size > 0 && m.leaderCount([...m.evictStores][0]!) > 10 && m.pdLeader) {
        moved = true;
        m.requestPdTransfer(m.pd.find((p) => p.name !== m.pdLeader && p.up)!.name);
        // The slow pace only had to leave a window for the leader change; the rest of the roll
        // schedules at full speed (as after `pd-ctl scheduler config evict-leader-scheduler set batch 10`).
        Object.assign(m.timing, {
          evictBatch: QUICK_TIMING.evictBatch,
          scheduleIntervalMs: QUICK_TIMING.scheduleIntervalMs,
        });
      }
    }, 5);
    try {
      const run = await runUpgrade(c, { version: 'v8.1.0' });
      assertCleanRoll(c, run.result.status, 'v8.1.0');
      assert.ok(moved, 'the PD leader changed during an eviction');
      assert.ok(run.result.status.history.some((h) => /no longer in place.*draining again/.test(h.message)));
      assert.ok(
        Object.values(c.model.counters.evictAdds).some((n) => n === 2),
        'one store was added twice',
      );
    } finally {
      clearInterval(watcher);
    }
  });

  it('without smooth upgrade, a running DDL job blocks the upgrade by name until it finishes', async () => {
    const c = await make({ version: 'v6.5.2', regions: 120 });
    c.model.ddlJobs.push({ id: 42, db: 'shop', table: 'orders', type: 'add index', state: 'running' });
    let blocked = '';
    const run = await runUpgrade(c, {
      version: 'v7.1.0',
      stopWhen: (r) => {
        if (r.status.blockedBy?.check === 'precheck:no-ddl-running' && !blocked) {
          blocked = r.status.blockedBy.reason;
          c.model.ddlJobs[0]!.state = 'synced';
        }
        return false;
      },
    });
    assert.match(blocked, /DDL job 42 \(add index on shop\.orders, running\).*ADMIN CANCEL DDL JOBS 42/);
    assert.equal(run.result.status.phase, 'Completed');
    assert.equal(c.model.counters.upgradeStart, 0, 'no smooth upgrade below v7.1.2');
    assert.ok(
      run.result.status.history.some((h) =>
        /no DDL job running or queued before the TiDB tier/.test(h.message),
      ),
    );
  });

  it('refuses a downgrade with PingCAP`s sentence before anything moves', async () => {
    const c = await make({ version: 'v8.1.0', regions: 60 });
    await assert.rejects(runUpgrade(c, { version: 'v7.5.0' }), (err: Error) =>
      err.message.includes(TIDB_NO_DOWNGRADE),
    );
    assert.deepEqual(c.model.counters.restarts, {});
  });

  it('names mixed versions in the versions-uniform precheck', async () => {
    const c = await make({ version: 'v8.1.0', regions: 60 });
    await c.replaceMember(
      'tikv-1',
      'v8.1.1',
      {},
      { clock: { now: Date.now, sleep: async () => {} }, logger: undefined as never },
    );
    await c.until(() => c.model.stores[1]!.up && c.model.storeStateName(c.model.stores[1]!) === 'Up');
    const run = await runUpgrade(c, {
      version: 'v8.1.1',
      stopWhen: (r) => r.status.blockedBy?.check === 'precheck:versions-uniform',
    });
    assert.match(
      run.result.status.blockedBy?.reason ?? '',
      /tikv: tikv-0, tikv-2 on v8\.1\.0; tikv-1 on v8\.1\.1/,
    );
  });

  it('force upgrade replaces PD members while PD is down, then warns to remove the force', async () => {
    const c = await make({ version: 'v8.1.0', regions: 60 });
    c.brokenPdVersions.add('v8.1.0');
    for (const pd of ['pd-0', 'pd-1', 'pd-2']) await c.restart(pd);
    await c.until(() => !c.model.pdServing());
    const blocked = await runUpgrade(c, {
      version: 'v8.1.1',
      stopWhen: (r) => r.status.blockedBy?.check === 'precheck:pd-available',
    });
    assert.match(blocked.result.status.blockedBy?.reason ?? '', /PD does not answer|PD has no leader/);
    assert.deepEqual(c.model.counters.restarts, {}, 'nothing moved while blocked');

    await c.journal.updateSpec('up', (s) => ({ ...s, force: ['pd-available'] }));
    const forced = await runUpgrade(c, { version: 'v8.1.1', resume: true, force: ['pd-available'] });
    const status = forced.result.status;
    assert.equal(status.phase, 'Completed', status.reason);
    assert.ok(c.model.pdServing(), 'PD is back');
    for (const name of ['pd-0', 'pd-1', 'pd-2', ...STORES, 'tidb-0', 'tidb-1']) {
      assert.equal(c.model.counters.restarts[name], 1, `${name} restarted once`);
    }
    assert.ok(status.history.some((h) => h.type === 'force' && /pd-available/.test(h.message)));
    assert.match(
      status.warnings?.[0] ?? '',
      /force-upgrade is still set: you must remove it \(drop pd-available/,
    );
    assert.equal(
      status.history.filter((h) => h.type === 'warning' && /you must remove it/.test(h.message)).length,
      1,
      'the warning is recorded once (one Warning event)',
    );
  });

  it('the TidbCluster annotation force-upgrade=true forces PD without --force; a dedicated warning until it is removed', async () => {
    const c = await make({ version: 'v8.1.0', regions: 60 });
    c.brokenPdVersions.add('v8.1.0');
    for (const pd of ['pd-0', 'pd-1', 'pd-2']) await c.restart(pd);
    await c.until(() => !c.model.pdServing());
    let annotations: Record<string, string> = { [FORCE_UPGRADE_ANNOTATION]: 'true' };
    const engine = {
      clusterAnnotations: async () => annotations,
      clusterName: 'basic',
      clusterNamespace: 'shop',
    };
    const run = await runUpgrade(c, { version: 'v8.1.1', engine });
    const status = run.result.status;
    assert.equal(status.phase, 'Completed', status.reason);
    assert.ok(c.model.pdServing(), 'PD is back');
    assert.deepEqual(status.forced, ['pd-available'], 'forced by the annotation, not by spec.force');
    assert.deepEqual(status.warnings, [
      `PD is available again but force-upgrade is still set: you must remove it (kubectl annotate tc basic -n shop ${FORCE_UPGRADE_ANNOTATION}-), or an exception may occur in the next upgrade`,
    ]);
    const event = status.history.find((h) => h.type === 'warning');
    assert.ok(event, 'recorded as a warning (a Warning event, reason EngineWarning)');
    assert.match(
      renderStatus({ ...(await c.journal.get('up'))!, status }),
      /Warning: +PD is available again/,
    );

    // The user removes the annotation: the next observation carries no warning.
    const members = await c.listMembers(CTX);
    const still = await new TidbEngine(engine).observe(members, CTX);
    assert.equal(still.health.warnings?.length, 1);
    annotations = {};
    const removed = await new TidbEngine(engine).observe(members, CTX);
    assert.equal(removed.health.warnings, undefined);
  });
});

describe('TiCDC and the DDL gate during the roll', () => {
  it('TiCDC: the owner resigns and goes last, every capture is drained before it restarts', async () => {
    const c = await make({ version: 'v8.1.0', regions: 60, ticdc: 3 });
    const ownerBefore = c.model.cdcOwner as string;
    const run = await runUpgrade(c, { version: 'v8.1.1' });
    assert.equal(run.result.status.phase, 'Completed', run.result.status.reason);
    const order = c.model.counters.restartLog.filter((r) => r.name.startsWith('ticdc-')).map((r) => r.name);
    assert.equal(order.length, 3);
    assert.equal(order.at(-1), ownerBefore, 'the owner restarted last');
    assert.ok(c.model.counters.ownerResigns >= 1, 'the owner resigned');
    for (const name of order) assert.ok((c.model.counters.captureDrains[name] ?? 0) >= 1, `${name} drained`);
    assert.ok(run.result.status.history.some((h) => /resigned as TiCDC owner/.test(h.message)));
  });

  it('a DDL job started after the prechecks pauses the upgrade before the TiDB tier, naming the job', async () => {
    const c = await make({ version: 'v6.5.2', regions: 60 });
    const run = await runUpgrade(c, {
      version: 'v6.5.3',
      stopWhen: (r) => {
        if (r.status.phase === 'Running' && c.model.ddlJobs.length === 0) {
          c.model.ddlJobs.push({ id: 77, db: 'shop', table: 'items', type: 'add index', state: 'queueing' });
        }
        return false;
      },
    });
    assert.equal(run.result.status.phase, 'Paused');
    assert.match(
      run.result.status.pauseCause ?? '',
      /run beforeComponent for tidb failed: DDL job 77 \(add index on shop\.items, queueing\)/,
    );
    assert.equal(c.model.counters.restarts['tidb-0'] ?? 0, 0, 'no TiDB server restarted');
    assert.equal(c.model.counters.restarts['tikv-0'], 1, 'the tiers before TiDB were upgraded');
  });
});
