/**
 * Table: the end of a pass (leftovers, failed members, health gate, hand-back, hops, finalization,
 * Completed) and the way back (rollback); state in -> step out. The base: etcd 3.5.0 -> 3.5.1 (see
 * test/runner/decisions.ts), here with every member already upgraded unless a row says otherwise.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { UpgradeStatus } from '../core/types.js';
import { FROM, member, NOW, type Row, table, TO } from '../../test/runner/decisions.js';
import { type Decision, POLL_MS } from './decision.js';

const allUpgraded = [member(0, TO), member(1, TO), member(2, TO)];

function allDone(s: UpgradeStatus): void {
  for (const m of Object.values(s.members)) m.state = 'done';
}

/** Rows whose members all run the target and are done (unless a row says otherwise). */
const done = (rows: Row[]): Row[] =>
  rows.map((row) => ({
    members: allUpgraded,
    ...row,
    status: (s) => {
      allDone(s);
      row.status?.(s);
    },
  }));

describe('the end of a pass', () => {
  table(
    done([
      {
        name: 'every member done, the cluster healthy: Completed',
        step: {
          kind: 'finish',
          phase: 'Completed',
          reason: 'upgrade complete: every member runs its target version',
        },
        phase: 'Completed',
        then: (d) => assert.equal(d.requeueMs, 0),
      },
      {
        name: 'the cluster not healthy yet: blocked by cluster-health',
        healthy: false,
        step: {
          kind: 'block',
          check: 'cluster-health',
          reason: 'every member is upgraded; waiting for the cluster to report healthy: no leader',
          until: NOW + POLL_MS,
        },
        phase: 'Running',
      },
      {
        name: 'the cluster not healthy after the ready timeout: paused',
        healthy: false,
        status: (s) => void (s.blockedBy = { check: 'cluster-health', reason: 'x', since: NOW - 600_000 }),
        step: {
          kind: 'pause',
          cause: 'every member is upgraded but the cluster is not healthy after 10m: no leader',
        },
        phase: 'Paused',
      },
      {
        name: 'a member given up on: paused, naming it and why',
        status: (s) => Object.assign(s.members['etcd-2']!, { state: 'failed', lastError: 'exit 1' }),
        step: {
          kind: 'pause',
          cause:
            'every other member is done; failed and left for a human: etcd-2 (exit 1); fix them and resume (they are tried again), or cancel',
        },
        phase: 'Paused',
      },
      {
        name: 'a member drained but never restarted: restored first',
        status: (s) => void (s.members['etcd-0']!.drainIssued = true),
        step: {
          kind: 'act',
          actions: [{ kind: 'restore', member: 'etcd-0' }],
          reason: 'restore etcd-0: drained but not restarted in this pass',
        },
        phase: 'Running',
      },
      {
        name: 'the engine needs finalization, manual: AwaitingFinalization',
        spec: { finalize: 'manual' },
        status: (s) => void (s.plan!.finalization = true),
        step: { kind: 'finish', phase: 'AwaitingFinalization' },
        phase: 'AwaitingFinalization',
      },
      {
        name: 'the engine needs finalization, auto: finalize',
        status: (s) => void (s.plan!.finalization = true),
        step: { kind: 'act', actions: [{ kind: 'finalize' }] },
        phase: 'Running',
      },
      {
        name: 'finalized: Completed, no way back',
        status: (s) => Object.assign(s, { finalized: true, plan: { ...s.plan!, finalization: true } }),
        step: {
          kind: 'finish',
          phase: 'Completed',
          reason: 'upgrade finalized: rollback is no longer possible',
        },
        phase: 'Completed',
      },
      {
        name: 'an intermediate hop done: the next hop starts, every member pending again',
        status: (s) => {
          s.plan!.path = [
            { from: FROM, to: TO, notes: [], finalize: false },
            { from: TO, to: '3.6.0', notes: [], finalize: false },
          ];
          s.plan!.components[0]!.version = '3.6.0';
        },
        step: { kind: 'wait', reason: 'starting hop 2 of 2 (3.6.0)', until: NOW },
        phase: 'Running',
        then: (d) => {
          assert.equal(d.status.hop, 1);
          assert.deepEqual(
            Object.values(d.status.members).map((m) => [m.state, m.to]),
            [0, 1, 2].map(() => ['pending', '3.6.0']),
          );
        },
      },
      {
        name: 'an intermediate hop to finalize first: finalize it',
        status: (s) => {
          s.plan!.path = [
            { from: FROM, to: TO, notes: [], finalize: true },
            { from: TO, to: '3.6.0', notes: [], finalize: false },
          ];
        },
        step: {
          kind: 'act',
          actions: [{ kind: 'finalize' }],
          reason: 'finalize intermediate hop 3.5.0 -> 3.5.1',
        },
        phase: 'Running',
      },
    ]),
  );
});

