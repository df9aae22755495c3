/**
 * TiFlash, TiProxy and Pump in a roll of the cluster double (servers follow the real handlers;
 * see test/tidb/tiflash-double.ts, tiproxy-double.ts, pump-double.ts): the component order PD ->
 * TiProxy -> TiFlash -> TiKV -> Pump -> TiDB, no evict-leader scheduler for a TiFlash store (its
 * learners never lead; TiDB Operator adds none), and Baton moving on from a restarted member only
 * once it serves: TiFlash's store Up and `store-status` Running, TiProxy's health API 200, the pump
 * registered `online`; and a restarted TiFlash member serving for `tiflash-min-ready-seconds` before
 * the next member goes. Orders and gaps are read from the double's own clock.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { DoubleCluster } from './cluster.js';
import { runUpgrade } from './harness.js';
import { QUICK_TIMING } from './model.js';

let cluster: DoubleCluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('TiFlash, TiProxy and Pump during a TiDB roll', () => {
  it('rolls them in order, evicts no TiFlash leader, and waits until each serves again', async () => {
    // Slow warm-ups, so that moving on before a member serves would show in the restart log.
    const timing = { ...QUICK_TIMING, tiflashWarmupMs: 600, tiproxyReadyMs: 400 };
    const c = (cluster = await DoubleCluster.create({
      version: 'v8.1.0',
      pd: 3,
      tikv: 3,
      tiflash: 2,
      tiproxy: 2,
      // TiProxy has its own release line: it moves only to the version given for it.
      tiproxyVersion: 'v1.2.0',
      pump: 2,
      tidb: 2,
      regions: 60,
      timing,
    }));
    // The first start's warm-up is over before the roll: what is checked is the wait after a restart.
    await c.until(() => c.model.notServing().length === 0);
    const run = await runUpgrade(c, {
      version: 'v8.1.1',
      components: [{ name: 'tiproxy', version: 'v1.3.0' }],
      engine: { tiflashMinReadySeconds: 1 },
    });
    const status = run.result.status;
    assert.equal(status.phase, 'Completed', status.reason);
    assert.equal(status.plan?.components.find((x) => x.name === 'tiproxy')?.version, 'v1.3.0');

    const log = c.model.counters.restartLog;
    const names = [
      ...['pd-0', 'pd-1', 'pd-2', 'tiproxy-0', 'tiproxy-1', 'tiflash-0', 'tiflash-1'],
      ...['tikv-0', 'tikv-1', 'tikv-2', 'pump-0', 'pump-1', 'tidb-0', 'tidb-1'],
    ];
    for (const name of names) {
      assert.equal(c.model.counters.restarts[name], 1, `${name} restarted once`);
      assert.equal(c.versionOf(name), name.startsWith('tiproxy') ? 'v1.3.0' : 'v8.1.1');
    }
    const tier = (prefix: string) => log.filter((r) => r.name.startsWith(prefix)).map((r) => r.at);
    const order = ['pd-', 'tiproxy-', 'tiflash-', 'tikv-', 'pump-', 'tidb-'];
    for (let i = 1; i < order.length; i++) {
      assert.ok(
        Math.max(...tier(order[i - 1]!)) <= Math.min(...tier(order[i]!)),
        `every ${order[i - 1]} member restarted before the first ${order[i]} member`,
      );
    }

    // TiFlash: never in the evict-leader scheduler, and no member followed before it ran again.
    const flashIds = c.model.stores.filter((s) => s.engine === 'tiflash').map((s) => s.id);
    for (const id of flashIds)
      assert.equal(c.model.counters.evictRemovals[id] ?? 0, 0, `store ${id} not evicted`);
    assert.ok(!status.history.some((h) => /tiflash-\d.*evict-leader/.test(h.message)));
    // Whenever Baton began a restart, every TiFlash, TiProxy and Pump member served.
    for (const r of log) assert.deepEqual(r.notServing, [], `all served when ${r.name} went`);
    for (const p of c.model.pumps) assert.equal(p.state, 'online', `${p.name} registered online again`);

    // tiflash-min-ready-seconds = 1: the restart after each TiFlash member's came once it had
    // served (store-status Running: its start plus the warm-up) for a second.
    for (const s of c.model.stores.filter((x) => x.engine === 'tiflash')) {
      const i = log.findIndex((r) => r.name === s.name);
      const next = log[i + 1]!;
      const runningAt = s.startTs + timing.tiflashWarmupMs;
      assert.ok(
        next.at - runningAt >= 1_000,
        `${next.name} went ${next.at - runningAt} ms after ${s.name} ran again (at least 1000)`,
      );
    }
  });
});
