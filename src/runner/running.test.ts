/**
 * Table: phase Running (choosing and starting batches, members in flight, the end of a batch),
 * Paused, cancel, expiry; state in -> step out. The base: etcd 3.5.0 -> 3.5.1, etcd-0 the leader,
 * serial batches, budget 1 (see test/runner/decisions.ts).
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { MemberProgress, UpgradeStatus } from '../core/types.js';
import { FROM, member, NOW, table, TO } from '../../test/runner/decisions.js';
import { POLL_MS } from './decision.js';

/** `name` in the batch in flight (batch 1), in `state` since `since`, with `change`. */
function inFlight(
  s: UpgradeStatus,
  name: string,
  state: MemberProgress['state'],
  change: Partial<MemberProgress> = {},
): void {
  s.currentBatch = [name];
  s.batchesStarted = 1;
  s.batchesSincePause = 1;
  Object.assign(s.members[name]!, { state, batch: 1, since: NOW - 1000, ...change });
}

/** Every member but `except` done (they run the target). */
function doneBut(s: UpgradeStatus, ...except: string[]): void {
  for (const [name, m] of Object.entries(s.members)) if (!except.includes(name)) m.state = 'done';
}

const upgraded = (...names: number[]) =>
  [0, 1, 2].map((i) => (names.includes(i) ? member(i, TO) : member(i)));

describe('Running: choosing and starting a batch', () => {
  table([
    {
      name: 'nothing in flight: the first batch, the highest-ordinal follower',
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-2', version: TO }] },
      phase: 'Running',
      then: (d) => {
        assert.deepEqual(d.status.currentBatch, ['etcd-2']);
        assert.equal(d.status.members['etcd-2']!.state, 'replacing');
        assert.equal(d.requeueMs, 0);
      },
    },
    {
      name: 'a member already at the target is done without a restart',
      members: upgraded(2),
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-1', version: TO }] },
      phase: 'Running',
      then: (d) => assert.equal(d.status.members['etcd-2']!.state, 'done'),
    },
    {
      name: 'the leader already replaced by its owner, still catching up: no drain, its leadership not moved back',
      members: [
        member(0, TO, { engine: { role: 'leader', healthy: true, caughtUp: false, lag: 40 } }),
        member(1, TO),
        member(2, TO),
      ],
      status: (s) => doneBut(s, 'etcd-0'),
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-0', version: TO }] },
      phase: 'Running',
      then: (d) => assert.equal(d.status.members['etcd-0']!.state, 'replacing'),
    },
    {
      name: 'another member down: blocked by the budget',
      members: [member(0), member(1, TO, { ready: false }), member(2)],
      status: (s) => doneBut(s, 'etcd-0', 'etcd-2'),
      step: {
        kind: 'block',
        check: 'unavailability-budget',
        reason:
          '2 of 3 etcd members unavailable (down: etcd-1; stopping: etcd-2) would exceed maxUnavailable 1',
        until: NOW + POLL_MS,
      },
      phase: 'Running',
      then: (d) => assert.equal(d.status.blockedBy?.check, 'unavailability-budget'),
    },
    {
      name: 'within the budget but not the quorum: blocked by quorum',
      strategy: { maxUnavailable: 2 },
      members: [member(0), member(1, TO, { ready: false }), member(2)],
      status: (s) => doneBut(s, 'etcd-0', 'etcd-2'),
      step: {
        kind: 'block',
        check: 'quorum',
        reason: 'stopping etcd-2 leaves 1 of 3 etcd members ready and healthy; quorum needs 2',
      },
      phase: 'Running',
    },
    {
      name: 'the leader last: its leadership moves to an upgraded follower first',
      members: upgraded(1, 2),
      status: (s) => doneBut(s, 'etcd-0'),
      step: {
        kind: 'act',
        actions: [{ kind: 'drain', member: 'etcd-0', target: 'etcd-1' }],
        reason: 'move leadership away from etcd-0: transferring to etcd-1 (lag 0, already at 3.5.1)',
      },
      phase: 'Running',
      then: (d) => assert.equal(d.status.members['etcd-0']!.drainTarget, 'etcd-1'),
    },
    {
      name: 'the leader, nobody caught up to take over: blocked by leadership-target',
      members: [
        member(0),
        ...[1, 2].map((i) =>
          member(i, TO, { engine: { role: 'follower', healthy: true, caughtUp: false, lag: 9 } }),
        ),
      ],
      status: (s) => doneBut(s, 'etcd-0'),
      step: {
        kind: 'block',
        check: 'leadership-target',
        reason: /^no healthy caught-up member to take leadership of etcd-0/,
      },
      phase: 'Running',
    },
    {
      name: 'supervised: a human approves the leader step',
      spec: { supervised: true },
      members: upgraded(1, 2),
      status: (s) => doneBut(s, 'etcd-0'),
      step: { kind: 'pause', cause: 'supervised: approve the leader step for etcd-0 with `baton resume`' },
      phase: 'Paused',
      then: (d) => assert.equal(d.status.supervisedGate, 'etcd-0'),
    },
    {
      name: 'the probe reports lost writes: paused',
      availability: { ok: false, reason: 'probe: 3 writes lost' },
      step: { kind: 'pause', cause: 'probe: 3 writes lost' },
      phase: 'Paused',
      then: (d) => assert.equal(d.reason, 'paused: probe: 3 writes lost'),
    },
    {
      name: 'a pause asked for: Paused, members in flight finish',
      spec: { paused: true },
      step: { kind: 'wait', reason: 'paused by user; resume with `baton resume`', until: NOW + 1000 },
      phase: 'Paused',
    },
  ]);
});

