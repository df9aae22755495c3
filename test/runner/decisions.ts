/**
 * Table tests of the runner's phase functions: a three-member etcd going from 3.5.0 to 3.5.1
 * (etcd-0 the leader), planned by the real planner, and a row type "state in -> step out" whose
 * state is that upgrade changed by the row. Each row is decided twice: the typed {@link Step} of
 * the phase functions and the {@link Decision} `decide` makes of it.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { EngineRules } from '../../src/core/rules.js';
import type { MemberView, Phase, Snapshot, UpgradeSpec, UpgradeStatus } from '../../src/core/types.js';
import { engineRules } from '../../src/engines/registry.js';
import { buildPlan } from '../../src/plan/plan.js';
import { decide, nextStep } from '../../src/runner/decide.js';
import type { Availability, DecideInput, Decision, Step } from '../../src/runner/decision.js';
import { turnOf } from '../../src/runner/decision.js';
import { initialStatus, makeSpec } from '../../src/runner/start.js';

export const FROM = '3.5.0';
export const TO = '3.5.1';
/** The time of every row unless it says otherwise: an hour after the upgrade was created. */
export const NOW = 3_600_000;

/** etcd-`i`: ready, healthy, caught up, on `version`; etcd-0 leads. */
export function member(i: number, version = FROM, change: Partial<MemberView> = {}): MemberView {
  return {
    name: `etcd-${i}`,
    component: 'etcd',
    ordinal: i,
    version,
    ready: true,
    running: true,
    engine: { role: i === 0 ? 'leader' : 'follower', healthy: true, caughtUp: true, lag: 0 },
    ...change,
  };
}

/** The cluster as observed; `healthy` false makes the whole database report unhealthy. */
export function observed(members: MemberView[], healthy = true): Snapshot {
  return { observedAt: NOW, members, health: { healthy, detail: healthy ? 'ok' : 'no leader' } };
}

/** One row: a name, the state (changes to the base upgrade), and what must come out. */
export interface Row {
  name: string;
  spec?: Partial<UpgradeSpec>;
  strategy?: Partial<UpgradeSpec['strategy']>;
  /** The members as observed (default: all three on 3.5.0). */
  members?: MemberView[];
  healthy?: boolean;
  rules?: Partial<EngineRules>;
  availability?: Availability;
  now?: number;
  /** Changes to the journal's status (the base: phase Running, every member pending). */
  status?: (s: UpgradeStatus) => void;
  /** The typed step: every field given must match (a RegExp matches a string field). */
  step: Partial<Record<string, unknown>> & { kind: Step['kind'] };
  /** The phase of the next status. */
  phase: Phase;
  /** Further checks on the decision. */
  then?: (d: Decision) => void;
}

/** The decision input of a row. */
export function inputOf(row: Row): DecideInput {
  const rules = { ...engineRules('etcd'), ...row.rules };
  const members = row.members ?? [member(0), member(1), member(2)];
  const spec = makeSpec({
    name: 'up',
    cluster: 'c',
    engine: 'etcd',
    version: TO,
    ...row.spec,
    strategy: { maxUnavailable: 1, ...row.strategy },
  });
  const before = observed([member(0), member(1), member(2)]);
  const status = initialStatus(spec, buildPlan({ spec, snapshot: before, rules }), before, 0);
  status.phase = 'Running';
  status.prechecks = [{ name: 'quorum', ok: true, reason: 'ok' }];
  status.prechecksAt = 0;
  row.status?.(status);
  return {
    spec,
    status,
    snapshot: observed(members, row.healthy ?? true),
    rules,
    now: row.now ?? NOW,
    ...(row.availability ? { availability: row.availability } : {}),
  };
}

/** `actual` is `want` (fields left undefined ignored), or a string `want` matches. */
function matches(actual: unknown, want: unknown): boolean {
  if (want instanceof RegExp) return typeof actual === 'string' && want.test(actual);
  try {
    assert.deepStrictEqual(actual === undefined ? undefined : JSON.parse(JSON.stringify(actual)), want);
    return true;
  } catch {
    return false;
  }
}

/** One `it` per row: the typed step, the next phase, and that the input was left alone. */
export function table(rows: Row[]): void {
  for (const row of rows) {
    it(row.name, () => {
      const input = inputOf(row);
      const frozen = JSON.stringify(input.status);
      const step = nextStep(turnOf(input, structuredClone(input.status)));
      for (const [key, want] of Object.entries(row.step)) {
        const got = (step as Record<string, unknown>)[key];
        assert.ok(matches(got, want), `step.${key}: got ${JSON.stringify(got)}, want ${String(want)}`);
      }
      const d = decide(input);
      assert.equal(JSON.stringify(input.status), frozen, 'decide changed its input');
      assert.equal(d.status.phase, row.phase, d.reason);
      row.then?.(d);
    });
  }
}
