/**
 * Test support: real database servers started from the system binaries on free 127.0.0.1 ports in
 * a temporary directory, for the probe clients' integration tests. Only processes started here
 * are ever signalled, by their PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePorts } from '../../src/platforms/local/ports.js';

/**
 * A free TCP port on 127.0.0.1 for a server process started afterwards. Drawn below the kernel's
 * ephemeral range ({@link pickFreePorts}), because a port from that range can be taken, between
 * this probe and the server's bind, as the local port of any outgoing connection a parallel test
 * opens; the server then fails with "address already in use".
 */
export async function freePort(): Promise<number> {
  const [port] = await pickFreePorts(1, { random: Math.random, exclude: handedOut });
  handedOut.add(port!);
  return port!;
}

/** Ports this process has handed out: never twice, even before their servers bind them. */
const handedOut = new Set<number>();

/** A fresh temporary directory; removed by {@link removeDir}. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `baton-probe-${prefix}-`));
}

/** Removes a directory made by {@link tempDir}. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Changes the owner of `dir` and everything below it. */
export function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const entry of readdirSync(dir, { recursive: true })) {
    const path = join(dir, String(entry));
    if (statSync(path).isSymbolicLink()) continue;
    chownSync(path, uid, gid);
  }
}

/** Sleeps `ms` of real time (test polling only). */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every 50 ms until it returns true, or throws after `timeoutMs` naming `what`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await pause(50);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** The last `lines` lines of a log file ('' when it cannot be read), for failure messages. */
export function logTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

/** One spawned server process with its output in a log file. */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly command: string,
    readonly args: string[],
    readonly logFile: string,
    readonly opts: { env?: Record<string, string>; uid?: number; gid?: number; cwd?: string } = {},
  ) {}

  /** Spawns the process (again, after a stop). */
  start(): void {
    if (this.child) throw new Error(`${this.command} already running`);
    const fd = openSync(this.logFile, 'a');
    const child = spawn(this.command, this.args, {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...this.opts.env },
      cwd: this.opts.cwd,
      uid: this.opts.uid,
      gid: this.opts.gid,
    });
    closeSync(fd);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    this.child = child;
  }

  /** True while the spawned process has not exited. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Sends `signal` to the process this object started and waits until it exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) return;
    const exited = this.exited;
    process.kill(child.pid, signal);
    const killer = setTimeout(() => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 10000);
    await exited;
    clearTimeout(killer);
  }
}
