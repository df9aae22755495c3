/**
 * The state of a TiDB cluster test double and how it moves with time: PD members electing a leader
 * (and losing it when its process stops), stores heartbeating to PD (Up, then Disconnected and
 * Down as heartbeats stop), regions whose raft leaders follow PD's operators (the evict-leader
 * scheduler moves them off an evicted store in paced batches, the balance-leader scheduler brings
 * them back) or are re-elected after their store died, TiFlash stores holding a learner replica of
 * every region (never a leader) whose `store-status` goes Ready then Running after a start, TiDB
 * servers with a DDL owner, a DDL job queue and the smooth-upgrade state, TiCDC captures with an
 * owner and tables, TiProxy instances (not ready for a moment after a start), Pump nodes (online
 * once started, paused when stopped, as Pump records its own state). The HTTP and SQL
 * servers in this folder only read and change this model; {@link DoubleCluster} starts and stops
 * members. Behaviour follows the real systems (files cited in each server); the pace is scaled down
 * by {@link Timing} so a test takes seconds.
 */

/** Pace of the double; real defaults in comments. */
export interface Timing {
  /** Model step. */
  tickMs: number;
  /** PD leader lease: a new leader is elected this long after the leader's process stopped (3 s). */
  pdElectionMs: number;
  /** A requested PD leader transfer completes after this (about 100 ms). */
  pdTransferMs: number;
  /** PD shows a store Disconnected after this long without a heartbeat (20 s). */
  storeDisconnectMs: number;
  /** PD shows a store Down after this long without a heartbeat (max-store-down-time, 30 min). */
  storeDownMs: number;
  /** Raft elects a new region leader this long after its leader's store stopped (about 10 s). */
  regionElectionMs: number;
  /** PD's scheduling round: evict-leader batch (3) and balance-leader batch (4) per round. */
  scheduleIntervalMs: number;
  evictBatch: number;
  balanceBatch: number;
  /** A restarted process answers after this. */
  startMs: number;
  /** Longest a TiDB statement backs off waiting for a region leader or PD before failing (about 20 s). */
  backoffMs: number;
  /** A started TiFlash reports `Ready` this long before `Running` (its raft learners catch up). */
  tiflashWarmupMs: number;
  /** A started TiProxy answers its health API with "service not ready" this long. */
  tiproxyReadyMs: number;
}

/** Defaults: every wait a real cluster has, a hundred times faster. */
export const TEST_TIMING: Timing = {
  tickMs: 10,
  pdElectionMs: 300,
  pdTransferMs: 30,
  storeDisconnectMs: 400,
  storeDownMs: 3_000,
  regionElectionMs: 800,
  scheduleIntervalMs: 20,
  evictBatch: 3,
  balanceBatch: 4,
  startMs: 150,
  backoffMs: 2_000,
  tiflashWarmupMs: 200,
  tiproxyReadyMs: 100,
};

/**
 * {@link TEST_TIMING} with PD's scheduling at its fastest: an evict-leader batch of 10 (the largest
 * `batch` PD's evict-leader scheduler accepts) and a balance-leader batch of 10 on every tick. A
 * store's 220 leaders then leave in about 0.2 s instead of 1.5 s, and come back as fast; leaders
 * still leave in paced rounds that Baton polls down to 0, and every other wait (elections,
 * heartbeats, restarts, back-off) keeps its TEST_TIMING value. For tests whose subject is not the
 * pace of an eviction.
 */
export const QUICK_TIMING: Timing = {
  ...TEST_TIMING,
  scheduleIntervalMs: 10,
  evictBatch: 10,
  balanceBatch: 10,
};

export interface PdMemberState {
  name: string;
  ordinal: number;
  version: string;
  up: boolean;
  port: number;
  /** Refuses to start (a bad image or configuration): stays down when started. */
  broken?: boolean;
}

export interface StoreState {
  id: number;
  name: string;
  /** TiKV, or TiFlash (label `engine=tiflash`; learner replicas only). */
  engine: 'tikv' | 'tiflash';
  ordinal: number;
  version: string;
  up: boolean;
  /** Status port (metrics) and the store's service port. */
  statusPort: number;
  port: number;
  startTs: number;
  lastHeartbeat: number;
}

export interface RegionState {
  id: number;
  /** Voters (TiKV stores). */
  peers: number[];
  /** Learners (TiFlash stores): replicate, never lead, never vote. */
  learners: number[];
  leader: number | undefined;
  /** When the leader's store stopped (raft starts electing). */
  leaderLostAt?: number;
}

