/**
 * Crash at every step: for generated upgrades on the simulator (several components, batches,
 * leader steps, hooks, soak, gates, finalization, multi-hop paths), the Baton process dies at the
 * k-th status write of the journal, for every k, once just after the write reached the journal and
 * once instead of it; a fresh Runner then continues from the journal. Every such run must end as
 * the uninterrupted run did: the same end, every member restarted exactly as often onto the same
 * versions, the same cluster calls in the same order (a call is repeated only when the crash
 * swallowed the write recording its outcome, and then only right after itself), and the same
 * history, entry for entry. Runs whose members have an owner replace durably (the owner carries a
 * replacement out, as on Kubernetes): the replacement is asked for first and its intent journalled
 * with its outcome, so a crash instead of that write repeats the replacement right after itself.
 *
 * Fixed seed by default; `BATON_PROPERTY_SEED` and `BATON_CRASH_RUNS` override it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { HistoryEntry } from '../../src/core/types.js';
import { DISRUPTIVE_CALLS, MemoryJournalStore, type SimCall } from '../../src/platforms/sim/index.js';
import { CrashingJournal, type JournalCrashPoint } from './crash-journal.js';
import { drive, type RunOutcome, type Scenario } from './harness.js';
import { crashScenarioArb } from './scenarios.js';

const SEED = Number(process.env.BATON_PROPERTY_SEED ?? 20260101);
const RUNS = Number(process.env.BATON_CRASH_RUNS ?? 8);
/** Turns of the event loop a status write takes when the runner writes behind. */
const WRITE_TURNS = 3;

/**
 * The uninterrupted drive of `s`: its outcome, how many status writes it made, and, for each write
 * that ended a reconcile, how long the runner then waited before it looked again.
 */
async function driveUninterrupted(
  s: Scenario,
  behind = false,
): Promise<{ out: RunOutcome; writes: number; waitAfter: Map<number, number> }> {
  const journal = new CrashingJournal(new MemoryJournalStore(), undefined, behind ? WRITE_TURNS : 0);
  const waitAfter = new Map<number, number>();
  let seen = 0;
  const out = await drive(s, {
    journal,
    writeBehind: behind,
    onReconcile: (r) => {
      if (journal.writes > seen) waitAfter.set(journal.writes, r.requeueMs);
      seen = journal.writes;
    },
  });
  return { out, writes: journal.writes, waitAfter };
}

/**
 * A drive of `s` whose process dies at `at`. The restarted process looks again when the
 * uninterrupted one did: at once when the write was lost (the restart makes it again) or
 * announced an action (which the uninterrupted run performed at once), after the requeue when it
 * ended a reconcile. The simulated cluster moves with time, and a restart at another instant may
 * legitimately see (and choose) differently; the property tests over random crash points cover
 * that.
 */
async function driveCrashing(
  s: Scenario,
  at: JournalCrashPoint,
  waitAfter: Map<number, number>,
  behind = false,
): Promise<RunOutcome> {
  const journal = new CrashingJournal(new MemoryJournalStore(), at, behind ? WRITE_TURNS : 0);
  return drive(s, {
    journal,
    writeBehind: behind,
    restartDelayMs: () => (at.when === 'after' ? (waitAfter.get(at.nth) ?? 0) : 0),
  });
}

/** History entries in order, without their times (a restarted process may look again later). */
function historyLines(h: HistoryEntry[]): string[] {
  return h.map((e) => `${e.type}${e.phase ? `/${e.phase}` : ''} ${e.member ?? '-'}: ${e.message}`);
}

/**
 * The cluster-changing calls that succeeded, one line each, without whether a replacement
 * restarted anything (restarts are compared on their own).
 */
function disruptiveCalls(out: RunOutcome): string[] {
  return out.world.cluster.recorder
    .calls()
    .filter((c: SimCall) => DISRUPTIVE_CALLS.includes(c.kind) && c.outcome === 'ok')
    .map((c) => {
      const { restarted: _, ...args } = c.args ?? {};
      return `${c.kind} ${c.member ?? ''} ${JSON.stringify(args)}`;
    });
}

/** `calls` with each immediate repetition of a call dropped. */
function withoutImmediateRepeats(calls: string[]): string[] {
  return calls.filter((c, i) => i === 0 || calls[i - 1] !== c);
}

function restarts(out: RunOutcome): Record<string, Record<string, number>> {
  return Object.fromEntries(
    out.world.cluster.memberViews().map((m) => [m.name, out.world.cluster.recorder.restarts(m.name)]),
  );
}

/**
 * What every crashed run must share with the uninterrupted one: one crash, the same end, and every
 * member restarted as often onto the same versions (asserted); the differences in the end.
 */
