/**
 * Probe client for etcd v3 through the `etcd3` gRPC client: puts and gets under `/baton/probe/`.
 * Reads are linearizable (the client's default), so a read that misses an acknowledged put is a
 * real loss, not a stale follower.
 */
import { Etcd3, type IOptions } from 'etcd3';
import { OperationalError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { EndpointSource, ProbeClient } from '../types.js';
import { currentEndpoints, parseEndpoint, sameEndpoints } from './endpoint.js';

/** Options of {@link EtcdProbeClient}. */
export interface EtcdProbeClientOptions {
  /** Client endpoints `host:port` of the members. */
  endpoints: EndpointSource;
  logger: Logger;
  /** gRPC deadline of one call. Default 2000 ms. */
  callTimeoutMs?: number;
  /** Time to establish a connection. Default 1000 ms. */
  dialTimeoutMs?: number;
  /** Key prefix; default `/baton/probe/`. */
  prefix?: string;
}

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;

/**
 * Calls straight through. etcd3's default per-host circuit breaker refuses a restarted member for
 * 5 s after three failures, which would add that much to every measured gap; the probe does its
 * own retrying instead.
 */
const passThrough = {
  onSuccess: () => ({ dispose() {} }),
  onFailure: () => ({ dispose() {} }),
  execute: <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T, signal?: AbortSignal) =>
    Promise.resolve().then(() => fn({ signal: signal ?? new AbortController().signal })),
} as unknown as HostPolicy;

/** {@link ProbeClient} for etcd. The member set is re-read on rediscovery. */
export class EtcdProbeClient implements ProbeClient {
  readonly engine = 'etcd';
  /** One client multiplexes every worker's operations. */
  readonly concurrent = true;
  private readonly prefix: string;
  private readonly callTimeoutMs: number;
  private readonly dialTimeoutMs: number;
  private client: Etcd3 | undefined;
  private hosts: string[] = [];

  constructor(private readonly opts: EtcdProbeClientOptions) {
    this.prefix = opts.prefix ?? '/baton/probe/';
    this.callTimeoutMs = opts.callTimeoutMs ?? 2000;
    this.dialTimeoutMs = opts.dialTimeoutMs ?? 1000;
  }

  /** Builds the client and checks that a member answers. */
  async connect(): Promise<void> {
    await this.rediscover();
    await this.etcd().get(`${this.prefix}connect-check`).string();
  }

  async write(id: string, value: string): Promise<void> {
    await this.etcd()
      .put(this.prefix + id)
      .value(value);
  }

  async read(id: string): Promise<string | undefined> {
    return (
      (await this.etcd()
        .get(this.prefix + id)
        .string()) ?? undefined
    );
  }

  async readMany(ids: readonly string[]): Promise<(string | undefined)[]> {
    const etcd = this.etcd();
    const values = await Promise.all(ids.map((id) => etcd.get(this.prefix + id).string()));
    return values.map((v) => v ?? undefined);
  }

  /** Rebuilds the client when the member endpoints changed; otherwise etcd3 reconnects by itself. */
  async rediscover(): Promise<void> {
    const endpoints = await currentEndpoints(this.opts.endpoints, this.engine);
    const hosts = endpoints.map((e) => {
      const { host, port } = parseEndpoint(e);
      return `http://${host}:${port}`;
    });
    if (this.client && sameEndpoints(hosts, this.hosts)) return;
    this.client?.close();
    this.opts.logger.debug('probe etcd endpoints', { hosts });
    const callTimeoutMs = this.callTimeoutMs;
    this.client = new Etcd3({
      hosts,
      dialTimeout: this.dialTimeoutMs,
      // gRPC deadlines are wall-clock instants by definition.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: new Date(Date.now() + callTimeoutMs) }),
      faultHandling: { host: () => passThrough },
    });
    this.hosts = hosts;
  }

  async close(): Promise<void> {
    this.client?.close();
    this.client = undefined;
  }

  private etcd(): Etcd3 {
    if (!this.client)
      throw new OperationalError('probe-not-connected', 'etcd probe client used before connect()');
    return this.client;
  }
}