export interface TidbServerState {
  name: string;
  ordinal: number;
  version: string;
  up: boolean;
  statusPort: number;
  sqlPort: number;
  ddlId: string;
  /** Open SQL connections. */
  connections: number;
}

export interface DdlJobState {
  id: number;
  db: string;
  table: string;
  type: string;
  state: string;
}

export interface CaptureState {
  name: string;
  ordinal: number;
  id: string;
  version: string;
  up: boolean;
  port: number;
  /** IDs of the tables this capture replicates (one changefeed). */
  tables: number[];
}

export interface ProxyState {
  name: string;
  ordinal: number;
  version: string;
  up: boolean;
  port: number;
  /** When its health API starts answering 200. */
  readyAt: number;
}

export interface PumpState {
  name: string;
  ordinal: number;
  /** Pump's node ID (`hostname:port`). */
  nodeId: string;
  version: string;
  up: boolean;
  port: number;
  /** As Pump registers it: `online` once started, `paused` after a graceful stop. */
  state: 'online' | 'paused' | 'offline';
  maxCommitTS: number;
}

/** What tests count to prove each step happened exactly as often as it should. */
export interface Counters {
  restarts: Record<string, number>;
  /**
   * Every restart in order, with the time it began, the PD leader then, and the TiFlash, TiProxy
   * and Pump members that did not serve at that moment (see {@link ClusterModel.notServing}).
   */
  restartLog: { name: string; at: number; pdLeader: string | undefined; notServing: string[] }[];
  evictAdds: Record<number, number>;
  evictRemovals: Record<number, number>;
  pdTransfers: string[];
  upgradeStart: number;
  upgradeFinish: number;
  ownerResigns: number;
  captureDrains: Record<string, number>;
  /** Leaders a store held when its process stopped (0 when evicted first). */
  leadersAtStop: Record<string, number>;
  /** What a TiCDC capture held when its process stopped: tables, and whether it was the owner. */
  capturesAtStop: Record<string, { tables: number; owner: boolean }>;
}

const DEFAULT_SCHEDULERS = [
  'balance-hot-region-scheduler',
  'balance-leader-scheduler',
  'balance-region-scheduler',
  'evict-slow-store-scheduler',
];

/** The whole cluster. Time comes from `now()` so the model steps with the wall clock of the test. */
export class ClusterModel {
  pd: PdMemberState[] = [];
  pdLeader: string | undefined;
  pdLeaderLostAt = 0;
  pendingTransfer: { to: string; at: number } | undefined;
  /** Schedulers PD runs, and the stores of the evict-leader scheduler. */
  schedulers = new Set<string>(DEFAULT_SCHEDULERS);
  evictStores = new Set<number>();
  /** PD forgets the evict-leader scheduler when its leader changes (the loss TiDB Operator works around). */
  forgetSchedulersOnLeaderChange = false;
  clusterVersion: string;
  stores: StoreState[] = [];
  regions: RegionState[] = [];
  tidb: TidbServerState[] = [];
  proxies: ProxyState[] = [];
  pumps: PumpState[] = [];
  ddlOwner: string | undefined;
  ddlJobs: DdlJobState[] = [];
  /** TiDB's cluster-wide upgrading state (`/upgrade/start` .. `/upgrade/finish`). */
  upgrading = false;
  captures: CaptureState[] = [];
  cdcOwner: string | undefined;
  /** Captures the owner is moving tables away from (owner-local: lost when the owner changes). */
  drainingCaptures = new Set<string>();
  kv = new Map<string, string>();
  counters: Counters = {
    restarts: {},
    restartLog: [],
    evictAdds: {},
    evictRemovals: {},
    pdTransfers: [],
    upgradeStart: 0,
    upgradeFinish: 0,
    ownerResigns: 0,
    captureDrains: {},
    leadersAtStop: {},
    capturesAtStop: {},
  };
  private lastSchedule = 0;
  private rng: () => number;

  constructor(
    readonly timing: Timing,
    version: string,
    readonly now: () => number = Date.now,
    seed = 1,
  ) {
    this.clusterVersion = version.replace(/^v/, '');
    let s = seed >>> 0 || 1;
    this.rng = () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }

  /** A random element of a non-empty list (deterministic per seed). */
  pick<T>(items: T[]): T {
    return items[Math.floor(this.rng() * items.length)] as T;
  }

  /** PD has a quorum of running members. */
  pdQuorum(): boolean {
    return this.pd.filter((m) => m.up).length * 2 > this.pd.length;
  }

  /** PD can serve: quorum and a leader. */
  pdServing(): boolean {
    return this.pdQuorum() && this.pdLeader !== undefined;
  }

