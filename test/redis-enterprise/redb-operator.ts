/**
 * The part of the Redis Enterprise operator that reconciles RedisEnterpriseDatabases, for tests on
 * the control plane (the real operator cannot run here): the REDB CRD, REDB objects for the
 * double's databases, and a loop that, when a REDB's `spec.redisVersion` differs from its
 * database's, upgrades the database through the double (as the operator calls `POST
 * /v1/bdbs/{uid}/upgrade`) and keeps `status.status` at `active-change-pending` until the
 * database runs that version, then `active`.
 */
import { REDIS_ENTERPRISE_DATABASE as REDB } from '../../src/platforms/kubernetes/redis-enterprise.js';
import { applyCrd } from '../kube/crds.js';
import { PATCH } from '../kube/rest.js';
import type { TestCluster } from '../kube/test-cluster.js';
import type { RecDoubleCluster } from './cluster.js';

interface RedbObject {
  metadata: { name: string; resourceVersion?: string };
  spec: { redisVersion: string };
  status?: { status?: string };
}

/** What the loop did: every database upgrade it started, with when. */
export interface RedbOperator {
  upgrades: { redb: string; version: string; at: number }[];
  stop(): void;
}

/** The REDB CRD, one REDB per database of `cluster`, and the reconcile loop (stopped when `t` ends). */
export async function startRedbOperator(
  t: { after(fn: () => unknown): void },
  server: TestCluster,
  cluster: RecDoubleCluster,
): Promise<RedbOperator> {
  await applyCrd(server.rest, {
    metadata: { name: `${REDB.plural}.${REDB.group}` },
    spec: {
      group: REDB.group,
      scope: 'Namespaced',
      names: { kind: REDB.kind, plural: REDB.plural },
      versions: [
        {
          name: REDB.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  });
  const base = `/apis/${REDB.group}/${REDB.version}/namespaces/${server.namespace}/${REDB.plural}`;
  for (const b of cluster.bdbs) {
    await server.rest.call('POST', base, {
      apiVersion: `${REDB.group}/${REDB.version}`,
      kind: REDB.kind,
      metadata: { name: b.name },
      spec: { redisVersion: b.redisVersion },
      status: { status: 'active' },
    });
  }
  const upgrades: RedbOperator['upgrades'] = [];
  let stopped = false;
  const setStatus = (name: string, status: string) =>
    server.rest.call('PATCH', `${base}/${name}`, { status: { status } }, PATCH.merge);
  const loop = async () => {
    while (!stopped) {
      try {
        const list = (await server.rest.call('GET', base)) as { items: RedbObject[] };
        for (const o of list.items) {
          const bdb = cluster.bdbs.find((b) => b.name === o.metadata.name);
          if (!bdb) continue;
          const busy = [...cluster.actions.values()].some(
            (a) =>
              a.name === 'upgrade_bdb' &&
              a.object_name === `bdb:${bdb.uid}` &&
              a.status !== 'completed' &&
              a.status !== 'failed',
          );
          if (o.spec.redisVersion !== bdb.redisVersion && !busy) {
            cluster.upgrade(bdb.uid, o.spec.redisVersion);
            upgrades.push({ redb: o.metadata.name, version: o.spec.redisVersion, at: Date.now() });
          }
          const want = o.spec.redisVersion === bdb.redisVersion && !busy ? 'active' : 'active-change-pending';
          if (o.status?.status !== want) await setStatus(o.metadata.name, want);
        }
      } catch {
        // The namespace is going away at the end of the test.
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  void loop();
  const op = { upgrades, stop: () => void (stopped = true) };
  t.after(() => op.stop());
  return op;
}
