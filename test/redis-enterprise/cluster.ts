/**
 * The state of a Redis Enterprise cluster test double: nodes (one of them the cluster's master
 * node), databases (bdbs) whose shards are primary/replica pairs on different nodes, and actions
 * that take time. Each behaviour follows Redis's REST API documentation (redis/docs,
 * content/operate/rs/references/rest-api/requests/...):
 * - `shards/actions/failover`: the shards must exist (404 `shard_not_exist`), be primaries (400
 *   `shard_is_slave`), belong to one database (400 `failover_shards_different_bdb`), and the
 *   database must not be busy (409 `db_busy`); asynchronous, tracked by `action_uid`; the replica is
 *   promoted only when in sync (rladmin failover without `immediate`);
 * - `nodes/{uid}/actions/maintenance_on`: refused when stopping the node would lose quorum; takes a
 *   snapshot, marks the node quorum-only, demotes its primary shards (replicas kept in place with
 *   `evict_ha_replica: false`), and with `demote_node` hands the cluster's master role over;
 *   `maintenance_off` restores from the snapshot and removes it (clusters/maintenance-mode);
 * - `bdbs/{uid}/upgrade` with `redis_version`: an action that restarts the shards on the new
 *   version, refused for a downgrade;
 * - a node that goes down: its shards go `down`, the cluster fails its primaries over by itself
 *   after `autoFailoverMs` and elects another master node; a restarted node's shards load and sync
 *   (`sync.status` `in_progress` then `idle`) before they are `ok`.
 */

export interface DoubleNode {
  uid: number;
  hostname: string;
  addr: string;
  softwareVersion: string;
  up: boolean;
  downSince: number;
  startedAt: number;
  /** Maintenance-mode snapshots (activations stack). */
  snapshots: { name: string; shards: string[] }[];
}

export interface DoubleShard {
  uid: string;
  bdbUid: number;
  /** Shards of one slot range share a pair id: one primary, one replica. */
  pair: number;
  nodeUid: number;
  role: 'master' | 'slave';
  /** Time until which the shard loads/syncs after its node started. */
  syncingUntil: number;
}

export interface DoubleBdb {
  uid: number;
  name: string;
  redisVersion: string;
  busyUntil: number;
}

export interface DoubleAction {
  action_uid: string;
  name: string;
  status: 'pending' | 'active' | 'completed' | 'failed';
  started: number;
  durationMs: number;
  node_uid?: string;
  object_name?: string;
  error?: string;
  /** Applied when the action completes; returns an error text to fail it instead. */
  complete: () => string | undefined;
}

export interface RecDoubleOptions {
  nodes: number;
  softwareVersion: string;
  databases: { name: string; redisVersion: string; shards: number }[];
  failoverMs?: number;
  maintenanceMs?: number;
  upgradeMsPerShard?: number;
  syncMs?: number;
  autoFailoverMs?: number;
  tickMs?: number;
}

