/**
 * A whole TiDB cluster test double on 127.0.0.1 (PD members, TiKV and TiFlash stores, TiProxy
 * instances, Pump nodes, TiDB servers, TiCDC captures, each with its real ports), and the
 * {@link Platform} that runs it: members are the double's "processes", replaced by a graceful stop
 * and a start on the new version after `startMs`. The same members can instead be run by pods on
 * the Kubernetes test control plane ({@link DoubleCluster.startMember} and
 * {@link DoubleCluster.stopMember} from a pod runtime: see pods.ts). There is no TiDB binary on
 * this machine (the Go proxy refuses tikv/pd and pingcap/tidb), so this exists for tests only;
 * docs/engines/tidb.md says what it stands for.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Platform, PortContext, ReplaceOptions } from '../../src/core/ports.js';
import type { PlatformMember } from '../../src/core/types.js';
import { FileJournalStore } from '../../src/platforms/local/journal.js';
import type { RestartableHttp } from './http-server.js';
import { ClusterModel, TEST_TIMING, type Timing } from './model.js';
import { pdServer } from './pd-double.js';
import { pumpServer } from './pump-double.js';
import { ticdcServer } from './ticdc-double.js';
import { TidbServerDouble } from './tidb-double.js';
import { tiflashStatusServer } from './tiflash-double.js';
import { tikvStatusServer } from './tikv-double.js';
import { tiproxyServer } from './tiproxy-double.js';

/** Shape of a double cluster. */
export interface DoubleClusterOptions {
  version: string;
  pd?: number;
  tikv?: number;
  tiflash?: number;
  tiproxy?: number;
  /** TiProxy's own version (its v1.x line); default `version`. */
  tiproxyVersion?: string;
  pump?: number;
  tidb?: number;
  ticdc?: number;
  /** Regions (3 replicas each). 660 gives each of 3 stores 220 leaders, above TiDB Operator's 200. */
  regions?: number;
  timing?: Partial<Timing>;
  seed?: number;
  /** Member names are `<prefix><component>-<ordinal>` (TiDB Operator: `<cluster>-pd-0`). */
  prefix?: string;
}

/** Components of the double. */
export type DoubleComponent = 'pd' | 'tikv' | 'tiflash' | 'tiproxy' | 'pump' | 'tidb' | 'ticdc';

interface MemberHandle {
  name: string;
  component: DoubleComponent;
  ordinal: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  port(): number;
}

/** The model record of any member (each has its name, version and whether it runs). */
interface MemberRecord {
  name: string;
  version: string;
  up: boolean;
}

/** The double and its platform. */
export class DoubleCluster implements Platform {
  readonly name = 'tidb-double';
  readonly model: ClusterModel;
  journal!: FileJournalStore;
  /** PD members starting one of these versions crash at once (a bad image or configuration). */
  readonly brokenPdVersions = new Set<string>();
  private readonly handles = new Map<string, MemberHandle>();
  private readonly starting = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private tick: NodeJS.Timeout | undefined;
  private dir = '';

  private constructor(opts: DoubleClusterOptions) {
    this.model = new ClusterModel({ ...TEST_TIMING, ...opts.timing }, opts.version, Date.now, opts.seed ?? 1);
  }

  /** Build, start every member and wait until the cluster is formed ({@link DoubleCluster.formed}). */
  static async create(opts: DoubleClusterOptions): Promise<DoubleCluster> {
    const c = new DoubleCluster(opts);
    c.dir = await mkdtemp(join(tmpdir(), 'baton-tidb-double-'));
    c.journal = new FileJournalStore(join(c.dir, 'upgrades'));
    c.build(opts);
    c.model.placeRegions(opts.regions ?? 660);
    c.tick = setInterval(() => c.model.step(), c.model.timing.tickMs);
    c.tick.unref();
    for (const h of c.handles.values()) await h.start();
    await c.formed();
    return c;
  }

  /** Wait until PD has a leader and every store heartbeats (the cluster's first start is over). */
  async formed(ms = 10_000): Promise<void> {
    this.model.pdLeaderLostAt = -Infinity;
    await this.until(
      () => this.model.pdServing() && this.model.stores.every((s) => this.model.storeStateName(s) === 'Up'),
      ms,
    );
  }

