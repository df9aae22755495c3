import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { systemClock } from '../../core/clock.js';
import { BadInputError } from '../../core/errors.js';
import type { ChildExit, ProcessIdentity } from './process.js';
import {
  findLaunched,
  identify,
  isAlive,
  lookupUser,
  readCmdline,
  runCommand,
  spawnDetached,
  stopProcess,
  tailFile,
} from './process.js';

const started: ProcessIdentity[] = [];
const dir = await mkdtemp(join(tmpdir(), 'baton-process-'));
after(async () => {
  for (const id of started) await stopProcess(id, { timeoutMs: 100, clock: systemClock });
  await rm(dir, { recursive: true, force: true });
});

const SLEEPER = "setInterval(() => {}, 1000); console.log('up');";
const STUBBORN =
  "process.on('SIGTERM', () => console.log('ignored TERM')); setInterval(() => {}, 1000); console.log('up');";

async function waitFor(pred: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await pred()) return;
    await systemClock.sleep(25);
  }
  assert.fail('condition not reached within 5 s');
}

test('spawnDetached starts a process in its own group, logging to the file, and identifies it', async () => {
  const log = join(dir, 'sleeper.log');
  const id = await spawnDetached({ command: process.execPath, args: ['-e', SLEEPER], env: {}, logFile: log });
  started.push(id);
  assert.ok(await isAlive(id));
  assert.deepEqual(await identify(id.pid), id);
  const procStat = await readFile(`/proc/${id.pid}/stat`, 'utf8');
  const fields = procStat.slice(procStat.lastIndexOf(')') + 2).split(' ');
  assert.equal(Number(fields[2]), id.pid, 'the process leads its own process group');
  assert.equal((await readCmdline(id.pid))?.[1], '-e');
  await waitFor(async () => (await tailFile(log)).includes('up'));
});

test('with a pid file, the child records its own PID before it runs the command', async () => {
  const pidFile = join(dir, 'launch.pid');
  const id = await spawnDetached({
    command: process.execPath,
    args: ['-e', SLEEPER],
    env: {},
    logFile: join(dir, 'launched.log'),
    pidFile,
  });
  started.push(id);
  await waitFor(async () => (await findLaunched(pidFile, process.execPath)) !== undefined);
  // The shell exec'd the command: same PID, same start time, the command's own argv.
  assert.deepEqual(await findLaunched(pidFile, process.execPath), id);
  assert.deepEqual(await readCmdline(id.pid), [process.execPath, '-e', SLEEPER]);
  // Another binary under that PID, a missing file, a gone process: nothing found.
  assert.equal(await findLaunched(pidFile, '/bin/sh'), undefined);
  assert.equal(await findLaunched(join(dir, 'none.pid'), process.execPath), undefined);
  await stopProcess(id, { timeoutMs: 1000, clock: systemClock });
  assert.equal(await findLaunched(pidFile, process.execPath), undefined);
  await assert.rejects(
    spawnDetached({ command: join(dir, 'missing'), args: [], env: {}, logFile: join(dir, 'm.log'), pidFile }),
    /cannot start .*missing/,
  );
});

test('a recycled PID (different start time) is not ours: not alive, never signalled', async () => {
  const id = await spawnDetached({
    command: process.execPath,
    args: ['-e', SLEEPER],
    env: {},
    logFile: join(dir, 'other.log'),
  });
  started.push(id);
  const impostor: ProcessIdentity = { ...id, startTicks: id.startTicks - 1 };
  assert.equal(await isAlive(impostor), false);
  const outcome = await stopProcess(impostor, { timeoutMs: 100, clock: systemClock });
  assert.deepEqual(outcome, { wasRunning: false, killed: false });
  assert.ok(await isAlive(id), 'the real process is untouched');
  assert.equal(await isAlive({ ...id, bootId: 'another-boot' }), false);
  assert.equal(await isAlive(undefined), false);
});

