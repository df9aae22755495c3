/**
 * Wiring of a platform and an engine from CLI options: the simulated platform (a dry run of a
 * described cluster), the local platform (real processes under the state directory), and later
 * Kubernetes. Front-end code: it only builds objects; all behaviour lives below.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Clock } from '../core/clock.js';
import { FakeClock } from '../core/clock.js';
import { BadInputError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Engine, Platform } from '../core/ports.js';
import { EtcdEngine } from '../engines/etcd/engine.js';
import { etcdLocalAdapter } from '../engines/etcd/local.js';
import { PostgresEngine } from '../engines/postgres/engine.js';
import { postgresLocalAdapter } from '../engines/postgres/local.js';
import { RedisEngine } from '../engines/redis/engine.js';
import { redisLocalAdapter } from '../engines/redis/local.js';
import type { LocalEngineAdapter } from '../platforms/local/adapter.js';
import { LocalPlatform } from '../platforms/local/platform.js';
import {
  type SimCluster,
  createSimWorld,
  parseSimClusterYaml,
  simDescriptionFromFlags,
} from '../platforms/sim/index.js';

/** Platforms the CLI knows. */
export const PLATFORMS = ['local', 'sim', 'kubernetes'] as const;
export type PlatformName = (typeof PLATFORMS)[number];

/** An engine that runs as real processes on this machine. */
export interface LocalEngineKind {
  adapter: LocalEngineAdapter;
  create(): Engine;
}

/** Engines the local platform can run, by name. */
export const LOCAL_ENGINES: Record<string, LocalEngineKind> = {
  etcd: { adapter: etcdLocalAdapter, create: () => new EtcdEngine() },
  postgres: { adapter: postgresLocalAdapter, create: () => new PostgresEngine() },
  redis: { adapter: redisLocalAdapter, create: () => new RedisEngine() },
};

/** The adapters by engine name (LocalPlatform.open picks the one its state file names). */
export function localAdapters(): Record<string, LocalEngineAdapter> {
  return Object.fromEntries(Object.entries(LOCAL_ENGINES).map(([k, v]) => [k, v.adapter]));
}

/** A local engine by name, or a BadInputError listing the ones there are. */
export function localEngine(name: string): LocalEngineKind {
  const e = LOCAL_ENGINES[name];
  if (!e) {
    throw new BadInputError(
      'unknown-engine',
      `engine "${name}" does not run on the local platform: use one of ${Object.keys(LOCAL_ENGINES).join(', ')} (or --platform sim for ${name})`,
    );
  }
  return e;
}

/** A platform, its engine and the clock the runner must use with them. */
export interface Target {
  kind: PlatformName;
  platform: Platform;
  engine: Engine;
  clock: Clock;
  /** Name of the cluster on that platform. */
  cluster: string;
  /** The simulated world, for dry-run summaries. */
  sim?: SimCluster;
  close(): Promise<void>;
}

/** Options that select and describe a target. */
export interface TargetOptions {
  platform: PlatformName;
  stateDir: string;
  cluster?: string;
  engine?: string;
  members?: number;
  from?: string;
  file?: string;
  seed?: number;
  binaries?: Record<string, string>;
}

/** Validate `--platform`. */
export function parsePlatform(text: string | undefined): PlatformName {
  const p = text ?? 'local';
  if ((PLATFORMS as readonly string[]).includes(p)) return p as PlatformName;
  throw new BadInputError('unknown-platform', `--platform ${p}: use one of ${PLATFORMS.join(', ')}`);
}

/** Build the simulated target from flags or a cluster file. */
export async function simTarget(opts: TargetOptions): Promise<Target> {
  let description;
  if (opts.file) {
    let text: string;
    try {
      text = await readFile(resolve(opts.file), 'utf8');
    } catch (err) {
      throw new BadInputError(
        'bad-file',
        `-f ${opts.file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`,
      );
    }
    description = parseSimClusterYaml(text, opts.file);
  } else {
    if (!opts.engine)
      throw new BadInputError('missing-engine', '--platform sim needs --engine NAME (or -f CLUSTER.yaml)');
    if (!opts.from)
      throw new BadInputError('missing-from', '--platform sim needs --from VERSION (or -f CLUSTER.yaml)');
    description = simDescriptionFromFlags({
      engine: opts.engine,
      members: opts.members,
      from: opts.from,
      seed: opts.seed,
    });
  }
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const world = createSimWorld(description, { clock });
  return {
    kind: 'sim',
    platform: world.platform,
    engine: world.engine,
    clock,
    cluster: world.cluster.name,
    sim: world.cluster,
    close: async () => {},
  };
}

/** Open an existing local cluster; with no name, the only one there is. */
export async function localTarget(opts: TargetOptions, clock: Clock, logger: Logger): Promise<Target> {
  const stateDir = resolve(opts.stateDir);
  let name = opts.cluster;
  if (!name) {
    const all = await LocalPlatform.list(stateDir);
    if (all.length === 1) name = all[0]!.name;
    else if (all.length === 0) {
      throw new BadInputError(
        'no-cluster',
        `no local cluster under ${stateDir}: create one with \`baton cluster create NAME --engine E --version V\``,
      );
    } else {
      throw new BadInputError(
        'which-cluster',
        `several clusters under ${stateDir} (${all.map((c) => c.name).join(', ')}): choose one with -c NAME`,
      );
    }
  }
  const platform = await LocalPlatform.open({
    stateDir,
    name,
    adapters: localAdapters(),
    registeredBinaries: opts.binaries,
    ctx: { clock, logger },
  });
  const engineName = platform.layout().engine;
  if (opts.engine && opts.engine !== engineName) {
    throw new BadInputError(
      'engine-mismatch',
      `cluster ${name} runs ${engineName}, not ${opts.engine}: drop --engine or pick another cluster`,
    );
  }
  const engine = localEngine(engineName).create();
  return {
    kind: 'local',
    platform,
    engine,
    clock,
    cluster: name,
    close: async () => {
      await engine.close?.();
    },
  };
}

/** Default state directory: `.baton` in the working directory. */
export function defaultStateDir(): string {
  return join(process.cwd(), '.baton');
}
