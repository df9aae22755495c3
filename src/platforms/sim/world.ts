/**
 * Builders that wire a simulated cluster with its platform and engine views in one call, for the
 * CLI (`--engine/--members/--from` or `--cluster FILE`) and for tests.
 */
import type { Clock } from '../../core/clock.js';
import type { JournalStore } from '../../core/ports.js';
import type { RulesByName } from '../../core/rules.js';
import { SimEngine } from './engine.js';
import { SimCluster } from './cluster.js';
import { simDescriptionFromFlags, type SimClusterDescription, type SimFlags } from './description.js';
import { SimPlatform } from './platform.js';

/** A simulated cluster and its two port views. */
export interface SimWorld {
  cluster: SimCluster;
  platform: SimPlatform;
  engine: SimEngine;
}

/** Wire a cluster from a validated description; `journal` defaults to a fresh in-memory one. */
export function createSimWorld(
  description: SimClusterDescription,
  opts: { clock: Clock; journal?: JournalStore },
): SimWorld {
  const cluster = new SimCluster(description, { clock: opts.clock });
  return { cluster, platform: new SimPlatform(cluster, opts.journal), engine: new SimEngine(cluster) };
}

/** A simulated cluster from `--engine/--members/--from/--seed`, wired with its views. */
export function simClusterFromFlags(
  flags: SimFlags,
  engines: RulesByName,
  opts: { clock: Clock; journal?: JournalStore },
): SimWorld {
  return createSimWorld(simDescriptionFromFlags(flags, engines), opts);
}
