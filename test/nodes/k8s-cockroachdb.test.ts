/**
 * Node drains that know CockroachDB, on the real control plane: a 5-pod CockroachDB StatefulSet
 * labelled `baton.dev/engine: cockroachdb`, one pod per worker with a spare worker, whose pods are
 * nodes of the CockroachDB double (test/cockroachdb/pods.ts: pgwire, HTTP and the gRPC Admin
 * Drain per pod, ranges of three replicas over consecutive nodes, leases that move on Drain and
 * expire off a stopped node). There is no CockroachDB binary here, so the database is the double;
 * the control plane, the scheduler and the StatefulSet controller are real.
 *
 * Batches of three nodes are asked for, yet two stores down together would take two of some
 * range's three replicas: the batch planner must take one CockroachDB node at a time (multi-raft),
 * each pod evicted only after the CockroachDB engine's Drain has moved its leases away, and the
 * next one only once the cluster is healthy again (no under-replicated range).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startCockroachPods } from '../cockroachdb/pods.js';
import { waitFor } from '../kube/helpers.js';
import { createSpreadDatabase, databaseUpgrade, waitDatabaseReady } from './database-fixture.js';
import { nodeCluster, upgradeAllNodes } from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2';
const CRDB = '24.1.3';

describe('node drains that know CockroachDB (real control plane, CockroachDB double)', () => {
  it(
    'a 5-node CockroachDB over the workers: one store down at a time, every pod drained through the Admin API first, no range without quorum',
    { timeout: 420_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 6, from: FROM });
      const pods = await startCockroachPods(t, n.c, {
        statefulSet: 'crdb',
        nodes: 5,
        version: CRDB,
        ranges: 20,
      });
      const c = pods.double.cluster;
      await createSpreadDatabase(n, {
        name: 'crdb',
        replicas: 5,
        engine: 'cockroachdb',
        image: `cockroachdb/cockroach:v${CRDB}`,
      });
      await waitDatabaseReady(n, 'crdb', 5);
      await waitFor('every CockroachDB node live', () => c.nodes.every((x) => c.isLive(x)));
      await databaseUpgrade(n, {
        name: 'crdb',
        engine: 'cockroachdb',
        version: CRDB,
        endpoints: pods.endpoints(),
      });

      // What the database went through, sampled from the double every 10 ms.
      let mostDown = 0;
      let worstUnavailable = 0;
      const sampler = setInterval(() => {
        const now = Date.now();
        mostDown = Math.max(mostDown, c.nodes.filter((x) => !c.isLive(x, now)).length);
        const unavailable = c.ranges.filter(
          (r) => r.replicas.filter((id) => c.isLive(c.node(id), now)).length <= r.replicas.length / 2,
        ).length;
        worstUnavailable = Math.max(worstUnavailable, unavailable);
      }, 10);
      t.after(() => clearInterval(sampler));

      const { history } = await upgradeAllNodes(n, { version: TO, size: 3 });
      clearInterval(sampler);

      assert.deepEqual(
        [...new Set(pods.stopOrder())].sort(),
        ['crdb-0', 'crdb-1', 'crdb-2', 'crdb-3', 'crdb-4'],
        'each CockroachDB pod evicted with its node',
      );
      assert.deepEqual(
        pods.stops.filter((s) => !s.draining || s.leases > 0),
        [],
        'every pod went only after the Admin API Drain moved all its leases away',
      );
      assert.ok(
        (history.match(/drained crdb-\d \(\d+ leases and clients to move\)/g) ?? []).length >= 5,
        `the CockroachDB engine drained every member before its eviction:\n${history}`,
      );
      assert.equal(
        mostDown,
        1,
        'one CockroachDB node down at a time although batches of three were asked for',
      );
      assert.equal(worstUnavailable, 0, 'no range lost its quorum');
      assert.deepEqual(pods.crashes, []);
    },
  );
});
