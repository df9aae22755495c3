/**
 * Process lifecycle on this machine: spawn a member detached (own process group, output appended
 * to its log) so it outlives Baton, recognise it again later by PID *and* start time (a recycled
 * PID is never mistaken for ours), stop it gracefully with a bounded wait, and run short helper
 * commands (initdb, `--version`) as an unprivileged user when Baton runs as root.
 */
import { spawn } from 'node:child_process';
import { constants, readFileSync } from 'node:fs';
import { access, chown, lstat, open, readFile, readdir, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { BadInputError, OperationalError } from '../../core/errors.js';
import { waitUntil } from '../../core/wait.js';

/**
 * Who a process is: its PID plus what makes that PID unique over time. Recorded when Baton spawns
 * a member and compared on every later look, so a PID recycled by the kernel is never signalled.
 */
export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (`/proc/<pid>/stat` field 22). */
  startTicks: number;
  /** `/proc/sys/kernel/random/boot_id` at spawn; ticks restart from zero after a reboot. */
  bootId: string;
}

/** A Unix account to run a process as. */
export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
}

/** What {@link spawnDetached} starts. */
export interface DetachedSpawn {
  command: string;
  args: string[];
  /** The complete environment of the child (nothing is inherited implicitly). */
  env: Record<string, string>;
  cwd?: string;
  /** Append stdout and stderr here. */
  logFile: string;
  user?: UnixUser;
  /**
   * The child writes its own PID here (atomically, through a shell that then execs `command`)
   * before anything else runs, so a Baton killed right after the spawn, before it could record
   * the PID, leaves a trace its successor finds with {@link findLaunched}.
   */
  pidFile?: string;
}

/**
 * The shell prologue of a spawn with a pid file: `$0` is the pid file, `"$@"` the command line.
 * The PID survives `exec`, and so does the start time {@link identify} reads.
 */
const PID_FILE_PROLOGUE = 'echo $$ > "$0.tmp" && mv -f "$0.tmp" "$0" && exec "$@"';

/** Result of {@link stopProcess}. */
export interface StopOutcome {
  /** The process was already gone (or was not ours) when asked to stop. */
  wasRunning: boolean;
  /** The graceful signal did not end it within the wait and SIGKILL was sent. */
  killed: boolean;
}

/** Result of {@link runCommand}. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Exit of a child spawned by this Baton process, as seen by its `exit` event. */
export interface ChildExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Exits of the children this Baton process spawned and that still run (or have not been reaped
 * yet), by PID: {@link stopProcess} waits on the event instead of polling.
 */
const children = new Map<number, Promise<ChildExit>>();

let cachedBootId: string | undefined;

/** This boot's id (`/proc/sys/kernel/random/boot_id`), or `unknown` where /proc lacks it. */
export async function bootId(): Promise<string> {
  if (cachedBootId !== undefined) return cachedBootId;
  try {
    cachedBootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    cachedBootId = 'unknown';
  }
  return cachedBootId;
}

interface ProcStat {
  state: string;
  pgrp: number;
  startTicks: number;
}

/**
 * `/proc/<pid>/stat`, read synchronously: the kernel builds it in memory, so the read takes
 * microseconds, whereas an asynchronous read waits for a libuv worker thread, and those can all
 * be busy with fsyncs that take hundreds of milliseconds on a loaded disk (which once delayed
 * seeing a stopped PostgreSQL primary gone by 800 ms).
 */
function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is parenthesised and may itself contain spaces or parentheses.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const pgrp = Number(rest[2]);
  const startTicks = Number(rest[19]);
  if (state === undefined || !Number.isFinite(startTicks)) return undefined;
  return { state, pgrp, startTicks };
}

/** The identity of a live process, or undefined when `pid` does not exist (or is a zombie). */
export async function identify(pid: number): Promise<ProcessIdentity | undefined> {
  const st = readProcStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return undefined;
  return { pid, startTicks: st.startTicks, bootId: await bootId() };
}

