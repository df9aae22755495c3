import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EngineObservation } from '../../core/ports.js';
import type { PlatformMember } from '../../core/types.js';
import { TiflashAvailability, parseMinReadySeconds } from './tiflash-ready.js';

function member(name: string, version: string, ready = true): PlatformMember {
  return { name, component: name.replace(/-\d+$/, ''), ordinal: 0, version, ready, running: true };
}

function seen(healthy: Record<string, boolean>): EngineObservation {
  return {
    members: Object.fromEntries(
      Object.entries(healthy).map(([n, h]) => [
        n,
        { role: 'follower' as const, healthy: h, caughtUp: h, lag: 0, detail: 'store 4 Up' },
      ]),
    ),
    health: { healthy: true, detail: '' },
  };
}

describe('tiflash-min-ready-seconds', () => {
  it('reads the annotation as strconv.Atoi does: an integer, anything else 0 with a warning', () => {
    assert.deepEqual(parseMinReadySeconds(undefined), { seconds: 0 });
    assert.deepEqual(parseMinReadySeconds('30'), { seconds: 30 });
    assert.deepEqual(parseMinReadySeconds('+5'), { seconds: 5 });
    assert.deepEqual(parseMinReadySeconds('-3'), { seconds: 0 });
    for (const bad of ['', '1.5', '10s', ' 3', 'abc']) {
      const r = parseMinReadySeconds(bad);
      assert.equal(r.seconds, 0, bad);
      assert.match(r.warning ?? '', /tiflash-min-ready-seconds=".*" should be an integer: ignored \(0\)/);
    }
  });

  it('holds an upgraded TiFlash member until it has served that long without a break', () => {
    const a = new TiflashAvailability();
    const members = [
      member('tiflash-0', 'v8.1.1'),
      member('tiflash-1', 'v8.1.0'),
      member('tikv-0', 'v8.1.1'),
    ];
    const opts = { minReadySeconds: 10, target: 'v8.1.1' };
    const at = (now: number, healthy: Record<string, boolean>) => {
      const s = seen(healthy);
      a.hold(s, members, { ...opts, now });
      return s;
    };
    const all = { 'tiflash-0': true, 'tiflash-1': true, 'tikv-0': true };
    let s = at(1_000, all);
    assert.equal(s.members['tiflash-0']!.healthy, false, 'serving for 0 s of 10');
    assert.equal(s.members['tiflash-0']!.caughtUp, false);
    assert.match(
      s.members['tiflash-0']!.detail!,
      /serving for 0s of tidb\.pingcap\.com\/tiflash-min-ready-seconds=10/,
    );
    assert.equal(
      s.members['tiflash-1']!.healthy,
      true,
      'not upgraded: not held (TiDB Operator checks upgraded pods)',
    );
    assert.equal(s.members['tikv-0']!.healthy, true, 'not TiFlash');
    s = at(10_999, all);
    assert.equal(s.members['tiflash-0']!.healthy, false, '9.999 s');
    s = at(11_000, all);
    assert.equal(s.members['tiflash-0']!.healthy, true, '10 s');
    // A break (not serving) starts the count again.
    at(12_000, { ...all, 'tiflash-0': false });
    s = at(13_000, all);
    assert.equal(s.members['tiflash-0']!.healthy, false);
    s = at(23_000, all);
    assert.equal(s.members['tiflash-0']!.healthy, true);
  });

  it('counts only while the pod is Ready; holds every member before the target is known; 0 holds nothing', () => {
    const a = new TiflashAvailability();
    const notReady = [member('tiflash-0', 'v8.1.1', false)];
    const s1 = seen({ 'tiflash-0': true });
    a.hold(s1, notReady, { now: 0, minReadySeconds: 5, target: 'v8.1.1' });
    assert.equal(s1.members['tiflash-0']!.healthy, true, 'left to the other checks');
    const ready = [member('tiflash-0', 'v8.1.1')];
    const s2 = seen({ 'tiflash-0': true });
    a.hold(s2, ready, { now: 4_000, minReadySeconds: 5, target: undefined });
    assert.equal(s2.members['tiflash-0']!.healthy, false, 'the count began at 4 s, when it was first Ready');
    const s3 = seen({ 'tiflash-0': true });
    new TiflashAvailability().hold(s3, ready, { now: 0, minReadySeconds: 0, target: 'v8.1.1' });
    assert.equal(s3.members['tiflash-0']!.healthy, true);
  });
});
