/**
 * A control plane whose starter is killed (SIGKILL: no exit hook runs) leaves no process and no
 * directory behind: its watchdog (reaper.mjs) reaps them. Starts a private control plane through
 * controlplane-main.ts in a child process, kills that child, and looks for its components.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ControlPlaneInfo } from './controlplane.js';

const MAIN = new URL('./controlplane-main.ts', import.meta.url).pathname;

/** PIDs of processes whose command line names `dir` (only the control plane's own do: it is a fresh mkdtemp). */
function processesUsing(dir: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('a control plane whose starter is SIGKILLed is reaped: no process, no directory', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'baton-reaper-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const infoFile = join(work, 'controlplane.json');
  const starter = spawn(process.execPath, ['--import', 'tsx', MAIN, infoFile], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.after(() => {
    if (starter.exitCode === null && starter.signalCode === null) starter.kill('SIGKILL');
  });
  const ready = await new Promise<string>((resolve, reject) => {
    starter.once('exit', (code) => reject(new Error(`controlplane-main exited ${code} before ready`)));
    createInterface({ input: starter.stdout! }).on('line', (line) => {
      if (line.startsWith('controlplane ready')) resolve(line);
    });
  });
  assert.match(ready, /controlplane ready in \d+ ms/);
  const info = JSON.parse(await readFile(infoFile, 'utf8')) as ControlPlaneInfo;
  const dir = dirname(info.kubeconfig);
  assert.ok(existsSync(dir), `${dir} exists while the control plane runs`);
  const running = processesUsing(dir);
  assert.ok(
    running.length >= 4,
    `etcd, apiserver, controller manager, scheduler run (found ${running.length})`,
  );

  const exited = new Promise((resolve) => starter.once('exit', resolve));
  starter.kill('SIGKILL');
  await exited;

  const deadline = Date.now() + 20_000;
  while ((processesUsing(dir).length > 0 || existsSync(dir)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(processesUsing(dir), [], 'no component of the killed starter still runs');
  assert.equal(existsSync(dir), false, `${dir} was removed`);
});
