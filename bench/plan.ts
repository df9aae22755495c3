/**
 * `npm run bench:plan`: planner and runner speed. Prints one JSON object:
 * - pool5000.planMs: plan a 5,000-node worker pool (Kubernetes engine) with exponential batches;
 * - nodes65000.planMs: plan a 65,000-node cluster (the largest a managed Kubernetes offers: GKE),
 *   3 control-plane nodes and 64,997 workers in two pools, on a two-minor path (1.35 -> 1.37 via
 *   1.36), exponential batches capped at 10%; target <= 200 ms (issue 11);
 * - cluster100.planMs: plan 100 members in 5 components (TiDB: pd, tiflash, tikv, tidb, ticdc);
 * - sim.stepCpuMs: runner CPU per simulated upgrade step, one observe -> decide -> persist -> act
 *   cycle with the simulator included; sim.actionCpuMs: CPU per disruptive action counting every
 *   poll in between; sim.decideCpuMs: the pure decision alone;
 * - pool5000.chooseMs: the runner's decision that starts the next batch of a 5,000-node pool at its
 *   10% cap (500 nodes chosen against the safety checks, then their drains started together).
 * Each figure is the median of several runs after a warm-up.
 */
import { FakeClock } from '../src/core/clock.js';
import { nullLogger } from '../src/core/logger.js';
import type { MemberView, Snapshot } from '../src/core/types.js';
import { engineRules } from '../src/engines/registry.js';
import { buildPlan } from '../src/plan/plan.js';
import { simClusterFromFlags } from '../src/platforms/sim/index.js';
import { decide } from '../src/runner/decide.js';
import { observe } from '../src/runner/observe.js';
import { Runner } from '../src/runner/runner.js';
import { createUpgrade, initialStatus, makeSpec } from '../src/runner/start.js';
import { engineRegistry } from '../src/engines/registry.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeMs(fn: () => void, runs: number): number {
  fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(out);
}

function members(component: string, n: number, version: string, leader?: number): MemberView[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `${component}-${i}`,
    component,
    ordinal: i,
    version,
    ready: i % 97 !== 13,
    running: true,
    engine: {
      role: leader === undefined ? 'none' : i === leader ? 'leader' : 'follower',
      healthy: true,
      caughtUp: true,
      lag: (i * 7919) % 1000,
      leaderCount: component === 'tikv' ? (i * 31) % 200 : undefined,
    },
  }));
}

function snapshot(ms: MemberView[]): Snapshot {
  return { observedAt: 0, members: ms, health: { healthy: true, detail: 'ok' } };
}

// 5,000-node pool: control plane of 3 + 4,997 workers, exponential batches capped at 10%.
const poolRules = engineRules('kubernetes-nodes');
const pool = snapshot([...members('control-plane', 3, '1.30.4', 0), ...members('workers', 4997, '1.30.4')]);
const poolSpec = makeSpec({
  cluster: 'pool',
  engine: 'kubernetes-nodes',
  version: '1.31.2',
  strategy: { batch: { kind: 'exponential', capPercent: 10 }, maxUnavailable: 500 },
});
const poolMs = timeMs(() => buildPlan({ spec: poolSpec, snapshot: pool, rules: poolRules }), 15);
const poolPlan = buildPlan({ spec: poolSpec, snapshot: pool, rules: poolRules });

// The runner choosing the next batch of that pool: the control plane is done, and the workers'
// exponential batches have reached their 10% cap (500 of 5,000).
const choosePool = snapshot([
  ...members('control-plane', 3, '1.31.2', 0),
  ...members('workers', 4997, '1.30.4'),
]);
const chooseStatus = initialStatus(
  poolSpec,
  buildPlan({ spec: poolSpec, snapshot: choosePool, rules: poolRules }),
  choosePool,
  0,
);
chooseStatus.phase = 'Running';
chooseStatus.batchesSincePause = 31;
const chooseInput = { spec: poolSpec, status: chooseStatus, snapshot: choosePool, rules: poolRules, now: 1 };
const chosen = decide(chooseInput);
const chooseMs = timeMs(() => void decide(chooseInput), 5);

