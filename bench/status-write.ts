/**
 * `npm run bench:status`: what one journal write of a node upgrade's status costs the real
 * kube-apiserver (test/kube/), by the number of nodes. The status is the one the runner itself
 * holds halfway through a `kubernetes-nodes` upgrade of 3 control-plane nodes and N - 3 workers
 * (its planner, decisions and outcomes, on nodes that do at once what each action asks), written
 * whole to an Upgrade's status subresource as the operator writes it, WRITES times in a row.
 *
 * Prints ONE JSON object: per size, the status's size and the share of its plan, members and
 * history, the time per write, and the CPU time kube-apiserver spent per write (from
 * /proc/<pid>/stat; only when this run starts the control plane itself). Nothing else runs on the
 * control plane meanwhile: under the load of a real upgrade each write takes several times longer.
 *
 * Environment: BATON_BENCH_NODES (default 100,300,1000), BATON_BENCH_WRITES (default 20),
 * BATON_CONTROLPLANE (use a running control plane; then no CPU figure).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GROUP, PLURAL, VERSION } from '../src/api/upgrade.js';
import type { MemberView, Snapshot, UpgradeStatus } from '../src/core/types.js';
import { kubernetesRules } from '../src/engines/kubernetes/rules.js';
import { buildPlan } from '../src/plan/plan.js';
import { resourceStatusOf } from '../src/platforms/kubernetes/journal.js';
import { type Action, decide, type Outcome } from '../src/runner/decide.js';
import { applyOutcomes } from '../src/runner/outcome.js';
import { initialStatus, makeSpec } from '../src/runner/start.js';
import { startControlPlane } from '../test/kube/controlplane.js';
import { applyDeploy } from '../test/kube/deploy.js';
import { createTestCluster } from '../test/kube/test-cluster.js';

const SIZES = (process.env.BATON_BENCH_NODES ?? '100,300,1000').split(',').map(Number);
const WRITES = Number(process.env.BATON_BENCH_WRITES ?? 20);
const FROM = 'v1.36.3';
const TO = 'v1.37.2';

/**
 * The runner's status of an N-node upgrade once half its nodes are done: its own decisions
 * (`decide`) and outcomes (`applyOutcomes`), on a cluster that does what each action asks at once
 * (a drained node holds nothing, a replaced one runs the target).
 */
function halfwayStatus(nodes: number): UpgradeStatus {
  const member = (name: string, component: string, ordinal: number): MemberView => ({
    name,
    component,
    ordinal,
    version: FROM,
    ready: true,
    running: true,
    engine: { role: 'none', healthy: true, caughtUp: true, lag: 0, leaderCount: 1 },
  });
  const members = [
    ...Array.from({ length: 3 }, (_, i) => member(`cp-${i + 1}`, 'control-plane', i)),
    ...Array.from({ length: nodes - 3 }, (_, i) => member(`w-${String(i).padStart(4, '0')}`, 'workers', i)),
  ];
  const byName = new Map(members.map((m) => [m.name, m]));
  const spec = makeSpec({
    name: 'nodes',
    cluster: 'bench',
    engine: 'kubernetes-nodes',
    version: TO,
    strategy: { batch: { kind: 'exponential', capPercent: 10 }, maxUnavailable: nodes },
  });
  let now = Date.UTC(2026, 11, 7);
  const snapshot = (): Snapshot => ({ observedAt: now, members, health: { healthy: true, detail: 'ok' } });
  const plan = buildPlan({ spec, snapshot: snapshot(), rules: kubernetesRules });
  let status = initialStatus(spec, plan, snapshot(), now);
  while (status.progress.done < nodes / 2) {
    now += 1000;
    const d = decide({ spec, status, snapshot: snapshot(), rules: kubernetesRules, now });
    const actions = d.action ? (d.actions ?? [d.action]) : [];
    const outcomes = actions.map((a): readonly [Action, Outcome] => {
      const m = 'member' in a ? byName.get(a.member) : undefined;
      if (a.kind === 'drain' && m) m.engine = { ...m.engine!, leaderCount: 0 };
      if (a.kind === 'replace' && m) m.version = TO;
      if (a.kind === 'precheck') return [a, { ok: true, prechecks: [] }];
      return [
        a,
        { ok: true, ...(a.kind === 'drain' ? { message: `${a.member}: cordoned, 1 pod evicted` } : {}) },
      ];
    });
    status = applyOutcomes({ spec, status: d.status, now }, outcomes);
    if (actions.length === 0 && d.requeueMs > 60_000) throw new Error(`the upgrade stopped: ${d.reason}`);
  }
  return status;
}

const kb = (x: unknown) => Math.round(JSON.stringify(x ?? null).length / 102.4) / 10;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-bench-status-'));
  const plane = process.env.BATON_CONTROLPLANE ? undefined : await startControlPlane();
  if (plane) {
    process.env.BATON_CONTROLPLANE = join(dir, 'controlplane.json');
    await writeFile(process.env.BATON_CONTROLPLANE, JSON.stringify(plane.info));
  }
  const c = await createTestCluster({ nodes: [] }).catch(async (err: unknown) => {
    await plane?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  try {
    await applyDeploy(c.controlPlane);
    const pid = plane?.pid('kube-apiserver');
    const cpuMs = () => {
      if (!pid) return undefined;
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in 10 ms ticks
    };
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${c.namespace}/${PLURAL}`;
    const results = [];
    for (const nodes of SIZES) {
      const status = halfwayStatus(nodes);
      const name = `nodes-${nodes}`;
      let res = await c.rest.post<{ metadata: { resourceVersion: string } }>(path, {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Upgrade',
        metadata: { name },
        spec: {
          engine: 'kubernetes-nodes',
          version: TO,
          target: { nodes: { actuator: { type: 'job', job: { image: 'registry.local:5000/upgrade:1' } } } },
        },
      });
      const body = resourceStatusOf(status);
      const cpu0 = cpuMs();
      const t0 = performance.now();
      for (let i = 0; i < WRITES; i++) {
        res = await c.rest.call('PUT', `${path}/${name}/status`, {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Upgrade',
          metadata: { name, namespace: c.namespace, resourceVersion: res.metadata.resourceVersion },
          status: { ...body, updatedAt: status.updatedAt + i },
        });
      }
      const ms = (performance.now() - t0) / WRITES;
      const cpu1 = cpuMs();
      results.push({
        nodes,
        done: status.progress.done,
        statusKB: kb(body),
        partsKB: { plan: kb(status.plan), members: kb(status.members), history: kb(status.history) },
        historyEntries: status.history.length,
        msPerWrite: Math.round(ms * 10) / 10,
        ...(cpu0 !== undefined && cpu1 !== undefined
          ? { apiserverCpuMsPerWrite: Math.round(((cpu1 - cpu0) / WRITES) * 10) / 10 }
          : {}),
      });
    }
    process.stdout.write(
      `${JSON.stringify({ controlPlane: c.controlPlane.kubernetesVersion, writesPerSize: WRITES, results })}\n`,
    );
  } finally {
    await c.close();
    await plane?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
