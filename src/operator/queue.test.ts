import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../core/clock.js';
import { WorkQueue } from './queue.js';

describe('WorkQueue', () => {
  it('dedupes keys and hands them out in due order', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.add('ns/b', 100);
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b', 50);
    assert.equal(q.length, 2);
    const t0 = clock.now();
    assert.equal(await q.get(), 'ns/a');
    q.done('ns/a');
    assert.equal(await q.get(), 'ns/b');
    assert.equal(clock.now() - t0, 50, 'the earlier due time of a re-add wins');
    q.done('ns/b');
    assert.equal(q.length, 0);
  });

  it('never hands one key to two workers; a re-add during processing comes back after done', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.add('k');
    assert.equal(await q.get(), 'k');
    q.add('k');
    q.add('other');
    assert.equal(await q.get(), 'other', 'the active key is not handed out again');
    q.done('other');
    let second: string | undefined;
    const waiting = q.get().then((k) => (second = k));
    await new Promise((r) => setImmediate(r));
    assert.equal(second, undefined, 'still held by the first worker');
    q.done('k');
    await waiting;
    assert.equal(second, 'k');
  });

  it('backs off exponentially with a cap, and forget resets it', () => {
    const q = new WorkQueue({ clock: new FakeClock(), baseBackoffMs: 100, maxBackoffMs: 1000 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => q.addRateLimited('k')),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(q.failureCount('k'), 6);
    q.forget('k');
    assert.equal(q.addRateLimited('k'), 100);
  });

  it('shutdown releases waiting workers and refuses new work', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    const waiting = q.get();
    q.shutdown();
    assert.equal(await waiting, undefined);
    q.add('k');
    assert.equal(await q.get(), undefined);
  });

  it('remove drops a queued key', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    q.add('a', 10);
    q.add('b', 20);
    q.remove('a');
    assert.equal(q.has('a'), false);
    assert.equal(await q.get(), 'b');
  });
});
