/**
 * Probe client for Redis Cluster through the ioredis `Cluster` client: strings under
 * `baton:probe:<id>`. ioredis follows `MOVED`/`ASK` redirections and refreshes its slot map when
 * primaries fail over; the probe adds its own retries on top, as an application would.
 */
import { Cluster } from 'ioredis';
import { describeError, OperationalError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { EndpointSource, ProbeClient } from '../types.js';
import { currentEndpoints, parseEndpoint, sameEndpoints } from './endpoint.js';

/** Options of {@link RedisProbeClient}. */
export interface RedisProbeClientOptions {
  /** `host:port` of cluster nodes; any reachable one serves as a startup node. */
  endpoints: EndpointSource;
  logger: Logger;
  /** Key prefix; default `baton:probe:`. */
  prefix?: string;
  /** Limit of one connection attempt and of one slot-map refresh. Default 2000 ms. */
  connectTimeoutMs?: number;
}

/** {@link ProbeClient} for Redis Cluster. */
export class RedisProbeClient implements ProbeClient {
  readonly engine = 'redis';
  /** One client multiplexes every worker's operations. */
  readonly concurrent = true;
  private readonly prefix: string;
  private readonly connectTimeoutMs: number;
  private cluster: Cluster | undefined;
  private nodes: string[] = [];

  constructor(private readonly opts: RedisProbeClientOptions) {
    this.prefix = opts.prefix ?? 'baton:probe:';
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
  }

  /** Connects to the cluster and loads its slot map. */
  async connect(): Promise<void> {
    await this.rediscover();
    await this.redis().ping();
  }

  async write(id: string, value: string): Promise<void> {
    const reply = await this.redis().set(this.prefix + id, value);
    if (reply !== 'OK')
      throw new OperationalError('probe-redis-write', `SET ${this.prefix + id} answered ${reply}`);
  }

  async read(id: string): Promise<string | undefined> {
    return (await this.redis().get(this.prefix + id)) ?? undefined;
  }

  /** Keys of one batch live in many slots, so they are read with concurrent GETs, not MGET. */
  async readMany(ids: readonly string[]): Promise<(string | undefined)[]> {
    const redis = this.redis();
    const values = await Promise.all(ids.map((id) => redis.get(this.prefix + id)));
    return values.map((v) => v ?? undefined);
  }

  /**
   * Rebuilds the client when the node endpoints changed (or the old one gave up); otherwise asks
   * it to reload the slot map, which is how it learns about a failover it has not seen yet.
   */
  async rediscover(): Promise<void> {
    const endpoints = await currentEndpoints(this.opts.endpoints, this.engine);
    const current = this.cluster;
    if (current && current.status !== 'end' && sameEndpoints(endpoints, this.nodes)) {
      if (current.status === 'ready') {
        await new Promise<void>((resolve, reject) =>
          current.refreshSlotsCache((err) => (err ? reject(err) : resolve())),
        );
      }
      return;
    }
    current?.disconnect();
    this.cluster = this.build(endpoints);
    this.nodes = [...endpoints];
    await this.cluster.connect();
  }

  async close(): Promise<void> {
    const cluster = this.cluster;
    this.cluster = undefined;
    cluster?.disconnect();
  }

  private build(endpoints: string[]): Cluster {
    const cluster = new Cluster(
      endpoints.map((e) => parseEndpoint(e)),
      {
        lazyConnect: true,
        enableOfflineQueue: true,
        // Keep reconnecting while the whole cluster is down; the probe decides when to give up.
        clusterRetryStrategy: (times) => Math.min(50 * times, 200),
        retryDelayOnFailover: 50,
        retryDelayOnClusterDown: 50,
        retryDelayOnTryAgain: 50,
        retryDelayOnMoved: 0,
        maxRedirections: 16,
        slotsRefreshTimeout: this.connectTimeoutMs,
        redisOptions: { connectTimeout: this.connectTimeoutMs, maxRetriesPerRequest: 2 },
      },
    );
    // Without listeners these events would crash the process; failures surface through commands.
    cluster.on('error', (err) => this.opts.logger.debug('probe redis error', { error: describeError(err) }));
    cluster.on('node error', (err, key) =>
      this.opts.logger.debug('probe redis node error', { node: key, error: describeError(err) }),
    );
    return cluster;
  }

  private redis(): Cluster {
    if (!this.cluster)
      throw new OperationalError('probe-not-connected', 'redis probe client used before connect()');
    return this.cluster;
  }
}
