/**
 * A nodes target (`spec.target.nodes`, engine `kubernetes-nodes`) wired for the CLI and the
 * operator: the platform of Node objects with its actuator, the node engine (cordon, drain through
 * the Eviction API, uncordon, node prechecks) with the databases' own drains (node-databases.ts),
 * and the informers both read through. Composition only.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { UpgradeResource } from '../api/upgrade.js';
import { BadInputError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { JournalStore } from '../core/ports.js';
import { KubernetesNodesEngine, type DatabaseDrains } from '../engines/kubernetes/engine.js';
import { jobScope, KubernetesNodesPlatform } from '../platforms/kubernetes/nodes.js';
import { NodeInformers } from '../api/node-informers.js';
import { PodDatabaseDrains } from './node-databases.js';
import type { NodesTarget } from '../api/nodes.js';

/** What {@link nodesTarget} needs. */
export interface NodesTargetOptions {
  kc: KubeConfig;
  upgrade: UpgradeResource;
  journal: JournalStore;
  clock: Clock;
  logger: Logger;
  /** The databases' own drains (default: the engines on pods, {@link PodDatabaseDrains}). */
  databases?: DatabaseDrains;
  /** The informers of {@link nodeInformers}; without them every observation lists the cluster. */
  informers?: NodeInformers;
}

/**
 * The informers a node upgrade reads through (Nodes, pods, budgets, workloads, its Jobs), shared by
 * its platform and engine; the engine stops them when closed.
 */
export function nodeInformers(
  o: Pick<NodesTargetOptions, 'kc' | 'upgrade' | 'clock' | 'logger'>,
): NodeInformers {
  const namespace = o.upgrade.metadata.namespace ?? 'default';
  return new NodeInformers({
    kc: o.kc,
    clock: o.clock,
    logger: o.logger,
    jobs: jobScope(namespace, o.upgrade.metadata.name, targetOf(o.upgrade)),
  });
}

/** The node engine of an Upgrade whose target is nodes (cordon, drain, uncordon, node prechecks). */
export function nodesEngine(
  o: Pick<NodesTargetOptions, 'kc' | 'upgrade' | 'clock' | 'logger' | 'databases' | 'informers'>,
): KubernetesNodesEngine {
  const target = targetOf(o.upgrade);
  const namespace = o.upgrade.metadata.namespace ?? 'default';
  return new KubernetesNodesEngine({
    kc: o.kc,
    upgrade: `${namespace}/${o.upgrade.metadata.name}`,
    target,
    databases: o.databases ?? new PodDatabaseDrains({ kc: o.kc, clock: o.clock, logger: o.logger }),
    ...(o.informers ? { informers: o.informers } : {}),
  });
}

/** The platform of Node objects of an Upgrade whose target is nodes, with its actuator. */
export function nodesPlatform(o: Omit<NodesTargetOptions, 'databases'>): KubernetesNodesPlatform {
  return new KubernetesNodesPlatform({
    kc: o.kc,
    namespace: o.upgrade.metadata.namespace ?? 'default',
    name: o.upgrade.metadata.name,
    upgrade: o.upgrade,
    target: targetOf(o.upgrade),
    journal: o.journal,
    clock: o.clock,
    logger: o.logger,
    ...(o.informers ? { informers: o.informers } : {}),
  });
}

function targetOf(upgrade: UpgradeResource): NodesTarget {
  const target = upgrade.spec.target.nodes;
  if (!target) {
    throw new BadInputError('bad-target', `upgrade ${upgrade.metadata.name} has no spec.target.nodes`);
  }
  return target;
}

/** The platform and engine of an Upgrade whose target is nodes. */
export function nodesTarget(o: NodesTargetOptions): {
  platform: KubernetesNodesPlatform;
  engine: KubernetesNodesEngine;
} {
  const informers = o.informers ?? nodeInformers(o);
  return { platform: nodesPlatform({ ...o, informers }), engine: nodesEngine({ ...o, informers }) };
}
