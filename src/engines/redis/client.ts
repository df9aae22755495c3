/**
 * One typed client for Redis's admin commands (`CLUSTER ...`, `INFO`), over one ioredis connection
 * per node with short connect and command timeouts. The connection factory is injectable so
 * callers (and tests) choose how to connect; the default uses ioredis without reconnects, so a
 * stopped node fails fast and is reconnected on the next call instead of queueing commands.
 */
import { Redis } from 'ioredis';
import { OperationalError, describeError } from '../../core/errors.js';
import { parseClusterNodes, parseInfo, type ClusterNodeEntry, type SlotRange } from './parse.js';

/** Connection time limits in milliseconds. */
export interface RedisTimeouts {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/** Defaults: a local node answers in well under a second; a dead one should not hold a loop up. */
export const DEFAULT_REDIS_TIMEOUTS: RedisTimeouts = { connectTimeoutMs: 1000, commandTimeoutMs: 2000 };

/** The minimal connection the admin client needs: send one command, close. */
export interface RedisConnection {
  /** Send one command; resolves with the raw reply, rejects on error or timeout. */
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** Whether the connection can no longer be used (closed or failed); the pool then replaces it. */
  readonly closed: boolean;
  /** Close without waiting for pending replies. */
  close(): void;
}

/** Opens a connection to `host:port`. */
export type RedisConnectionFactory = (host: string, port: number, timeouts: RedisTimeouts) => RedisConnection;

/** Credentials a connection sends with `AUTH` (ACL user, or only the password for `requirepass`). */
export interface RedisAuth {
  username?: string;
  password: string;
}

/**
 * An ioredis factory (RESP2, lazy connect, no reconnect, no offline queue) that authenticates
 * with `auth` when given. The credentials stay inside the connection; they are never logged.
 */
export function makeIoredisConnectionFactory(auth?: RedisAuth): RedisConnectionFactory {
  return (host, port, timeouts) => openIoredis(host, port, timeouts, auth);
}

/** The default factory: ioredis without credentials (see {@link makeIoredisConnectionFactory}). */
export const ioredisConnectionFactory: RedisConnectionFactory = makeIoredisConnectionFactory();

function openIoredis(host: string, port: number, timeouts: RedisTimeouts, auth?: RedisAuth): RedisConnection {
  const redis = new Redis({
    host,
    port,
    ...(auth?.username !== undefined ? { username: auth.username } : {}),
    ...(auth ? { password: auth.password } : {}),
    protocol: 2,
    lazyConnect: true,
    connectTimeout: timeouts.connectTimeoutMs,
    commandTimeout: timeouts.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    disableClientInfo: true,
  });
  // Errors surface through the rejected command; the event would otherwise be unhandled.
  redis.on('error', () => {});
  let connecting: Promise<void> | undefined;
  const ensure = async () => {
    if (redis.status === 'ready') return;
    connecting ??= redis.connect();
    await connecting;
  };
  return {
    async call(command, ...args) {
      await ensure();
      return redis.call(command, ...args);
    },
    get closed() {
      return redis.status === 'end' || redis.status === 'close';
    },
    close() {
      redis.disconnect();
    },
  };
}

/** `host:port` split; throws OperationalError for anything else. */
export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  const port = Number(endpoint.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0) {
    throw new OperationalError('redis-bad-endpoint', `member endpoint "${endpoint}" is not host:port`);
  }
  return { host: endpoint.slice(0, i), port };
}

function asText(reply: unknown, what: string): string {
  if (typeof reply === 'string') return reply;
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  throw new OperationalError('redis-bad-reply', `unexpected reply to ${what}: ${JSON.stringify(reply)}`);
}

/** Typed admin commands against one Redis node. */
export class RedisNodeClient {
  constructor(
    /** `host:port` of the node's client port. */
    readonly endpoint: string,
    private readonly conn: () => RedisConnection,
    /** Called after a failed command so the next one starts on a fresh connection. */
    private readonly drop: () => void = () => {},
  ) {}

