/**
 * `baton apply` on real etcd killed with SIGKILL twice, at instants spread over its whole run
 * (starting up, planning, prechecks, each member's drain, replacement and verification), then run
 * once more with the same arguments: every time the upgrade ends Completed, and every member was
 * started exactly once on the new version, whatever the two kills interrupted. One cluster takes
 * one configuration restart (`+rK`) per round.
 *
 * Eight rounds at fixed points by default; `BATON_KILL_ROUNDS=40 BATON_KILL_RANDOM=1` kills at
 * random points instead (each failure names its points), as the 1-in-40 report did.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { type TestContext, test } from 'node:test';
import {
  countInLog,
  createLocalCluster,
  installed,
  runCliExpect,
  spawnBaton,
  statusJson,
  tempStateDir,
} from './helpers.js';

/** etcd logs this once per process start. */
const ETCD_START = 'starting an etcd server';
const MEMBERS = ['etcd-0', 'etcd-1', 'etcd-2'];
const ROUNDS = Number(process.env.BATON_KILL_ROUNDS ?? 8);
const RANDOM = process.env.BATON_KILL_RANDOM === '1';

/** A kill: after the `line`-th line of output (0: from the start), `delayMs` later. */
interface KillPoint {
  line: number;
  delayMs: number;
}

/**
 * Kill points of round `k`: the first kill walks through the output of a run (its plan, then one
 * line per step), the second lands early in the next run (startup, prechecks, the step in flight),
 * each after a delay that moves it off the instant the line was written.
 */
function killPoints(k: number): [KillPoint, KillPoint] {
  if (RANDOM) {
    const r = (n: number) => Math.floor(Math.random() * n);
    return [
      { line: r(40), delayMs: r(400) },
      { line: r(12), delayMs: r(400) },
    ];
  }
  return [
    { line: (k * 5) % 40, delayMs: (k * 37) % 120 },
    { line: (k * 3) % 12, delayMs: (k * 71) % 400 },
  ];
}

/** Run `baton <args>` and kill it -9 at `at`; resolves with what it printed. */
async function runAndKill(t: TestContext, args: string[], at: KillPoint): Promise<string> {
  const { child, exited } = spawnBaton(t, args);
  const out = await outputUntil(child, at.line);
  await new Promise((resolve) => setTimeout(resolve, at.delayMs));
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited;
  return out.text();
}

/** Resolves once `child` printed `lines` lines (or ended); `text()` is everything it printed. */
function outputUntil(child: ChildProcess, lines: number): Promise<{ text: () => string }> {
  let text = '';
  const handle = { text: () => text };
  return new Promise((resolve) => {
    const check = () => {
      if (text.split('\n').length - 1 >= lines) resolve(handle);
    };
    child.stdout?.on('data', (d: Buffer) => {
      text += d.toString();
      check();
    });
    child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
    child.once('exit', () => resolve(handle));
    check();
  });
}

test(
  'apply killed -9 twice anywhere, then rerun: Completed, every member started once on the new version',
  { timeout: 900_000 + ROUNDS * 60_000 },
  async (t) => {
    if (!installed('etcd')) return t.skip('etcd is not installed');
    const state = await tempStateDir('kill');
    t.after(state.cleanup);
    const cluster = 'kill';
    await createLocalCluster(state.dir, cluster, 'etcd', 3);
    for (let k = 1; k <= ROUNDS; k++) {
      const to = `3.4.23+r${k}`;
      const args = ['apply', '--state-dir', state.dir, '--to', to];
      const starts = Object.fromEntries(
        await Promise.all(MEMBERS.map(async (m) => [m, await countInLog(state.dir, cluster, m, ETCD_START)])),
      );
      const [first, second] = killPoints(k);
      const outputs = [await runAndKill(t, args, first), await runAndKill(t, args, second)];
      const rerun = await runCliExpect(args);
      const why = `round ${k} (to ${to}), kills ${JSON.stringify([first, second])}\n${outputs
        .map((o, i) => `--- killed run ${i + 1}\n${o}`)
        .join('\n')}\n--- rerun\n${rerun.stdout}`;
      const st = await statusJson(state.dir);
      assert.equal(st.spec.version, to, why);
      assert.equal(st.status.phase, 'Completed', `${st.status.reason}\n${why}`);
      for (const v of st.members ?? []) {
        assert.equal(v.version, to, `${v.name}\n${why}`);
        assert.ok(v.ready, `${v.name} not ready\n${why}`);
      }
      for (const m of MEMBERS) {
        const now = await countInLog(state.dir, cluster, m, ETCD_START);
        assert.equal(now - starts[m]!, 1, `${m} started ${now - starts[m]!} times in round ${k}\n${why}`);
      }
    }
  },
);
