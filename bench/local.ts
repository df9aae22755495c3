/**
 * `npm run bench:local`: real rolling upgrades of etcd, PostgreSQL and Redis on this machine, each
 * run three times on a fresh cluster (temporary state directory, deleted afterwards) through the CLI
 * (`baton apply --probe --report`), and ONE JSON object on stdout with, per engine, every run's
 * figures and their medians. Progress goes to stderr.
 *
 * Usage: `node --import tsx bench/local.ts [etcd] [postgres] [redis] [--runs N]`.
 *
 * Orchestration overhead (see {@link orchestrationOverhead}) is the part of the upgrade during which
 * no member was being drained, replaced, started or caught up: total upgrade time (from the upgrade's
 * creation, or the probe's start when later, to its `finishedAt`) minus the union of the per-member
 * intervals [first history entry of the member (drain or replace decided) -> the member's
 * `finishedAt` (ready and caught up)]. What remains is time Baton itself added:
 * prechecks and planning before the first member, decisions, journal writes and the poll latency
 * between one member becoming ready and the next one starting, and the final observation. The
 * latency between a member actually becoming ready and the runner noticing it lies inside that
 * member's interval and is not counted (the journal cannot tell it apart from catch-up time).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { systemClock } from '../src/core/clock.js';
import { nullLogger } from '../src/core/logger.js';
import type { UpgradeStatus } from '../src/core/types.js';
import { demoVersions } from '../src/cli/demo.js';
import { localEngineKit } from '../src/wiring/engines.js';
import { openLocalCluster } from '../src/wiring/targets.js';
import { LocalPlatform } from '../src/platforms/local/platform.js';
import { runCli } from '../test/local/helpers.js';
import type { ProbeReport } from '../src/probe/types.js';
import { parseBenchArgs, runBench } from './args.js';

/** Members per engine (Redis: three primaries, each with a replica on another member). */
export const MEMBERS: Record<string, number> = { etcd: 3, postgres: 3, redis: 6 };

/** Targets the figures are held to. */
export const TARGETS: Record<
  string,
  { maxGapMs: number; failedOps?: number; lostWrites: number; overheadPct: number }
> = {
  etcd: { maxGapMs: 150, failedOps: 0, lostWrites: 0, overheadPct: 5 },
  postgres: { maxGapMs: 500, lostWrites: 0, overheadPct: 5 },
  redis: { maxGapMs: 150, failedOps: 0, lostWrites: 0, overheadPct: 5 },
};

/** Where the orchestration overhead of one upgrade went. */
export interface Overhead {
  /** First history entry (upgrade created) to `finishedAt`. */
  totalMs: number;
  /** Time covered by no member interval. */
  overheadMs: number;
  overheadPct: number;
  /** Before the first member started: planning, prechecks, the first decision. */
  beforeFirstMs: number;
  /** Between member intervals: decisions, journal writes, poll latency. */
  betweenMs: number;
  /** After the last member was ready: the final observation and the Completed write. */
  afterLastMs: number;
}

/**
 * The orchestration overhead of a finished upgrade from its journal. The upgrade starts at its
 * first history entry, or at `startAt` when that is later (the probe's start: its connection time
 * belongs to the measurement, not to Baton); a member's interval runs from its first history entry
 * (the runner decided to drain or replace it) to its `finishedAt`; the overhead is the total minus
 * the union of those intervals. Throws when the status has no `finishedAt` or a member never
 * finished.
 */
export function orchestrationOverhead(status: UpgradeStatus, startAt?: number): Overhead {
  const created = status.history[0]?.at;
  const t0 = created !== undefined && startAt !== undefined ? Math.max(created, startAt) : created;
  const t1 = status.finishedAt;
  if (t0 === undefined || t1 === undefined) throw new Error('the upgrade has not finished');
  const intervals: [number, number][] = Object.entries(status.members).map(([name, p]) => {
    const first = status.history.find((h) => h.member === name);
    if (!first || p.finishedAt === undefined) throw new Error(`member ${name} never finished`);
    return [Math.max(t0, first.at), Math.min(t1, p.finishedAt)];
  });
  intervals.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let between = 0;
  let end: number | undefined;
  for (const [s, e] of intervals) {
    if (end === undefined) {
      covered += e - s;
      end = e;
    } else if (s > end) {
      between += s - end;
      covered += e - s;
      end = e;
    } else if (e > end) {
      covered += e - end;
      end = e;
    }
  }
  const totalMs = t1 - t0;
  const overheadMs = totalMs - covered;
  return {
    totalMs,
    overheadMs,
    overheadPct: totalMs > 0 ? Math.round((overheadMs / totalMs) * 1000) / 10 : 0,
    beforeFirstMs: intervals.length ? intervals[0]![0] - t0 : totalMs,
    betweenMs: between,
    afterLastMs: end !== undefined ? t1 - end : 0,
  };
}