// 65,000 nodes: 3 control-plane nodes and two pools, two minors to go (a multi-step path).
const bigRules = engineRules('kubernetes-nodes');
const big = snapshot([
  ...members('control-plane', 3, '1.35.4', 0),
  ...members('general', 52_000, '1.35.4'),
  ...members('gpu', 12_997, '1.35.4'),
]);
const bigSpec = makeSpec({
  cluster: 'big',
  engine: 'kubernetes-nodes',
  version: '1.37.2',
  strategy: { batch: { kind: 'exponential', capPercent: 10 }, maxUnavailable: 6500 },
});
const bigMs = timeMs(() => buildPlan({ spec: bigSpec, snapshot: big, rules: bigRules }), 7);
const bigPlan = buildPlan({ spec: bigSpec, snapshot: big, rules: bigRules });

// 100 members in 5 TiDB components.
const tidbRules = engineRules('tidb');
const tidb = snapshot(
  ['pd', 'tiflash', 'tikv', 'tidb', 'ticdc'].flatMap((c) =>
    members(c, 20, 'v8.1.0', c === 'pd' ? 3 : undefined),
  ),
);
const tidbSpec = makeSpec({ cluster: 'tidb', engine: 'tidb', version: 'v8.5.0' });
const clusterMs = timeMs(() => buildPlan({ spec: tidbSpec, snapshot: tidb, rules: tidbRules }), 30);

// Runner CPU per simulated step: a 30-member raft cluster upgraded end to end on fake time.
async function simRun(): Promise<{ cpuMs: number; steps: number; reconciles: number }> {
  const clock = new FakeClock();
  const world = simClusterFromFlags({ engine: 'sim', members: 30, from: '1.0.0', seed: 7 }, engineRegistry, {
    clock,
  });
  const spec = makeSpec({
    cluster: 'sim',
    engine: 'sim',
    version: '2.0.0',
    name: 'bench',
    strategy: { maxUnavailable: 3 },
  });
  await createUpgrade(world.platform, world.engine, spec, { clock, logger: nullLogger });
  let steps = 0;
  let reconciles = 0;
  const runner = new Runner({
    ...world,
    clock,
    logger: nullLogger,
    name: 'bench',
    onAction: () => void (steps += 1),
  });
  const cpu0 = process.cpuUsage();
  for (;;) {
    const r = await runner.reconcile();
    reconciles += 1;
    if (r.terminal) break;
    await clock.sleep(r.requeueMs);
  }
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, steps, reconciles };
}

async function decideCpu(): Promise<number> {
  const clock = new FakeClock();
  const world = simClusterFromFlags({ engine: 'sim', members: 30, from: '1.0.0', seed: 7 }, engineRegistry, {
    clock,
  });
  const spec = makeSpec({ cluster: 'sim', engine: 'sim', version: '2.0.0', name: 'bench' });
  const rec = await createUpgrade(world.platform, world.engine, spec, { clock, logger: nullLogger });
  const snap = await observe(world.platform, world.engine, { clock, logger: nullLogger });
  const input = { spec, status: rec.status, snapshot: snap, rules: world.engine.rules, now: clock.now() };
  return timeMs(() => void decide(input), 200);
}

await simRun();
const runs = [await simRun(), await simRun(), await simRun()];
const perStep = runs.map((r) => r.cpuMs / r.steps);
const perReconcile = runs.map((r) => r.cpuMs / r.reconciles);

const result = {
  pool5000: {
    planMs: Number(poolMs.toFixed(2)),
    members: 5000,
    batches: poolPlan.components.reduce((n, c) => n + c.batches.length, 0),
    targetMs: 200,
    chooseMs: Number(chooseMs.toFixed(2)),
    chosen: chosen.actions?.length ?? (chosen.action ? 1 : 0),
  },
  nodes65000: {
    planMs: Number(bigMs.toFixed(2)),
    members: big.members.length,
    hops: bigPlan.path?.length ?? 1,
    batches: bigPlan.components.reduce((n, c) => n + c.batches.length, 0),
    targetMs: 200,
  },
  cluster100: { planMs: Number(clusterMs.toFixed(2)), members: 100, components: 5 },
  sim: {
    // A runner step is one observe -> decide -> persist -> act cycle (simulator included).
    stepCpuMs: Number(median(perReconcile).toFixed(3)),
    // CPU per disruptive action (replace, drain, restore...), counting every poll in between.
    actionCpuMs: Number(median(perStep).toFixed(3)),
    decideCpuMs: Number((await decideCpu()).toFixed(3)),
    actions: runs[0]!.steps,
    steps: runs[0]!.reconciles,
    targetStepCpuMs: 1,
  },
};
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
