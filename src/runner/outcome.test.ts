/**
 * Table: an action's outcome folded into the status (`applyOutcome`): retries of transient
 * errors, the pause past them, a precheck that could not run, precheck results (forced or
 * blocking), and what each successful action records. State in -> status out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadInputError } from '../core/errors.js';
import type { UpgradeStatus } from '../core/types.js';
import { inputOf, NOW, TO } from '../../test/runner/decisions.js';
import type { Action, Outcome } from './decision.js';
import { applyOutcome } from './outcome.js';

interface Row {
  name: string;
  action: Action;
  outcome: Outcome;
  force?: string[];
  status?: (s: UpgradeStatus) => void;
  want: (s: UpgradeStatus) => void;
}

const replace: Action = { kind: 'replace', member: 'etcd-2', version: TO };
const transient: Outcome = { ok: false, error: new Error('connection reset'), retryable: true };

function table(rows: Row[]): void {
  for (const row of rows) {
    it(row.name, () => {
      const { spec, status } = inputOf({
        name: row.name,
        spec: { force: row.force ?? [] },
        step: { kind: 'wait' },
        phase: 'Running',
      });
      row.status?.(status);
      const before = JSON.stringify(status);
      const next = applyOutcome({ spec, status, now: NOW }, row.action, row.outcome);
      assert.equal(JSON.stringify(status), before, 'applyOutcome changed its input');
      assert.equal(next.updatedAt, NOW);
      row.want(next);
    });
  }
}

describe('applyOutcome', () => {
  table([
    {
      name: 'a transient error: retried, counted',
      action: replace,
      outcome: transient,
      want: (s) => {
        assert.deepEqual(s.retry, {
          key: 'replace:etcd-2',
          count: 1,
          lastError: 'replace etcd-2 with 3.5.1 failed: connection reset',
        });
        assert.equal(s.reason, 'retrying (1/2): replace etcd-2 with 3.5.1 failed: connection reset');
        assert.equal(s.phase, 'Running');
      },
    },
    {
      name: 'the same error on the last attempt: paused with the cause, kept on the member',
      action: replace,
      outcome: transient,
      status: (s) => void (s.retry = { key: 'replace:etcd-2', count: 2, lastError: 'x' }),
      want: (s) => {
        assert.equal(s.phase, 'Paused');
        assert.equal(s.pauseCause, 'replace etcd-2 with 3.5.1 failed: connection reset');
        assert.equal(s.members['etcd-2']!.lastError, 'connection reset');
        assert.equal(s.retry, undefined);
      },
    },
    {
      name: 'a different action failing: its own count starts at 1',
      action: { kind: 'drain', member: 'etcd-0', target: 'etcd-1' },
      outcome: transient,
      status: (s) => void (s.retry = { key: 'replace:etcd-2', count: 2, lastError: 'x' }),
      want: (s) => assert.equal(s.retry?.count, 1),
    },
    {
      name: 'an error not worth retrying: paused at once',
      action: replace,
      outcome: { ok: false, error: new BadInputError('bad', 'no such image'), retryable: false },
      want: (s) => {
        assert.equal(s.phase, 'Paused');
        assert.match(s.reason, /^paused: replace etcd-2 with 3\.5\.1 failed: /);
      },
    },
    {
      name: 'prechecks that could not run: blocked by precheck:error, not paused',
      action: { kind: 'precheck' },
      outcome: { ok: false, error: new Error('timeout'), retryable: false },
      status: (s) => void (s.phase = 'Prechecking'),
      want: (s) => {
        assert.equal(s.phase, 'Prechecking');
        assert.equal(s.blockedBy?.check, 'precheck:error');
        assert.equal(s.prechecksAt, NOW);
      },
    },
    {
      name: 'a failing precheck: blocked by it, the first named, the others counted',
      action: { kind: 'precheck' },
      outcome: {
        ok: true,
        prechecks: [
          { name: 'quorum', ok: false, reason: 'etcd-2 unreachable' },
          { name: 'no-alarms', ok: false, reason: 'NOSPACE' },
        ],
      },
      status: (s) => Object.assign(s, { phase: 'Prechecking', prechecks: [] }),
      want: (s) => {
        assert.equal(s.phase, 'Prechecking');
        assert.deepEqual(s.blockedBy, { check: 'precheck:quorum', reason: 'etcd-2 unreachable', since: NOW });
        assert.equal(s.reason, 'blocked by precheck quorum: etcd-2 unreachable (+1 more)');
      },
    },
    {
      name: 'a failing precheck that is forced: recorded as forced, Running',
      action: { kind: 'precheck' },
      outcome: { ok: true, prechecks: [{ name: 'quorum', ok: false, reason: 'etcd-2 unreachable' }] },
      force: ['quorum'],
      status: (s) => Object.assign(s, { phase: 'Prechecking', prechecks: [] }),
      want: (s) => {
        assert.equal(s.phase, 'Running');
        assert.deepEqual(s.forced, ['quorum']);
        assert.equal(s.blockedBy, undefined);
      },
    },
    {
      name: 'a drain done: issued, where the leadership went',
      action: { kind: 'drain', member: 'etcd-0', target: 'etcd-1' },
      outcome: { ok: true, movedTo: 'etcd-2' },
      want: (s) => {
        assert.equal(s.members['etcd-0']!.drainIssued, true);
        assert.equal(s.members['etcd-0']!.leadershipMovedTo, 'etcd-2');
      },
    },
    {
      name: 'a hand-back not possible yet: a wait with its reason, since kept',
      action: { kind: 'handBack' },
      outcome: { ok: true, notYet: 'pods not at rest' },
      status: (s) =>
        Object.assign(s, {
          custody: 'held',
          handBackWait: { since: NOW - 5000, at: NOW - 500, reason: 'x' },
        }),
      want: (s) => {
        assert.deepEqual(s.handBackWait, { since: NOW - 5000, at: NOW, reason: 'pods not at rest' });
        assert.equal(s.custody, 'held');
      },
    },
    {
      name: 'the last hop finalized: finalized, Running until the cluster is healthy',
      action: { kind: 'finalize' },
      outcome: { ok: true },
      status: (s) => void (s.phase = 'AwaitingFinalization'),
      want: (s) => {
        assert.equal(s.finalized, true);
        assert.equal(s.phase, 'Running');
      },
    },
  ]);
});
