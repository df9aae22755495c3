/**
 * `npm run bench:cli`: how fast the compiled CLI (`bin/baton.js` running `dist/`) starts, as a user
 * typing it sees it. Prints one JSON object with, for each command, the median wall time (ms) and
 * the median peak RSS (MiB) of 10 runs (after one warm-up run), and the targets:
 * - help: `baton --help` (target <= 300 ms and <= 100 MiB);
 * - planSim: `baton plan --platform sim --engine etcd --from 3.5.9 --to 3.6.0` (target <= 500 ms);
 * - status: `baton status` on a finished local etcd upgrade (real processes; no target given).
 * Usage: `npm run bench:cli [-- --runs N]`. Progress goes to stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoVersions } from '../src/cli/demo.js';
import { localEngineKit } from '../src/wiring/engines.js';
import { median } from './local.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'baton.js');
const RSS_PROBE = join(import.meta.dirname, 'rss-probe.cjs');

interface Run {
  ms: number;
  rssMiB: number;
  code: number;
  stderr: string;
}

/** One `baton args` run: wall time from spawn to exit, peak RSS reported by the child itself. */
function runOnce(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, ['--require', RSS_PROBE, BIN, ...args], {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let rss = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdio[3]!.on('data', (d) => (rss += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      resolve({ ms, rssMiB: Number(rss) / 1024, code: code ?? 1, stderr });
    });
  });
}

async function measure(label: string, args: string[], cwd: string, runs: number) {
  const first = await runOnce(args, cwd);
  if (first.code !== 0) throw new Error(`baton ${args.join(' ')} exited ${first.code}: ${first.stderr}`);
  const all: Run[] = [];
  for (let i = 0; i < runs; i++) all.push(await runOnce(args, cwd));
  const out = {
    ms: Math.round(median(all.map((r) => r.ms))),
    rssMiB: Math.round(median(all.map((r) => r.rssMiB))),
  };
  process.stderr.write(`bench:cli ${label}: ${out.ms} ms, ${out.rssMiB} MiB (median of ${runs})\n`);
  return out;
}

async function main(argv: string[]): Promise<void> {
  const at = argv.indexOf('--runs');
  const runs = at >= 0 ? Number(argv[at + 1]) : 10;
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs needs a positive integer');
  const help = await measure('--help', ['--help'], ROOT, runs);
  const planSim = await measure(
    'plan --platform sim',
    ['plan', '--platform', 'sim', '--engine', 'etcd', '--from', '3.5.9', '--to', '3.6.0'],
    ROOT,
    runs,
  );
  const dir = await mkdtemp(join(tmpdir(), 'baton-bench-cli-'));
  const stateDir = join(dir, 'state');
  let status;
  try {
    const kit = await localEngineKit('etcd');
    const { from, to } = demoVersions(await kit.local.installedVersions({ registeredBinaries: {} }));
    process.stderr.write(`bench:cli: a finished local etcd upgrade ${from} -> ${to} ...\n`);
    for (const args of [
      ['cluster', 'create', 'bench', '--engine', 'etcd', '--version', from, '--state-dir', stateDir],
      ['apply', '--to', to, '--state-dir', stateDir],
    ]) {
      const r = await runOnce(args, dir);
      if (r.code !== 0) throw new Error(`baton ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    }
    status = await measure('status', ['status', '--state-dir', stateDir], dir, runs);
  } finally {
    await runOnce(['cluster', 'delete', 'bench', '--state-dir', stateDir], dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  const result = {
    runs,
    help: { ...help, targetMs: 300, targetRssMiB: 100, ok: help.ms <= 300 && help.rssMiB <= 100 },
    planSim: { ...planSim, targetMs: 500, ok: planSim.ms <= 500 },
    status,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

await main(process.argv.slice(2));