  store(id: number): StoreState | undefined {
    return this.stores.find((s) => s.id === id);
  }

  /** PD's state name of a store, from the time since its last heartbeat. */
  storeStateName(s: StoreState): string {
    const silent = this.now() - s.lastHeartbeat;
    if (silent > this.timing.storeDownMs) return 'Down';
    if (silent > this.timing.storeDisconnectMs) return 'Disconnected';
    return 'Up';
  }

  leaderCount(storeId: number): number {
    return this.regions.filter((r) => r.leader === storeId).length;
  }

  /** Regions with a peer (voter or learner) on a store PD sees as Down. */
  downPeerRegions(): RegionState[] {
    const down = new Set(this.stores.filter((s) => this.storeStateName(s) === 'Down').map((s) => s.id));
    return this.regions.filter((r) => [...r.peers, ...r.learners].some((p) => down.has(p)));
  }

  /** TiKV stores (voters and leaders). */
  tikvStores(): StoreState[] {
    return this.stores.filter((s) => s.engine === 'tikv');
  }

  /**
   * Three voters per region on the TiKV stores (needs three) and, when there are TiFlash stores,
   * one learner of every region on one of them (a table with one TiFlash replica).
   */
  placeRegions(count: number): void {
    const ids = this.tikvStores().map((s) => s.id);
    const flash = this.stores.filter((s) => s.engine === 'tiflash').map((s) => s.id);
    this.regions = [];
    for (let i = 0; i < count; i++) {
      const peers = ids.length <= 3 ? [...ids] : [0, 1, 2].map((k) => ids[(i + k) % ids.length] as number);
      const learners = flash.length > 0 ? [flash[i % flash.length] as number] : [];
      this.regions.push({ id: 1000 + i, peers, learners, leader: peers[i % peers.length] });
    }
  }

  /** Regions a store holds a replica of (voter or learner). */
  regionCount(storeId: number): number {
    return this.regions.filter((r) => r.peers.includes(storeId) || r.learners.includes(storeId)).length;
  }

  /**
   * TiFlash stores not Up in PD or not `Running`, TiProxy instances whose health API does not
   * answer 200, and pumps not registered `online`.
   */
  notServing(): string[] {
    return [
      ...this.stores
        .filter((s) => s.engine === 'tiflash')
        .filter((s) => !s.up || this.storeStateName(s) !== 'Up' || this.tiflashStatus(s) !== 'Running'),
      ...this.proxies.filter((p) => !p.up || this.now() < p.readyAt),
      ...this.pumps.filter((p) => !p.up || p.state !== 'online'),
    ].map((x) => x.name);
  }

  /** TiFlash's `/tiflash/store-status`: Ready while its learners catch up after a start, then Running. */
  tiflashStatus(s: StoreState): 'Ready' | 'Running' {
    return this.now() - s.startTs < this.timing.tiflashWarmupMs ? 'Ready' : 'Running';
  }

  /** Advance everything that moves with time. Called on every tick. */
  step(): void {
    const now = this.now();
    this.stepPd(now);
    for (const s of this.stores) if (s.up && this.pdServing()) s.lastHeartbeat = now;
    this.stepRegions(now);
    if (this.pdServing() && now - this.lastSchedule >= this.timing.scheduleIntervalMs) {
      this.lastSchedule = now;
      this.evictLeaders();
      this.balanceLeaders();
    }
    this.stepOwners();
  }

  private stepPd(now: number): void {
    const leader = this.pd.find((m) => m.name === this.pdLeader);
    if (this.pdLeader !== undefined && (!leader?.up || !this.pdQuorum())) {
      this.pdLeader = undefined;
      this.pdLeaderLostAt = now;
    }
    if (this.pendingTransfer && now >= this.pendingTransfer.at) {
      const target = this.pd.find((m) => m.name === this.pendingTransfer?.to);
      this.pendingTransfer = undefined;
      if (target?.up && this.pdQuorum()) this.changePdLeader(target.name);
    }
    if (
      this.pdLeader === undefined &&
      this.pdQuorum() &&
      now - this.pdLeaderLostAt >= this.timing.pdElectionMs
    ) {
      const candidates = this.pd.filter((m) => m.up);
      if (candidates.length > 0) this.changePdLeader(this.pick(candidates).name);
    }
  }

  private changePdLeader(name: string): void {
    const changed = this.pdLeader !== name;
    this.pdLeader = name;
    if (changed && this.forgetSchedulersOnLeaderChange && this.evictStores.size > 0) {
      this.evictStores.clear();
      this.schedulers.delete('evict-leader-scheduler');
    }
  }

