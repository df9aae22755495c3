import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, KIND, toUpgradeSpec, type UpgradeResource } from '../../api/upgrade.js';
import { makeSpec } from '../../runner/start.js';
import { newStatus } from '../../runner/status.js';
import {
  conditionReason,
  conditionsFor,
  defaultClusterName,
  generationBump,
  invalidStatus,
  isMarkedInvalid,
  mergePatchOf,
  resourceSpecOf,
  resourceStatusOf,
} from './journal.js';

test('resourceSpecOf is the inverse of toUpgradeSpec for every representable field', () => {
  const spec = makeSpec({
    name: 'u1',
    cluster: 'db',
    engine: 'generic',
    version: '1.2.0',
    components: [{ name: 'db', version: '1.2.1' }],
    strategy: {
      batch: { kind: 'exponential', capPercent: 25 },
      maxUnavailable: 2,
      soakSeconds: 1.5,
      pauseAfterFirstBatch: true,
      timeouts: { drainSeconds: 30, readySeconds: 90, readyPolicy: 'proceed' },
    },
    force: ['all-pods-ready'],
    supervised: true,
    pausedExpirySeconds: 3600,
    probe: { rate: 200, workers: 4, readRatio: 0.5, maxWriteGapMs: 1500, maxErrorRate: 0.01, maxP99Ms: 250 },
  });
  const res: UpgradeResource = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'u1', generation: 1 },
    spec: resourceSpecOf(spec, { statefulSet: 'db' }),
  };
  assert.deepEqual(toUpgradeSpec(res, 'db'), spec);
  assert.equal(defaultClusterName(res), 'db');
  assert.equal(
    defaultClusterName({
      ...res,
      spec: { ...res.spec, target: { statefulSets: [{ name: 'a' }, { name: 'b' }] } },
    }),
    'a-b',
  );
});

test('conditions: Progressing, Paused, Blocked (check as reason), Ready; transition times kept while unchanged', () => {
  const spec = makeSpec({ name: 'u', cluster: 'c', engine: 'generic', version: '2' });
  const s = newStatus(spec, Date.parse('2026-01-01T00:00:00Z'));
  s.phase = 'Running';
  s.blockedBy = { check: 'precheck:all-pods-ready', reason: 'not ready: db-1', since: 0 };
  const c1 = conditionsFor(s);
  const by = (cs: typeof c1) => Object.fromEntries(cs.map((c) => [c.type, c]));
  assert.deepEqual(
    c1.map((c) => [c.type, c.status, c.reason]),
    [
      ['Progressing', 'True', 'Running'],
      ['Paused', 'False', 'NotPaused'],
      ['Blocked', 'True', 'PrecheckAllPodsReady'],
      ['Ready', 'False', 'Running'],
      ['Warning', 'False', 'NoWarning'],
    ],
  );
  assert.match(by(c1).Blocked!.message, /precheck:all-pods-ready: not ready: db-1/);

  const later = structuredClone(s);
  later.updatedAt = Date.parse('2026-01-01T00:05:00Z');
  later.phase = 'Paused';
  later.pauseCause = 'db-2 not ready';
  later.blockedBy = undefined;
  const c2 = by(conditionsFor(later, c1));
  assert.equal(c2.Ready!.lastTransitionTime, '2026-01-01T00:00:00.000Z', 'unchanged: kept');
  assert.equal(c2.Paused!.lastTransitionTime, '2026-01-01T00:05:00.000Z');
  assert.equal(c2.Paused!.reason, 'AutoPaused');
  assert.equal(c2.Paused!.message, 'db-2 not ready');
  assert.equal(c2.Progressing!.status, 'False');

  const done = structuredClone(later);
  done.phase = 'Completed';
  done.progress = { done: 7, total: 12, step: 'replace db-3 with 2' };
  const rs = resourceStatusOf(done, conditionsFor(later, c1));
  assert.equal(rs.progressText, '7/12');
  assert.equal(rs.currentStep, 'replace db-3 with 2');
  assert.equal(rs.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
  done.warnings = ['force-upgrade is still set: you must remove it'];
  const warned = by(conditionsFor(done, rs.conditions));
  assert.deepEqual(
    [warned.Warning!.status, warned.Warning!.reason, warned.Warning!.message],
    ['True', 'EngineWarning', 'force-upgrade is still set: you must remove it'],
  );
  assert.equal(conditionReason('3-way'), 'R3Way');
});

test('generationBump changes the form of a false flag, never its meaning', () => {
  assert.deepEqual(generationBump({ target: {}, engine: 'generic', version: '1' }), { paused: false });
  assert.deepEqual(generationBump({ target: {}, engine: 'generic', version: '1', paused: false }), {
    paused: null,
  });
  assert.deepEqual(generationBump({ target: {}, engine: 'generic', version: '1', paused: true }), {
    cancel: false,
  });
});

test('invalidStatus: Failed with Progressing and Ready False InvalidSpec, a history entry, once per generation and message', () => {
  const res: UpgradeResource = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'u1', generation: 2 },
    spec: { target: { statefulSet: 'db' }, engine: 'generic', version: '1.2.0' },
  };
  const message = 'spec.engine: engine "oracle" is not known';
  const now = Date.UTC(2026, 0, 1);
  const st = invalidStatus(res, message, now);
  assert.equal(st.phase, 'Failed');
  assert.equal(st.reason, `invalid spec: ${message}`);
  assert.equal(st.observedGeneration, 2);
  assert.deepEqual(
    st.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}/${c.message}`),
    [
      `Progressing=False/InvalidSpec/${message}`,
      'Paused=False/NotPaused/',
      'Blocked=False/NotBlocked/',
      `Ready=False/InvalidSpec/${message}`,
      'Warning=False/NoWarning/',
    ],
  );
  assert.deepEqual(st.history, [
    { at: now, type: 'phase', phase: 'Failed', message: `invalid spec: ${message}` },
  ]);
  const marked = { ...res, status: st };
  assert.ok(isMarkedInvalid(marked, message));
  assert.ok(!isMarkedInvalid(marked, 'another reason'));
  assert.ok(!isMarkedInvalid({ ...marked, metadata: { ...res.metadata, generation: 3 } }, message));
  // Marked again for a new generation: history kept, unchanged conditions keep their time.
  const later = invalidStatus(
    { ...marked, metadata: { ...res.metadata, generation: 3 } },
    message,
    now + 1000,
  );
  assert.equal(later.history?.length, 2);
  assert.equal(
    later.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime,
    new Date(now).toISOString(),
  );
});

test('mergePatchOf: changed keys, nested objects recursively, removed keys as null, arrays whole', () => {
  assert.deepEqual(
    mergePatchOf({ a: 1, b: { c: 2, d: 3 }, e: [1] }, { a: 1, b: { c: 2, d: 3 }, e: [1] }),
    {},
  );
  assert.deepEqual(
    mergePatchOf(
      { paused: false, strategy: { batch: { type: 'percent', percent: 10 }, soak: '0s' }, force: ['x'] },
      {
        paused: true,
        strategy: { batch: { type: 'fixed', size: 2 }, soak: '0s' },
        force: ['x', 'y'],
        probe: {},
      },
    ),
    {
      paused: true,
      strategy: { batch: { type: 'fixed', size: 2, percent: null } },
      force: ['x', 'y'],
      probe: {},
    },
  );
  assert.deepEqual(mergePatchOf({ probe: { rate: 5 } }, {}), { probe: null });
});