describe('Running: members in flight', () => {
  table([
    {
      name: 'replacing: wait for the new version',
      status: (s) => inFlight(s, 'etcd-2', 'replacing', { replaceIssued: true }),
      step: { kind: 'wait', reason: 'waiting: etcd-2 is being replaced with 3.5.1', until: NOW + POLL_MS },
      phase: 'Running',
    },
    {
      name: 'replacing, the outcome never recorded (a crash): replace again',
      status: (s) => inFlight(s, 'etcd-2', 'replacing'),
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-2', version: TO }] },
      phase: 'Running',
    },
    {
      name: 'replacing past the ready timeout: paused',
      status: (s) => inFlight(s, 'etcd-2', 'replacing', { replaceIssued: true, since: NOW - 600_000 }),
      step: { kind: 'pause', cause: 'etcd-2 did not start 3.5.1 within 10m: still on 3.5.0' },
      phase: 'Paused',
    },
    {
      name: 'replacing past the ready timeout, one failure allowed: left aside, the next batch starts',
      strategy: { maxFailedMembers: 1 },
      status: (s) => inFlight(s, 'etcd-2', 'replacing', { replaceIssued: true, since: NOW - 600_000 }),
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-1', version: TO }] },
      phase: 'Running',
      then: (d) => assert.equal(d.status.members['etcd-2']!.state, 'failed'),
    },
    {
      name: 'replacing, now on the target and caught up: verified in the same decision, done, the next batch starts',
      members: upgraded(2),
      status: (s) => inFlight(s, 'etcd-2', 'replacing', { replaceIssued: true }),
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-1', version: TO }] },
      phase: 'Running',
      then: (d) => {
        assert.equal(d.status.members['etcd-2']!.state, 'done');
        const steps = d.status.history.filter((h) => h.member === 'etcd-2').map((h) => h.state);
        assert.deepEqual(steps.slice(-2), ['verifying', 'done']);
      },
    },
    {
      name: 'replacing, now on the target but catching up: verifying',
      members: [
        member(0),
        member(1),
        member(2, TO, { engine: { role: 'follower', healthy: true, caughtUp: false, lag: 7 } }),
      ],
      status: (s) => inFlight(s, 'etcd-2', 'replacing', { replaceIssued: true }),
      step: { kind: 'wait' },
      phase: 'Running',
      then: (d) => assert.equal(d.status.members['etcd-2']!.state, 'verifying'),
    },
    {
      name: 'verifying, ready and caught up: done, and the next batch starts in the same decision',
      members: upgraded(2),
      status: (s) => inFlight(s, 'etcd-2', 'verifying', { replaceIssued: true }),
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-1', version: TO }] },
      phase: 'Running',
      then: (d) => assert.equal(d.status.members['etcd-2']!.state, 'done'),
    },
    {
      name: 'verifying, catching up: wait',
      members: [
        member(0),
        member(1),
        member(2, TO, { engine: { role: 'follower', healthy: true, caughtUp: false, lag: 40 } }),
      ],
      status: (s) => inFlight(s, 'etcd-2', 'verifying', { replaceIssued: true }),
      step: { kind: 'wait', reason: 'waiting: etcd-2: catching up (lag 40)' },
      phase: 'Running',
    },
    {
      name: 'verifying, the platform reports a failure: paused at once',
      members: [
        member(0),
        member(1),
        member(2, TO, { ready: false, failed: true, detail: 'CrashLoopBackOff' }),
      ],
      status: (s) => inFlight(s, 'etcd-2', 'verifying', { replaceIssued: true }),
      step: { kind: 'pause', cause: 'etcd-2 failed on 3.5.1: CrashLoopBackOff' },
      phase: 'Paused',
    },
    {
      name: 'verifying, not ready after the ready timeout: paused',
      members: [member(0), member(1), member(2, TO, { ready: false, detail: 'probe failed' })],
      status: (s) => inFlight(s, 'etcd-2', 'verifying', { replaceIssued: true, since: NOW - 600_000 }),
      step: { kind: 'pause', cause: 'etcd-2 not ready on 3.5.1 after 10m: not ready (probe failed)' },
      phase: 'Paused',
    },
    {
      name: 'draining, the outcome never recorded: the same hand-over again',
      members: upgraded(1, 2),
      status: (s) => {
        doneBut(s, 'etcd-0');
        inFlight(s, 'etcd-0', 'draining', { drainIssued: false, drainTarget: 'etcd-1' });
      },
      step: { kind: 'act', actions: [{ kind: 'drain', member: 'etcd-0', target: 'etcd-1' }] },
      phase: 'Running',
    },
    {
      name: 'draining, still the leader: wait',
      members: upgraded(1, 2),
      status: (s) => {
        doneBut(s, 'etcd-0');
        inFlight(s, 'etcd-0', 'draining', { drainIssued: true, leadershipMovedTo: 'etcd-1' });
      },
      step: { kind: 'wait', reason: 'waiting: etcd-0 still holds leadership; moving to etcd-1' },
      phase: 'Running',
    },
    {
      name: 'draining, leadership moved: replace',
      members: [
        member(0, FROM, { engine: { role: 'follower', healthy: true, caughtUp: true, lag: 0 } }),
        member(1, TO),
        member(2, TO),
      ],
      status: (s) => {
        doneBut(s, 'etcd-0');
        inFlight(s, 'etcd-0', 'draining', { drainIssued: true, leadershipMovedTo: 'etcd-1' });
      },
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-0', version: TO }] },
      phase: 'Running',
      then: (d) => assert.equal(d.status.members['etcd-0']!.state, 'replacing'),
    },
    {
      name: 'draining, its owner replaced it meanwhile (the Redis operator rolling a REC): no more drain',
      members: [
        member(0, TO, { engine: { role: 'leader', healthy: true, caughtUp: false, lag: 40 } }),
        member(1, TO),
        member(2, TO),
      ],
      status: (s) => {
        doneBut(s, 'etcd-0');
        inFlight(s, 'etcd-0', 'draining', { drainIssued: false, drainTarget: 'etcd-1' });
      },
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-0', version: TO }] },
      phase: 'Running',
      then: (d) => {
        assert.equal(d.status.members['etcd-0']!.state, 'replacing');
        assert.match(d.status.history.at(-1)!.message, /etcd-0 already runs 3\.5\.1: no drain/);
      },
    },
    {
      name: 'draining past its timeout (policy pause): paused, the member back to pending',
      members: upgraded(1, 2),
      status: (s) => {
        doneBut(s, 'etcd-0');
        inFlight(s, 'etcd-0', 'draining', { drainIssued: true, since: NOW - 120_000 });
      },
      step: {
        kind: 'pause',
        cause: 'moving leadership away from etcd-0 timed out after 2m: it still holds leadership',
      },
      phase: 'Paused',
      then: (d) => assert.equal(d.status.members['etcd-0']!.state, 'pending'),
    },
  ]);
});

