/**
 * The local platform: members are real processes on 127.0.0.1, started detached so they outlive
 * Baton, recorded in `<stateDir>/clusters/<name>/cluster.json` and re-attached by {@link LocalPlatform.open}
 * after a crash. What is specific to a database (binaries per version, data initialisation, the
 * command line, readiness) comes from its {@link LocalEngineAdapter}.
 *
 * Layout of a cluster directory:
 * ```
 * cluster.json                  state (ports, versions, process identities), written atomically
 * members/<engine>-<i>/data     the member's data directory
 * members/<engine>-<i>/member.log  stdout and stderr of every process the member ran, appended
 * upgrades/                     the upgrade journal (FileJournalStore)
 * ```
 * Member names are `<adapter.engine>-<ordinal>` (`etcd-0`, `etcd-1`, ...) and every member belongs
 * to the component named like the engine.
 */
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { waitUntil } from '../../core/wait.js';
import { dirname, join, resolve } from 'node:path';
import { BadInputError, OperationalError, describeError } from '../../core/errors.js';
import type { Platform, PortContext, ReplaceOptions } from '../../core/ports.js';
import type { PlatformMember, PrecheckResult, Snapshot, UpgradeSpec } from '../../core/types.js';
import { atVersion } from '../../core/version.js';
import { FileJournalStore } from './journal.js';
import type { AdapterContext, LocalClusterLayout, LocalEngineAdapter, LocalMemberLayout } from './adapter.js';
import { withClusterLock } from './lock.js';
import { canBind, pickFreePorts } from './ports.js';
import type { ChildExit, ProcessIdentity, StopOutcome } from './process.js';
import {
  chownTree,
  effectiveRunAs,
  findLaunched,
  isAlive,
  spawnDetached,
  stopProcess,
  tailFile,
} from './process.js';
import type { ClusterState, MemberRecord } from './state.js';
import {
  clusterDir,
  clustersDir,
  listClusterNames,
  readClusterState,
  recordedPorts,
  writeClusterState,
} from './state.js';

const NAME_RE = /^[a-z0-9-]{1,40}$/;
const MAX_MEMBERS = 15;
/** Default bound for the graceful stop before SIGKILL. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** Default bound for a member to answer its ping at creation or in {@link LocalPlatform.waitReady}. */
export const DEFAULT_READY_TIMEOUT_MS = 60_000;
/** Most {@link LocalPlatform.delete} waits for a graceful stop before SIGKILL. */
export const DELETE_STOP_TIMEOUT_MS = 2_000;
/** Bound of one adapter ping made by listMembers. */
const PING_TIMEOUT_MS = 3_000;
/** The file in a member's directory its process writes its PID to when launched. */
const LAUNCH_PID_FILE = 'launch.pid';
/** Bound for a stopped member's ports to become bindable again before it is relaunched. */
const PORT_RELEASE_TIMEOUT_MS = 5_000;
const POLL_MS = 100;

/** Tunables shared by {@link LocalPlatform.create} and {@link LocalPlatform.open}. */
export interface LocalPlatformTuning {
  /** Graceful stop bound before SIGKILL; default {@link DEFAULT_STOP_TIMEOUT_MS}. */
  stopTimeoutMs?: number;
  /** Bound for members to answer at creation; default {@link DEFAULT_READY_TIMEOUT_MS}. */
  readyTimeoutMs?: number;
}

/** Options of {@link LocalPlatform.create}. */
export interface LocalCreateOptions extends LocalPlatformTuning {
  stateDir: string;
  /** Cluster name: `[a-z0-9-]{1,40}`, unique under the state directory. */
  name: string;
  adapter: LocalEngineAdapter;
  /** Version label every member starts on (may carry `+build` metadata). */
  version: string;
  /** Number of members, 1 to 15. */
  members: number;
  /** Version label -> binary path (`--binary VERSION=PATH`); recorded for later `open`s. */
  registeredBinaries?: Record<string, string>;
  ctx: PortContext;
  /** Uniform in [0, 1) for port selection; default Math.random. */
  random?: () => number;
  /** Inclusive range member ports are drawn from; default 20000-32000. */
  portRange?: readonly [number, number];
}

