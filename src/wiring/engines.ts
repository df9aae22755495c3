/**
 * The composition root's engine catalogue: every engine Baton can drive (not only plan or
 * simulate), on which platforms, and the module that builds its adapters. Each module is loaded on
 * first use, so a command imports only the engine it drives. Engines with rules only
 * (kubernetes nodes, ...) are planned and simulated through `engines/registry.ts` and have no entry here.
 *
 * Adding an engine: write `wiring/engines/<name>.ts` exporting `kit: EngineKit` (see kit.ts) and add its one line
 * to {@link KITS}.
 */
import { BadInputError } from '../core/errors.js';
import type { LocalEngineAdapter } from '../platforms/local/adapter.js';
import type { EngineKit } from './kit.js';

/** Platforms an engine's adapters can drive (the simulator drives every engine by its rules). */
export type DrivenOn = 'local' | 'kubernetes';

interface KitEntry {
  on: readonly DrivenOn[];
  load: () => Promise<{ kit: EngineKit }>;
}

/** The engines with adapters, one line each, in the order error messages list them. */
const KITS: Readonly<Record<string, KitEntry>> = {
  generic: { on: ['kubernetes'], load: () => import('./engines/generic.js') },
  etcd: { on: ['local', 'kubernetes'], load: () => import('./engines/etcd.js') },
  redis: { on: ['local', 'kubernetes'], load: () => import('./engines/redis.js') },
  postgres: { on: ['local', 'kubernetes'], load: () => import('./engines/postgres.js') },
  tidb: { on: ['kubernetes'], load: () => import('./engines/tidb.js') },
  cockroachdb: { on: ['kubernetes'], load: () => import('./engines/cockroachdb.js') },
  'redis-enterprise': { on: ['kubernetes'], load: () => import('./engines/redis-enterprise.js') },
};

/** Names of the engines `platform` can drive, in catalogue order. */
export function enginesOn(platform: DrivenOn): string[] {
  return Object.entries(KITS)
    .filter(([, e]) => e.on.includes(platform))
    .map(([name]) => name);
}

/** Whether `name` can be driven on `platform`. */
export function drivenOn(name: string, platform: DrivenOn): boolean {
  return Object.hasOwn(KITS, name) && KITS[name]!.on.includes(platform);
}

/**
 * The kit of `name`, loading its module. The caller checks {@link drivenOn} first; a name without
 * an entry is a programming error here.
 */
export async function engineKit(name: string): Promise<EngineKit> {
  const entry = Object.hasOwn(KITS, name) ? KITS[name] : undefined;
  if (!entry) throw new Error(`no engine kit named ${name}`);
  return (await entry.load()).kit;
}

/** The local kit of `name` (adapter and engine), or a BadInputError listing the local engines. */
export async function localEngineKit(name: string): Promise<EngineKit & { local: LocalEngineAdapter }> {
  const kit = drivenOn(name, 'local') ? await engineKit(name) : undefined;
  if (!kit?.local) {
    throw new BadInputError(
      'unknown-engine',
      `engine "${name}" does not run on the local platform: use one of ${enginesOn('local').sort().join(', ')} (or --platform sim for ${name})`,
    );
  }
  return { ...kit, local: kit.local };
}