test('stopProcess stops gracefully, and kills after the bound when SIGTERM is ignored', async () => {
  const exits: ChildExit[] = [];
  const polite = await spawnDetached(
    { command: process.execPath, args: ['-e', SLEEPER], env: {}, logFile: join(dir, 'polite.log') },
    (e) => exits.push(e),
  );
  started.push(polite);
  assert.deepEqual(await stopProcess(polite, { timeoutMs: 5000, clock: systemClock }), {
    wasRunning: true,
    killed: false,
  });
  assert.equal(await isAlive(polite), false);
  await waitFor(async () => exits.length === 1);
  assert.deepEqual(exits[0], { pid: polite.pid, code: null, signal: 'SIGTERM' });

  const log = join(dir, 'stubborn.log');
  const stubborn = await spawnDetached({
    command: process.execPath,
    args: ['-e', STUBBORN],
    env: {},
    logFile: log,
  });
  started.push(stubborn);
  await waitFor(async () => (await tailFile(log)).includes('up'));
  assert.deepEqual(await stopProcess(stubborn, { timeoutMs: 300, clock: systemClock }), {
    wasRunning: true,
    killed: true,
  });
  assert.equal(await isAlive(stubborn), false);
  assert.match(await tailFile(log), /ignored TERM/);
  assert.deepEqual(await stopProcess(stubborn, { timeoutMs: 300, clock: systemClock }), {
    wasRunning: false,
    killed: false,
  });
});

test('stopProcess sees the exit of a process this one spawned through its exit event, not a poll', async () => {
  const child = await spawnDetached({
    command: process.execPath,
    args: ['-e', SLEEPER],
    env: {},
    logFile: join(dir, 'evented.log'),
  });
  started.push(child);
  const t0 = Date.now();
  // A poll this long would outlast the test: only the exit event can end the wait in time.
  assert.deepEqual(await stopProcess(child, { timeoutMs: 30_000, clock: systemClock, pollMs: 60_000 }), {
    wasRunning: true,
    killed: false,
  });
  assert.ok(Date.now() - t0 < 10_000, `stopped in ${Date.now() - t0} ms`);
  assert.equal(await isAlive(child), false);
});

test('spawnDetached rejects with an OperationalError for a missing executable', async () => {
  await assert.rejects(
    spawnDetached({
      command: join(dir, 'no-such-binary'),
      args: [],
      env: {},
      logFile: join(dir, 'missing.log'),
    }),
    (err: Error & { code?: string }) => err.code === 'spawn-failed' && /no-such-binary/.test(err.message),
  );
});

test('runCommand returns output and exit code, and kills a command that outlives its deadline', async () => {
  const ok = await runCommand(process.execPath, [
    '-e',
    "console.log('out'); console.error('err'); process.exit(4)",
  ]);
  assert.deepEqual(
    { code: ok.code, stdout: ok.stdout, stderr: ok.stderr },
    { code: 4, stdout: 'out\n', stderr: 'err\n' },
  );
  const echoed = await runCommand(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'], {
    input: 'abc',
  });
  assert.equal(echoed.stdout, 'abc');
  await assert.rejects(
    runCommand(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { timeoutMs: 200 }),
    (err: Error & { code?: string }) => err.code === 'command-timeout',
  );
});

test('lookupUser reads passwd entries and rejects unknown users', async () => {
  const passwd = join(dir, 'passwd');
  await writeFile(
    passwd,
    'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
  );
  assert.deepEqual(await lookupUser('nobody', passwd), { name: 'nobody', uid: 65534, gid: 65534 });
  await assert.rejects(lookupUser('ghost', passwd), BadInputError);
});

test('runCommand runs as another user when root', { skip: process.getuid?.() !== 0 }, async () => {
  const nobody = await lookupUser('nobody');
  const res = await runCommand('/usr/bin/id', ['-u'], { user: nobody });
  assert.equal(res.stdout.trim(), String(nobody.uid));
});

test('tailFile returns the last lines, or nothing for a missing file', async () => {
  const f = join(dir, 'lines.log');
  await writeFile(f, Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n') + '\n');
  assert.equal(await tailFile(f, 3), 'line 27\nline 28\nline 29');
  assert.equal(await tailFile(join(dir, 'absent.log')), '');
  assert.ok((await stat(f)).size > 0);
});