describe('Running: the end of a batch', () => {
  const batchDone = (s: UpgradeStatus) => inFlight(s, 'etcd-2', 'done');
  table([
    {
      name: 'soak: wait the soak time',
      strategy: { soakSeconds: 60 },
      members: upgraded(2),
      status: batchDone,
      step: { kind: 'wait', reason: 'soaking batch 1 for 60s', until: NOW + 60_000 },
      phase: 'Running',
      then: (d) => assert.equal(d.status.batchReadyAt, NOW),
    },
    {
      name: 'soaked: the next batch',
      strategy: { soakSeconds: 60 },
      members: upgraded(2),
      status: (s) => {
        batchDone(s);
        s.batchReadyAt = NOW - 60_000;
      },
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-1', version: TO }] },
      phase: 'Running',
      then: (d) => assert.ok(d.status.history.some((h) => h.message === 'batch 1 soaked 60s')),
    },
    {
      name: 'pause after the first batch',
      strategy: { pauseAfterFirstBatch: true },
      members: upgraded(2),
      status: batchDone,
      step: { kind: 'pause', cause: 'batch 1 done; pausing as configured (resume with `baton resume`)' },
      phase: 'Paused',
      then: (d) => assert.equal(d.status.batchGate, 1),
    },
  ]);
});

