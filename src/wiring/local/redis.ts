/**
 * Running a Redis Cluster as processes on this machine, for the local platform.
 *
 * Layout: one member is one `redis-server` process (one cluster node). A Redis Cluster needs at
 * least three slot-owning primaries to elect failovers, and every primary needs a replica on
 * another member to hand its slots to before it stops, so a cluster has an even number N >= 6 of
 * members: members 0..N/2-1 start as primaries, each owning an equal share of the 16384 slots, and
 * member N/2+i starts as the replica of member i. (Three members could not give every primary a
 * replica; any other count is refused with a BadInputError.) Roles move during an upgrade; the
 * layout fixes only the initial assignment.
 *
 * Each member has two ports: `client` (the endpoint) and `bus` (the cluster bus), passed with
 * `cluster-port` so the bus is not implicitly client+10000, which may be taken. `cluster-port`
 * needs Redis 7.0 or later. Processes bind 127.0.0.1 only (so `protected-mode no` exposes
 * nothing), keep `nodes.conf` and the AOF in the member's data directory, and use
 * `appendonly yes` with `appendfsync everysec`. A restarted replica resynchronises in full, so
 * `repl-diskless-sync-delay 0` starts that transfer at once (the default waits 5 s).
 *
 * `cluster-node-timeout` defaults to 2000 ms (Redis ships 15000): failure detection of a stopped
 * member then takes about 2-4 s, which keeps local tests short while staying well above loopback
 * latency. It can be changed, like any other directive the adapter does not own, through
 * `ReplaceOptions.settings` (`{ 'cluster-node-timeout': '5000' }`).
 */
import { execFile } from 'node:child_process';
import { access, constants, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BadInputError, OperationalError, describeError } from '../../core/errors.js';
import { isVersion, parseVersion } from '../../core/version.js';
import { waitUntil } from '../../core/wait.js';
import { pickBinary, releaseOf } from '../../platforms/local/binaries.js';
import type {
  AdapterContext,
  BinarySet,
  LaunchSpec,
  LocalClusterLayout,
  LocalEngineAdapter,
  LocalMemberLayout,
} from '../../platforms/local/adapter.js';
import {
  DEFAULT_REDIS_TIMEOUTS,
  RedisClientPool,
  ioredisConnectionFactory,
  type RedisConnectionFactory,
} from '../../engines/redis/client.js';
import { formatSlots, isSlotOwner, parseServerVersion, splitSlots } from '../../engines/redis/parse.js';

const run = promisify(execFile);

/** The Debian package's server binary. */
export const SYSTEM_REDIS_SERVER = '/usr/bin/redis-server';

/** Default `cluster-node-timeout` of local clusters, in milliseconds (see the module comment). */
export const LOCAL_NODE_TIMEOUT_MS = 2000;

/** Directives the adapter sets itself; settings may not override them. */
const OWNED_DIRECTIVES = new Set([
  'bind',
  'port',
  'dir',
  'daemonize',
  'protected-mode',
  'cluster-enabled',
  'cluster-config-file',
  'cluster-port',
]);

/** The initial role of each member ordinal in a cluster of `count` members. */
export interface InitialRole {
  ordinal: number;
  role: 'primary' | 'replica';
  /** For a replica: the ordinal of the primary it follows. */
  primaryOrdinal?: number;
}

/**
 * Validate a member count and return the initial roles (see the module comment). Throws
 * BadInputError for a count that cannot give every one of at least three primaries a replica.
 */
export function initialRoles(count: number): InitialRole[] {
  if (!Number.isInteger(count) || count < 6 || count % 2 !== 0) {
    throw new BadInputError(
      'redis-member-count',
      `a local Redis Cluster needs an even number of members, at least 6 (3 primaries + 3 replicas, one redis-server each); got ${count}: use --members 6`,
    );
  }
  const primaries = count / 2;
  return Array.from({ length: count }, (_, ordinal) =>
    ordinal < primaries
      ? { ordinal, role: 'primary' as const }
      : { ordinal, role: 'replica' as const, primaryOrdinal: ordinal - primaries },
  );
}

/** The version `redis-server --version` reports for `path`, or undefined if it does not run. */
export async function serverVersion(path: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(path, ['--version'], { timeout: 5000 });
    return parseServerVersion(stdout);
  } catch {
    return undefined;
  }
}

function port(member: LocalMemberLayout, name: string): number {
  const p = member.ports[name];
  if (p === undefined)
    throw new OperationalError(
      'redis-missing-port',
      `member ${member.name} has no "${name}" port in its layout`,
    );
  return p;
}

function endpoint(member: LocalMemberLayout): string {
  return `${member.host}:${port(member, 'client')}`;
}

function ordered(layout: LocalClusterLayout): LocalMemberLayout[] {
  return [...layout.members].sort((a, b) => a.ordinal - b.ordinal);
}