  private async run(what: string, command: string, ...args: (string | number)[]): Promise<unknown> {
    try {
      return await this.conn().call(command, ...args);
    } catch (err) {
      this.drop();
      throw new OperationalError(
        'redis-command-failed',
        `${what} on ${this.endpoint}: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  /** `PING`; true when the node answers PONG. */
  async ping(): Promise<boolean> {
    return (await this.run('PING', 'PING')) === 'PONG';
  }

  /** `CLUSTER MYID`. */
  async myId(): Promise<string> {
    return asText(await this.run('CLUSTER MYID', 'CLUSTER', 'MYID'), 'CLUSTER MYID');
  }

  /** `CLUSTER NODES`, parsed. */
  async clusterNodes(): Promise<ClusterNodeEntry[]> {
    return parseClusterNodes(asText(await this.run('CLUSTER NODES', 'CLUSTER', 'NODES'), 'CLUSTER NODES'));
  }

  /** `CLUSTER INFO`, parsed to key/value strings. */
  async clusterInfo(): Promise<Record<string, string>> {
    return parseInfo(asText(await this.run('CLUSTER INFO', 'CLUSTER', 'INFO'), 'CLUSTER INFO'));
  }

  /** `INFO replication`, parsed to key/value strings. */
  async replicationInfo(): Promise<Record<string, string>> {
    return parseInfo(asText(await this.run('INFO replication', 'INFO', 'replication'), 'INFO replication'));
  }

  /** `CLUSTER SET-CONFIG-EPOCH`; only valid on a fresh node that knows no other node. */
  async setConfigEpoch(epoch: number): Promise<void> {
    await this.run('CLUSTER SET-CONFIG-EPOCH', 'CLUSTER', 'SET-CONFIG-EPOCH', epoch);
  }

  /** `CLUSTER MEET host port busPort`. */
  async meet(host: string, port: number, busPort: number): Promise<void> {
    await this.run('CLUSTER MEET', 'CLUSTER', 'MEET', host, port, busPort);
  }

  /** `CLUSTER ADDSLOTSRANGE start end` (Redis 7.0+). */
  async addSlotsRange(range: SlotRange): Promise<void> {
    await this.run('CLUSTER ADDSLOTSRANGE', 'CLUSTER', 'ADDSLOTSRANGE', range.start, range.end);
  }

  /** `CLUSTER REPLICATE nodeId`: make this node a replica of `nodeId`. */
  async replicate(nodeId: string): Promise<void> {
    await this.run('CLUSTER REPLICATE', 'CLUSTER', 'REPLICATE', nodeId);
  }

  /**
   * `CLUSTER FAILOVER` on a replica: the coordinated (default) mode, in which the primary stops
   * accepting writes, the replica catches up to the primary's offset, and only then takes over,
   * so no acknowledged write is lost.
   */
  async failover(): Promise<void> {
    await this.run('CLUSTER FAILOVER', 'CLUSTER', 'FAILOVER');
  }
}

/**
 * One connection per node endpoint, created on first use and replaced when it has closed.
 * {@link RedisClientPool.close} disconnects everything.
 */
export class RedisClientPool {
  private readonly conns = new Map<string, RedisConnection>();

  constructor(
    private readonly factory: RedisConnectionFactory = ioredisConnectionFactory,
    private readonly timeouts: RedisTimeouts = DEFAULT_REDIS_TIMEOUTS,
  ) {}

  /** The admin client of the node at `endpoint` (`host:port`). */
  node(endpoint: string): RedisNodeClient {
    return new RedisNodeClient(
      endpoint,
      () => this.connection(endpoint),
      () => this.reset(endpoint),
    );
  }

  private connection(endpoint: string): RedisConnection {
    let conn = this.conns.get(endpoint);
    if (conn === undefined || conn.closed) {
      conn?.close();
      const { host, port } = splitEndpoint(endpoint);
      conn = this.factory(host, port, this.timeouts);
      this.conns.set(endpoint, conn);
    }
    return conn;
  }

  /** Drop the connection of one endpoint (after an error that may have left it unusable). */
  reset(endpoint: string): void {
    this.conns.get(endpoint)?.close();
    this.conns.delete(endpoint);
  }

  /** Disconnect every connection. */
  close(): void {
    for (const conn of this.conns.values()) conn.close();
    this.conns.clear();
  }
}
