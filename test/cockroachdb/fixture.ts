/**
 * One CockroachDB double cluster driven end to end by the real runner and the real engine
 * through {@link DoublePlatform}, on the system clock.
 */
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import type { UpgradeSpec } from '../../src/core/types.js';
import { CockroachEngine } from '../../src/engines/cockroachdb/engine.js';
import { type ReconcileResult, Runner } from '../../src/runner/runner.js';
import { createUpgrade, makeSpec } from '../../src/runner/start.js';
import { CockroachDouble, type StartDoubleOptions } from './double.js';
import { DoublePlatform } from './platform.js';

/** What a run saw of the cluster, sampled every few milliseconds. */
export interface Samples {
  maxUnderReplicated: number;
  maxNodesDown: number;
  clusterVersions: string[];
}

export async function crdbFixture(opts: Partial<StartDoubleOptions> & { version: string }) {
  const double = await CockroachDouble.start({ nodes: 3, ranges: 18, ...opts });
  const platform = new DoublePlatform(double);
  const byEndpoint = new Map(
    double.cluster.nodes.map((n) => [platform.endpointOf(n.id), double.addresses(n.id)]),
  );
  const engine = new CockroachEngine({ addresses: (e) => byEndpoint.get(e)! });
  const ctx = { clock: systemClock, logger: nullLogger };
  const samples: Samples = { maxUnderReplicated: 0, maxNodesDown: 0, clusterVersions: [] };
  const sampler = setInterval(() => {
    const c = double.cluster;
    const under = c.nodes.reduce((s, n) => s + n.gauges.underReplicated, 0);
    samples.maxUnderReplicated = Math.max(samples.maxUnderReplicated, under);
    samples.maxNodesDown = Math.max(samples.maxNodesDown, c.nodes.filter((n) => !c.isLive(n)).length);
    const v = c.clusterVersionString().replace(/-step-\d+$/, '');
    if (samples.clusterVersions.at(-1) !== v) samples.clusterVersions.push(v);
  }, 5);

  async function upgrade(version: string, spec: Partial<UpgradeSpec> = {}) {
    await createUpgrade(
      platform,
      engine,
      makeSpec({ name: 'up', cluster: 'crdb', engine: 'cockroachdb', version, ...spec }),
      ctx,
    );
    return new Runner({ platform, engine, clock: systemClock, logger: nullLogger, name: 'up' });
  }
  const update = (change: Partial<UpgradeSpec>) =>
    platform.journal.updateSpec('up', (s) => ({ ...s, ...change }));
  const binaries = () => double.cluster.nodes.map((n) => n.binary);
  async function close() {
    clearInterval(sampler);
    platform.close();
    await engine.close();
    await double.close();
  }
  return { double, platform, engine, samples, upgrade, update, binaries, close };
}

/** Stop a run once it is paused or waiting for finalization (both otherwise poll for long). */
export const untilPausedOr =
  (...phases: string[]) =>
  (r: ReconcileResult) =>
    r.status.phase === 'Paused' || phases.includes(r.status.phase);