/** Release -> binary path of every redis-server on this machine: the system one, then registered ones. */
async function installedBinaries(registered: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const system = await serverVersion(SYSTEM_REDIS_SERVER);
  if (system) out[system] = SYSTEM_REDIS_SERVER;
  for (const [label, path] of Object.entries(registered)) out[label.replace(/^v/, '')] = path;
  return out;
}

async function installedVersions(ctx: Pick<AdapterContext, 'registeredBinaries'>): Promise<string[]> {
  return Object.keys(await installedBinaries(ctx.registeredBinaries));
}

async function binaries(
  version: string,
  ctx: Pick<AdapterContext, 'registeredBinaries'>,
): Promise<BinarySet> {
  const path = pickBinary('redis', version, await installedBinaries(ctx.registeredBinaries));
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new BadInputError(
      'redis-binary-missing',
      `redis-server for ${version} at ${path} is not an executable file`,
    );
  }
  return { version, paths: { server: path } };
}

async function initMember(member: LocalMemberLayout, _version: string, ctx: AdapterContext): Promise<void> {
  initialRoles(ctx.cluster.members.length);
  port(member, 'bus');
  await mkdir(member.dataDir, { recursive: true });
}

async function launch(
  member: LocalMemberLayout,
  version: string,
  settings: Record<string, string>,
  ctx: AdapterContext,
): Promise<LaunchSpec> {
  const bin = await binaries(version, ctx);
  const base = releaseOf(version);
  if (isVersion(base) && parseVersion(base).major < 7) {
    throw new BadInputError(
      'redis-version-too-old',
      `local Redis clusters need redis-server 7.0 or later (cluster-port); ${version} is older`,
    );
  }
  // prettier-ignore
  const args = [
    '--bind', member.host,
    '--port', String(port(member, 'client')),
    '--protected-mode', 'no',
    '--daemonize', 'no',
    '--dir', member.dataDir,
    '--cluster-enabled', 'yes',
    '--cluster-config-file', join(member.dataDir, 'nodes.conf'),
    '--cluster-port', String(port(member, 'bus')),
    '--cluster-node-timeout', String(LOCAL_NODE_TIMEOUT_MS),
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    // The AOF is the durable copy; periodic RDB snapshots would only add fork load.
    '--save', '',
    // A restarted replica resynchronises in full (its replication offset is not kept with the
    // AOF); start the transfer at once instead of waiting 5 s for more replicas to queue up.
    '--repl-diskless-sync-delay', '0',
  ];
  for (const [key, value] of Object.entries(settings)) {
    if (!/^[a-z][a-z0-9-]*$/.test(key)) {
      throw new BadInputError(
        'redis-bad-setting',
        `setting "${key}" is not a redis.conf directive name (lower-case words joined by -)`,
      );
    }
    if (OWNED_DIRECTIVES.has(key)) {
      throw new BadInputError(
        'redis-owned-setting',
        `setting "${key}" is managed by Baton's local platform and cannot be overridden`,
      );
    }
    args.push(`--${key}`, value);
  }
  return { command: bin.paths.server!, args, cwd: member.dataDir, env: bin.env };
}

/** Options of {@link bootstrapCluster}. */
export interface BootstrapOptions {
  /** How to connect to nodes; ioredis by default. */
  connect?: RedisConnectionFactory;
  /** Bound on each wait (gossip convergence, cluster_state ok). Default 30 s. */
  waitMs?: number;
  /** Poll interval. Default 100 ms. */
  pollMs?: number;
}

/**
 * Form the cluster from freshly started members: config epochs, `CLUSTER MEET`, slot ranges on the
 * primaries, `CLUSTER REPLICATE` on the replicas, then wait until every node reports
 * `cluster_state:ok` and every replica's link is up. Idempotent: steps already done (node already
 * known, slots already assigned, node already a replica or serving slots) are skipped, so a rerun
 * after a crash completes the cluster instead of failing, and a rerun on a formed cluster changes
 * nothing even after failovers moved the roles.
 */
