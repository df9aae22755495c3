/** Table: phases Pending and Prechecking, the take-over and the first hooks, state in -> step out. */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { member, NOW, table, TO } from '../../test/runner/decisions.js';
import { PRECHECK_RETRY_MS } from './decision.js';

const failing = [{ name: 'quorum', ok: false, reason: 'etcd-2 unreachable' }];

describe('Pending and Prechecking', () => {
  table([
    {
      name: 'Pending: run the prechecks',
      status: (s) => void (s.phase = 'Pending'),
      step: { kind: 'act', actions: [{ kind: 'precheck' }] },
      phase: 'Prechecking',
    },
    {
      name: 'Prechecking, never run: run them',
      status: (s) => Object.assign(s, { phase: 'Prechecking', prechecks: [], prechecksAt: undefined }),
      step: { kind: 'act', actions: [{ kind: 'precheck' }] },
      phase: 'Prechecking',
    },
    {
      name: 'Prechecking, could not run 3 s ago: wait for the retry',
      status: (s) =>
        Object.assign(s, {
          phase: 'Prechecking',
          prechecks: [],
          prechecksAt: NOW - 3000,
          prechecksGeneration: 1,
          reason: 'run prechecks failed: timeout',
          blockedBy: { check: 'precheck:error', reason: 'timeout', since: NOW - 3000 },
        }),
      step: { kind: 'wait', reason: 'run prechecks failed: timeout', until: NOW - 3000 + PRECHECK_RETRY_MS },
      phase: 'Prechecking',
      then: (d) => assert.equal(d.status.blockedBy?.check, 'precheck:error'),
    },
    {
      name: 'Prechecking, could not run 10 s ago: run them again (the block stays until they pass)',
      status: (s) =>
        Object.assign(s, {
          phase: 'Prechecking',
          prechecks: [],
          prechecksAt: NOW - PRECHECK_RETRY_MS,
          prechecksGeneration: 1,
          blockedBy: { check: 'precheck:error', reason: 'timeout', since: NOW - 3000 },
        }),
      step: { kind: 'act', actions: [{ kind: 'precheck' }] },
      phase: 'Prechecking',
      then: (d) => assert.equal(d.status.blockedBy?.check, 'precheck:error'),
    },
    {
      name: 'Prechecking, failing 1 s ago: blocked, nothing moves until the retry',
      status: (s) =>
        Object.assign(s, {
          phase: 'Prechecking',
          prechecks: failing,
          prechecksAt: NOW - 1000,
          prechecksGeneration: 1,
          reason: 'blocked by precheck quorum: etcd-2 unreachable',
        }),
      step: { kind: 'wait', reason: 'blocked by precheck quorum: etcd-2 unreachable', until: NOW + 9000 },
      phase: 'Prechecking',
    },
    {
      name: 'Prechecking, failing, spec changed (a force given): run them again at once',
      spec: { generation: 2, force: ['quorum'] },
      status: (s) =>
        Object.assign(s, {
          phase: 'Prechecking',
          prechecks: failing,
          prechecksAt: NOW - 1000,
          prechecksGeneration: 1,
        }),
      step: { kind: 'act', actions: [{ kind: 'precheck' }] },
      phase: 'Prechecking',
      then: (d) => assert.ok(d.status.history.some((h) => h.type === 'force')),
    },
    {
      name: 'Prechecking, failing but forced: Running, the first member goes (highest ordinal follower)',
      status: (s) =>
        Object.assign(s, {
          phase: 'Prechecking',
          prechecks: [{ ...failing[0]!, forced: true }],
          prechecksAt: NOW - 1000,
          prechecksGeneration: 1,
        }),
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-2', version: TO }] },
      phase: 'Running',
      then: (d) => assert.deepEqual(d.status.currentBatch, ['etcd-2']),
    },
    {
      name: 'Prechecking, passed: Running at once',
      status: (s) => Object.assign(s, { phase: 'Prechecking', prechecksGeneration: 1 }),
      step: { kind: 'act', actions: [{ kind: 'replace', member: 'etcd-2', version: TO }] },
      phase: 'Running',
    },
  ]);
});

describe('take-over and hooks before the first member', () => {
  table([
    {
      name: 'an owner to take the members from: take them over first',
      status: (s) => void (s.plan!.custody = { takeOver: 'freeze the StatefulSet', handBack: 'restore it' }),
      step: { kind: 'act', actions: [{ kind: 'takeOver' }], reason: 'take over: freeze the StatefulSet' },
      phase: 'Running',
    },
    {
      name: 'taken over: the engine hook beforeUpgrade',
      rules: { hooks: ['beforeUpgrade', 'beforeComponent'] },
      status: (s) => {
        s.plan!.custody = { takeOver: 'freeze', handBack: 'restore' };
        s.custody = 'held';
      },
      step: { kind: 'act', actions: [{ kind: 'hook', hook: 'beforeUpgrade' }] },
      phase: 'Running',
    },
    {
      name: 'beforeUpgrade done: beforeComponent for etcd',
      rules: { hooks: ['beforeUpgrade', 'beforeComponent'] },
      status: (s) => void (s.hooksDone = ['beforeUpgrade']),
      step: { kind: 'act', actions: [{ kind: 'hook', hook: 'beforeComponent', component: 'etcd' }] },
      phase: 'Running',
    },
    {
      name: 'nothing left to move: no take-over',
      members: [member(0, TO), member(1, TO), member(2, TO)],
      status: (s) => {
        s.plan!.custody = { takeOver: 'freeze', handBack: 'restore' };
        for (const m of Object.values(s.members)) m.state = 'done';
      },
      step: { kind: 'finish', phase: 'Completed' },
      phase: 'Completed',
    },
  ]);
});
