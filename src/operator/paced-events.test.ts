import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { UpgradeResource } from '../api/upgrade.js';
import type { EventSink } from '../platforms/kubernetes/events.js';
import type { RunnerEvent } from '../runner/events.js';
import { PacedEventSink } from './paced-events.js';

const upgrade = { metadata: { name: 'up', namespace: 'ns', uid: 'u1' } } as UpgradeResource;
const event = (message: string): RunnerEvent => ({ type: 'Normal', reason: 'Step', message, at: 0 });

/** An inner sink that records what it was sent, when, and how many sends overlapped. */
function recordingSink(sendMs = 5) {
  const sent: { what: string; at: number }[] = [];
  let busy = 0;
  let maxBusy = 0;
  const work = async (what: string) => {
    busy += 1;
    maxBusy = Math.max(maxBusy, busy);
    await sleep(sendMs);
    sent.push({ what, at: Date.now() });
    busy -= 1;
  };
  const sink: EventSink = {
    emit: (e) => work(e.message),
    prune: async () => {
      await work('prune');
      return sent.length - 1;
    },
  };
  return { sink, sent, maxBusy: () => maxBusy };
}

describe('PacedEventSink', () => {
  it('sends in order, one at a time, none before its delay; a prune after the Events before it', async () => {
    const inner = recordingSink();
    const paced = new PacedEventSink(inner.sink, 40);
    const t0 = Date.now();
    for (const m of ['a', 'b', 'c']) await paced.emit(event(m), { upgrade });
    assert.equal(inner.sent.length, 0, 'emit resolves before anything is sent');
    const pruned = await paced.prune(upgrade, []);
    assert.deepEqual(
      inner.sent.map((s) => s.what),
      ['a', 'b', 'c', 'prune'],
    );
    assert.equal(pruned, 3, 'the prune ran once the three Events were written');
    assert.ok(inner.sent[0]!.at - t0 >= 40, `first sent after ${inner.sent[0]!.at - t0} ms`);
    assert.equal(inner.maxBusy(), 1, 'never two sends at once');
  });

  it('settle sends what is queued at once', async () => {
    const inner = recordingSink(1);
    const paced = new PacedEventSink(inner.sink, 60_000);
    await paced.emit(event('a'), { upgrade });
    await paced.emit(event('b'), { upgrade });
    await paced.settle();
    assert.deepEqual(
      inner.sent.map((s) => s.what),
      ['a', 'b'],
    );
    assert.equal(paced.pending, 0);
  });

  it('a queued Event holds the Upgrade`s identity and spec, not its status', async () => {
    const got: UpgradeResource[] = [];
    const sink: EventSink = {
      emit: async (_e, involved) => {
        got.push(involved.upgrade);
      },
    };
    const paced = new PacedEventSink(sink, 0);
    const spec = { target: { statefulSet: 'db' }, version: '1.1.0' } as UpgradeResource['spec'];
    const full = {
      apiVersion: 'baton.dev/v1alpha1',
      kind: 'Upgrade',
      metadata: { name: 'up', namespace: 'ns', uid: 'u1', resourceVersion: '7' },
      spec,
      status: { phase: 'Running' },
    } as UpgradeResource;
    await paced.emit(event('a'), { upgrade: full });
    await paced.settle();
    assert.deepEqual(got, [
      {
        apiVersion: 'baton.dev/v1alpha1',
        kind: 'Upgrade',
        metadata: { name: 'up', namespace: 'ns', uid: 'u1' },
        spec,
      },
    ]);
  });
});
