/**
 * A nodes target (`spec.target.nodes`, engine `kubernetes-nodes`) wired for the CLI and the
 * operator: the platform of Node objects with its actuator, and the node engine (cordon, drain
 * through the Eviction API, uncordon, node prechecks). Composition only.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { UpgradeResource } from '../api/upgrade.js';
import { BadInputError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { JournalStore } from '../core/ports.js';
import { KubernetesNodesEngine, type DatabaseDrains } from '../engines/kubernetes/engine.js';
import { KubernetesNodesPlatform } from '../platforms/kubernetes/nodes.js';

/** What {@link nodesTarget} needs. */
export interface NodesTargetOptions {
  kc: KubeConfig;
  upgrade: UpgradeResource;
  journal: JournalStore;
  clock: Clock;
  logger: Logger;
  databases?: DatabaseDrains;
}

/** The platform and engine of an Upgrade whose target is nodes. */
export function nodesTarget(o: NodesTargetOptions): {
  platform: KubernetesNodesPlatform;
  engine: KubernetesNodesEngine;
} {
  const target = o.upgrade.spec.target.nodes;
  if (!target) {
    throw new BadInputError('bad-target', `upgrade ${o.upgrade.metadata.name} has no spec.target.nodes`);
  }
  const namespace = o.upgrade.metadata.namespace ?? 'default';
  const name = o.upgrade.metadata.name;
  const platform = new KubernetesNodesPlatform({
    kc: o.kc,
    namespace,
    name,
    target,
    journal: o.journal,
    clock: o.clock,
    logger: o.logger,
  });
  const engine = new KubernetesNodesEngine({
    kc: o.kc,
    upgrade: `${namespace}/${name}`,
    target,
    ...(o.databases ? { databases: o.databases } : {}),
  });
  return { platform, engine };
}