/** An API error as the REST API reports it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const REDIS_VERSIONS = ['6.0', '6.2', '7.2', '7.4', '8.0'];

export class RecDoubleCluster {
  readonly nodes: DoubleNode[];
  readonly bdbs: DoubleBdb[];
  readonly shards: DoubleShard[] = [];
  readonly actions = new Map<string, DoubleAction>();
  masterNode = 1;
  /**
   * How long the shards of node `uid` load and sync after it starts (default `syncMs`): a test makes
   * one node's shards never sync.
   */
  syncMsOf?: (uid: number) => number;
  /** Requests the REST server handled (for tests): `POST /v1/shards/actions/failover`, ... */
  readonly requests: string[] = [];
  private readonly o: Required<Omit<RecDoubleOptions, 'nodes' | 'softwareVersion' | 'databases'>>;
  private timer?: NodeJS.Timeout;
  private seq = 0;

  constructor(opts: RecDoubleOptions) {
    this.o = {
      failoverMs: 60,
      maintenanceMs: 80,
      upgradeMsPerShard: 40,
      syncMs: 150,
      autoFailoverMs: 300,
      tickMs: 20,
      ...opts,
    };
    this.nodes = Array.from({ length: opts.nodes }, (_, i) => ({
      uid: i + 1,
      hostname: `rec-${i}`,
      addr: `10.0.0.${i + 1}`,
      softwareVersion: opts.softwareVersion,
      up: true,
      downSince: 0,
      startedAt: 0,
      snapshots: [],
    }));
    this.bdbs = opts.databases.map((d, i) => ({
      uid: i + 1,
      name: d.name,
      redisVersion: d.redisVersion,
      busyUntil: 0,
    }));
    let shardUid = 1;
    let pair = 0;
    opts.databases.forEach((d, i) => {
      for (let s = 0; s < d.shards; s++) {
        const primaryNode = (pair % opts.nodes) + 1;
        const replicaNode = ((pair + 1) % opts.nodes) + 1;
        this.shards.push({
          uid: String(shardUid++),
          bdbUid: i + 1,
          pair,
          nodeUid: primaryNode,
          role: 'master',
          syncingUntil: 0,
        });
        this.shards.push({
          uid: String(shardUid++),
          bdbUid: i + 1,
          pair,
          nodeUid: replicaNode,
          role: 'slave',
          syncingUntil: 0,
        });
        pair += 1;
      }
    });
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(Date.now()), this.o.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  node(uid: number): DoubleNode {
    const n = this.nodes.find((x) => x.uid === uid);
    if (!n) throw new ApiError(404, 'node_not_found', `node ${uid} does not exist`);
    return n;
  }

  synced(s: DoubleShard, now = Date.now()): boolean {
    return this.node(s.nodeUid).up && now >= s.syncingUntil;
  }

  partner(s: DoubleShard): DoubleShard | undefined {
    return this.shards.find((x) => x.pair === s.pair && x.uid !== s.uid);
  }

  private newAction(
    name: string,
    durationMs: number,
    complete: () => string | undefined,
    extra: Partial<DoubleAction> = {},
  ): DoubleAction {
    this.seq += 1;
    const a: DoubleAction = {
      action_uid: `${name}-${this.seq}-${Math.random().toString(16).slice(2, 10)}`,
      name,
      status: 'pending',
      started: Date.now(),
      durationMs,
      complete,
      ...extra,
    };
    this.actions.set(a.action_uid, a);
    return a;
  }

  /** `POST /v1/shards/actions/failover`. */
  failover(shardUids: unknown): DoubleAction {
    if (!Array.isArray(shardUids) || shardUids.length === 0) {
      throw new ApiError(404, 'shard_uids_required', 'List of shard UIDs is required and not given');
    }
    const shards = shardUids.map((u) => {
      const s = this.shards.find((x) => x.uid === String(u));
      if (!s) throw new ApiError(404, 'shard_not_exist', `Shard ${String(u)} does not exist`);
      if (s.role !== 'master') throw new ApiError(400, 'shard_is_slave', `Shard ${s.uid} is a replica`);
      return s;
    });
    const bdbUid = shards[0]!.bdbUid;
    if (shards.some((s) => s.bdbUid !== bdbUid)) {
      throw new ApiError(
        400,
        'failover_shards_different_bdb',
        'All failover shards should be in the same database',
      );
    }
    const bdb = this.bdbs.find((b) => b.uid === bdbUid)!;
    if (Date.now() < bdb.busyUntil) throw new ApiError(409, 'db_busy', 'Database is currently busy');
    bdb.busyUntil = Date.now() + this.o.failoverMs;
    return this.newAction(
      'failover',
      this.o.failoverMs,
      () => {
        for (const s of shards) {
          const r = this.partner(s);
          if (!r || !this.synced(r)) return `replica of shard ${s.uid} is not in sync`;
        }
        for (const s of shards) this.swap(s);
        return undefined;
      },
      { object_name: `bdb:${bdbUid}` },
    );
  }

  private swap(primary: DoubleShard): void {
    const r = this.partner(primary);
    if (!r || primary.role !== 'master') return;
    primary.role = 'slave';
    r.role = 'master';
  }

  private upCount(): number {
    return this.nodes.filter((n) => n.up).length;
  }

  /** `POST /v1/nodes/{uid}/actions/maintenance_on|maintenance_off`. */
  nodeAction(uid: number, action: string, body: Record<string, unknown>): DoubleAction {
    const n = this.node(uid);
    if (action === 'maintenance_on') {
      if (this.upCount() - 1 <= this.nodes.length / 2) {
        throw new ApiError(400, 'quorum_loss', `shutting node ${uid} down would lose the cluster's quorum`);
      }
      return this.newAction(
        'maintenance_on',
        this.o.maintenanceMs,
        () => {
          n.snapshots.push({
            name: `maintenance_mode_${Date.now()}`,
            shards: this.shards.filter((s) => s.nodeUid === uid).map((s) => s.uid),
          });
          for (const s of this.shards.filter((x) => x.nodeUid === uid && x.role === 'master')) {
            const r = this.partner(s);
            if (r && this.synced(r)) this.swap(s);
          }
          if (body.demote_node === true && this.masterNode === uid) this.electMaster(uid);
          return undefined;
        },
        { node_uid: String(uid) },
      );
    }
    if (action === 'maintenance_off') {
      if (n.snapshots.length === 0)
        throw new ApiError(400, 'no_snapshot', `node ${uid} has no maintenance snapshot`);
      return this.newAction(
        'maintenance_off',
        this.o.maintenanceMs,
        () => {
          n.snapshots.pop();
          return undefined;
        },
        { node_uid: String(uid) },
      );
    }
    throw new ApiError(400, 'unsupported_action', `unsupported node action ${action}`);
  }

  /** `POST /v1/bdbs/{uid}/upgrade`. */
  upgrade(bdbUid: number, redisVersion: unknown): DoubleAction {
    const bdb = this.bdbs.find((b) => b.uid === bdbUid);
    if (!bdb) throw new ApiError(404, 'db_not_exist', `bdb ${bdbUid} does not exist`);
    const v = String(redisVersion ?? '');
    if (!REDIS_VERSIONS.includes(v))
      throw new ApiError(400, 'invalid_version', `redis_version ${v} is not supported`);
    if (REDIS_VERSIONS.indexOf(v) < REDIS_VERSIONS.indexOf(bdb.redisVersion)) {
      throw new ApiError(
        400,
        'invalid_version',
        `cannot downgrade bdb ${bdbUid} from ${bdb.redisVersion} to ${v}`,
      );
    }
    if (Date.now() < bdb.busyUntil) throw new ApiError(409, 'db_busy', 'Database is currently busy');
    const ms = this.o.upgradeMsPerShard * this.shards.filter((s) => s.bdbUid === bdbUid).length;
    bdb.busyUntil = Date.now() + ms;
    return this.newAction(
      'upgrade_bdb',
      ms,
      () => {
        bdb.redisVersion = v;
        return undefined;
      },
      { object_name: `bdb:${bdbUid}` },
    );
  }

  /** The pod goes away. */
  stopNode(uid: number): void {
    const n = this.node(uid);
    n.up = false;
    n.downSince = Date.now();
  }

  /** The pod comes back on `softwareVersion`; its shards load and sync. */
  startNode(uid: number, softwareVersion: string): void {
    const n = this.node(uid);
    n.up = true;
    n.softwareVersion = softwareVersion;
    n.startedAt = Date.now();
    const ms = this.syncMsOf?.(uid) ?? this.o.syncMs;
    for (const s of this.shards.filter((x) => x.nodeUid === uid)) s.syncingUntil = Date.now() + ms;
  }

  /**
   * What the Redis operator does before it deletes a REC pod in its rolling upgrade (redis.io
   * "How does the REC upgrade work?": if the pod is the cluster's master or hosts primary shards, a
   * replica on a different pod is promoted): every primary of node `uid` whose replica is in sync
   * fails over, and the master role moves to another node that is up. Returns how many primaries
   * the node still holds (their replicas not in sync yet: the operator waits and tries again).
   */
  handOverNode(uid: number): number {
    let held = 0;
    for (const s of this.shards.filter((x) => x.nodeUid === uid && x.role === 'master')) {
      const r = this.partner(s);
      if (r && this.synced(r)) this.swap(s);
      else held += 1;
    }
    if (this.masterNode === uid) this.electMaster(uid);
    return held + (this.masterNode === uid ? 1 : 0);
  }

  private electMaster(except: number): void {
    const next =
      this.nodes.find((x) => x.up && x.uid !== except && x.snapshots.length === 0) ??
      this.nodes.find((x) => x.up && x.uid !== except);
    if (next) this.masterNode = next.uid;
  }

  private tick(now: number): void {
    for (const a of this.actions.values()) {
      if (a.status === 'pending') a.status = 'active';
      if (a.status === 'active' && now - a.started >= a.durationMs) {
        const err = a.complete();
        a.status = err ? 'failed' : 'completed';
        if (err) a.error = err;
      }
    }
    // The cluster's own failure handling: a down node's primaries fail over, the master moves.
    for (const n of this.nodes) {
      if (n.up || now - n.downSince < this.o.autoFailoverMs) continue;
      for (const s of this.shards.filter((x) => x.nodeUid === n.uid && x.role === 'master')) {
        const r = this.partner(s);
        if (r && this.node(r.nodeUid).up) this.swap(s);
      }
      if (this.masterNode === n.uid) this.electMaster(n.uid);
    }
  }

  /** Progress of an action in percent, as the API reports it. */
  progress(a: DoubleAction, now = Date.now()): number {
    if (a.status === 'completed') return 100;
    return Math.min(99, Math.round(((now - a.started) / Math.max(1, a.durationMs)) * 100));
  }
}
