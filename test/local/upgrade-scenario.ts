/**
 * One real rolling upgrade through the CLI, checked end to end: create a local cluster, `baton apply
 * --probe --report FILE`, then every member at the target with a new process, no acknowledged
 * write lost, and the leadership moves (leaders/primaries drained last, to another member, and
 * none of them leads at the end).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isLeaderRole } from '../../src/core/types.js';
import type { ProbeReport } from '../../src/probe/types.js';
import {
  clusterState,
  createLocalCluster,
  memberPids,
  runCliExpect,
  statusJson,
  waitUntilChecksPass,
} from './helpers.js';

/** What an engine's scenario needs. */
export interface UpgradeScenario {
  engine: 'etcd' | 'postgres' | 'redis';
  members: number;
  from?: string;
  to: string;
  /** Leaders (etcd) or primaries (PostgreSQL, Redis shards) the cluster has. */
  leaders: number;
}

/** What the scenario leaves for engine-specific checks. */
export interface UpgradeOutcome {
  endpoints: Record<string, string>;
  report: { phase: string; durationMs: number; probe: ProbeReport };
  stdout: string;
}

/** Run the scenario in `stateDir` (the caller deletes it) and assert everything generic. */
export async function runUpgradeScenario(s: UpgradeScenario, stateDir: string): Promise<UpgradeOutcome> {
  const cluster = `${s.engine}-e2e`;
  await createLocalCluster(stateDir, cluster, s.engine, s.members, s.from);
  await waitUntilChecksPass(stateDir);
  const before = await memberPids(stateDir, cluster);
  const reportFile = join(stateDir, 'report.json');
  const applied = await runCliExpect([
    'apply',
    '--state-dir',
    stateDir,
    '--to',
    s.to,
    '--probe',
    '--report',
    reportFile,
  ]);
  const why = `\n--- apply stdout\n${applied.stdout}`;

  const report = JSON.parse(await readFile(reportFile, 'utf8')) as UpgradeOutcome['report'];
  assert.equal(report.phase, 'Completed', why);
  assert.equal(report.probe.lostWrites, 0, `lost writes: ${JSON.stringify(report.probe.lost)}${why}`);
  assert.equal(report.probe.readMismatches, 0, why);
  assert.ok(report.probe.acknowledgedWrites > 0, `the probe wrote nothing${why}`);

  const st = await statusJson(stateDir);
  assert.equal(st.status.phase, 'Completed', why);
  assert.equal(st.status.direction, 'forward');
  const progress = Object.entries(st.status.members);
  assert.equal(progress.length, s.members);
  for (const [name, p] of progress) {
    assert.equal(p.state, 'done', `${name}${why}`);
    assert.equal(p.to, s.to, name);
    assert.equal(p.replaceCalls, 1, `${name} was replaced ${p.replaceCalls} times${why}`);
  }

  // Every member runs the target in a new process, and answers.
  const state = await clusterState(stateDir, cluster);
  const after = await memberPids(stateDir, cluster);
  for (const m of state.members) {
    assert.equal(m.version, s.to, m.name);
    assert.ok(after[m.name] !== undefined && after[m.name] !== before[m.name], `${m.name} was not restarted`);
  }
  const views = st.members ?? [];
  assert.equal(views.length, s.members);
  for (const v of views) {
    assert.equal(v.version, s.to, v.name);
    assert.ok(v.ready && v.engine?.healthy, `${v.name} is not ready and healthy: ${JSON.stringify(v)}`);
  }

  // Leaders/primaries went last, each handed over to another member, and none leads at the end.
  const drained = progress.filter(([, p]) => p.leadershipMovedTo !== undefined);
  assert.equal(drained.length, s.leaders, `drained: ${drained.map(([n]) => n).join(', ')}${why}`);
  const lastFollowerBatch = Math.max(
    ...progress.filter(([, p]) => p.leadershipMovedTo === undefined).map(([, p]) => p.batch ?? 0),
  );
  for (const [name, p] of drained) {
    assert.notEqual(p.leadershipMovedTo, name);
    assert.ok((p.batch ?? 0) > lastFollowerBatch, `${name} (a leader) went in batch ${p.batch}${why}`);
    assert.ok(
      st.status.history.some((h) => h.member === name && /moved|switched over|failed over/.test(h.message)),
      `no leadership move of ${name} in history${why}`,
    );
  }
  const finalLeaders = views.filter((v) => isLeaderRole(v.engine?.role)).map((v) => v.name);
  assert.equal(finalLeaders.length, s.leaders, `final leaders: ${finalLeaders.join(', ')}`);
  for (const [name] of drained) {
    assert.ok(!finalLeaders.includes(name), `${name} leads again after the upgrade${why}`);
  }

  return {
    endpoints: Object.fromEntries(views.map((v) => [v.name, v.endpoint ?? ''])),
    report,
    stdout: applied.stdout,
  };
}
