/**
 * A whole TiDB cluster test double on 127.0.0.1 (PD members, TiKV stores, TiDB servers, TiCDC
 * captures, each with its real ports), and the {@link Platform} that runs it: members are the
 * double's "processes", replaced by a graceful stop and a start on the new version after
 * `startMs`. There is no TiDB binary on this machine (the Go proxy refuses tikv/pd and
 * pingcap/tidb), so this platform exists for tests only; docs/engines/tidb.md says what it stands for.
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
import { ticdcServer } from './ticdc-double.js';
import { TidbServerDouble } from './tidb-double.js';
import { tikvStatusServer } from './tikv-double.js';

/** Shape of a double cluster. */
export interface DoubleClusterOptions {
  version: string;
  pd?: number;
  tikv?: number;
  tidb?: number;
  ticdc?: number;
  /** Regions (3 replicas each). 660 gives each of 3 stores 220 leaders, above TiDB Operator's 200. */
  regions?: number;
  timing?: Partial<Timing>;
  seed?: number;
}

type Component = 'pd' | 'tikv' | 'tidb' | 'ticdc';

interface MemberHandle {
  name: string;
  component: Component;
  ordinal: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  port(): number;
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

  /** Build, start every member, and wait until PD has a leader and every store heartbeats. */
  static async create(opts: DoubleClusterOptions): Promise<DoubleCluster> {
    const c = new DoubleCluster(opts);
    c.dir = await mkdtemp(join(tmpdir(), 'baton-tidb-double-'));
    c.journal = new FileJournalStore(join(c.dir, 'upgrades'));
    c.build(opts);
    c.model.placeRegions(opts.regions ?? 660);
    for (const h of c.handles.values()) await h.start();
    c.model.pdLeaderLostAt = -Infinity;
    c.tick = setInterval(() => c.model.step(), c.model.timing.tickMs);
    c.tick.unref();
    await c.until(
      () => c.model.pdServing() && c.model.stores.every((s) => c.model.storeStateName(s) === 'Up'),
    );
    return c;
  }

  private build(opts: DoubleClusterOptions): void {
    const m = this.model;
    const v = opts.version;
    for (let i = 0; i < (opts.pd ?? 3); i++) {
      m.pd.push({ name: `pd-${i}`, ordinal: i, version: v, up: false, port: 0 });
      const http = pdServer(m, `pd-${i}`);
      this.add(`pd-${i}`, 'pd', i, http, (up) => {
        const member = m.pd[i]!;
        member.up = up && !this.brokenPdVersions.has(member.version);
        member.port = http.port;
        return member.up;
      });
    }
    for (let i = 0; i < (opts.tikv ?? 3); i++) {
      const id = i + 1;
      m.stores.push({
        id,
        name: `tikv-${i}`,
        ordinal: i,
        version: v,
        up: false,
        statusPort: 0,
        port: 0,
        startTs: 0,
        lastHeartbeat: 0,
      });
      const http = tikvStatusServer(m, id);
      this.add(`tikv-${i}`, 'tikv', i, http, (up) => {
        const s = m.stores[i]!;
        if (!up) m.counters.leadersAtStop[s.name] = m.leaderCount(id);
        s.up = up;
        s.statusPort = http.port;
        s.port = http.port + 1;
        if (up) s.startTs = m.now();
        return true;
      });
    }
    for (let i = 0; i < (opts.tidb ?? 2); i++) {
      m.tidb.push({
        name: `tidb-${i}`,
        ordinal: i,
        version: v,
        up: false,
        statusPort: 0,
        sqlPort: 0,
        ddlId: `ddl-${i}`,
        connections: 0,
      });
      const server = new TidbServerDouble(m, `tidb-${i}`);
      this.handles.set(`tidb-${i}`, {
        name: `tidb-${i}`,
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
      m.captures.push({
        name: `ticdc-${i}`,
        ordinal: i,
        id: `capture-${i}`,
        version: v,
        up: false,
        port: 0,
        tables: [1, 2, 3, 4].map((t) => 100 + i * 10 + t),
      });
      const http = ticdcServer(m, `ticdc-${i}`);
      this.add(`ticdc-${i}`, 'ticdc', i, http, (up) => {
        m.captures[i]!.up = up;
        m.captures[i]!.port = http.port;
        return true;
      });
    }
  }

  /** A member backed by one HTTP listener; `mark` records up/down and says whether it listens. */
  private add(
    name: string,
    component: Component,
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

  /** The version a member runs (or is starting). */
  versionOf(name: string): string {
    const m = this.model;
    const rec = [...m.pd, ...m.stores, ...m.tidb, ...m.captures].find((x) => x.name === name);
    return rec?.version ?? '';
  }

  private setVersion(name: string, version: string): void {
    const m = this.model;
    const rec = [...m.pd, ...m.stores, ...m.tidb, ...m.captures].find((x) => x.name === name);
    if (rec) rec.version = version;
  }

  private isUp(name: string): boolean {
    const m = this.model;
    return [...m.pd, ...m.stores, ...m.tidb, ...m.captures].some((x) => x.name === name && x.up);
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
    this.model.counters.restarts[name] = (this.model.counters.restarts[name] ?? 0) + 1;
    this.model.counters.restartLog.push({ name, at: this.model.now() });
    this.starting.add(name);
    await h.stop();
    this.setVersion(name, version);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void h.start().finally(() => this.starting.delete(name));
    }, this.model.timing.startMs);
    this.timers.add(timer);
  }

  async stopMember(name: string, _ctx: PortContext): Promise<void> {
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
