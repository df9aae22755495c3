/**
 * Two runner behaviours for engines whose drain puts something in place (TiKV: the evict-leader
 * scheduler): the drain is issued again when the engine reports it gone, and a restored member
 * waits until it leads again the share of leaderships the rules ask for (TiDB Operator: 2/3 of
 * before, unless it led fewer than 200; at most 400 s). Pure decisions over hand-built snapshots.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EngineMemberState, MemberView, Snapshot, UpgradeStatus } from '../core/types.js';
import type { EngineRules } from '../core/rules.js';
import { buildPlan } from '../plan/plan.js';
import { applyOutcome, decide } from './decide.js';
import { initialStatus, makeSpec } from './start.js';

const rules: EngineRules = {
  name: 'kv',
  title: 'kv',
  components: [{ name: 'kv', topology: 'multi-raft', stage: 'cluster', prerequisites: [], quorum: true }],
  versions: { direct: () => ({ ok: true }), allowDowngrade: () => ({ ok: true }) },
  prechecks: [],
  hooks: [],
  drainTimeoutProceedSafe: true,
  leadershipReturn: { fraction: 2 / 3, minimum: 200, timeoutSeconds: 400 },
  stepEstimatesMs: {},
};

function member(i: number, version: string, engine: Partial<EngineMemberState>): MemberView {
  return {
    name: `kv-${i}`,
    component: 'kv',
    ordinal: i,
    version,
    ready: true,
    running: true,
    engine: { role: 'follower', healthy: true, caughtUp: true, lag: 0, leaderCount: 300, ...engine },
  };
}

function snap(members: MemberView[]): Snapshot {
  return { observedAt: 0, members, health: { healthy: true, detail: 'ok' } };
}

const spec = makeSpec({ name: 'up', cluster: 'c', engine: 'kv', version: '2.0.0' });

function start(): { status: UpgradeStatus; others: MemberView[] } {
  const others = [member(1, '1.0.0', { leaderCount: 300 }), member(2, '1.0.0', { leaderCount: 300 })];
  const s = snap([member(0, '1.0.0', { leaderCount: 240 }), ...others]);
  const plan = buildPlan({ spec, snapshot: s, rules });
  const status = initialStatus(spec, plan, s, 0);
  status.phase = 'Running';
  return { status, others };
}

describe('drain kept in place and leaderships coming back', () => {
  it('records the leaderships before the drain, drains again when the drain is gone', () => {
    const { status, others } = start();
    const first = decide({
      spec,
      status,
      snapshot: snap([member(0, '1.0.0', { leaderCount: 240 }), ...others]),
      rules,
      now: 1,
    });
    assert.equal(first.action?.kind, 'drain');
    const drained = applyOutcome({ spec, status: first.status, now: 2 }, first.action!, { ok: true });
    const name = first.action!.kind === 'drain' ? first.action!.member : '';
    assert.equal(drained.members[name]?.leadersBefore, name === 'kv-0' ? 240 : 300);
    const lost = decide({
      spec,
      status: drained,
      snapshot: snap(
        [member(0, '1.0.0', { leaderCount: 200, drainInPlace: false }), ...others].map((m) =>
          m.name === name ? { ...m, engine: { ...m.engine!, leaderCount: 200, drainInPlace: false } } : m,
        ),
      ),
      rules,
      now: 3,
    });
    assert.equal(lost.action?.kind, 'drain');
    assert.match(lost.status.history.at(-1)?.message ?? '', /no longer in place.*draining again/);
    const kept = decide({
      spec,
      status: drained,
      snapshot: snap(
        [member(0, '1.0.0', {}), ...others].map((m) =>
          m.name === name ? { ...m, engine: { ...m.engine!, leaderCount: 100, drainInPlace: true } } : m,
        ),
      ),
      rules,
      now: 3,
    });
    assert.equal(kept.action, undefined);
    assert.match(kept.reason, /still holds leadership/);
  });

  const cases: [string, number, number, number, 'wait' | 'done'][] = [
    ['waits while fewer than 2/3 are back', 300, 150, 1_000, 'wait'],
    ['goes on once 2/3 are back', 300, 200, 1_000, 'done'],
    ['does not wait for a store that led fewer than 200', 150, 0, 1_000, 'done'],
    ['goes on after 400 s without them', 300, 10, 401_000, 'done'],
  ];
  for (const [title, before, now, at, want] of cases) {
    it(title, () => {
      const { status } = start();
      const p = status.members['kv-0']!;
      Object.assign(p, {
        state: 'verifying',
        to: '2.0.0',
        drainIssued: true,
        replaceIssued: true,
        restored: true,
        restoredAt: 0,
        leadersBefore: before,
        since: 0,
      });
      status.currentBatch = ['kv-0'];
      const others = [member(1, '1.0.0', {}), member(2, '1.0.0', {})];
      const d = decide({
        spec,
        status,
        snapshot: snap([member(0, '2.0.0', { leaderCount: now }), ...others]),
        rules,
        now: at,
      });
      if (want === 'wait') {
        assert.equal(d.status.members['kv-0']?.state, 'verifying');
        assert.match(d.reason, /kv-0 leads 150 again; waiting for 200 \(0\.67 of 300/);
      } else {
        assert.equal(d.status.members['kv-0']?.state, 'done');
      }
    });
  }
});
