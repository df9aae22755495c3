/**
 * TiProxy, TiFlash, Pump and TiCDC of a TidbCluster on the real control plane (their StatefulSets'
 * pods backed by the double, k8s-fixture.ts), rolled by `baton apply --cluster-ref TidbCluster/basic
 * --engine tidb`: PD -> TiFlash -> TiKV -> Pump -> TiDB -> TiCDC (TiProxy, on its own v1.x line in
 * spec.tiproxy.version, keeps it: no version was given for it); TiFlash stores never in
 * the evict-leader scheduler (their learners never lead; TiDB Operator's tiflash upgrader adds
 * none) and each upgraded one serving for the TidbCluster's `tidb.pingcap.com/tiflash-min-ready-
 * seconds` before the next pod goes; TiKV stores evicted; every TiCDC capture empty (the owner
 * resigned, a capture holding tables drained) before its pod goes; each pump online again before the next pod goes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TIFLASH_MIN_READY_ANNOTATION } from '../../src/engines/tidb/tiflash-ready.js';
import { kubeCli } from '../k8s/cli-fixture.js';
import { assertRolledAndHandedBack } from '../k8s/tidb-fixtures.js';
import { endpointArgs, tidbOnPods } from './k8s-fixture.js';

const ORDER = ['pd', 'tiflash', 'tikv', 'pump', 'tidb', 'ticdc'];

describe('TidbCluster with TiProxy, TiFlash, Pump and TiCDC on pods', () => {
  it('baton apply rolls them in order: TiFlash not evicted and held for tiflash-min-ready-seconds, TiCDC resigned and drained, pumps online again', async (t) => {
    const { env, pods } = await tidbOnPods(
      t,
      'v8.1.0',
      { pd: 3, tiproxy: 2, tiflash: 2, tikv: 3, pump: 2, tidb: 2, ticdc: 2 },
      // 10 s: well above the ~5 s that pass between a TiFlash pod serving again and the next pod's
      // deletion without the annotation on this loaded 2-core machine, so ignoring it fails the test.
      { [TIFLASH_MIN_READY_ANNOTATION]: '10' },
      // TiProxy on its own release line (spec.tiproxy.version): the roll leaves it as it is.
      'v1.2.0',
    );
    const c = pods.double;
    const m = c.model;
    await c.until(() => m.notServing().length === 0, 30_000);
    const cli = await kubeCli(t, env.server);
    const r = await cli(
      'apply',
      '--cluster-ref',
      'TidbCluster/basic',
      '--engine',
      'tidb',
      '--name',
      'tc-all',
      '--to',
      'v8.1.1',
      ...endpointArgs(pods),
    );
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /Completed/);

    const log = m.counters.restartLog;
    for (const name of c.memberNames()) {
      const proxy = name.includes('tiproxy');
      assert.equal(
        m.counters.restarts[name] ?? 0,
        proxy ? 0 : 1,
        `${name} restarted ${proxy ? 'never' : 'once'}`,
      );
      assert.equal(c.versionOf(name), proxy ? 'v1.2.0' : 'v8.1.1', name);
    }
    const tiers = log.map((x) => x.name.replace(/^basic-/, '').replace(/-\d+$/, ''));
    assert.deepEqual([...new Set(tiers)], ORDER, `restart order: ${log.map((x) => x.name).join(', ')}`);
    for (let i = 1; i < tiers.length; i++)
      assert.ok(
        ORDER.indexOf(tiers[i - 1]!) <= ORDER.indexOf(tiers[i]!),
        `${log[i]!.name} after its tier's turn`,
      );

    // Whenever a pod went, every TiFlash store was Running, every TiProxy healthy, every pump online.
    for (const x of log) assert.deepEqual(x.notServing, [], `all served when ${x.name} went`);

    // TiFlash: no evict-leader scheduler, nothing led; the next pod waited for min-ready-seconds.
    for (const s of m.stores.filter((x) => x.engine === 'tiflash')) {
      assert.equal(m.counters.evictAdds[s.id] ?? 0, 0, `${s.name} never in the evict-leader scheduler`);
      assert.equal(m.counters.leadersAtStop[s.name], 0, `${s.name} led nothing`);
      const i = log.findIndex((x) => x.name === s.name);
      const next = log[i + 1]!;
      const runningAt = s.startTs + m.timing.tiflashWarmupMs;
      assert.ok(
        next.at - runningAt >= 10_000,
        `${next.name} went ${next.at - runningAt} ms after ${s.name} ran again (${TIFLASH_MIN_READY_ANNOTATION}=10)`,
      );
    }
    // TiKV: evicted before its pod went, once, and taken out of the scheduler once.
    for (const s of m.stores.filter((x) => x.engine === 'tikv')) {
      assert.equal(m.counters.evictAdds[s.id], 1, `${s.name} evicted once`);
      assert.equal(m.counters.evictRemovals[s.id], 1, `${s.name} left the scheduler once`);
      assert.equal(m.counters.leadersAtStop[s.name], 0, `${s.name} held no leader when its pod went`);
    }
    assert.deepEqual([...m.evictStores], []);

    // TiCDC: the owner resigned and was drained; every capture empty when its pod went (a capture
    // that replicated no table when its turn came has nothing to drain, and is replaced at once).
    assert.ok(m.counters.ownerResigns >= 1, 'the owner resigned');
    const drained = m.captures.filter((cap) => (m.counters.captureDrains[cap.name] ?? 0) >= 1);
    assert.ok(drained.length >= 1, 'the capture replicating the tables was drained');
    for (const cap of m.captures) {
      assert.deepEqual(
        m.counters.capturesAtStop[cap.name],
        { tables: 0, owner: false },
        `${cap.name} replicated nothing and was not the owner when its pod went`,
      );
    }
    // Pump: registered online again.
    for (const p of m.pumps) assert.equal(p.state, 'online', `${p.name} online`);
    assert.equal(m.counters.upgradeStart, 1, 'smooth upgrade started once');
    assert.equal(m.counters.upgradeFinish, 1, 'and finished once');

    await assertRolledAndHandedBack(env, 'v8.1.1', [...ORDER, 'tiproxy'], { tiproxy: 'v1.2.0' });
  });
});
