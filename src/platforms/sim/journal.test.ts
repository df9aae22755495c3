import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadInputError, ConflictError, OperationalError } from '../../core/errors.js';
import type { UpgradeSpec, UpgradeStatus } from '../../core/types.js';
import { MemoryJournalStore } from './journal.js';
import { makeSpec } from '../../runner/start.js';
import { newStatus } from '../../runner/status.js';

function spec(name: string): UpgradeSpec {
  return makeSpec({
    name,
    cluster: 'sim',
    engine: 'sim',
    version: '1.1.0',
    strategy: { timeouts: { drainSeconds: 60, readySeconds: 300 } },
  });
}

/** A status as the runner starts one (no history here), in `phase`. */
function status(phase: UpgradeStatus['phase'] = 'Pending'): UpgradeStatus {
  return { ...newStatus(spec('u'), 0), phase, progress: { done: 0, total: 3 }, history: [] };
}

describe('MemoryJournalStore', () => {
  it('writes a status only against the revision it read', async () => {
    const j = new MemoryJournalStore();
    const created = await j.create(spec('u1'), status());
    const r2 = await j.writeStatus('u1', { ...status('Running'), reason: 'a' }, created.revision);
    assert.notEqual(r2, created.revision);
    await assert.rejects(j.writeStatus('u1', status('Paused'), created.revision), ConflictError);
    const got = await j.get('u1');
    assert.equal(got?.status.phase, 'Running');
    assert.equal(got?.revision, r2);
  });

  it('deep-copies in and out', async () => {
    const j = new MemoryJournalStore();
    const s = status();
    const created = await j.create(spec('u1'), s);
    s.history.push({ at: 1, type: 'step', message: 'mutated after create' });
    created.status.history.push({ at: 2, type: 'step', message: 'mutated copy' });
    created.spec.force.push('*');
    const got = await j.get('u1');
    assert.deepEqual(got?.status.history, []);
    assert.deepEqual(got?.spec.force, []);
  });

  it('updates the spec by read-modify-write and bumps its generation without touching the status revision', async () => {
    const j = new MemoryJournalStore();
    const created = await j.create(spec('u1'), status());
    const next = await j.updateSpec('u1', (sp) => ({ ...sp, paused: true }));
    assert.equal(next.paused, true);
    assert.equal(next.generation, 2);
    assert.equal((await j.get('u1'))?.revision, created.revision);
    await j.writeStatus('u1', status('Paused'), created.revision);
  });

  it('refuses a second live upgrade of the same name, allows one after a terminal phase', async () => {
    const j = new MemoryJournalStore();
    const created = await j.create(spec('u1'), status());
    await assert.rejects(j.create(spec('u1'), status()), BadInputError);
    await j.writeStatus('u1', status('Completed'), created.revision);
    await j.create(spec('u1'), status());
    await j.create(spec('u2'), status());
    assert.deepEqual((await j.list()).map((r) => r.spec.name).sort(), ['u1', 'u2']);
    await j.delete('u2');
    assert.equal(await j.get('u2'), undefined);
    await assert.rejects(j.writeStatus('u2', status(), '1'), OperationalError);
  });

  it('lets exactly one of two concurrent writers of the same revision win', async () => {
    const j = new MemoryJournalStore();
    const created = await j.create(spec('u1'), status());
    const results = await Promise.allSettled([
      j.writeStatus('u1', { ...status('Running'), reason: 'writer a' }, created.revision),
      j.writeStatus('u1', { ...status('Running'), reason: 'writer b' }, created.revision),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected'],
    );
    assert.equal((await j.get('u1'))?.status.reason, 'writer a');
  });
});