/**
 * True when the process recorded as `id` still runs: same PID, same start time, same boot, not a
 * zombie. A different process that inherited the PID answers false.
 */
export async function isAlive(id: ProcessIdentity | undefined): Promise<boolean> {
  if (!id) return false;
  const now = await identify(id.pid);
  return now !== undefined && now.startTicks === id.startTicks && now.bootId === id.bootId;
}

/** `/proc/<pid>/cmdline` as argv, or undefined when the process is gone. */
export async function readCmdline(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    const argv = raw.split('\0');
    if (argv[argv.length - 1] === '') argv.pop();
    return argv;
  } catch {
    return undefined;
  }
}

/** Look an account up in /etc/passwd. BadInputError when it does not exist. */
export async function lookupUser(name: string, passwdFile = '/etc/passwd'): Promise<UnixUser> {
  const text = await readFile(passwdFile, 'utf8');
  for (const line of text.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined)
      return { name, uid: Number(uid), gid: Number(gid) };
  }
  throw new BadInputError(
    'unknown-user',
    `user "${name}" is not in ${passwdFile}: create it or run Baton as a non-root user`,
  );
}

/** The user a LaunchSpec's `runAsUser` resolves to: only when Baton runs as root, else undefined. */
export async function effectiveRunAs(runAsUser: string | undefined): Promise<UnixUser | undefined> {
  if (!runAsUser || typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  return lookupUser(runAsUser);
}

/** Give `path` and everything below it (symlinks themselves, not their targets) to `user`. */
export async function chownTree(path: string, user: UnixUser): Promise<void> {
  const st = await lstat(path);
  await chown(path, user.uid, user.gid);
  if (st.isDirectory()) {
    for (const entry of await readdir(path)) await chownTree(join(path, entry), user);
  }
}

/**
 * Start a long-running process in its own session and process group, stdout and stderr appended
 * to `logFile`, not tied to Baton's lifetime: it keeps running if Baton exits or is killed.
 * `onExit` fires if it ends while this Baton process is still alive. Resolves with its identity
 * once spawned; rejects (OperationalError) when the executable cannot be started.
 */
export async function spawnDetached(
  spec: DetachedSpawn,
  onExit?: (exit: ChildExit) => void,
): Promise<ProcessIdentity> {
  if (spec.pidFile) {
    // Through the shell a missing binary would only show as an exit 127: refuse it here instead.
    await access(spec.command, constants.X_OK).catch((err: Error) => {
      throw new OperationalError('spawn-failed', `cannot start ${spec.command}: ${err.message}`, {
        cause: err,
      });
    });
  }
  const log = await open(spec.logFile, 'a', 0o644);
  try {
    if (spec.user) await chown(spec.logFile, spec.user.uid, spec.user.gid);
    const [command, args] = spec.pidFile
      ? ['/bin/sh', ['-c', PID_FILE_PROLOGUE, spec.pidFile, spec.command, ...spec.args]]
      : [spec.command, spec.args];
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: spec.env,
      ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
      ...(spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {}),
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) =>
        reject(
          new OperationalError('spawn-failed', `cannot start ${spec.command}: ${err.message}`, {
            cause: err,
          }),
        ),
      );
      child.once('spawn', () => resolve(child.pid as number));
    });
    children.set(
      pid,
      new Promise<ChildExit>((resolve) =>
        child.once('exit', (code, signal) => {
          children.delete(pid);
          const exit = { pid, code, signal };
          onExit?.(exit);
          resolve(exit);
        }),
      ),
    );
    child.unref();
    const id = await identify(pid);
    // A process that died between spawn and this read still gets a (dead) identity, so callers
    // see it as not running instead of failing here.
    return id ?? { pid, startTicks: -1, bootId: await bootId() };
  } finally {
    await log.close();
  }
}

/**
 * The process a spawn with `pidFile` started, if it still runs `command`: the PID the child wrote,
 * alive, and executing the same binary (`/proc/<pid>/exe`, which a process cannot rewrite the
 * way it can rewrite its title). Undefined when the file is missing, the process is gone, or the
 * PID now belongs to something else (or still to the shell, an instant before its exec).
 */
