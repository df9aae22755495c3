/**
 * The runner is killed with SIGKILL in the middle of a real etcd upgrade; the same `baton apply`
 * run again re-attaches to the running members and finishes from the journal, and no member is
 * started more than once on the new version.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { type TestContext, test } from 'node:test';
import {
  countInLog,
  createLocalCluster,
  installed,
  memberPids,
  runCliExpect,
  spawnBaton,
  statusJson,
  tempStateDir,
} from './helpers.js';

/** etcd logs this once per process start. */
const ETCD_START = 'starting an etcd server';

/** Resolve with the child's output so far once `pattern` appears; reject if it exits first. */
function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      if (pattern.test(text)) {
        child.stdout?.off('data', onData);
        resolve(text);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
    child.once('exit', (code, signal) =>
      reject(new Error(`baton exited (${code ?? signal}) before ${pattern}:\n${text}`)),
    );
  });
}

/**
 * Kill `baton apply` once its output matches `killAt`, rerun it, and check the end state. `strict`:
 * the kill came between members, so the journal also shows exactly one replace call per member
 * (a kill in the middle of a replacement may legitimately issue the idempotent call again).
 */
async function killAndResume(t: TestContext, killAt: RegExp, strict: boolean): Promise<void> {
  if (!installed('etcd')) return t.skip('etcd is not installed');
  const state = await tempStateDir('resume');
  t.after(state.cleanup);
  const cluster = 'resume';
  await createLocalCluster(state.dir, cluster, 'etcd', 3);
  const original = await memberPids(state.dir, cluster);
  const args = ['apply', '--state-dir', state.dir, '--to', '3.4.23+r1'];

  const { child, exited } = spawnBaton(t, args);
  const seen = await waitForOutput(child, killAt);
  child.kill('SIGKILL');
  await exited;
  assert.equal(child.signalCode, 'SIGKILL', `the first run ended by itself before the kill:\n${seen}`);
  const finished = [...seen.matchAll(/(etcd-\d): ready and caught up/g)].map((m) => m[1]!);

  const atKill = await statusJson(state.dir);
  assert.notEqual(atKill.status.phase, 'Completed', 'the kill came too late to test a resume');
  const pidsAtKill = await memberPids(state.dir, cluster);

  const rerun = await runCliExpect(args);
  assert.match(rerun.stdout, /is Running: continuing it/);
  const st = await statusJson(state.dir);
  assert.equal(st.status.phase, 'Completed', rerun.stdout);
  const final = await memberPids(state.dir, cluster);
  const why = `\n--- killed run\n${seen}\n--- rerun\n${rerun.stdout}`;
  // Members finished before the kill kept their process; every member was started exactly once
  // on the new version (its log holds the start at creation and one more).
  for (const name of finished) {
    assert.notEqual(pidsAtKill[name], original[name]);
    assert.equal(final[name], pidsAtKill[name], `${name} was restarted again after the resume${why}`);
  }
  for (const [name, p] of Object.entries(st.status.members)) {
    assert.equal(p.state, 'done', name);
    if (strict) assert.equal(p.replaceCalls, 1, `${name}: replace issued ${p.replaceCalls} times${why}`);
    assert.notEqual(final[name], original[name], `${name} still runs its original process`);
    assert.equal(
      await countInLog(state.dir, cluster, name, ETCD_START),
      2,
      `${name}: not started exactly twice${why}`,
    );
  }
  for (const v of st.members ?? []) {
    assert.equal(v.version, '3.4.23+r1', v.name);
    assert.ok(v.ready, v.name);
  }
}

test(
  'apply killed with -9 after the first member: the rerun continues, nobody restarts twice',
  { timeout: 180_000 },
  (t) => killAndResume(t, /etcd-\d: ready and caught up on 3\.4\.23\+r1/, true),
);

test(
  'apply killed with -9 while the second member is being replaced: the rerun re-attaches',
  { timeout: 180_000 },
  (t) => killAndResume(t, /batch 2 of etcd[^]*etcd-\d: replacing with 3\.4\.23\+r1/, false),
);
