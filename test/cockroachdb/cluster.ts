/**
 * The state of a CockroachDB test double: nodes, ranges with replicas and leaseholders, the
 * cluster version and `cluster.preserve_downgrade_option`, moving as a real cluster's do while
 * nodes drain, stop and restart. Only the behaviour Baton relies on is modelled, each after the
 * real code (cockroachdb/cockroach):
 * - auto-upgrade (pkg/server/auto_upgrade.go `upgradeStatus`/`isAutoUpgradeEnabled`): once every
 *   non-decommissioned node is live and runs the same binary major, and
 *   `cluster.preserve_downgrade_option` is not the active cluster version, the cluster version is
 *   moved to the binaries' major; while the migrations run it reads
 *   `24.1-upgrading-to-24.2-step-NNN`;
 * - the option's validation (pkg/clusterversion/setting.go): it can only be set to the active
 *   cluster version;
 * - a binary refuses to start against a cluster version it does not support (its own major or the
 *   one before it, or two before across an Innovation release: "minimum supported version");
 * - store metrics (`ranges.underreplicated`, `ranges.unavailable`, `replicas.leaseholders`) are
 *   gauges recomputed periodically by each store for the ranges it leads, from node liveness;
 * - Drain (pkg/server/drain.go): a draining node refuses new SQL clients, reports not ready on
 *   `/health?ready=1`, and transfers its leases away during each Drain call, within a time budget;
 * - leases of a stopped node are taken over by another replica once they expire; a restarted node
 *   is live after its first liveness heartbeat and gets leases back by rebalancing.
 * Times are configurable so that tests run in well under a second per node restart.
 */
import { COCKROACHDB_INNOVATION, COCKROACHDB_MAJORS } from '../../src/engines/cockroachdb/rules.js';

/** Timing and shape of a double cluster. */
export interface CockroachDoubleOptions {
  nodes: number;
  /** Binary version every node starts with, e.g. `24.1.3`. */
  version: string;
  /** Active cluster version; default the major of `version`. */
  clusterVersion?: string;
  /** `cluster.preserve_downgrade_option` at start; default unset. */
  preserveDowngrade?: string;
  ranges?: number;
  tickMs?: number;
  /** Process start to first liveness heartbeat (ready). */
  startupMs?: number;
  /** A stopped node's leases are taken over after this long. */
  leaseExpiryMs?: number;
  /** Store gauges are recomputed this often. */
  metricsIntervalMs?: number;
  /** How long the upgrade migrations of a finalization take. */
  migrationMs?: number;
  /** Time one lease transfer takes during a drain. */
  leaseTransferMs?: number;
  /** Work budget of one Drain call (real: `server.shutdown.lease_transfer_iteration.timeout`). */
  drainBudgetMs?: number;
}

/** One node of the double. */
export interface DoubleNode {
  id: number;
  /** Binary version, e.g. `24.1.3`. */
  binary: string;
  process: 'running' | 'stopped' | 'crashed';
  startedAt: number;
  stoppedAt: number;
  draining: boolean;
  /** Why the last start failed. */
  crashReason?: string;
  /** Gauges as last computed by the node's store. */
  gauges: { underReplicated: number; unavailable: number; leaseholders: number; replicas: number };
}

interface Range {
  id: number;
  replicas: number[];
  leaseholder: number;
}

function majorOf(version: string): string {
  const m = /^(\d+)\.(\d+)/.exec(version);
  return m ? `${m[1]}.${m[2]}` : version;
}

/** Whether a binary of major `binary` can run a cluster at major `cluster`. */
export function binarySupports(binary: string, cluster: string): boolean {
  if (binary === cluster) return true;
  const i = COCKROACHDB_MAJORS.indexOf(binary);
  if (i < 1) return false;
  const prev = COCKROACHDB_MAJORS[i - 1]!;
  if (cluster === prev) return true;
  return COCKROACHDB_INNOVATION.includes(prev) && i >= 2 && cluster === COCKROACHDB_MAJORS[i - 2];
}

/** The cluster-wide state and its background loop. */
export class CockroachDoubleCluster {
  readonly nodes: DoubleNode[];
  readonly ranges: Range[];
  clusterMajor: string;
  preserveDowngrade: string;
  /** Set while finalization migrations run. */
  upgrading?: { to: string; since: number };
  /** Statements the SQL servers executed, in order (for tests). */
  readonly statements: string[] = [];
  /** Ranges every store reports under-replicated on top of the real count (a stuck replica, for tests). */
  extraUnderReplicated = 0;
  /** Drain calls per node ID (for tests). */
  readonly drains = new Map<number, number>();
  /**
   * `system.web_sessions` (pkg/sql/catalog/systemschema): DB Console sessions by id, with the
   * SHA-256 of their secret (hex), the user and the expiry (ms). Ids are `unique_rowid()`-sized.
   */
  readonly webSessions = new Map<bigint, { hashedSecret: string; username: string; expiresAt: number }>();
  private nextSessionId = 1_000_000_000_000n;
  private readonly o: Required<Omit<CockroachDoubleOptions, 'clusterVersion' | 'preserveDowngrade'>>;
  private timer?: NodeJS.Timeout;
  private lastMetricsAt = 0;

