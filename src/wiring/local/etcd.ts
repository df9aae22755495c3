/**
 * How etcd runs on the local platform: one process per member, client and peer ports on
 * 127.0.0.1 only, static bootstrap through `--initial-cluster`, members started in parallel (a
 * member answers only once a quorum has elected a leader).
 *
 * Raft timing is faster than etcd's defaults (heartbeat 100 ms, election 1000 ms) so tests and
 * demos elect and fail over quickly while staying stable on a loaded two-core machine:
 * heartbeat {@link ETCD_HEARTBEAT_MS} ms, election timeout {@link ETCD_ELECTION_MS} ms. Both can be
 * overridden per member through ReplaceOptions settings (`heartbeat-interval`, `election-timeout`).
 */
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BadInputError } from '../../core/errors.js';
import type {
  AdapterContext,
  BinarySet,
  LaunchSpec,
  LocalEngineAdapter,
  LocalMemberLayout,
} from '../../platforms/local/adapter.js';
import { pickBinary, readBinaryVersion } from '../../platforms/local/binaries.js';

/** Raft heartbeat interval used for local members, in ms. */
export const ETCD_HEARTBEAT_MS = 50;
/** Raft election timeout used for local members, in ms (10 heartbeats, as etcd recommends). */
export const ETCD_ELECTION_MS = 500;

/** Flags the platform owns; a setting may not override them. */
const MANAGED_FLAGS = new Set([
  'name',
  'data-dir',
  'listen-client-urls',
  'advertise-client-urls',
  'listen-peer-urls',
  'initial-advertise-peer-urls',
  'initial-cluster',
  'initial-cluster-state',
  'initial-cluster-token',
]);

/** Options of {@link createEtcdLocalAdapter}. */
export interface EtcdLocalAdapterOptions {
  /** The etcd binary installed on this machine; default `/usr/bin/etcd`. */
  systemBinary?: string;
}

function clientUrl(m: LocalMemberLayout): string {
  return `http://${m.host}:${m.ports.client}`;
}

function peerUrl(m: LocalMemberLayout): string {
  return `http://${m.host}:${m.ports.peer}`;
}

/**
 * The command-line flags of one member. `state` is `new` for a member whose data directory has
 * never been initialised (cluster creation) and `existing` afterwards (etcd ignores the bootstrap
 * flags once `<data-dir>/member` exists, but the value still documents the intent).
 */
export function etcdFlags(
  member: LocalMemberLayout,
  cluster: LocalMemberLayout[],
  clusterName: string,
  state: 'new' | 'existing',
  settings: Record<string, string>,
): string[] {
  const flags: Record<string, string> = {
    name: member.name,
    'data-dir': member.dataDir,
    'listen-client-urls': clientUrl(member),
    'advertise-client-urls': clientUrl(member),
    'listen-peer-urls': peerUrl(member),
    'initial-advertise-peer-urls': peerUrl(member),
    'initial-cluster': cluster.map((m) => `${m.name}=${peerUrl(m)}`).join(','),
    'initial-cluster-state': state,
    'initial-cluster-token': `baton-${clusterName}`,
    'heartbeat-interval': String(ETCD_HEARTBEAT_MS),
    'election-timeout': String(ETCD_ELECTION_MS),
    logger: 'zap',
    'log-outputs': 'stderr',
  };
  for (const [key, value] of Object.entries(settings)) {
    if (!/^[a-z][a-z0-9-]*$/.test(key) || MANAGED_FLAGS.has(key)) {
      throw new BadInputError(
        'bad-etcd-setting',
        `etcd setting "${key}" cannot be set: use an etcd flag name without dashes in front, other than ${[...MANAGED_FLAGS].join(', ')}`,
      );
    }
    flags[key] = value;
  }
  return Object.entries(flags).map(([k, v]) => `--${k}=${v}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * An etcd adapter using `systemBinary` (its `--version` is read once) plus registered binaries.
 * A version label with `+build` metadata runs its release's binary.
 */
export function createEtcdLocalAdapter(opts: EtcdLocalAdapterOptions = {}): LocalEngineAdapter {
  const systemBinary = opts.systemBinary ?? '/usr/bin/etcd';
  let systemVersion: Promise<string | undefined> | undefined;

  async function installed(registered: Record<string, string>): Promise<Record<string, string>> {
    systemVersion ??= readBinaryVersion(systemBinary);
    const sys = await systemVersion;
    const out: Record<string, string> = {};
    if (sys) out[sys] = systemBinary;
    for (const [label, path] of Object.entries(registered)) out[label.replace(/^v/, '')] = path;
    return out;
  }

  return {
    engine: 'etcd',
    portNames: ['client', 'peer'],
    endpointPort: 'client',
    startOrder: 'parallel',

    async installedVersions(ctx) {
      return Object.keys(await installed(ctx.registeredBinaries)).sort();
    },

    async binaries(version, ctx): Promise<BinarySet> {
      const path = pickBinary('etcd', version, await installed(ctx.registeredBinaries));
      return { version, paths: { server: path } };
    },

    async initMember(member) {
      await mkdir(member.dataDir, { recursive: true, mode: 0o700 });
    },

    async launch(member, version, settings, ctx: AdapterContext): Promise<LaunchSpec> {
      const binary = pickBinary('etcd', version, await installed(ctx.registeredBinaries));
      const state = (await exists(join(member.dataDir, 'member'))) ? 'existing' : 'new';
      return {
        command: binary,
        args: etcdFlags(member, ctx.cluster.members, ctx.cluster.name, state, settings),
        // Not ETCD_*: etcd reads those as flags.
        env: { BATON_MEMBER: member.name, BATON_VERSION: version },
      };
    },

    async ping(member) {
      try {
        const res = await fetch(`${clientUrl(member)}/version`, { signal: AbortSignal.timeout(1000) });
        if (!res.ok) return false;
        const body = (await res.json()) as { etcdserver?: string };
        return typeof body.etcdserver === 'string';
      } catch {
        return false;
      }
    },
  };
}

/** The etcd adapter for this machine: `/usr/bin/etcd` plus registered binaries. */
export const etcdLocalAdapter: LocalEngineAdapter = createEtcdLocalAdapter();