describe('Paused, cancel, expiry, terminal', () => {
  const pausedBy = (cause: string) => (s: UpgradeStatus) =>
    Object.assign(s, { phase: 'Paused', pausedAt: NOW - 1000, pauseCause: cause, pausedGeneration: 1 });
  table([
    {
      name: 'paused by Baton, not resumed: wait, saying why',
      status: pausedBy('etcd-2 failed'),
      step: { kind: 'wait', reason: 'paused: etcd-2 failed; resume with `baton resume`', until: NOW + 1000 },
      phase: 'Paused',
    },
    {
      name: 'paused by the user: wait',
      spec: { paused: true },
      status: (s) => Object.assign(s, { phase: 'Paused', pausedAt: NOW - 1000 }),
      step: { kind: 'wait', reason: 'paused by user; resume with `baton resume`' },
      phase: 'Paused',
    },
    {
      name: 'resumed (a new generation): Running, members given up on tried again',
      spec: { generation: 2 },
      status: (s) => {
        pausedBy('etcd-2 failed')(s);
        s.members['etcd-2']!.state = 'failed';
      },
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-2', version: TO }] },
      phase: 'Running',
      then: (d) => assert.equal(d.status.pauseCause, undefined),
    },
    {
      name: 'paused longer than the expiry: Expired',
      status: (s) => Object.assign(s, { phase: 'Paused', pausedAt: NOW - 15 * 86_400_000 }),
      now: NOW,
      step: { kind: 'finish', phase: 'Expired', reason: 'paused for more than 15d: upgrade expired' },
      phase: 'Expired',
    },
    {
      name: 'expired with a member drained but not upgraded (a node cordoned): it is restored first',
      status: (s) => {
        Object.assign(s, { phase: 'Paused', pausedAt: NOW - 15 * 86_400_000 });
        Object.assign(s.members['etcd-2']!, { state: 'draining', drainIssued: true });
      },
      step: {
        kind: 'act',
        actions: [{ kind: 'restore', member: 'etcd-2' }],
        reason: 'restore etcd-2: drained but not upgraded when the upgrade expired',
      },
      phase: 'Paused',
    },
    {
      name: 'expired once it is restored: Expired, what Baton took over stays held',
      status: (s) => {
        Object.assign(s, { phase: 'Paused', pausedAt: NOW - 15 * 86_400_000, custody: 'held' });
        Object.assign(s.members['etcd-2']!, { state: 'draining', drainIssued: true, restored: true });
      },
      step: { kind: 'finish', phase: 'Expired' },
      phase: 'Expired',
      then: (d) => assert.equal(d.status.custody, 'held'),
    },
    {
      name: 'expired with a member failed and left for a human: it stays as it is',
      status: (s) => {
        Object.assign(s, { phase: 'Paused', pausedAt: NOW - 15 * 86_400_000 });
        Object.assign(s.members['etcd-2']!, { state: 'failed', drainIssued: true });
      },
      step: { kind: 'finish', phase: 'Expired' },
      phase: 'Expired',
    },
    {
      name: 'cancelled with nothing in flight: Cancelled',
      spec: { cancel: true },
      status: (s) => void (s.members['etcd-2']!.state = 'done'),
      step: {
        kind: 'finish',
        phase: 'Cancelled',
        reason: 'cancelled: 1 member(s) upgraded stay upgraded, the rest are left alone',
      },
      phase: 'Cancelled',
    },
    {
      name: 'cancelled with a member restarting: it finishes first',
      spec: { cancel: true },
      status: (s) => inFlight(s, 'etcd-2', 'replacing', { replaceIssued: true }),
      step: { kind: 'wait', reason: 'cancelling: waiting for etcd-2 to finish' },
      phase: 'Running',
    },
    {
      name: 'cancelled while draining (not stopped yet): left as it is, Cancelled',
      spec: { cancel: true },
      members: upgraded(1, 2),
      status: (s) => {
        doneBut(s, 'etcd-0');
        inFlight(s, 'etcd-0', 'draining', { drainIssued: false });
      },
      step: { kind: 'finish', phase: 'Cancelled' },
      phase: 'Cancelled',
      then: (d) => assert.equal(d.status.members['etcd-0']!.state, 'pending'),
    },
    {
      name: 'terminal: nothing more',
      status: (s) => void (s.phase = 'Completed'),
      step: { kind: 'wait', reason: 'upgrade is Completed', until: NOW },
      phase: 'Completed',
    },
  ]);
});