  constructor(opts: CockroachDoubleOptions) {
    this.o = {
      ranges: 24,
      tickMs: 25,
      startupMs: 150,
      leaseExpiryMs: 250,
      metricsIntervalMs: 100,
      migrationMs: 300,
      leaseTransferMs: 10,
      drainBudgetMs: 1000,
      ...opts,
    };
    const now = Date.now();
    this.clusterMajor = opts.clusterVersion ?? majorOf(opts.version);
    this.preserveDowngrade = opts.preserveDowngrade ?? '';
    this.nodes = Array.from({ length: opts.nodes }, (_, i) => ({
      id: i + 1,
      binary: opts.version,
      process: 'running' as const,
      // Already live at creation: the cluster was running before the test looked.
      startedAt: now - this.o.startupMs,
      stoppedAt: 0,
      draining: false,
      gauges: { underReplicated: 0, unavailable: 0, leaseholders: 0, replicas: 0 },
    }));
    const rf = Math.min(3, opts.nodes);
    this.ranges = Array.from({ length: this.o.ranges }, (_, r) => {
      const replicas = Array.from({ length: rf }, (_, k) => ((r + k) % opts.nodes) + 1);
      return { id: r + 1, replicas, leaseholder: replicas[0]! };
    });
    this.recomputeGauges();
  }

  /** `INSERT INTO system.web_sessions ... RETURNING id`: a new session's id. */
  addWebSession(hashedSecret: string, username: string, expiresAt: number): bigint {
    const id = this.nextSessionId++;
    this.webSessions.set(id, { hashedSecret: hashedSecret.toLowerCase(), username, expiresAt });
    return id;
  }