/** Options of {@link LocalPlatform.open}. */
export interface LocalOpenOptions extends LocalPlatformTuning {
  stateDir: string;
  name: string;
  /** Adapters by engine name; the one named in the state file is used. */
  adapters: Record<string, LocalEngineAdapter>;
  /** Added to (and overriding) the binaries recorded at creation. */
  registeredBinaries?: Record<string, string>;
  ctx: PortContext;
}

/** One member in {@link LocalPlatform.list}. */
export interface LocalMemberSummary {
  name: string;
  version: string;
  pid?: number;
  ports: Record<string, number>;
  /** The process Baton recorded is still the one running under that PID. */
  alive: boolean;
}

/** One cluster in {@link LocalPlatform.list}. */
export interface LocalClusterSummary {
  name: string;
  engine: string;
  dir: string;
  members: LocalMemberSummary[];
}

function validateName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new BadInputError(
      'bad-cluster-name',
      `cluster name "${name}" is not valid: use 1 to 40 lowercase letters, digits and '-'`,
    );
  }
}

function toLayout(m: MemberRecord): LocalMemberLayout {
  return {
    name: m.name,
    ordinal: m.ordinal,
    host: m.host,
    ports: { ...m.ports },
    dataDir: m.dataDir,
    logFile: m.logFile,
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([p.catch(() => fallback), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A cluster of local processes. Every mutation is serialised within this object and across
 * processes (the cluster's lock file) and re-reads the state file first, so a second Baton process
 * (a CLI verb) sees and keeps what this one recorded.
 * Only processes whose PID *and* start time match what was recorded are ever signalled.
 */
export class LocalPlatform implements Platform {
  readonly name = 'local';
  /** Upgrades of this cluster, stored under `<clusterDir>/upgrades`. */
  readonly journal: FileJournalStore;
  /** Directory of this cluster. */
  readonly dir: string;
  private state: ClusterState;
  private readonly adapter: LocalEngineAdapter;
  private readonly extraBinaries: Record<string, string>;
  private readonly stopTimeoutMs: number;
  private readonly readyTimeoutMs: number;
  /** Exits seen by this process for children it spawned, by member name. */
  private readonly exits = new Map<string, ChildExit>();
  /** The pid of the process this object last started for each member (its exit is reported here). */
  private readonly spawned = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    dir: string,
    state: ClusterState,
    adapter: LocalEngineAdapter,
    binaries: Record<string, string>,
    tuning: LocalPlatformTuning,
  ) {
    this.dir = dir;
    this.state = state;
    this.adapter = adapter;
    this.extraBinaries = binaries;
    this.stopTimeoutMs = tuning.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    this.readyTimeoutMs = tuning.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    this.journal = new FileJournalStore(join(dir, 'upgrades'));
  }

  /**
   * Create a cluster: choose free ports, record the layout, initialise and start every member
   * (in `adapter.startOrder`), wait until each answers its ping, then `adapter.bootstrap`. On any
   * failure everything started is stopped, the cluster directory is removed, and the error names
   * the member and carries the tail of its log. BadInputError for an invalid or taken name, a bad
   * member count or a version that is not installed.
   */
  static async create(options: LocalCreateOptions): Promise<LocalPlatform> {
    // Recorded paths are absolute, so a later `open` from another working directory finds them.
    const opts = { ...options, stateDir: resolve(options.stateDir) };
    const { ctx, adapter } = opts;
    validateName(opts.name);
    if (!Number.isInteger(opts.members) || opts.members < 1 || opts.members > MAX_MEMBERS) {
      throw new BadInputError(
        'bad-member-count',
        `member count ${opts.members} is not valid: use 1 to ${MAX_MEMBERS}`,
      );
    }
    const registered = { ...(opts.registeredBinaries ?? {}) };
    await adapter.binaries(opts.version, { registeredBinaries: registered });
    const dir = clusterDir(opts.stateDir, opts.name);
    await mkdir(clustersDir(opts.stateDir), { recursive: true });
    try {
      await mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        if (!(await readClusterState(dir).catch(() => undefined))) {
          throw new BadInputError(
            'cluster-exists',
            `cluster directory ${dir} exists without a state file (a create is running or was interrupted): wait for it, or remove the directory and retry`,
          );
        }
        throw new BadInputError(
          'cluster-exists',
          `cluster "${opts.name}" already exists in ${opts.stateDir}: choose another name or delete it first`,
        );
      }
      throw err;
    }
    let platform: LocalPlatform | undefined;
    try {
      const perMember = adapter.portNames.length;
      const now = ctx.clock.now();
      const members: MemberRecord[] = [];
      const state: ClusterState = {
        schema: 1,
        name: opts.name,
        engine: adapter.engine,
        createdAt: now,
        updatedAt: now,
        registeredBinaries: registered,
        members,
      };
      // Ports are chosen and recorded under the state directory's lock, so two clusters created at
      // once never pick the same free port.
      await withClusterLock(clustersDir(opts.stateDir), ctx.clock, async () => {
        const ports = await pickFreePorts(opts.members * perMember, {
          exclude: await recordedPorts(opts.stateDir),
          random: opts.random ?? Math.random,
          ...(opts.portRange ? { range: opts.portRange } : {}),
        });
        for (let i = 0; i < opts.members; i++) {
          const name = `${adapter.engine}-${i}`;
          const memberDir = join(dir, 'members', name);
          await mkdir(memberDir, { recursive: true });
          const memberPorts: Record<string, number> = {};
          adapter.portNames.forEach((p, j) => (memberPorts[p] = ports[i * perMember + j] as number));
          members.push({
            name,
            ordinal: i,
            host: '127.0.0.1',
            ports: memberPorts,
            dataDir: join(memberDir, 'data'),
            logFile: join(memberDir, 'member.log'),
            version: opts.version,
            settings: {},
            desired: 'running',
          });
        }
        await writeClusterState(dir, state);
      });
      platform = new LocalPlatform(dir, state, adapter, {}, opts);
      await platform.startAtCreation(opts.version, ctx);
      ctx.logger.info('local cluster created', { cluster: opts.name, engine: adapter.engine, dir });
      return platform;
    } catch (err) {
      if (platform) {
        await platform.stopEvery('create failed', DELETE_STOP_TIMEOUT_MS, ctx).catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * The engine local cluster `name` under `stateDir` runs, read from its state file without opening
   * it (so a caller can load only that engine's adapter); undefined when there is no such cluster.
   */
  static async engineOf(stateDir: string, name: string): Promise<string | undefined> {
    validateName(name);
    return (await readClusterState(clusterDir(resolve(stateDir), name)))?.engine;
  }

  /**
   * Re-attach to an existing cluster after this or another Baton process created it. Members keep
   * running untouched; a recorded PID that is gone or now belongs to another process is reported
   * as not running (and never signalled). BadInputError when the cluster or its engine's adapter
   * is unknown.
   */
  static async open(options: LocalOpenOptions): Promise<LocalPlatform> {
    const opts = { ...options, stateDir: resolve(options.stateDir) };
    validateName(opts.name);
    const dir = clusterDir(opts.stateDir, opts.name);
    const state = await readClusterState(dir);
    if (!state) {
      const known = await listClusterNames(opts.stateDir);
      throw new BadInputError(
        'unknown-cluster',
        `no local cluster "${opts.name}" in ${opts.stateDir} (clusters: ${known.join(', ') || 'none'}); create it first`,
      );
    }
    const adapter = opts.adapters[state.engine];
    if (!adapter) {
      throw new BadInputError(
        'unknown-engine',
        `cluster "${opts.name}" runs engine "${state.engine}", which this Baton cannot run locally (engines: ${Object.keys(opts.adapters).join(', ')})`,
      );
    }
    const platform = new LocalPlatform(dir, state, adapter, opts.registeredBinaries ?? {}, opts);
    for (const m of state.members) {
      if (m.desired === 'running' && !(await isAlive(m.process))) {
        opts.ctx.logger.warn('local member is not running', {
          cluster: opts.name,
          member: m.name,
          pid: m.process?.pid,
        });
      }
    }
    return platform;
  }

  /** Every cluster under the state directory with its members, versions, PIDs and liveness. */
  static async list(stateDirPath: string): Promise<LocalClusterSummary[]> {
    const stateDir = resolve(stateDirPath);
    const out: LocalClusterSummary[] = [];
    for (const name of await listClusterNames(stateDir)) {
      const dir = clusterDir(stateDir, name);
      const state = await readClusterState(dir);
      if (!state) continue;
      const members: LocalMemberSummary[] = [];
      for (const m of state.members) {
        members.push({
          name: m.name,
          version: m.version,
          ...(m.process ? { pid: m.process.pid } : {}),
          ports: { ...m.ports },
          alive: await isAlive(m.process),
        });
      }
      out.push({ name: state.name, engine: state.engine, dir, members });
    }
    return out;
  }

  /** Name of the cluster. */
  get clusterName(): string {
    return this.state.name;
  }

  /** The engine the cluster runs. */
  get engine(): string {
    return this.state.engine;
  }

  /** Where every member lives (ports, data dir, log), as recorded. */
  layout(): LocalClusterLayout {
    return {
      name: this.state.name,
      engine: this.state.engine,
      dir: this.dir,
      members: this.state.members.map(toLayout),
    };
  }

  /** A copy of the recorded state of every member (as of the last read or write). */
  records(): MemberRecord[] {
    return structuredClone(this.state.members);
  }

  /** Registered binaries in effect: those recorded at creation overridden by those given to open. */
  registeredBinaries(): Record<string, string> {
    return { ...(this.state.registeredBinaries ?? {}), ...this.extraBinaries };
  }

  /** The context adapter calls receive. */
  adapterContext(ctx: PortContext): AdapterContext {
    return { ...ctx, cluster: this.layout(), registeredBinaries: this.registeredBinaries() };
  }

  /**
   * Every member: `version` is the recorded label, `running` means the recorded process is alive,
   * `ready` means running and answering `adapter.ping`, `endpoint` is `127.0.0.1:<endpointPort>`,
   * `detail` explains a member that is not running.
   */
  async listMembers(ctx: PortContext): Promise<PlatformMember[]> {
    await this.reload();
    const actx = this.adapterContext(ctx);
    return Promise.all(
      this.state.members.map(async (m): Promise<PlatformMember> => {
        const running = await isAlive(m.process);
        const ready =
          running && (await withTimeout(this.adapter.ping(toLayout(m), actx), PING_TIMEOUT_MS, false));
        const port = m.ports[this.adapter.endpointPort];
        const detail = running
          ? ready
            ? undefined
            : `process ${m.process?.pid} is running but not answering yet`
          : await this.whyDown(m);
        return {
          name: m.name,
          component: this.state.engine,
          ordinal: m.ordinal,
          version: m.version,
          running,
          ready,
          ...(port !== undefined ? { endpoint: `${m.host}:${port}` } : {}),
          ...(detail !== undefined ? { detail } : {}),
          // Started by Baton, meant to run, not being replaced, and gone: it died by itself.
          ...(!running && !m.intent && m.desired !== 'stopped' && m.process ? { failed: true } : {}),
        };
      }),
    );
  }

  /**
   * Make `name` run `version` on the same data and ports. Idempotent: a member whose live process
   * already runs `version` (per {@link atVersion}, so build metadata counts) is left alone. The
   * binaries are resolved before anything stops (BadInputError listing installed versions); the
   * intent is recorded, the old process stopped gracefully (SIGKILL after the stop bound, which is
   * recorded), and the new one launched with `opts.settings` (or, when absent, the settings it
   * last ran with). Returns once the new process is spawned, not once it is ready.
   */
  async replaceMember(name: string, version: string, opts: ReplaceOptions, ctx: PortContext): Promise<void> {
    await this.exclusive(ctx, async () => {
      await this.reloadAndRecover(ctx);
      const rec = this.member(name);
      if (atVersion(rec.version, version) && (await isAlive(rec.process))) {
        ctx.logger.debug('member already runs target version', { member: name, version });
        return;
      }
      await this.adapter.binaries(version, { registeredBinaries: this.registeredBinaries() });
      rec.intent = { version, since: ctx.clock.now() };
      await this.save(ctx);
      await this.stopRecord(rec, `replace with ${version}`, ctx);
      // The stop is recorded with the launch (one state write instead of two while the member
      // is down), or on its own when the launch fails before its first write.
      try {
        await this.launch(rec, version, opts.settings ?? rec.settings, ctx);
      } catch (err) {
        if (rec.launching === undefined) await this.save(ctx).catch(() => undefined);
        throw err;
      }
      ctx.logger.info('member replaced', {
        cluster: this.state.name,
        member: name,
        version,
        pid: rec.process?.pid,
      });
    });
  }

  /**
   * Precheck `binaries-installed`: every target version of the upgrade has binaries on this machine
   * (installed or registered), so no member is stopped for a version that cannot start.
   */
  async prechecks(_snapshot: Snapshot, spec: UpgradeSpec, _ctx: PortContext): Promise<PrecheckResult[]> {
    const versions = [
      ...new Set([spec.version, ...(spec.components ?? []).flatMap((c) => (c.version ? [c.version] : []))]),
    ];
    const missing: string[] = [];
    for (const v of versions) {
      try {
        await this.adapter.binaries(v, { registeredBinaries: this.registeredBinaries() });
      } catch (err) {
        missing.push(describeError(err));
      }
    }
    return [
      {
        name: 'binaries-installed',
        ok: missing.length === 0,
        reason:
          missing.length === 0 ? `binaries for ${versions.join(', ')} are installed` : missing.join('; '),
      },
    ];
  }

  /**
   * Stop a member gracefully and record that it is meant to stay stopped. Idempotent. The stop is
   * recorded before the signal, so nothing is written between the member going away and this
   * returning (a PostgreSQL switchover waits for exactly that while writes are stopped); only a
   * member that had to be killed is recorded again afterwards.
   */
  async stopMember(name: string, ctx: PortContext): Promise<void> {
    await this.exclusive(ctx, async () => {
      await this.reloadAndRecover(ctx);
      const rec = this.member(name);
      const reason = 'stopped on request';
      const running = await isAlive(rec.process);
      if (rec.desired !== 'stopped' || running) {
        rec.desired = 'stopped';
        if (running) rec.lastStop = { at: ctx.clock.now(), killed: false, reason };
        await this.save(ctx);
      }
      const outcome = await this.stopRecord(rec, reason, ctx);
      if (outcome.killed) await this.save(ctx);
    });
  }

  /** Start a stopped member on its recorded version and settings. No-op when it already runs. */
  async startMember(name: string, ctx: PortContext): Promise<void> {
    await this.exclusive(ctx, async () => {
      await this.reloadAndRecover(ctx);
      const rec = this.member(name);
      if (await isAlive(rec.process)) {
        // A stop recorded but never carried out (its Baton died before the signal).
        if (rec.desired === 'stopped') {
          rec.desired = 'running';
          await this.save(ctx);
        }
        return;
      }
      await this.launch(rec, rec.version, rec.settings, ctx);
    });
  }

  /**
   * Wait until `name` answers `adapter.ping`. OperationalError carrying its log tail when its
   * process exits or the bound (default: the platform's ready timeout) passes first.
   */
  async waitReady(name: string, ctx: PortContext, timeoutMs = this.readyTimeoutMs): Promise<void> {
    const rec = this.member(name);
    await this.waitRecordReady(rec, ctx.clock.now() + timeoutMs, ctx);
  }

  /** Stop every member Baton started, keeping data and state (restart with startMember). */
  async stopAll(ctx: PortContext): Promise<void> {
    await this.stopEvery('cluster stopped', this.stopTimeoutMs, ctx);
  }

  /**
   * Stop every member Baton started and remove the cluster directory (data, logs, journal). The
   * graceful bound is at most {@link DELETE_STOP_TIMEOUT_MS}: the data is going away, and an etcd
   * leader that lost its followers would otherwise spend seconds trying to hand leadership over.
   */
  async delete(ctx: PortContext): Promise<void> {
    await this.stopEvery('cluster deleted', Math.min(this.stopTimeoutMs, DELETE_STOP_TIMEOUT_MS), ctx);
    await rm(this.dir, { recursive: true, force: true });
    ctx.logger.info('local cluster deleted', { cluster: this.state.name });
  }

  private async stopEvery(reason: string, timeoutMs: number, ctx: PortContext): Promise<void> {
    await this.exclusive(ctx, async () => {
      await this.reloadAndRecover(ctx);
      await Promise.all(
        this.state.members.map(async (m) => {
          await this.stopRecord(m, reason, ctx, timeoutMs);
          m.desired = 'stopped';
        }),
      );
      await this.save(ctx);
    });
  }

  private member(name: string): MemberRecord {
    const rec = this.state.members.find((m) => m.name === name);
    if (!rec) {
      throw new BadInputError(
        'unknown-member',
        `cluster "${this.state.name}" has no member "${name}" (members: ${this.state.members.map((m) => m.name).join(', ')})`,
      );
    }
    return rec;
  }

  /** Why a member is not running, in one line; an unexpected exit carries its last log line. */
  private async whyDown(m: MemberRecord): Promise<string> {
    if (m.intent) return `being replaced with ${m.intent.version}`;
    if (m.desired === 'stopped') {
      return `stopped by Baton${m.lastStop?.killed ? ' (had to be killed after the stop timeout)' : ''}`;
    }
    if (!m.process) return 'never started';
    const exit = await this.exitOf(m.name, m.process.pid);
    const how =
      exit && exit.pid === m.process.pid
        ? exit.signal
          ? `killed by ${exit.signal}`
          : `exited with code ${exit.code}`
        : `process ${m.process.pid} is not running`;
    const last = (await tailFile(m.logFile, 1)).slice(0, 200);
    return `${how}; ${last ? `last log line: ${last}` : `see ${m.logFile}`}`;
  }

  /**
   * The recorded exit of `member`'s process `pid`. A process this object started is reported gone by
   * the process table a moment before Node delivers its exit status: wait for it (at most a second)
   * rather than say less than the exit code.
   */
  private async exitOf(member: string, pid: number): Promise<ChildExit | undefined> {
    const known = () => {
      const exit = this.exits.get(member);
      return exit?.pid === pid ? exit : undefined;
    };
    if (this.spawned.get(member) !== pid) return known();
    for (let waited = 0; !known() && waited < 1000; waited += 20) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return known();
  }

  /** Serialise `fn` within this object and, through the lock file, across processes. */
  private exclusive<T>(ctx: PortContext, fn: () => Promise<T>): Promise<T> {
    const locked = () => withClusterLock(this.dir, ctx.clock, fn);
    const run = this.queue.then(locked, locked);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reload(): Promise<void> {
    const fresh = await readClusterState(this.dir);
    if (!fresh) throw new OperationalError('cluster-gone', `cluster state ${this.dir} no longer exists`);
    this.state = fresh;
  }

  /**
   * Re-read the state, then take in every process a killed Baton spawned but could not record
   * (`launching` left behind): found through the pid file the child wrote, it becomes the member's
   * process, so it is neither started a second time (its ports would refuse the new one) nor left
   * running unseen. A launch whose process is gone is forgotten.
   */
  private async reloadAndRecover(ctx: PortContext): Promise<void> {
    await this.reload();
    let changed = false;
    for (const rec of this.state.members) {
      const l = rec.launching;
      if (!l) continue;
      const id = (await isAlive(rec.process)) ? undefined : await findLaunched(l.pidFile, l.command);
      if (id) {
        this.recordLaunch(rec, id, l, l.since);
        ctx.logger.info('took in a member process an interrupted Baton started', {
          cluster: this.state.name,
          member: rec.name,
          version: l.version,
          pid: id.pid,
        });
      }
      delete rec.launching;
      changed = true;
    }
    if (changed) await this.save(ctx);
  }

  /** `rec` now runs `id`, started as `launch` describes. */
  private recordLaunch(
    rec: MemberRecord,
    id: ProcessIdentity,
    launch: NonNullable<MemberRecord['launching']>,
    startedAt: number,
  ): void {
    rec.process = id;
    rec.version = launch.version;
    rec.command = launch.command;
    rec.args = launch.args;
    if (launch.runAsUser !== undefined) rec.runAsUser = launch.runAsUser;
    else delete rec.runAsUser;
    rec.settings = { ...launch.settings };
    rec.desired = 'running';
    rec.startedAt = startedAt;
    if (!rec.intent || atVersion(rec.intent.version, launch.version)) delete rec.intent;
    delete rec.launching;
  }

  private async save(ctx: PortContext): Promise<void> {
    this.state.updatedAt = ctx.clock.now();
    await writeClusterState(this.dir, this.state);
  }

  /**
   * Initialise and start every member at creation. The ready bound applies per member when they
   * start one after another (each may first clone from the previous), and once for all of them
   * when they start together.
   */
  private async startAtCreation(version: string, ctx: PortContext): Promise<void> {
    if (this.adapter.startOrder === 'sequential') {
      for (const m of this.state.members) {
        await this.adapter.initMember(toLayout(m), version, this.adapterContext(ctx));
        await this.launch(m, version, {}, ctx);
        await this.waitRecordReady(m, ctx.clock.now() + this.readyTimeoutMs, ctx);
      }
    } else {
      for (const m of this.state.members)
        await this.adapter.initMember(toLayout(m), version, this.adapterContext(ctx));
      for (const m of this.state.members) await this.launch(m, version, {}, ctx);
      const deadline = ctx.clock.now() + this.readyTimeoutMs;
      await Promise.all(this.state.members.map((m) => this.waitRecordReady(m, deadline, ctx)));
    }
    await this.adapter.bootstrap?.(this.adapterContext(ctx));
  }

  /**
   * Wait until `rec` answers its ping: OperationalError `member-exited` (with why and its log
   * tail) as soon as its process is gone, `member-not-ready` past `deadline`.
   */
  private async waitRecordReady(rec: MemberRecord, deadline: number, ctx: PortContext): Promise<void> {
    const actx = this.adapterContext(ctx);
    try {
      await waitUntil(
        `${rec.name} of cluster ${this.state.name} to answer`,
        async () => {
          if (!(await isAlive(rec.process))) {
            const tail = await tailFile(rec.logFile);
            throw new OperationalError(
              'member-exited',
              `${rec.name} of cluster ${this.state.name} is not running (${await this.whyDown(rec)}); last log lines:\n${tail}`,
            );
          }
          return (
            (await withTimeout(this.adapter.ping(toLayout(rec), actx), PING_TIMEOUT_MS, false)) || undefined
          );
        },
        {
          clock: ctx.clock,
          deadline,
          pollMs: POLL_MS,
          signal: ctx.signal,
          code: 'member-not-ready',
          logger: ctx.logger,
          fields: { cluster: this.state.name, member: rec.name },
        },
      );
    } catch (err) {
      if (!(err instanceof OperationalError) || err.code !== 'member-not-ready') throw err;
      const tail = await tailFile(rec.logFile);
      throw new OperationalError(
        'member-not-ready',
        `${rec.name} of cluster ${this.state.name} did not answer within the ready timeout; last log lines:\n${tail}`,
      );
    }
  }

  /**
   * Graceful stop of the recorded process (if it is ours and alive), noted in `lastStop` in memory:
   * the caller writes the state (once for several members, or with what it does next).
   */
  private async stopRecord(
    rec: MemberRecord,
    reason: string,
    ctx: PortContext,
    timeoutMs = this.stopTimeoutMs,
  ): Promise<StopOutcome> {
    const outcome = await stopProcess(rec.process, {
      timeoutMs,
      clock: ctx.clock,
      ...(this.adapter.stopSignal ? { signal: this.adapter.stopSignal } : {}),
    });
    if (!outcome.wasRunning) return outcome;
    rec.lastStop = { at: ctx.clock.now(), killed: outcome.killed, reason };
    if (outcome.killed) {
      ctx.logger.warn('member had to be killed', { member: rec.name, pid: rec.process?.pid, timeoutMs });
    }
    return outcome;
  }

  private async waitPortsFree(rec: MemberRecord, ctx: PortContext): Promise<void> {
    const deadline = ctx.clock.now() + PORT_RELEASE_TIMEOUT_MS;
    for (const port of Object.values(rec.ports)) {
      try {
        await waitUntil(
          `port ${port} of ${rec.name} to be free`,
          async () => (await canBind(port, rec.host)) || undefined,
          {
            clock: ctx.clock,
            deadline,
            pollMs: POLL_MS,
            signal: ctx.signal,
          },
        );
      } catch (err) {
        if (!(err instanceof OperationalError) || err.code !== 'wait-timeout') throw err;
        throw new OperationalError(
          'port-in-use',
          `port ${port} of ${rec.name} is held by a process Baton did not record; stop it before starting ${rec.name}`,
        );
      }
    }
  }

  /**
   * Let an unprivileged member user reach its own directory: add search (not read) permission
   * for others on every directory from the state directory down to the member's directory.
   */
  private async allowTraversal(memberDir: string): Promise<void> {
    const stateDir = dirname(dirname(this.dir));
    const chain: string[] = [];
    for (let d = memberDir; d.startsWith(stateDir); d = dirname(d)) {
      chain.push(d);
      if (d === stateDir) break;
    }
    for (const d of chain) {
      const st = await stat(d);
      if ((st.mode & 0o001) === 0) await chmod(d, (st.mode & 0o7777) | 0o001);
    }
  }

  /** Spawn `rec` on `version` and record the new process atomically. */
  private async launch(
    rec: MemberRecord,
    version: string,
    settings: Record<string, string>,
    ctx: PortContext,
  ): Promise<void> {
    await this.waitPortsFree(rec, ctx);
    const spec = await this.adapter.launch(toLayout(rec), version, settings, this.adapterContext(ctx));
    const user = await effectiveRunAs(spec.runAsUser);
    if (user) {
      const memberDir = dirname(rec.dataDir);
      await this.allowTraversal(memberDir);
      const owner = await stat(memberDir).catch(() => undefined);
      const data = await stat(rec.dataDir).catch(() => undefined);
      if (owner?.uid !== user.uid || (data && data.uid !== user.uid)) await chownTree(memberDir, user);
    }
    // What is about to run is recorded before the spawn, and the child writes its PID itself:
    // a kill between the spawn and the record below leaves a process the next Baton finds.
    const launch: NonNullable<MemberRecord['launching']> = {
      version,
      command: spec.command,
      args: spec.args,
      ...(spec.runAsUser !== undefined ? { runAsUser: spec.runAsUser } : {}),
      settings: { ...settings },
      pidFile: join(dirname(rec.logFile), LAUNCH_PID_FILE),
      since: ctx.clock.now(),
    };
    await rm(launch.pidFile, { force: true });
    rec.launching = launch;
    await this.save(ctx);
    const id = await spawnDetached(
      {
        command: spec.command,
        args: spec.args,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(spec.env ?? {}) },
        ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
        logFile: rec.logFile,
        ...(user ? { user } : {}),
        pidFile: launch.pidFile,
      },
      (exit) => {
        this.exits.set(rec.name, exit);
        ctx.logger.debug('member process exited', { member: rec.name, ...exit });
      },
    );
    this.spawned.set(rec.name, id.pid);
    this.recordLaunch(rec, id, launch, ctx.clock.now());
    await this.save(ctx);
    ctx.logger.debug('member started', { member: rec.name, version, pid: id.pid, command: spec.command });
  }
}