  /** Ask for a PD leader transfer to `name` (completes after pdTransferMs). */
  requestPdTransfer(name: string): void {
    this.counters.pdTransfers.push(name);
    this.pendingTransfer = { to: name, at: this.now() + this.timing.pdTransferMs };
  }

  private stepRegions(now: number): void {
    for (const r of this.regions) {
      const leader = r.leader === undefined ? undefined : this.store(r.leader);
      if (leader?.up) {
        r.leaderLostAt = undefined;
        continue;
      }
      r.leaderLostAt ??= now;
      r.leader = undefined;
      if (now - r.leaderLostAt < this.timing.regionElectionMs) continue;
      const alive = r.peers.filter((p) => this.store(p)?.up);
      if (alive.length * 2 <= r.peers.length) continue;
      const preferred = alive.filter((p) => !this.evictStores.has(p));
      r.leader = this.pick(preferred.length > 0 ? preferred : alive);
      r.leaderLostAt = undefined;
    }
  }

  /** Store `to` can take a leader: a TiKV store whose process runs, Up in PD, not evicted. */
  private canLead(to: number): boolean {
    const s = this.store(to);
    return !!s && s.engine === 'tikv' && s.up && this.storeStateName(s) === 'Up' && !this.evictStores.has(to);
  }

  private evictLeaders(): void {
    for (const storeId of this.evictStores) {
      const source = this.store(storeId);
      if (!source?.up) continue;
      const led = this.regions.filter((r) => r.leader === storeId);
      for (let i = 0; i < this.timing.evictBatch && led.length > 0; i++) {
        const r = led.splice(Math.floor(this.rng() * led.length), 1)[0] as RegionState;
        const targets = r.peers.filter((p) => p !== storeId && this.canLead(p));
        if (targets.length > 0) r.leader = this.pick(targets);
      }
    }
  }

  private balanceLeaders(): void {
    if (!this.schedulers.has('balance-leader-scheduler')) return;
    const eligible = this.stores.filter((s) => this.canLead(s.id));
    if (eligible.length < 2) return;
    for (let i = 0; i < this.timing.balanceBatch; i++) {
      const counts = eligible.map((s) => ({ id: s.id, n: this.leaderCount(s.id) })).sort((a, b) => a.n - b.n);
      const low = counts[0]!;
      const high = counts[counts.length - 1]!;
      if (high.n - low.n <= 1) return;
      const r = this.regions.find((x) => x.leader === high.id && x.peers.includes(low.id));
      if (!r) return;
      r.leader = low.id;
    }
  }

  private stepOwners(): void {
    if (!this.tidb.some((t) => t.name === this.ddlOwner && t.up)) {
      this.ddlOwner = this.tidb.find((t) => t.up)?.name;
    }
    const alive = this.captures.filter((c) => c.up);
    if (!alive.some((c) => c.name === this.cdcOwner)) this.setCdcOwner(alive[0]?.name);
    // The owner reschedules the tables of stopped captures, and moves one table per tick off each
    // capture it drains.
    for (const c of this.captures) {
      const targets = alive.filter((t) => t.name !== c.name && !this.drainingCaptures.has(t.name));
      if (targets.length === 0) continue;
      if (!c.up) {
        for (const t of c.tables.splice(0)) this.pick(targets).tables.push(t);
      } else if (this.drainingCaptures.has(c.name) && c.tables.length > 0) {
        this.pick(targets).tables.push(c.tables.shift() as number);
      }
    }
  }

  /** A new TiCDC owner: its drains in progress are the old owner's memory, lost with it. */
  setCdcOwner(name: string | undefined): void {
    if (name !== this.cdcOwner) this.drainingCaptures.clear();
    this.cdcOwner = name;
  }

  /** The owner starts moving every table off capture `name`; tables it still holds. */
  drainCapture(name: string): number {
    const source = this.captures.find((c) => c.name === name);
    this.drainingCaptures.add(name);
    return source?.tables.length ?? 0;
  }

  /** The region a key lives in. */
  regionOf(key: string): RegionState {
    let h = 2166136261;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
    return this.regions[h % this.regions.length] as RegionState;
  }

  /** Why a key cannot be read or written now (no PD leader for a timestamp, no region leader). */
  unavailable(key: string): { code: number; message: string } | undefined {
    if (!this.pdServing())
      return { code: 9001, message: 'PD server timeout: no PD leader to get a timestamp from' };
    const r = this.regionOf(key);
    if (r.leader === undefined || !this.store(r.leader)?.up)
      return { code: 9005, message: `Region is unavailable: region ${r.id} has no leader` };
    return undefined;
  }
}
