/**
 * Redis Cluster behind StatefulSet pods on the test control plane: one `/usr/bin/redis-server` per
 * pod through {@link ProcessPods} and Redis's local adapter (cluster mode, client and bus ports on
 * 127.0.0.1, `nodes.conf` and the AOF in a data directory per ordinal that outlives its pods). A
 * pod is Ready when its node answers PING; {@link formRedisCluster} forms the cluster once every
 * pod is up (the first half primaries, the second half their replicas). Before a pod's process is
 * stopped the runtime asks whether its node is a primary serving slots.
 */
import { Redis } from 'ioredis';
import { bootstrapCluster, redisLocalAdapter } from '../../src/wiring/local/redis.js';
import { isSlotOwner, parseClusterNodes } from '../../src/engines/redis/parse.js';
import type { LocalMemberLayout } from '../../src/platforms/local/adapter.js';
import type { TestCluster } from './test-cluster.js';
import { startProcessPods, type ProcessPods } from './process-pods.js';

/** Options of {@link startRedisPods}. */
export interface RedisPodsOptions {
  statefulSet: string;
  /** An even number, at least 6. */
  replicas: number;
  namespace?: string;
}

/** Whether the node is a primary that owns slots (false when it does not answer). */
export async function redisServesSlots(member: LocalMemberLayout): Promise<boolean> {
  const redis = new Redis({
    host: '127.0.0.1',
    port: member.ports.client!,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const me = parseClusterNodes(String(await redis.call('CLUSTER', 'NODES'))).find((e) =>
      e.flags.includes('myself'),
    );
    return !!me && isSlotOwner(me);
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Redis pods installed as the test cluster's kubelet runtime; processes and files go when `t` ends. */
export function startRedisPods(
  t: { after(fn: () => unknown): void },
  server: TestCluster,
  opts: RedisPodsOptions,
): Promise<ProcessPods> {
  return startProcessPods(t, server, { ...opts, adapter: redisLocalAdapter, leads: redisServesSlots });
}

/** Form the Redis Cluster over the running pods (meet, slots, replicas) and wait until it is ok. */
export function formRedisCluster(pods: ProcessPods): Promise<void> {
  return bootstrapCluster(pods.context());
}
