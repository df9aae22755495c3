/**
 * `baton demo`: on a fresh machine, create a real cluster on the older installed version, start the
 * probe, upgrade it to the newer one with live progress, print the report, write it as JSON, and
 * remove the cluster (unless --keep).
 */
import { writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BadInputError } from '../core/errors.js';
import { compareVersions } from '../core/version.js';
import { LocalPlatform } from '../platforms/local/platform.js';
import { formatReportText } from '../probe/report.js';
import type { ProbeReport } from '../probe/types.js';
import { summaryOf, type ProbeSummary } from '../probe/log.js';
import { createUpgrade, makeSpec } from '../runner/start.js';
import { driveUpgrade } from './drive.js';
import type { CliIO } from '../wiring/io.js';
import { startProbe } from './probe.js';
import { humanDuration } from './render.js';
import { localEngineKit } from '../wiring/engines.js';
import type { Target } from '../wiring/targets.js';

/** Members per engine in the demo (Redis needs a replica of each of three primaries on another member). */
const DEMO_MEMBERS: Record<string, number> = { postgres: 3, etcd: 3, redis: 6 };

/** The report `--report` writes. */
export interface DemoReport {
  engine: string;
  from: string;
  to: string;
  phase: string;
  durationMs: number;
  upgradeMs: number;
  members: { name: string; version: string; role?: string }[];
  leadershipMoves: string[];
  probe: ProbeSummary;
}

/** Older and newer version to demo with: two installed releases, or one plus a configuration restart. */
export function demoVersions(installed: string[]): { from: string; to: string } {
  const sorted = [...installed].sort(compareVersions);
  const from = sorted[0];
  if (!from) throw new BadInputError('no-binaries', 'no binaries installed for this engine');
  const to = sorted.length > 1 ? sorted[sorted.length - 1]! : `${from}+demo.1`;
  return { from, to };
}

/** Options of `baton demo`. */
export interface DemoOptions {
  engine: string;
  report?: string;
  keep?: boolean;
  stateDir?: string;
}

/** `baton demo`: create a real cluster, upgrade it under a client workload, report, clean up. */
export async function runDemo(o: DemoOptions, io: CliIO, state: { code: number }): Promise<void> {
  const kind = await localEngineKit(o.engine);
  const t0 = io.clock.now();
  const ctx = { clock: io.clock, logger: io.logger, signal: io.signal };
  const installed = await kind.local.installedVersions({ registeredBinaries: {} });
  const { from, to } = demoVersions(installed);
  const stateDir = o.stateDir ? resolve(o.stateDir) : await mkdtemp(join(tmpdir(), 'baton-demo-'));
  const name = `demo-${o.engine}`;
  const members = DEMO_MEMBERS[o.engine] ?? 3;
  io.stdout.write(`Creating a ${members}-member ${o.engine} cluster on ${from} in ${stateDir} ...\n`);
  const platform = await LocalPlatform.create({
    stateDir,
    name,
    adapter: kind.local,
    version: from,
    members,
    ctx,
  });
  const engine = kind.create();
  const target: Target = {
    kind: 'local',
    platform,
    engine,
    clock: io.clock,
    cluster: name,
    close: async () => engine.close?.(),
  };
  let probeStopped: ProbeReport | undefined;
  try {
    const startList = await platform.listMembers(ctx);
    io.stdout.write(`Cluster up: ${startList.map((m) => `${m.name}@${m.endpoint}`).join(', ')}\n`);
    io.stdout.write(
      'Starting the probe (writes with unique ids and reads, with retries and rediscovery) ...\n',
    );
    const probe = await startProbe(target, io, { baselineMs: 0 });
    const spec = makeSpec({ cluster: name, engine: engine.name, version: to, name: 'demo' });
    const rec = await createUpgrade(platform, engine, spec, ctx);
    const plan = rec.status.plan!;
    io.stdout.write(
      `Upgrading ${from} -> ${to}: ${plan.components.map((c) => c.batches.map((b) => b.members.join('+')).join(' -> ')).join('; ')}\n`,
    );
    const upgradeStart = io.clock.now();
    let result;
    try {
      result = await driveUpgrade(target, 'demo', io, { availability: () => probe.verdict({}) });
    } finally {
      probeStopped = (await probe.stop(result?.status)).report;
    }
    const probed: ProbeReport = probeStopped;
    const upgradeMs = io.clock.now() - upgradeStart;
    const final = await platform.listMembers(ctx);
    const snapshot = await engine.observe(final, ctx);
    const moves = result.status.history
      .filter(
        (h) => h.type === 'step' && /leader|primar|switchover|failover|moved/i.test(h.message) && h.member,
      )
      .map((h) => `${h.member}: ${h.message}`);
    io.stdout.write(`\n${result.status.phase}: ${result.status.reason}\n`);
    io.stdout.write('Members:\n');
    for (const m of final) {
      io.stdout.write(
        `  ${m.name.padEnd(14)} ${m.version.padEnd(14)} ${snapshot.members[m.name]?.role ?? '?'}\n`,
      );
    }
    io.stdout.write('Probe:\n');
    for (const line of formatReportText(probed)) io.stdout.write(`  ${line}\n`);
    const durationMs = io.clock.now() - t0;
    io.stdout.write(
      `Upgrade took ${humanDuration(upgradeMs)}; the whole demo ${humanDuration(durationMs)}\n`,
    );
    if (o.report) {
      const probeFigures = summaryOf(probed);
      const report: DemoReport = {
        engine: o.engine,
        from,
        to,
        phase: result.status.phase,
        durationMs,
        upgradeMs,
        members: final.map((m) => ({
          name: m.name,
          version: m.version,
          role: snapshot.members[m.name]?.role,
        })),
        leadershipMoves: moves,
        probe: probeFigures,
      };
      await writeFile(o.report, JSON.stringify(report, null, 2) + '\n');
      io.stdout.write(`Report written to ${o.report}\n`);
    }
    const ok = result.status.phase === 'Completed' && probed.lostWrites === 0;
    state.code = ok ? 0 : 1;
  } finally {
    await engine.close?.();
    if (!o.keep) {
      await platform.delete(ctx);
      // The temporary state directory is ours only when no --state-dir was given.
      if (!o.stateDir) await rm(stateDir, { recursive: true, force: true });
      io.stdout.write(`Cluster ${name} removed.\n`);
    } else {
      io.stdout.write(
        `Cluster ${name} kept under ${stateDir} (baton cluster delete ${name} --state-dir ${stateDir}).\n`,
      );
    }
  }
}