  private build(opts: DoubleClusterOptions): void {
    const m = this.model;
    const v = opts.version;
    const p = opts.prefix ?? '';
    for (let i = 0; i < (opts.pd ?? 3); i++) {
      m.pd.push({ name: `${p}pd-${i}`, ordinal: i, version: v, up: false, port: 0 });
      const http = pdServer(m, `${p}pd-${i}`);
      this.add(`${p}pd-${i}`, 'pd', i, http, (up) => {
        const member = m.pd[i]!;
        member.up = up && !this.brokenPdVersions.has(member.version);
        member.port = http.port;
        return member.up;
      });
    }
    const engines = [
      ...Array.from({ length: opts.tikv ?? 3 }, (_, i) => ['tikv', i] as const),
      ...Array.from({ length: opts.tiflash ?? 0 }, (_, i) => ['tiflash', i] as const),
    ];
    for (const [engine, i] of engines) {
      const id = m.stores.length + 1;
      const name = `${p}${engine}-${i}`;
      m.stores.push({
        id,
        name,
        engine,
        ordinal: i,
        version: v,
        up: false,
        statusPort: 0,
        port: 0,
        startTs: 0,
        lastHeartbeat: 0,
      });
      const http = engine === 'tikv' ? tikvStatusServer(m, id) : tiflashStatusServer(m, id);
      this.add(name, engine, i, http, (up) => {
        const s = m.store(id)!;
        if (!up) m.counters.leadersAtStop[s.name] = m.leaderCount(id);
        s.up = up;
        s.statusPort = http.port;
        s.port = http.port + 1;
        if (up) s.startTs = m.now();
        return true;
      });
    }
    for (let i = 0; i < (opts.tiproxy ?? 0); i++) {
      const name = `${p}tiproxy-${i}`;
      m.proxies.push({ name, ordinal: i, version: opts.tiproxyVersion ?? v, up: false, port: 0, readyAt: 0 });
      const http = tiproxyServer(m, name);
      this.add(name, 'tiproxy', i, http, (up) => {
        const x = m.proxies[i]!;
        x.up = up;
        x.port = http.port;
        if (up) x.readyAt = m.now() + m.timing.tiproxyReadyMs;
        return true;
      });
    }
    for (let i = 0; i < (opts.pump ?? 0); i++) {
      const name = `${p}pump-${i}`;
      m.pumps.push({
        name,
        ordinal: i,
        nodeId: '',
        version: v,
        up: false,
        port: 0,
        state: 'offline',
        maxCommitTS: 0,
      });
      const http = pumpServer(m);
      this.add(name, 'pump', i, http, (up) => {
        const x = m.pumps[i]!;
        x.up = up;
        x.port = http.port;
        x.nodeId = `${name}:${http.port}`;
        // Pump registers itself online when it starts, and commits `paused` when it stops.
        x.state = up ? 'online' : 'paused';
        if (up) x.maxCommitTS = m.now() * 2 ** 18;
        return true;
      });
    }
    for (let i = 0; i < (opts.tidb ?? 2); i++) {
      const name = `${p}tidb-${i}`;
      m.tidb.push({
        name,
        ordinal: i,
        version: v,
        up: false,
        statusPort: 0,
        sqlPort: 0,
        ddlId: `ddl-${i}`,
        connections: 0,
      });
      const server = new TidbServerDouble(m, name);
      this.handles.set(name, {
        name,
        component: 'tidb',
        ordinal: i,
        start: async () => {
          await server.start();
          m.tidb[i]!.up = true;
        },
        stop: async () => {
          m.tidb[i]!.up = false;
          await server.stop();
        },
        port: () => server.status.port,
      });
    }
    for (let i = 0; i < (opts.ticdc ?? 0); i++) {
      const name = `${p}ticdc-${i}`;
      m.captures.push({
        name,
        ordinal: i,
        id: `capture-${i}`,
        version: v,
        up: false,
        port: 0,
        tables: [1, 2, 3, 4].map((t) => 100 + i * 10 + t),
      });
      const http = ticdcServer(m, name);
      this.add(name, 'ticdc', i, http, (up) => {
        const x = m.captures[i]!;
        if (!up && x.up)
          m.counters.capturesAtStop[name] = { tables: x.tables.length, owner: m.cdcOwner === name };
        m.captures[i]!.up = up;
        m.captures[i]!.port = http.port;
        return true;
      });
    }
  }