  /** Start the background loop (liveness, lease expiry and rebalancing, gauges, auto-upgrade). */
  start(): void {
    this.timer ??= setInterval(() => this.tick(Date.now()), this.o.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  node(id: number): DoubleNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Live: the process runs and has sent its first liveness heartbeat. */
  isLive(n: DoubleNode, now = Date.now()): boolean {
    return n.process === 'running' && now - n.startedAt >= this.o.startupMs;
  }

  /** livenesspb.NodeLivenessStatus as an integer (3 LIVE, 2 UNAVAILABLE, 6 DRAINING, 7 STARTING). */
  livenessStatus(n: DoubleNode, now = Date.now()): number {
    if (n.process !== 'running') return 2;
    if (!this.isLive(n, now)) return 7;
    return n.draining ? 6 : 3;
  }

  /** `SHOW CLUSTER SETTING version`. */
  clusterVersionString(now = Date.now()): string {
    if (!this.upgrading) return this.clusterMajor;
    const step = Math.min(998, 2 * (1 + Math.floor((now - this.upgrading.since) / 20)));
    return `${this.clusterMajor}-upgrading-to-${this.upgrading.to}-step-${String(step).padStart(3, '0')}`;
  }

  /** `SET CLUSTER SETTING cluster.preserve_downgrade_option = v`; throws the real validation error. */
  setPreserveDowngrade(value: string): void {
    const active = this.clusterVersionString();
    if (value !== active) {
      throw new Error(
        `cannot set cluster.preserve_downgrade_option to ${value} (cluster version is ${active})`,
      );
    }
    this.preserveDowngrade = value;
  }

  resetPreserveDowngrade(): void {
    this.preserveDowngrade = '';
  }

  /** Stop a node's process (the pod goes away). Its servers are closed by the owner. */
  stopNode(id: number): void {
    const n = this.node(id);
    n.process = 'stopped';
    n.stoppedAt = Date.now();
    n.draining = false;
  }

  /**
   * Start a node's process on `binary`. A binary that does not support the active cluster version
   * exits at once (`crashed`, with the reason), as the real one does.
   */
  startNode(id: number, binary: string): boolean {
    const n = this.node(id);
    n.binary = binary;
    n.draining = false;
    const major = majorOf(binary);
    if (!binarySupports(major, this.clusterMajor)) {
      n.process = 'crashed';
      n.crashReason =
        COCKROACHDB_MAJORS.indexOf(major) < COCKROACHDB_MAJORS.indexOf(this.clusterMajor)
          ? `binary version ${major} is older than the active cluster version ${this.clusterMajor}`
          : `cluster version ${this.clusterMajor} is older than the minimum version binary ${major} supports`;
      return false;
    }
    n.process = 'running';
    n.crashReason = undefined;
    n.startedAt = Date.now();
    return true;
  }

  /**
   * One Drain call on node `id` (pkg/server/drain.go): mark it draining, then transfer leases to
   * other live, non-draining replicas, one per `leaseTransferMs`, for at most `drainBudgetMs`.
   * Resolves with the work that was left when the call started.
   */
  async drain(id: number): Promise<{ remaining: number; description: string }> {
    const n = this.node(id);
    this.drains.set(id, (this.drains.get(id) ?? 0) + 1);
    n.draining = true;
    const held = this.ranges.filter((r) => r.leaseholder === id);
    const remaining = held.length;
    const deadline = Date.now() + this.o.drainBudgetMs;
    for (const r of held) {
      if (Date.now() >= deadline || n.process !== 'running') break;
      await new Promise((res) => setTimeout(res, this.o.leaseTransferMs));
      const target = this.leaseTarget(r, id);
      if (target !== undefined) r.leaseholder = target;
    }
    this.recomputeGauges();
    return { remaining, description: remaining > 0 ? `range lease transfers: ${remaining}` : '' };
  }

  /** The live, non-draining replica of `r` other than `from` with the fewest leases. */
  private leaseTarget(r: Range, from: number): number | undefined {
    const now = Date.now();
    const counts = new Map<number, number>();
    for (const x of this.ranges) counts.set(x.leaseholder, (counts.get(x.leaseholder) ?? 0) + 1);
    return r.replicas
      .filter((id) => id !== from)
      .map((id) => this.node(id))
      .filter((c) => this.isLive(c, now) && !c.draining)
      .sort((a, b) => (counts.get(a.id) ?? 0) - (counts.get(b.id) ?? 0) || a.id - b.id)[0]?.id;
  }

  private tick(now: number): void {
    // Leases of a node that is down expire and are taken over by a live replica.
    for (const r of this.ranges) {
      const holder = this.node(r.leaseholder);
      if (holder.process !== 'running' && now - holder.stoppedAt >= this.o.leaseExpiryMs) {
        const target = this.leaseTarget(r, holder.id);
        if (target !== undefined) r.leaseholder = target;
      }
    }
    this.rebalanceOneLease(now);
    if (now - this.lastMetricsAt >= this.o.metricsIntervalMs) this.recomputeGauges(now);
    this.autoUpgrade(now);
  }

  /** The lease rebalancer: one lease per tick from the busiest to the idlest live node. */
  private rebalanceOneLease(now: number): void {
    const live = this.nodes.filter((n) => this.isLive(n, now) && !n.draining);
    if (live.length < 2) return;
    const count = (id: number) => this.ranges.filter((r) => r.leaseholder === id).length;
    const idle = [...live].sort((a, b) => count(a.id) - count(b.id))[0]!;
    const busy = [...live].sort((a, b) => count(b.id) - count(a.id))[0]!;
    if (count(busy.id) - count(idle.id) < 2) return;
    const r = this.ranges.find((x) => x.leaseholder === busy.id && x.replicas.includes(idle.id));
    if (r) r.leaseholder = idle.id;
  }

  /** Each store's gauges over the ranges it leads (the first live replica leads a leaderless range). */
  recomputeGauges(now = Date.now()): void {
    this.lastMetricsAt = now;
    for (const n of this.nodes)
      n.gauges = { underReplicated: 0, unavailable: 0, leaseholders: 0, replicas: 0 };
    for (const r of this.ranges) {
      const live = r.replicas.filter((id) => this.isLive(this.node(id), now));
      for (const id of r.replicas) this.node(id).gauges.replicas += 1;
      const reporter = this.isLive(this.node(r.leaseholder), now) ? r.leaseholder : live[0];
      if (reporter === undefined) continue;
      const g = this.node(reporter).gauges;
      if (r.leaseholder === reporter) g.leaseholders += 1;
      if (live.length < r.replicas.length) g.underReplicated += 1;
      if (live.length <= r.replicas.length / 2) g.unavailable += 1;
    }
    const first = this.nodes.find((n) => this.isLive(n, now));
    if (first) first.gauges.underReplicated += this.extraUnderReplicated;
  }

  /** pkg/server/auto_upgrade.go, one iteration of its retry loop. */
  private autoUpgrade(now: number): void {
    if (this.upgrading) {
      if (now - this.upgrading.since >= this.o.migrationMs) {
        this.clusterMajor = this.upgrading.to;
        this.upgrading = undefined;
      }
      return;
    }
    if (this.nodes.some((n) => !this.isLive(n, now))) return;
    const majors = new Set(this.nodes.map((n) => majorOf(n.binary)));
    if (majors.size !== 1) return;
    const target = [...majors][0]!;
    if (COCKROACHDB_MAJORS.indexOf(target) <= COCKROACHDB_MAJORS.indexOf(this.clusterMajor)) return;
    if (this.preserveDowngrade !== '' && this.preserveDowngrade === this.clusterMajor) return;
    this.upgrading = { to: target, since: now };
  }
}
