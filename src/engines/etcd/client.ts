/**
 * One typed client for etcd's admin API (Maintenance and Cluster services over gRPC, through the
 * `etcd3` package): member status (leader, raft indices, errors, server version), member list,
 * alarms, and move-leader. Every call targets one member's endpoint, carries a deadline, is tried
 * once (no silent retries against another member: the caller decides), and fails with an
 * OperationalError naming the endpoint.
 */
import { Etcd3 } from 'etcd3';
import type { IOptions } from 'etcd3';
import { OperationalError, describeError } from '../../core/errors.js';

/** What one member says about itself and the cluster (`etcdctl endpoint status`). */
export interface EtcdMemberStatus {
  /** ID of the member that answered (decimal string of the uint64). */
  memberId: string;
  /** ID of the leader it follows; `0` when it knows no leader. */
  leaderId: string;
  /** Last committed raft index this member knows. */
  raftIndex: number;
  /** Last raft index this member has applied to its store. */
  raftAppliedIndex: number;
  raftTerm: number;
  /** Server version of the member's binary, e.g. `3.4.23`. */
  version: string;
  /** Alarm and health errors the member reports; empty when fine. */
  errors: string[];
  isLearner: boolean;
  dbSize: number;
}

/** One entry of the member list. */
export interface EtcdMemberInfo {
  id: string;
  /** Empty for a member that was added but has never started. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** A raised alarm. */
export interface EtcdAlarm {
  memberId: string;
  /** `NOSPACE` or `CORRUPT`. */
  alarm: string;
}

/** The admin calls the etcd engine needs; {@link EtcdAdminClient} implements them over gRPC. */
export interface EtcdAdminApi {
  status(endpoint: string): Promise<EtcdMemberStatus>;
  memberList(endpoint: string): Promise<EtcdMemberInfo[]>;
  alarms(endpoint: string): Promise<EtcdAlarm[]>;
  /** Ask the leader at `leaderEndpoint` to hand leadership to `targetId`; resolves once it has. */
  moveLeader(leaderEndpoint: string, targetId: string): Promise<void>;
  /** Close every connection. */
  close(): Promise<void>;
}

/** Options of {@link EtcdAdminClient}. */
export interface EtcdAdminClientOptions {
  /** Deadline of every call except move-leader; default 2000 ms. */
  callTimeoutMs?: number;
  /** Deadline of move-leader, which waits for the transfer; default 5000 ms. */
  moveLeaderTimeoutMs?: number;
  /**
   * etcd user and password for clusters with auth enabled (etcd3 authenticates once per
   * connection and sends the token with every call). Never logged.
   */
  auth?: { username: string; password: string };
}

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * A policy that runs the call once. etcd3's defaults retry three times on another host and open a
 * circuit breaker per host; the engine wants one member's own answer, now, or a failure.
 */
const ONCE = {
  execute: (fn: (ctx: { signal: AbortSignal }) => unknown) =>
    Promise.resolve(fn({ signal: new AbortController().signal })),
} as unknown as Policy;

function normaliseEndpoint(endpoint: string): string {
  return /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
}

/** gRPC admin client with one connection per member endpoint, created on first use. */
export class EtcdAdminClient implements EtcdAdminApi {
  private readonly clients = new Map<string, Etcd3>();
  private readonly callTimeoutMs: number;
  private readonly moveLeaderTimeoutMs: number;
  private readonly auth: EtcdAdminClientOptions['auth'];
  private closed = false;

  constructor(opts: EtcdAdminClientOptions = {}) {
    this.callTimeoutMs = opts.callTimeoutMs ?? 2_000;
    this.moveLeaderTimeoutMs = opts.moveLeaderTimeoutMs ?? 5_000;
    this.auth = opts.auth;
  }

  private client(endpoint: string): Etcd3 {
    if (this.closed) throw new OperationalError('etcd-client-closed', 'the etcd admin client is closed');
    const host = normaliseEndpoint(endpoint);
    let c = this.clients.get(host);
    if (!c) {
      c = new Etcd3({
        hosts: host,
        dialTimeout: this.callTimeoutMs,
        ...(this.auth
          ? {
              auth: {
                ...this.auth,
                // The token exchange gets the same bound as any call (wall clock, like every deadline).
                callOptions: () => ({ deadline: new Date(Date.now() + this.callTimeoutMs) }),
              },
            }
          : {}),
        faultHandling: { global: ONCE, host: () => ONCE },
      });
      this.clients.set(host, c);
    }
    return c;
  }

  private async call<T>(
    endpoint: string,
    what: string,
    timeoutMs: number,
    fn: (c: Etcd3, deadline: Date) => Promise<T>,
  ): Promise<T> {
    // The gRPC deadline is wall-clock time by definition; it bounds I/O, it takes no decision.
    const deadline = new Date(Date.now() + timeoutMs);
    try {
      return await fn(this.client(endpoint), deadline);
    } catch (err) {
      if (err instanceof OperationalError) throw err;
      throw new OperationalError(
        'etcd-call-failed',
        `etcd ${what} at ${endpoint} failed: ${describeError(err)}`,
        { cause: err },
      );
    }
  }

  async status(endpoint: string): Promise<EtcdMemberStatus> {
    return this.call(endpoint, 'status', this.callTimeoutMs, async (c, deadline) => {
      const s = await c.maintenance.status({ deadline });
      return {
        memberId: String(s.header.member_id),
        leaderId: String(s.leader),
        raftIndex: Number(s.raftIndex),
        raftAppliedIndex: Number(s.raftAppliedIndex),
        raftTerm: Number(s.raftTerm),
        version: s.version,
        errors: [...(s.errors ?? [])],
        isLearner: Boolean(s.isLearner),
        dbSize: Number(s.dbSize),
      };
    });
  }

  async memberList(endpoint: string): Promise<EtcdMemberInfo[]> {
    return this.call(endpoint, 'member list', this.callTimeoutMs, async (c, deadline) => {
      const res = await c.cluster.memberList({}, { deadline });
      return res.members.map((m) => ({
        id: String(m.ID),
        name: m.name,
        peerURLs: [...(m.peerURLs ?? [])],
        clientURLs: [...(m.clientURLs ?? [])],
        isLearner: Boolean((m as { isLearner?: boolean }).isLearner),
      }));
    });
  }

  async alarms(endpoint: string): Promise<EtcdAlarm[]> {
    return this.call(endpoint, 'alarm list', this.callTimeoutMs, async (c, deadline) => {
      const res = await c.maintenance.alarm({ action: 'Get', memberID: 0, alarm: 'None' }, { deadline });
      return (res.alarms ?? [])
        .map((a) => ({ memberId: String(a.memberID), alarm: String(a.alarm) }))
        .filter((a) => a.alarm !== 'None');
    });
  }

  async moveLeader(leaderEndpoint: string, targetId: string): Promise<void> {
    await this.call(leaderEndpoint, 'move-leader', this.moveLeaderTimeoutMs, async (c, deadline) => {
      await c.maintenance.moveLeader({ targetID: targetId }, { deadline });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
