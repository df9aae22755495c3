/**
 * A TidbCluster on the real Kubernetes control plane whose pods are the TiDB cluster double's
 * members (pods.ts), with any of TiDB Operator's components, and a Baton runner wired to it as the
 * operator and `baton apply` wire one (Upgrade resource journal, Kubernetes platform with the
 * TidbCluster reference, the tidb engine from the composition root: it reads the TidbCluster's
 * annotations).
 */
import { KubernetesPlatform } from '../../src/platforms/kubernetes/statefulset.js';
import { UpgradeResourceJournal } from '../../src/platforms/kubernetes/journal.js';
import { engineRegistry } from '../../src/engines/registry.js';
import { engineForUpgrade } from '../../src/wiring/kubernetes.js';
import { API_VERSION, KIND, type UpgradeResource } from '../../src/api/upgrade.js';
import type { Clock } from '../../src/core/clock.js';
import type { Engine, JournalStore, Platform } from '../../src/core/ports.js';
import { nullLogger } from '../../src/core/logger.js';
import { createUpgrade } from '../../src/runner/start.js';
import { setup, type Cleanup, type Env } from '../k8s/operator-fixtures.js';
import { fastClock } from '../k8s/platform-fixture.js';
import { tidbCluster } from '../k8s/tidb-fixtures.js';
import { QUICK_TIMING } from './model.js';
import { startTidbPods, type TidbPods } from './pods.js';

/** Replicas per component, in TiDB Operator's StatefulSet names (`basic-<component>`). */
export type Shape = Partial<
  Record<'pd' | 'tiproxy' | 'tiflash' | 'tikv' | 'pump' | 'tidb' | 'ticdc', number>
>;

/**
 * deploy/ applied, the TidbCluster `basic` at `version` (with `annotations`) whose StatefulSets
 * (`shape`) run pods backed by the double, formed. 660 regions: 220 leaders per TiKV store, above
 * TiDB Operator's 200, so leaders must come back after each store.
 */
export async function tidbOnPods(
  t: Cleanup,
  version: string,
  shape: Shape,
  annotations?: Record<string, string>,
  tiproxyVersion?: string,
): Promise<{ env: Env; pods: TidbPods }> {
  const env = await setup(t);
  const pods = await startTidbPods(t, env.server, {
    prefix: 'basic-',
    version,
    ...shape,
    ...(tiproxyVersion ? { tiproxyVersion } : {}),
    timing: QUICK_TIMING,
  });
  const components = Object.entries(shape).filter(([, n]) => (n ?? 0) > 0) as [string, number][];
  await tidbCluster(env, {
    version,
    components,
    ...(annotations ? { annotations } : {}),
    ...(tiproxyVersion ? { componentVersions: { tiproxy: tiproxyVersion } } : {}),
  });
  await pods.double.formed(30_000);
  return { env, pods };
}

/** `--endpoint POD=HOST:PORT` for every pod. */
export function endpointArgs(pods: TidbPods): string[] {
  return Object.entries(pods.endpoints()).flatMap(([pod, ep]) => ['--endpoint', `${pod}=${ep}`]);
}

/** What {@link wireTidbUpgrade} gives: a fresh platform and engine per Baton "process". */
export interface TidbWiring {
  journal: UpgradeResourceJournal;
  clock: Clock;
  /** A new platform (its journal replaced by `journal` when given) and a new engine, as a restarted Baton builds them. */
  process(journal?: JournalStore): Promise<{ platform: Platform; engine: Engine }>;
}

/**
 * An Upgrade `name` of the TidbCluster `basic` to `version` with the tidb engine, created (plan
 * and journal) as `baton apply` creates it; {@link TidbWiring.process} builds a Baton process to
 * run it.
 */
export async function wireTidbUpgrade(
  env: Env,
  pods: TidbPods,
  name: string,
  version: string,
): Promise<TidbWiring> {
  const clock = fastClock;
  const kc = env.kc;
  const journal = new UpgradeResourceJournal({ kc, namespace: env.ns, clock });
  const resource: UpgradeResource = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace: env.ns },
    spec: {
      engine: 'tidb',
      version,
      target: { cluster: { kind: 'TidbCluster', name: 'basic' }, endpoints: pods.endpoints() },
    } as UpgradeResource['spec'],
  };
  const created = await journal.createResource(resource);
  const process = async (j?: JournalStore) => {
    const platform = new KubernetesPlatform({
      kc,
      engines: engineRegistry,
      namespace: env.ns,
      upgrade: created,
      journal,
      clock,
      logger: nullLogger,
    });
    const engine = await engineForUpgrade(kc, created, 'spec.engine');
    if (!j) return { platform, engine };
    const crashing: Platform = {
      name: platform.name,
      listMembers: platform.listMembers.bind(platform),
      replaceMember: platform.replaceMember.bind(platform),
      durableActions: platform.durableActions,
      prechecks: platform.prechecks.bind(platform),
      custody: platform.custody,
      journal: j,
    };
    return { platform: crashing, engine };
  };
  const first = await process();
  await createUpgrade(first.platform, first.engine, (await journal.get(name))!.spec, {
    clock,
    logger: nullLogger,
  });
  return { journal, clock, process };
}