function endDifferences(want: RunOutcome, got: RunOutcome): string[] {
  const bad: string[] = [];
  if (got.crashes !== 1) bad.push(`expected one crash, got ${got.crashes}`);
  if (got.stop !== want.stop) bad.push(`stopped ${got.stop}, uninterrupted ${want.stop}`);
  if (got.status.phase !== want.status.phase)
    bad.push(`ended ${got.status.phase} (${got.status.reason}), uninterrupted ${want.status.phase}`);
  assert.deepEqual(restarts(got), restarts(want), 'restarts per member and version');
  return bad;
}

/** How the crashed run `got` differs from the uninterrupted run `want`; empty when it does not. */
function differences(want: RunOutcome, got: RunOutcome, at: JournalCrashPoint): string[] {
  const bad = endDifferences(want, got);
  const calls = disruptiveCalls(got);
  const base = disruptiveCalls(want);
  // Died after the write: the action it announced had not run yet, so nothing may run twice.
  // Died instead of a write: that write may have recorded an action's outcome, which then runs
  // again (every action is idempotent) right after itself, and only that one.
  if (at.when === 'after') {
    assert.deepEqual(calls, base, 'cluster calls');
  } else {
    assert.deepEqual(withoutImmediateRepeats(calls), withoutImmediateRepeats(base), 'cluster calls');
    assert.ok(calls.length - base.length <= 1, `${calls.length - base.length} calls repeated`);
  }
  const history = historyLines(got.status.history);
  const baseHistory = historyLines(want.status.history);
  if (at.when === 'after') {
    assert.deepEqual(history, baseHistory, 'history');
  } else {
    // The repeated action may word its outcome differently ("already under way"): the same
    // entries in the same order, at most one of them worded differently.
    const shape = (lines: string[]) => lines.map((l) => l.slice(0, l.indexOf(':')));
    assert.deepEqual(shape(history), shape(baseHistory), 'history entries');
    const reworded = history.filter((l, i) => l !== baseHistory[i]);
    assert.ok(reworded.length <= 1, `history reworded:\n${reworded.join('\n')}`);
  }
  return bad;
}

/** `calls` with every repetition of a call dropped (its first time kept, in order). */
function firstTimes(calls: string[]): string[] {
  return calls.filter((c, i) => calls.indexOf(c) === i);
}

/**
 * How the crashed run `got` of a runner writing behind differs from the uninterrupted one `want`.
 * Statuses are written coalesced and a crash may lose the last two of them (the one in flight and
 * the one waiting), so the history may hold more or fewer repeated waits and an action whose
 * outcome was lost runs again, not necessarily right after itself; what must not change is the
 * end, every member's restarts onto the same versions, the order in which the cluster was first
 * asked for each change, and the safety rules the simulated cluster checks.
 */
function differencesBehind(want: RunOutcome, got: RunOutcome): string[] {
  const bad = endDifferences(want, got);
  assert.deepEqual(firstTimes(disruptiveCalls(got)), firstTimes(disruptiveCalls(want)), 'cluster calls');
  assert.deepEqual(got.world.cluster.recorder.violations(), [], 'safety');
  return bad;
}

describe('crash at every journal write', () => {
  for (const behind of [false, true])
    it(`ends as the uninterrupted run, for every write and both sides of it (${RUNS} generated upgrades${behind ? ', writing behind' : ''})`, async () => {
      let crashRuns = 0;
      const result = await fc.check(
        fc.asyncProperty(crashScenarioArb, async (s) => {
          const { out: want, writes, waitAfter } = await driveUninterrupted(s, behind);
          assert.ok(writes > 0, 'the uninterrupted run wrote nothing');
          for (let nth = 1; nth <= writes; nth++) {
            for (const when of ['after', 'before'] as const) {
              const at = { nth, when };
              const got = await driveCrashing(s, at, waitAfter, behind);
              crashRuns += 1;
              const why = `crash ${when} write ${nth} of ${writes}`;
              try {
                assert.deepEqual(behind ? differencesBehind(want, got) : differences(want, got, at), [], why);
              } catch (err) {
                (err as Error).message = `${why}: ${(err as Error).message}`;
                throw err;
              }
            }
          }
        }),
        { numRuns: RUNS, seed: SEED },
      );
      if (result.failed) {
        assert.fail(
          `${(result.errorInstance as Error | undefined)?.message}\ncounterexample (seed ${SEED}): ${JSON.stringify(result.counterexample)}`,
        );
      }
      assert.ok(crashRuns > RUNS * 10, `only ${crashRuns} crashed runs`);
    });
});
