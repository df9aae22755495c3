/**
 * Shared pieces of the end-to-end tests of real upgrades on this machine: the CLI run in-process
 * with captured output, temporary state directories whose clusters are deleted afterwards, and
 * readers for what the CLI and the local platform record.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import type { UpgradeSpec, UpgradeStatus, MemberView } from '../../src/core/types.js';
import { main } from '../../src/cli/main.js';
import type { OutStream } from '../../src/wiring/io.js';
import { openLocalCluster } from '../../src/wiring/targets.js';
import { LocalPlatform } from '../../src/platforms/local/platform.js';
import type { ClusterState } from '../../src/platforms/local/state.js';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The CLI's source entry point, for tests that need the CLI in its own process: run through tsx, so
 * tests exercise the sources, never a stale `dist/` (`bin/baton.js` runs the compiled copy).
 */
export const BATON_ENTRY = join(ROOT, 'src', 'cli', 'baton.ts');

/** What one in-process CLI run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function capture(): OutStream & { text: string } {
  const s = {
    text: '',
    isTTY: false,
    write(t: string) {
      s.text += t;
    },
  };
  return s;
}

/** Run `baton <argv>` in this process (no signal handlers, real clock, no logging). */
export async function runCli(argv: string[]): Promise<CliRun> {
  const stdout = capture();
  const stderr = capture();
  const code = await main(argv, {
    stdout,
    stderr,
    env: process.env,
    clock: systemClock,
    logger: nullLogger,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Like {@link runCli}, but fails with everything printed when the exit code is not `expected`. */
export async function runCliExpect(argv: string[], expected = 0): Promise<CliRun> {
  const r = await runCli(argv);
  if (r.code !== expected) {
    throw new Error(
      `baton ${argv.join(' ')} exited ${r.code}, expected ${expected}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    );
  }
  return r;
}

/**
 * `baton cluster create NAME --engine E --members N [--version V] --state-dir DIR`, expected to
 * succeed.
 */
export function createLocalCluster(
  stateDir: string,
  name: string,
  engine: 'etcd' | 'postgres' | 'redis',
  members: number,
  version?: string,
): Promise<CliRun> {
  return runCliExpect([
    'cluster',
    'create',
    name,
    '--engine',
    engine,
    '--members',
    String(members),
    ...(version ? ['--version', version] : []),
    '--state-dir',
    stateDir,
  ]);
}

/**
 * `baton <args>` in its own process (so a test can kill it), stdout and stderr piped; killed with
 * SIGKILL when the test ends if it is still running. `exited` resolves when it has.
 */
export function spawnBaton(
  t: { after: (fn: () => void) => void },
  args: string[],
): { child: ChildProcessByStdio<null, Readable, Readable>; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', BATON_ENTRY, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited };
}

/**
 * A fresh state directory. `cleanup` deletes every cluster under it through the local platform
 * (which stops only the processes it recorded) and then removes the directory.
 */
export async function tempStateDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `baton-${prefix}-`));
  const cleanup = async () => {
    const ctx = { clock: systemClock, logger: nullLogger };
    for (const c of await LocalPlatform.list(dir).catch(() => [])) {
      const platform = await openLocalCluster({ stateDir: dir, name: c.name, ctx }).catch(() => undefined);
      await platform?.delete(ctx).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  };
  return { dir, cleanup };
}

/** The local platform's state file of cluster `name`. */
export async function clusterState(stateDir: string, name: string): Promise<ClusterState> {
  return JSON.parse(await readFile(join(stateDir, 'clusters', name, 'cluster.json'), 'utf8')) as ClusterState;
}

/** PID of every member as the local platform recorded it. */
export async function memberPids(
  stateDir: string,
  name: string,
): Promise<Record<string, number | undefined>> {
  const s = await clusterState(stateDir, name);
  return Object.fromEntries(s.members.map((m) => [m.name, m.process?.pid]));
}

/** Entries under the cluster's journal directory (`upgrades/`); empty when it does not exist. */
export async function journalEntries(stateDir: string, name: string): Promise<string[]> {
  const dir = join(stateDir, 'clusters', name, 'upgrades');
  if (!existsSync(dir)) return [];
  return readdir(dir);
}

/** What `baton status -o json` prints. */
export interface StatusJson {
  spec: UpgradeSpec;
  status: UpgradeStatus;
  members?: MemberView[];
}

/** `baton status -o json` of the only upgrade of the only cluster under `stateDir`. */
export async function statusJson(stateDir: string, extra: string[] = []): Promise<StatusJson> {
  const r = await runCliExpect(['status', '--state-dir', stateDir, '-o', 'json', ...extra]);
  return JSON.parse(r.stdout) as StatusJson;
}

/** True when the installed binaries a test needs exist. */
export function installed(engine: 'etcd' | 'postgres' | 'redis'): boolean {
  if (engine === 'etcd') return existsSync('/usr/bin/etcd');
  if (engine === 'redis') return existsSync('/usr/bin/redis-server');
  return (
    existsSync(join(ROOT, 'node_modules/pg17-5/native/bin/postgres')) &&
    existsSync(join(ROOT, 'node_modules/pg17-6/native/bin/postgres'))
  );
}

/** Count the lines of a member's log that contain `marker` (each process start logs one). */
export async function countInLog(
  stateDir: string,
  cluster: string,
  member: string,
  marker: string,
): Promise<number> {
  const text = await readFile(join(stateDir, 'clusters', cluster, 'members', member, 'member.log'), 'utf8');
  return text.split('\n').filter((l) => l.includes(marker)).length;
}

/**
 * Wait until `baton check` passes on the only cluster under `stateDir` (a freshly created Redis
 * cluster may still be gossiping replica roles), failing with its last output after `timeoutMs`.
 */
export async function waitUntilChecksPass(stateDir: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await runCli(['check', '--state-dir', stateDir]);
    if (r.code === 0) return;
    if (Date.now() >= deadline) {
      throw new Error(`baton check still fails after ${timeoutMs} ms:\n${r.stdout}${r.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
