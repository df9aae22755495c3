/**
 * Targets (a platform, its engine and the clock the runner uses with them) built from a front
 * end's options: the simulated platform (a dry run of a described cluster) and the local platform
 * (real processes under the state directory); Kubernetes targets are built in `cli/kube-target.ts`
 * and the operator from `wiring/kubernetes.ts`. Composition only: all behaviour lives below.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Clock } from '../core/clock.js';
import { FakeClock } from '../core/clock.js';
import { BadInputError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Engine, PortContext, Platform } from '../core/ports.js';
import { engineRegistry } from '../engines/registry.js';
import { LocalPlatform } from '../platforms/local/platform.js';
import {
  type SimCluster,
  createSimWorld,
  parseSimClusterYaml,
  simDescriptionFromFlags,
} from '../platforms/sim/index.js';
import type { PlatformName } from './args.js';
import { enginesOn, localEngineKit } from './engines.js';

/** Options of {@link openLocalCluster}. */
export interface OpenLocalOptions {
  stateDir: string;
  name: string;
  /** Added to (and overriding) the binaries recorded at creation. */
  registeredBinaries?: Record<string, string>;
  ctx: PortContext;
}

/**
 * Open local cluster `name`, loading only the adapter of the engine its state file names.
 * BadInputError when there is no such cluster or its engine does not run locally.
 */
export async function openLocalCluster(opts: OpenLocalOptions): Promise<LocalPlatform> {
  const engine = await LocalPlatform.engineOf(opts.stateDir, opts.name);
  if (engine === undefined) return LocalPlatform.open({ ...opts, adapters: {} }); // its unknown-cluster error
  if (!enginesOn('local').includes(engine)) {
    throw new BadInputError(
      'unknown-engine',
      `cluster "${opts.name}" runs engine "${engine}", which this Baton cannot run locally (engines: ${enginesOn('local').sort().join(', ')})`,
    );
  }
  const kit = await localEngineKit(engine);
  return LocalPlatform.open({ ...opts, adapters: { [engine]: kit.local } });
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
    description = parseSimClusterYaml(text, engineRegistry, opts.file);
  } else {
    if (!opts.engine)
      throw new BadInputError('missing-engine', '--platform sim needs --engine NAME (or -f CLUSTER.yaml)');
    if (!opts.from)
      throw new BadInputError('missing-from', '--platform sim needs --from VERSION (or -f CLUSTER.yaml)');
    description = simDescriptionFromFlags(
      {
        engine: opts.engine,
        members: opts.members,
        from: opts.from,
        seed: opts.seed,
      },
      engineRegistry,
    );
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
  const platform = await openLocalCluster({
    stateDir,
    name,
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
  const engine = (await localEngineKit(engineName)).create();
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