/** Median of numbers (mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** One run's figures. */
export interface RunFigures extends Overhead {
  maxGapMs: number;
  failedOps: number;
  lostWrites: number;
  ops: number;
  phase: string;
}

/** `baton <argv>` in this process, with everything it printed. */
export async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const r = await runCli(argv);
  return { code: r.code, out: r.stdout + r.stderr };
}

/**
 * Creates the local cluster `bench` of `engine` at `from` in `stateDir` and waits until it passes
 * its checks (a freshly formed Redis cluster may still be gossiping replica roles).
 */
export async function createSettledCluster(engine: string, from: string, stateDir: string): Promise<void> {
  const created = await cli([
    'cluster',
    'create',
    'bench',
    '--engine',
    engine,
    '--members',
    String(MEMBERS[engine] ?? 3),
    '--version',
    from,
    '--state-dir',
    stateDir,
  ]);
  if (created.code !== 0) throw new Error(`cluster create failed:\n${created.out}`);
  // A freshly formed Redis cluster may still be gossiping replica roles: upgrade a settled cluster.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const checked = await cli(['check', '--state-dir', stateDir]);
    if (checked.code === 0) break;
    if (Date.now() >= deadline) throw new Error(`the new cluster never passed its checks:\n${checked.out}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function runOnce(engine: string, from: string, to: string): Promise<RunFigures> {
  const stateDir = await mkdtemp(join(tmpdir(), `baton-bench-${engine}-`));
  const ctx = { clock: systemClock, logger: nullLogger };
  try {
    await createSettledCluster(engine, from, stateDir);
    const reportFile = join(stateDir, 'report.json');
    const applied = await cli([
      'apply',
      '--state-dir',
      stateDir,
      '--to',
      to,
      '--probe',
      '--report',
      reportFile,
    ]);
    if (applied.code !== 0) throw new Error(`apply exited ${applied.code}:\n${applied.out}`);
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as { phase: string; probe: ProbeReport };
    const status = await cli(['status', '--state-dir', stateDir, '-o', 'json']);
    const { status: st } = JSON.parse(status.out) as { status: UpgradeStatus };
    return {
      ...orchestrationOverhead(st, report.probe.startedAt),
      maxGapMs: report.probe.maxGapMs,
      failedOps: report.probe.failedOps,
      lostWrites: report.probe.lostWrites,
      ops: report.probe.ops,
      phase: report.phase,
    };
  } finally {
    for (const c of await LocalPlatform.list(stateDir).catch(() => [])) {
      const p = await openLocalCluster({ stateDir, name: c.name, ctx }).catch(() => undefined);
      await p?.delete(ctx).catch(() => undefined);
    }
    await rm(stateDir, { recursive: true, force: true });
  }
}

const FIGURES = ['totalMs', 'overheadMs', 'overheadPct', 'maxGapMs', 'failedOps', 'lostWrites'] as const;

async function bench(argv: string[]): Promise<void> {
  const { engines, runs } = parseBenchArgs(argv, { engines: Object.keys(TARGETS), defaultRuns: 3 });
  const out: Record<string, unknown> = {};
  for (const engine of engines) {
    const kind = await localEngineKit(engine);
    const { from, to } = demoVersions(await kind.local.installedVersions({ registeredBinaries: {} }));
    const results: RunFigures[] = [];
    for (let i = 0; i < runs; i++) {
      process.stderr.write(`bench:local ${engine} ${from} -> ${to}, run ${i + 1} of ${runs} ... `);
      const r = await runOnce(engine, from, to);
      process.stderr.write(
        `${r.totalMs} ms, overhead ${r.overheadPct}%, longest write gap ${r.maxGapMs} ms, ${r.failedOps} failed, ${r.lostWrites} lost\n`,
      );
      results.push(r);
    }
    const medians = Object.fromEntries(FIGURES.map((f) => [f, median(results.map((r) => r[f]))]));
    const target = TARGETS[engine]!;
    out[engine] = {
      from,
      to,
      members: MEMBERS[engine] ?? 3,
      runs: results,
      median: medians,
      targets: target,
      met: {
        lostWrites: results.every((r) => r.lostWrites <= target.lostWrites),
        maxGapMs: results.every((r) => r.maxGapMs < target.maxGapMs),
        ...(target.failedOps !== undefined
          ? { failedOps: results.every((r) => r.failedOps <= target.failedOps!) }
          : {}),
        overheadPct: results.every((r) => r.overheadPct < target.overheadPct),
      },
    };
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runBench('bench:local', () => bench(process.argv.slice(2)));
}