export async function findLaunched(pidFile: string, command: string): Promise<ProcessIdentity | undefined> {
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, 'utf8')).trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const [exe, binary] = await Promise.all([
    readlink(`/proc/${pid}/exe`).catch(() => undefined),
    realpath(command).catch(() => command),
  ]);
  if (exe === undefined || exe !== binary) return undefined;
  return identify(pid);
}

function signalIfOurs(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Stop the process recorded as `id` (nothing happens when it is gone or the PID now belongs to
 * someone else): send `signal`, wait until it has exited, and after `timeoutMs` send SIGKILL to
 * its whole process group (it leads its own group, so helper children such as PostgreSQL
 * backends go too). Resolves once it is gone. The exit of a process this Baton process spawned
 * is seen through its `exit` event at once; any other is polled every `pollMs` (default 10 ms,
 * each look a read of `/proc/<pid>/stat`).
 */
export async function stopProcess(
  id: ProcessIdentity | undefined,
  opts: { signal?: NodeJS.Signals; timeoutMs: number; clock: Clock; pollMs?: number },
): Promise<StopOutcome> {
  if (!id || !(await isAlive(id))) return { wasRunning: false, killed: false };
  // Alive and in the map: it is our child, so the identity is its own (no other process can hold
  // the PID before this process has reaped it).
  const exited = children.get(id.pid);
  const signal = opts.signal ?? 'SIGTERM';
  const gone = (what: string, timeoutMs: number): Promise<boolean> =>
    waitUntil(what, async () => ((await isAlive(id)) ? undefined : true), {
      clock: opts.clock,
      deadline: opts.clock.now() + timeoutMs,
      pollMs: opts.pollMs ?? (exited ? 50 : 10),
      ...(exited ? { wake: exited } : {}),
    }).catch((err: unknown) => {
      if (err instanceof OperationalError && err.code === 'wait-timeout') return false;
      throw err;
    });
  signalIfOurs(id.pid, signal);
  if (await gone(`process ${id.pid} to exit after ${signal}`, opts.timeoutMs)) {
    return { wasRunning: true, killed: false };
  }
  const st = readProcStat(id.pid);
  if (await isAlive(id)) {
    if (st && st.pgrp === id.pid) {
      try {
        process.kill(-id.pid, 'SIGKILL');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    } else {
      signalIfOurs(id.pid, 'SIGKILL');
    }
  }
  // SIGKILL cannot be ignored; the bound only guards against a process stuck in the kernel.
  if (!(await gone(`process ${id.pid} to exit after SIGKILL`, 10_000))) {
    throw new OperationalError('stop-failed', `process ${id.pid} survived SIGKILL for 10 s`);
  }
  return { wasRunning: true, killed: true };
}

/**
 * Run a short command to completion (initdb, `etcd --version`) with a deadline, optionally as
 * `user`. Never throws for a non-zero exit: the caller reads `code`. Throws OperationalError when
 * the command cannot start or outlives `timeoutMs` (it is then killed).
 */
export async function runCommand(
  command: string,
  args: string[],
  opts: {
    env?: Record<string, string>;
    cwd?: string;
    user?: UnixUser;
    timeoutMs?: number;
    input?: string;
  } = {},
): Promise<CommandResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise<CommandResult>((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new OperationalError('command-failed', `cannot run ${command}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(
          new OperationalError(
            'command-timeout',
            `${command} ${args.join(' ')} did not finish within ${timeoutMs} ms`,
          ),
        );
      } else {
        resolve({ code, signal, stdout, stderr });
      }
    });
  });
}

/** The last `lines` lines of a file (for error messages); empty when it cannot be read. */
export async function tailFile(path: string, lines = 20, maxBytes = 64 * 1024): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString('utf8').split('\n').filter(Boolean).slice(-lines).join('\n');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}
