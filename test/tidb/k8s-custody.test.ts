/**
 * Custody of a TidbCluster across a Baton crash, on the real control plane with double-backed pods
 * (k8s-fixture.ts): Baton dies right after the journal write that records the TidbCluster taken
 * over (paused, before the first member), right after the write that records the last member done
 * (before the hand-back), and right after the hand-back's intent. A fresh Baton process (new
 * platform, new engine) resumes each time: no member is evicted, transferred or restarted twice,
 * smooth upgrade is started and finished once, and the TidbCluster ends un-paused at the new
 * version.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JournalStore } from '../../src/core/ports.js';
import type { UpgradeStatus } from '../../src/core/types.js';
import { nullLogger } from '../../src/core/logger.js';
import { PAUSED_BY_ANNOTATION, type ClusterObject } from '../../src/platforms/kubernetes/cluster-ref.js';
import { isProcessCrash, Runner } from '../../src/runner/runner.js';
import { assertRolledAndHandedBack, tcRef } from '../k8s/tidb-fixtures.js';
import type { Env } from '../k8s/operator-fixtures.js';
import { tidbOnPods, wireTidbUpgrade } from './k8s-fixture.js';

const HANDING_BACK = 'hand the members';

/** The writes Baton dies right after, each once, in the order they come. */
const CRASH_AFTER: [string, (s: UpgradeStatus) => boolean][] = [
  [
    'taken over, before the first member',
    (s) => s.custody === 'held' && Object.values(s.members).every((m) => !m.drainIssued && !m.replaceIssued),
  ],
  [
    'last member done, before the hand-back',
    (s) =>
      s.custody === 'held' &&
      Object.values(s.members).every((m) => m.state === 'done') &&
      s.progress.step?.startsWith(HANDING_BACK) !== true,
  ],
  ['hand-back intent', (s) => s.custody === 'held' && s.progress.step?.startsWith(HANDING_BACK) === true],
];

async function tidbClusterObject(env: Env): Promise<ClusterObject> {
  return (await env.custom.getNamespacedCustomObject({ ...tcRef(env), name: 'basic' })) as ClusterObject;
}

describe('TidbCluster custody across a Baton crash', () => {
  it('killed after the take-over, after the last member and after the hand-back intent: resumes with no second eviction or restart, the TidbCluster un-paused at the end', async (t) => {
    const { env, pods } = await tidbOnPods(t, 'v7.5.0', { pd: 3, tikv: 3, tidb: 2 });
    const m = pods.double.model;
    const w = await wireTidbUpgrade(env, pods, 'tc-custody', 'v8.1.1');
    const crashed: string[] = [];
    /** The TidbCluster as it was when Baton died at each point. */
    const atCrash: Record<string, ClusterObject> = {};
    const inner = w.journal;
    const journal: JournalStore = {
      create: (spec, status) => inner.create(spec, status),
      get: (name) => inner.get(name),
      list: () => inner.list(),
      updateSpec: (name, fn) => inner.updateSpec(name, fn),
      async writeStatus(name, status, revision) {
        const rev = await inner.writeStatus(name, status, revision);
        const point = CRASH_AFTER.find(([what, match]) => !crashed.includes(what) && match(status));
        if (point) {
          crashed.push(point[0]);
          atCrash[point[0]] = await tidbClusterObject(env);
          throw Object.assign(new Error(`baton killed after the ${point[0]} write`), { processCrash: true });
        }
        return rev;
      },
    };
    let status: UpgradeStatus | undefined;
    for (let run = 0; run <= CRASH_AFTER.length; run++) {
      const { platform, engine } = await w.process(journal);
      const runner = new Runner({ platform, engine, clock: w.clock, logger: nullLogger, name: 'tc-custody' });
      try {
        status = (await runner.run({ stopWhen: (r) => r.status.phase === 'Paused' })).status;
        break;
      } catch (err) {
        if (!isProcessCrash(err)) throw err;
      }
    }
    assert.deepEqual(
      crashed,
      CRASH_AFTER.map(([what]) => what),
    );
    const history = (status?.history ?? []).map((h) => h.message).join('\n');
    assert.equal(status?.phase, 'Completed', `${status?.reason}\n${history}`);

    for (const [what, tc] of Object.entries(atCrash)) {
      assert.equal(tc.spec!.paused, true, `TidbCluster paused when Baton died (${what})`);
      assert.equal(tc.metadata.annotations?.[PAUSED_BY_ANNOTATION], 'tc-custody', what);
    }
    for (const [name, p] of Object.entries(status!.members)) {
      assert.equal(p.replaceCalls, 1, `${name} replaced once`);
      assert.equal(m.counters.restarts[name], 1, `${name} restarted once`);
      assert.equal(pods.double.versionOf(name), 'v8.1.1', name);
    }
    assert.equal(m.counters.pdTransfers.length, 1, 'PD leadership transferred once');
    for (const s of m.stores) {
      assert.equal(m.counters.evictAdds[s.id], 1, `${s.name} evicted once`);
      assert.equal(m.counters.evictRemovals[s.id], 1, `${s.name} left the scheduler once`);
      assert.equal(m.counters.leadersAtStop[s.name], 0, `${s.name} held no leader when its pod went`);
    }
    assert.deepEqual([...m.evictStores], [], 'no store left in the evict-leader scheduler');
    assert.equal(m.counters.upgradeStart, 1, 'smooth upgrade started once');
    assert.equal(m.counters.upgradeFinish, 1, 'and finished once');
    assert.equal(m.upgrading, false);
    assert.equal(status!.custody, 'returned');
    await assertRolledAndHandedBack(env, 'v8.1.1');
  });
});