describe('hand-back', () => {
  const held = (s: UpgradeStatus) => {
    s.plan!.custody = { takeOver: 'freeze', handBack: 'restore the update strategy' };
    s.custody = 'held';
  };
  table(
    done([
      {
        name: 'the pass over and the members held: hand them back',
        status: held,
        step: {
          kind: 'act',
          actions: [{ kind: 'handBack' }],
          reason: 'hand back: restore the update strategy',
        },
        phase: 'Running',
      },
      {
        name: 'the owner not at rest 200 ms ago: wait the rest of a poll',
        status: (s) => {
          held(s);
          s.handBackWait = { since: NOW - 200, at: NOW - 200, reason: 'pods not at rest' };
        },
        step: { kind: 'wait', reason: 'waiting to hand back: pods not at rest', until: NOW + 300 },
        phase: 'Running',
      },
      {
        name: 'not at rest for the ready timeout: paused',
        status: (s) => {
          held(s);
          s.handBackWait = { since: NOW - 600_000, at: NOW - 1000, reason: 'pods not at rest' };
        },
        step: {
          kind: 'pause',
          cause: 'hand-back not possible after 10m: pods not at rest; resume to try again',
        },
        phase: 'Paused',
      },
      {
        name: 'not at rest for the ready timeout while cancelling: Cancelled, the members still held',
        spec: { cancel: true },
        status: (s) => {
          held(s);
          s.handBackWait = { since: NOW - 600_000, at: NOW - 1000, reason: 'pods not at rest' };
        },
        step: { kind: 'finish', phase: 'Cancelled' },
        phase: 'Cancelled',
        then: (d) => {
          assert.equal(d.status.custody, undefined);
          assert.ok(
            d.status.history.some((h) => h.type === 'error' && /the members stay held$/.test(h.message)),
          );
        },
      },
    ]),
  );
});

describe('cancel', () => {
  table(
    (() => {
      // Paused on etcd-2's failed upgrade (its Job failed), then cancelled by the user.
      const failedOnCancel = (s: UpgradeStatus) => {
        s.phase = 'Paused';
        s.pausedAt = NOW - 60_000;
        s.pausedGeneration = 1;
        s.pauseCause = 'etcd-2 failed while being upgraded to 3.5.1: Job etcd-2-upgrade failed';
        for (const [name, m] of Object.entries(s.members)) {
          if (name === 'etcd-2')
            Object.assign(m, { state: 'replacing', replaceIssued: true, since: NOW - 90_000 });
          else Object.assign(m, { state: 'done', finishedAt: NOW - 120_000 });
        }
      };
      const failedJob = { failed: true, detail: 'Job etcd-2-upgrade failed' };
      return [
        {
          name: 'paused on a member whose upgrade failed: the cancel leaves it failed and ends Cancelled',
          spec: { cancel: true, generation: 2 },
          rules: { steps: { failedWhileReplacing: true } },
          members: [member(0, TO), member(1, TO), member(2, FROM, failedJob)],
          status: failedOnCancel,
          step: { kind: 'finish', phase: 'Cancelled' },
          phase: 'Cancelled' as const,
          then: (d: Decision) => {
            assert.equal(d.status.members['etcd-2']?.state, 'failed');
            assert.match(d.reason, /failed and left for a human: etcd-2/);
          },
        },
        {
          name: 'a member still restarting (not failed) is waited for',
          spec: { cancel: true, generation: 2 },
          rules: { steps: { failedWhileReplacing: true } },
          members: [member(0, TO), member(1, TO), member(2, FROM, { ready: false })],
          status: failedOnCancel,
          step: { kind: 'wait', reason: /^cancelling: waiting for etcd-2 to finish/ },
          phase: 'Running' as const,
        },
      ];
    })(),
  );
});

describe('finalization and rollback', () => {
  const awaiting = (s: UpgradeStatus) => {
    s.phase = 'AwaitingFinalization';
    s.plan!.finalization = true;
  };
  table(
    done([
      {
        name: 'AwaitingFinalization: wait for `baton finalize`',
        status: awaiting,
        step: {
          kind: 'wait',
          reason:
            'every member runs the target version; finalize with `baton finalize` (rollback stays possible until then)',
          until: NOW + 2000,
        },
        phase: 'AwaitingFinalization',
      },
      {
        name: 'AwaitingFinalization, finalize requested: finalize',
        spec: { finalizeRequested: true },
        status: awaiting,
        step: { kind: 'act', actions: [{ kind: 'finalize' }] },
        phase: 'AwaitingFinalization',
      },
      {
        name: 'AwaitingFinalization, a pause asked for: Paused',
        spec: { paused: true },
        status: awaiting,
        step: { kind: 'wait' },
        phase: 'Paused',
      },
      {
        name: 'AwaitingFinalization, rollback requested: Running back, the first member to its original version',
        spec: { rollback: true },
        status: awaiting,
        step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-2', version: FROM }] },
        phase: 'Running',
        then: (d) => assert.equal(d.status.direction, 'rollback'),
      },
      {
        name: 'rollback requested after finalization: blocked by rollback',
        spec: { rollback: true },
        status: (s) => void (s.finalized = true),
        step: {
          kind: 'block',
          check: 'rollback',
          reason: 'the upgrade is finalized: rollback is no longer possible',
        },
        phase: 'Running',
      },
      {
        name: 'rolled back: Completed',
        members: [member(0), member(1), member(2)],
        spec: { rollback: true },
        status: (s) => {
          s.direction = 'rollback';
          for (const m of Object.values(s.members)) m.to = FROM;
        },
        step: {
          kind: 'finish',
          phase: 'Completed',
          reason: 'rolled back: every member runs its original version',
        },
        phase: 'Completed',
      },
    ]),
  );
});
