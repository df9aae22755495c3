/**
 * Engine warnings (ClusterHealth.warnings): kept in the status while they hold, each new one
 * recorded once as a `warning` history entry, which becomes a Warning event (EngineWarning).
 * Pure decisions over hand-built snapshots.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MemberView, Snapshot } from '../core/types.js';
import type { EngineRules } from '../core/rules.js';
import { buildPlan } from '../plan/plan.js';
import { decide } from './decide.js';
import { historyEvent } from './events.js';
import { initialStatus, makeSpec } from './start.js';

const rules: EngineRules = {
  name: 'kv',
  title: 'kv',
  components: [{ name: 'kv', topology: 'raft', stage: 'cluster', prerequisites: [], quorum: true }],
  versions: { direct: () => ({ ok: true }), allowDowngrade: () => ({ ok: true }) },
  prechecks: [],
  hooks: [],
  drainTimeoutProceedSafe: false,
  stepEstimatesMs: {},
};

const member = (i: number): MemberView => ({
  name: `kv-${i}`,
  component: 'kv',
  ordinal: i,
  version: '1.0.0',
  ready: true,
  running: true,
  engine: { role: i === 0 ? 'leader' : 'follower', healthy: true, caughtUp: true, lag: 0 },
});

const snap = (warnings?: string[]): Snapshot => ({
  observedAt: 0,
  members: [member(0), member(1), member(2)],
  health: { healthy: true, detail: 'ok', ...(warnings ? { warnings } : {}) },
});

const WARN = 'force-upgrade is still set: you must remove it';

describe('engine warnings', () => {
  it('are kept in the status while they hold, recorded once as a Warning event, and dropped when gone', () => {
    const spec = makeSpec({ name: 'up', cluster: 'c', engine: 'kv', version: '2.0.0' });
    const plan = buildPlan({ spec, snapshot: snap([WARN]), rules });
    assert.ok(plan.warnings.includes(WARN), 'baton plan shows the warning');
    let status = initialStatus(spec, plan, snap(), 0);

    const first = decide({ spec, status, snapshot: snap([WARN]), rules, now: 1 });
    assert.deepEqual(first.status.warnings, [WARN]);
    const recorded = first.status.history.filter((h) => h.type === 'warning');
    assert.deepEqual(
      recorded.map((h) => h.message),
      [WARN],
    );
    assert.deepEqual(
      [historyEvent(recorded[0]!).type, historyEvent(recorded[0]!).reason],
      ['Warning', 'EngineWarning'],
    );
    status = first.status;

    const again = decide({ spec, status, snapshot: snap([WARN]), rules, now: 2 });
    assert.equal(again.status.history.filter((h) => h.type === 'warning').length, 1, 'recorded once');
    status = again.status;

    const gone = decide({ spec, status, snapshot: snap(), rules, now: 3 });
    assert.equal(gone.status.warnings, undefined);
    const back = decide({ spec, status: gone.status, snapshot: snap([WARN]), rules, now: 4 });
    assert.equal(
      back.status.history.filter((h) => h.type === 'warning').length,
      2,
      'a warning that comes back is recorded again',
    );
  });
});