  /** A member backed by one HTTP listener; `mark` records up/down and says whether it listens. */
  private add(
    name: string,
    component: DoubleComponent,
    ordinal: number,
    http: RestartableHttp,
    mark: (up: boolean) => boolean,
  ) {
    this.handles.set(name, {
      name,
      component,
      ordinal,
      start: async () => {
        await http.start();
        if (!mark(true)) await http.stop();
      },
      stop: async () => {
        mark(false);
        await http.stop();
      },
      port: () => http.port,
    });
  }

  private record(name: string): MemberRecord | undefined {
    const m = this.model;
    const all: MemberRecord[] = [...m.pd, ...m.stores, ...m.proxies, ...m.pumps, ...m.tidb, ...m.captures];
    return all.find((x) => x.name === name);
  }

  /** Names of every member. */
  memberNames(): string[] {
    return [...this.handles.keys()];
  }

  /** The component of a member. */
  componentOf(name: string): DoubleComponent | undefined {
    return this.handles.get(name)?.component;
  }

  /** The version a member runs (or is starting). */
  versionOf(name: string): string {
    return this.record(name)?.version ?? '';
  }

  /** The member's process runs (and, for PD, did not crash at start). */
  isUp(name: string): boolean {
    return this.record(name)?.up === true;
  }

  async listMembers(_ctx: PortContext): Promise<PlatformMember[]> {
    return [...this.handles.values()].map((h) => {
      const up = this.isUp(h.name);
      const starting = this.starting.has(h.name);
      const failed =
        h.component === 'pd' && !up && !starting && this.brokenPdVersions.has(this.versionOf(h.name));
      return {
        name: h.name,
        component: h.component,
        ordinal: h.ordinal,
        version: this.versionOf(h.name),
        ready: up,
        running: up || starting || failed,
        endpoint: `127.0.0.1:${h.port()}`,
        ...(failed
          ? { failed: true, detail: 'CrashLoopBackOff: pd-server exits at start (bad configuration)' }
          : {}),
      };
    });
  }

  /**
   * Graceful stop, then start on `version` after `startMs`. A member already running or starting
   * `version` is left alone, so a replace repeated after a crash restarts nothing twice.
   */
  async replaceMember(
    name: string,
    version: string,
    _opts: ReplaceOptions,
    _ctx: PortContext,
  ): Promise<void> {
    const h = this.handles.get(name);
    if (!h) throw new Error(`no member ${name}`);
    if (this.versionOf(name) === version && (this.isUp(name) || this.starting.has(name))) return;
    this.countRestart(name);
    this.starting.add(name);
    await h.stop();
    this.setVersion(name, version);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void h.start().finally(() => this.starting.delete(name));
    }, this.model.timing.startMs);
    this.timers.add(timer);
  }

  /** Count a restart Baton caused (the counters tests check: one per member and upgrade). */
  countRestart(name: string): void {
    this.model.counters.restarts[name] = (this.model.counters.restarts[name] ?? 0) + 1;
    this.model.counters.restartLog.push({
      name,
      at: this.model.now(),
      pdLeader: this.model.pdLeader,
      notServing: this.model.notServing(),
    });
  }

  private setVersion(name: string, version: string): void {
    const rec = this.record(name);
    if (rec) rec.version = version;
  }

  /** Start a member's process on `version` (a pod's container starting). */
  async startMember(name: string, version: string): Promise<void> {
    const h = this.handles.get(name);
    if (!h) throw new Error(`no member ${name}`);
    this.setVersion(name, version);
    await h.start();
  }

  /** Stop a member's process gracefully. */
  async stopMember(name: string, _ctx?: PortContext): Promise<void> {
    await this.handles.get(name)?.stop();
  }

  /** Stop and start a member on the version it runs (a crash and a restart outside Baton). */
  async restart(name: string): Promise<void> {
    const h = this.handles.get(name);
    await h?.stop();
    await h?.start();
  }

  /** Endpoint of a member (`127.0.0.1:port`). */
  endpoint(name: string): string {
    return `127.0.0.1:${this.handles.get(name)?.port() ?? 0}`;
  }

  /** SQL endpoints of the TiDB servers that run. */
  sqlEndpoints(): string[] {
    return this.model.tidb.filter((t) => t.up).map((t) => `127.0.0.1:${t.sqlPort}`);
  }

  /** Poll `pred` every tick until it holds (at most `ms`). */
  async until(pred: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error('double cluster: condition not reached in time');
      await new Promise((r) => setTimeout(r, this.model.timing.tickMs));
    }
  }

  /** Stop everything and remove the journal directory. */
  async close(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    for (const t of this.timers) clearTimeout(t);
    for (const h of this.handles.values()) await h.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
