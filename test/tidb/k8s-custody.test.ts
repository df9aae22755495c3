/**
 * Custody of a TidbCluster across a Baton crash, on the real control plane with double-backed pods
 * (k8s-fixture.ts): Baton dies right after the journal write that records the TidbCluster taken
 * over (paused, before the first member), instead of the write that records the first replacement
 * asked for (Kubernetes actions are durable: a replacement is journalled with its outcome, after
 * it ran), right after the write that records the last member done (before the hand-back), and
 * instead of the write that records the hand-back (which ran). A fresh Baton process (new platform,
 * new engine) resumes each time: no member is evicted, transferred or restarted twice, smooth
 * upgrade is started and finished once, and the TidbCluster ends un-paused at the new version.
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

/**
 * The writes Baton dies at, each once, in the order they come: right after the write reached the
 * journal, or instead of it.
 */
const CRASHES: [string, 'after' | 'before', (s: UpgradeStatus) => boolean][] = [
  [
    'taken over, before the first member',
    'after',
    (s) => s.custody === 'held' && Object.values(s.members).every((m) => !m.drainIssued && !m.replaceIssued),
  ],
  [
    'the first replacement asked for, not journalled',
    'before',
    (s) => Object.values(s.members).some((m) => m.replaceIssued),
  ],
  [
    'last member done, before the hand-back',
    'after',
    (s) =>
      s.custody === 'held' &&
      Object.values(s.members).every((m) => m.state === 'done') &&
      s.progress.step?.startsWith(HANDING_BACK) !== true,
  ],
  ['the hand-back done, not journalled', 'before', (s) => s.custody === 'returned'],
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
        const point = CRASHES.find(([what, , match]) => !crashed.includes(what) && match(status));
        const die = async (what: string) => {
          crashed.push(what);
          atCrash[what] = await tidbClusterObject(env);
          return Object.assign(new Error(`baton killed at the ${what} write`), { processCrash: true });
        };
        if (point?.[1] === 'before') throw await die(point[0]);
        const rev = await inner.writeStatus(name, status, revision);
        if (point) throw await die(point[0]);
        return rev;
      },
    };
    let status: UpgradeStatus | undefined;
    for (let run = 0; run <= CRASHES.length; run++) {
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
      CRASHES.map(([what]) => what),
    );
    const history = (status?.history ?? []).map((h) => h.message).join('\n');
    assert.equal(status?.phase, 'Completed', `${status?.reason}\n${history}`);

    for (const [what, tc] of Object.entries(atCrash)) {
      // The hand-back ran before Baton died there: the TidbCluster was already given back.
      const held = what !== 'the hand-back done, not journalled';
      assert.equal(tc.spec!.paused ?? false, held, `TidbCluster paused when Baton died (${what})`);
      assert.equal(tc.metadata.annotations?.[PAUSED_BY_ANNOTATION], held ? 'tc-custody' : undefined, what);
    }
    for (const [name, p] of Object.entries(status!.members)) {
      // The member whose replacement ran unjournalled may be found done already (0 in the journal).
      assert.ok(p.replaceCalls <= 1, `${name} asked for once at most (${p.replaceCalls})`);
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