export async function bootstrapCluster(ctx: AdapterContext, opts: BootstrapOptions = {}): Promise<void> {
  const members = ordered(ctx.cluster);
  const roles = initialRoles(members.length);
  const waitMs = opts.waitMs ?? 30_000;
  const pollMs = opts.pollMs ?? 100;
  const pool = new RedisClientPool(opts.connect ?? ioredisConnectionFactory, DEFAULT_REDIS_TIMEOUTS);
  const node = (m: LocalMemberLayout) => pool.node(endpoint(m));

  // Each step of the formation waits, on the context's clock and with its logger showing why, until
  // `check` names no blocker; an error while checking is a blocker too (a node still starting).
  const waitFor = async (what: string, check: () => Promise<string | undefined>): Promise<void> => {
    let last = 'not checked yet';
    await waitUntil(
      () => `redis cluster ${ctx.cluster.name}: ${what} (${last})`,
      async () => {
        try {
          const blocker = await check();
          if (blocker === undefined) return true;
          last = blocker;
        } catch (err) {
          last = describeError(err);
        }
        return undefined;
      },
      {
        clock: ctx.clock,
        deadline: ctx.clock.now() + waitMs,
        pollMs,
        signal: ctx.signal,
        code: 'redis-bootstrap-timeout',
        logger: ctx.logger,
        fields: { cluster: ctx.cluster.name },
      },
    );
  };

  try {
    const ids: string[] = [];
    for (const m of members) {
      const client = node(m);
      const info = await client.clusterInfo();
      // Distinct config epochs up front spare the cluster its epoch-collision resolution.
      if (info.cluster_known_nodes === '1' && info.cluster_my_epoch === '0')
        await client.setConfigEpoch(m.ordinal + 1);
      ids.push(await client.myId());
    }
    const first = members[0]!;
    const known = new Set((await node(first).clusterNodes()).map((e) => e.id));
    for (const [i, m] of members.entries()) {
      if (i === 0 || known.has(ids[i]!)) continue;
      await node(first).meet(m.host, port(m, 'client'), port(m, 'bus'));
    }
    await waitFor('every node knowing every other', async () => {
      for (const m of members) {
        const entries = await node(m).clusterNodes();
        const handshaking = entries.filter((e) => e.flags.includes('handshake')).length;
        const missing = ids.filter((id) => !entries.some((e) => e.id === id)).length;
        if (missing > 0 || handshaking > 0)
          return `${m.name} misses ${missing} node(s), ${handshaking} in handshake`;
      }
      return undefined;
    });

    const primaries = roles.filter((r) => r.role === 'primary');
    const ranges = splitSlots(primaries.length);
    const view = await node(first).clusterNodes();
    for (const [i, r] of primaries.entries()) {
      const m = members[r.ordinal]!;
      const range = ranges[i]!;
      const taken = view.some(
        (e) => isSlotOwner(e) && e.slots.some((s) => s.start <= range.end && s.end >= range.start),
      );
      if (!taken) await node(m).addSlotsRange(range);
      ctx.logger.debug('redis bootstrap: slots assigned', { member: m.name, slots: formatSlots([range]) });
    }
    // Only an empty master is told to replicate: a node that already follows a primary or serves
    // slots (a rerun after failovers moved roles) keeps its role.
    for (const r of roles) {
      if (r.role !== 'replica') continue;
      const m = members[r.ordinal]!;
      const primaryId = ids[r.primaryOrdinal!]!;
      await waitFor(`${m.name} replicating ${members[r.primaryOrdinal!]!.name}`, async () => {
        const me = (await node(m).clusterNodes()).find((e) => e.flags.includes('myself'));
        if (me?.masterId !== undefined || (me && isSlotOwner(me))) return undefined;
        await node(m).replicate(primaryId);
        return `CLUSTER REPLICATE sent to ${m.name}`;
      });
    }
    await waitFor('cluster_state:ok on every node with every replica linked', async () => {
      for (const m of members) {
        const info = await node(m).clusterInfo();
        if (info.cluster_state !== 'ok')
          return `${m.name} reports cluster_state:${info.cluster_state ?? 'unknown'}`;
        const repl = await node(m).replicationInfo();
        if (repl.role === 'slave' && repl.master_link_status !== 'up')
          return `${m.name} replication link is ${repl.master_link_status ?? 'unknown'}`;
      }
      // Gossip settled: every node sees every other in the role that node has for itself, so the
      // engine's prechecks pass as soon as the cluster is handed over.
      const views = await Promise.all(members.map(async (m) => ({ m, nodes: await node(m).clusterNodes() })));
      const own = new Map(
        views.flatMap(({ nodes }) =>
          nodes.filter((e) => e.flags.includes('myself')).map((e) => [e.id, e.flags.includes('slave')]),
        ),
      );
      for (const { m, nodes } of views) {
        for (const e of nodes) {
          const replica = own.get(e.id);
          if (replica !== undefined && replica !== e.flags.includes('slave')) {
            return `${m.name} does not yet see ${e.id.slice(0, 8)} as a ${replica ? 'replica' : 'primary'}`;
          }
        }
      }
      return undefined;
    });
    ctx.logger.info('redis cluster formed', {
      cluster: ctx.cluster.name,
      primaries: primaries.length,
      replicas: roles.length - primaries.length,
    });
  } finally {
    pool.close();
  }
}

async function ping(member: LocalMemberLayout): Promise<boolean> {
  const pool = new RedisClientPool(ioredisConnectionFactory, DEFAULT_REDIS_TIMEOUTS);
  try {
    return await pool.node(endpoint(member)).ping();
  } catch {
    return false;
  } finally {
    pool.close();
  }
}

/** The local platform adapter of the `redis` engine (see the module comment for the layout). */
export const redisLocalAdapter: LocalEngineAdapter = {
  engine: 'redis',
  portNames: ['client', 'bus'],
  endpointPort: 'client',
  startOrder: 'parallel',
  installedVersions,
  binaries,
  initMember,
  launch,
  bootstrap: (ctx) => bootstrapCluster(ctx),
  ping: (member) => ping(member),
  stopSignal: 'SIGTERM',
};
