/**
 * Probe client for etcd v3 through the `etcd3` gRPC client: puts and gets under `/baton/probe/`.
 * Reads are linearizable (the client's default), so a read that misses an acknowledged put is a
 * real loss, not a stale follower.
 *
 * Requests go to the leader, as etcd's own benchmarks send writes ("leader only" in etcd's
 * benchmark pages; `benchmark --target-leader` in its performance guide): a follower forwards
 * every proposal to the leader and asks it for a read index before a linearizable read, which on
 * this 2-core machine cost 2.5 times the CPU per put and carried 290 puts/s with 32 in flight
 * where the leader alone carried 700. The leader is found by asking every member for its status
 * (the one whose id is the leader it names), again after any failure, and in the background when
 * a response carries a new raft term (leadership moved, e.g. Baton handed it over before a
 * restart). While no member is the leader, requests go to any member.
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
  private hosts: string[] = [];
  /** A client of one member per member, to ask it its status and to send it requests. */
  private members = new Map<string, Etcd3>();
  /** A client of every member (etcd3 picks one per call), while no leader is known. */
  private any: Etcd3 | undefined;
  /** Where requests go: the leader's client, or {@link EtcdProbeClient.any}. */
  private target: Etcd3 | undefined;
  /** The leader's URL and the raft term it was found in. */
  private leader: { host: string; term: string } | undefined;
  private looking: Promise<void> | undefined;

  constructor(private readonly opts: EtcdProbeClientOptions) {
    this.prefix = opts.prefix ?? '/baton/probe/';
    this.callTimeoutMs = opts.callTimeoutMs ?? 2000;
    this.dialTimeoutMs = opts.dialTimeoutMs ?? 1000;
  }

  /** Builds the clients, finds the leader and checks that a member answers. */
  async connect(): Promise<void> {
    await this.rediscover();
    await this.etcd().get(`${this.prefix}connect-check`).string();
  }

  async write(id: string, value: string): Promise<void> {
    const res = await this.etcd()
      .put(this.prefix + id)
      .value(value);
    this.noteTerm(res.header);
  }

  async read(id: string): Promise<string | undefined> {
    const res = await this.etcd()
      .get(this.prefix + id)
      .exec();
    this.noteTerm(res.header);
    return res.kvs[0]?.value.toString() ?? undefined;
  }

  async readMany(ids: readonly string[]): Promise<(string | undefined)[]> {
    const etcd = this.etcd();
    const values = await Promise.all(ids.map((id) => etcd.get(this.prefix + id).string()));
    return values.map((v) => v ?? undefined);
  }

  /**
   * Rebuilds the clients when the member endpoints changed (otherwise etcd3 reconnects by itself),
   * then finds the leader.
   */
  async rediscover(): Promise<void> {
    const endpoints = await currentEndpoints(this.opts.endpoints, this.engine);
    const hosts = endpoints.map((e) => {
      const { host, port } = parseEndpoint(e);
      return `http://${host}:${port}`;
    });
    if (!this.any || !sameEndpoints(hosts, this.hosts)) {
      this.closeAll();
      this.opts.logger.debug('probe etcd endpoints', { hosts });
      this.any = this.build(hosts);
      this.members = new Map(hosts.map((h) => [h, this.build([h])]));
      this.hosts = hosts;
      this.target = this.any;
    }
    await this.findLeader();
  }

  async close(): Promise<void> {
    this.closeAll();
  }

  /** The URL of the member requests go to when it is the leader; undefined while none is known. */
  get currentLeader(): string | undefined {
    return this.leader?.host;
  }

  /** One leader lookup at a time; callers during one get its outcome. */
  private findLeader(): Promise<void> {
    this.looking ??= this.askMembers().finally(() => (this.looking = undefined));
    return this.looking;
  }

  private async askMembers(): Promise<void> {
    const hosts = [...this.members.keys()];
    const statuses = await Promise.allSettled(hosts.map((h) => this.members.get(h)!.maintenance.status()));
    let found: { host: string; term: string } | undefined;
    statuses.forEach((s, i) => {
      if (s.status === 'fulfilled' && s.value.leader === s.value.header.member_id && !found) {
        found = { host: hosts[i]!, term: s.value.header.raft_term };
      }
    });
    const client = found ? this.members.get(found.host) : undefined;
    if (found && client) {
      if (found.host !== this.leader?.host) this.opts.logger.debug('probe etcd leader', { host: found.host });
      this.leader = found;
      this.target = client;
    } else {
      this.leader = undefined;
      this.target = this.any;
    }
  }

  /** A response from another raft term than the leader's: look the leader up again, in the background. */
  private noteTerm(header: { raft_term: string } | undefined): void {
    if (!this.leader || !header || header.raft_term === this.leader.term) return;
    this.leader = { ...this.leader, term: header.raft_term };
    void this.findLeader().catch((err: unknown) =>
      this.opts.logger.debug('probe etcd leader lookup failed', { error: String(err) }),
    );
  }

  private build(hosts: string[]): Etcd3 {
    const callTimeoutMs = this.callTimeoutMs;
    return new Etcd3({
      hosts,
      dialTimeout: this.dialTimeoutMs,
      // gRPC deadlines are wall-clock instants by definition.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: new Date(Date.now() + callTimeoutMs) }),
      faultHandling: { host: () => passThrough },
    });
  }

  private closeAll(): void {
    this.any?.close();
    for (const c of this.members.values()) c.close();
    this.any = undefined;
    this.target = undefined;
    this.leader = undefined;
    this.members = new Map();
  }

  private etcd(): Etcd3 {
    if (!this.target)
      throw new OperationalError('probe-not-connected', 'etcd probe client used before connect()');
    return this.target;
  }
}
