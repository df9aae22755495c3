/**
 * EtcdEngine against a real 3-member etcd cluster on the local platform: roles and lag, leader
 * transfer, prechecks passing and failing, alarms, and a build-label replacement that rejoins and
 * catches up. Timings are reported as diagnostics, never asserted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { systemClock } from '../../core/clock.js';
import { nullLogger } from '../../core/logger.js';
import type { EngineActionContext, PortContext } from '../../core/ports.js';
import type { MemberView, Snapshot, UpgradeSpec } from '../../core/types.js';
import { LocalPlatform } from '../../platforms/local/platform.js';
import { EtcdAdminClient } from './client.js';
import { EtcdEngine } from './engine.js';
import { etcdLocalAdapter } from '../../wiring/local/etcd.js';
import { observe } from '../../runner/observe.js';

const ctx: PortContext = { clock: systemClock, logger: nullLogger };
const spec = {} as UpgradeSpec;
let stateDir: string;
let platform: LocalPlatform;
const engine = new EtcdEngine();

before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'baton-etcd-engine-'));
  platform = await LocalPlatform.create({
    stateDir,
    name: 'etcd',
    adapter: etcdLocalAdapter,
    version: '3.4.23',
    members: 3,
    ctx,
  });
});

after(async () => {
  await engine.close();
  await platform?.delete(ctx);
  await rm(stateDir, { recursive: true, force: true });
});

const snapshot = (): Promise<Snapshot> => observe(platform, engine, ctx);

/** Observe until `pred` holds (every 50 ms, at most `ms`), returning the snapshot that satisfied it. */
async function until(pred: (s: Snapshot) => boolean, ms = 15_000): Promise<Snapshot> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await snapshot();
    if (pred(s)) return s;
    if (Date.now() > deadline) assert.fail(`condition not reached; last health: ${s.health.detail}`);
    await systemClock.sleep(50);
  }
}

const leaderOf = (s: Snapshot) => s.members.find((m) => m.engine?.role === 'leader');
const actx = (): EngineActionContext => ({ ...ctx, platform, spec });

async function put(endpoint: string, key: string, value: string): Promise<void> {
  const res = await fetch(`http://${endpoint}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({
      key: Buffer.from(key).toString('base64'),
      value: Buffer.from(value).toString('base64'),
    }),
    signal: AbortSignal.timeout(3000),
  });
  assert.equal(res.status, 200, await res.text());
}

test('observe: one leader, two caught-up followers, healthy cluster', async () => {
  const s = await until((x) => x.health.healthy && x.members.every((m) => m.engine?.caughtUp));
  assert.deepEqual(s.members.map((m) => m.engine?.role).sort(), ['follower', 'follower', 'leader']);
  assert.equal(s.members.find((m) => m.engine?.role === 'leader')?.engine?.lag, 0);
  assert.equal(s.health.facts?.quorum, 2);
  assert.match(s.health.detail, /3\/3 voting members healthy/);
});

test('drain moves leadership to the target; draining a follower is a no-op', async (t) => {
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = await until((x) => leaderOf(x) !== undefined && x.health.healthy);
    const leader = leaderOf(s) as MemberView;
    const target = s.members.find(
      (m) => m.name !== leader.name && m.engine?.role === 'follower',
    ) as MemberView;
    const started = performance.now();
    const res = await engine.drain(leader, target, s, actx());
    const after = await until((x) => leaderOf(x) !== undefined);
    latencies.push(performance.now() - started);
    assert.equal(res.movedTo, target.name);
    assert.equal(leaderOf(after)?.name, target.name);
    const noop = await engine.drain(leader, target, after, actx());
    assert.equal(noop.movedTo, undefined);
    assert.match(noop.message, /nothing to move/);
  }
  latencies.sort((a, b) => a - b);
  t.diagnostic(
    `move-leader until the new leader is observed: median ${latencies[2]?.toFixed(0)} ms, max ${latencies[4]?.toFixed(0)} ms`,
  );
});

test('prechecks pass, then fail naming a stopped member, then pass again once it is back', async () => {
  let s = await until((x) => x.health.healthy && x.members.every((m) => m.engine?.healthy));
  assert.deepEqual(
    (await engine.prechecks(s, spec, ctx)).filter((r) => !r.ok),
    [],
  );
  const victim = s.members.find((m) => m.engine?.role === 'follower') as MemberView;
  await platform.stopMember(victim.name, ctx);
  s = await snapshot();
  const results = Object.fromEntries((await engine.prechecks(s, spec, ctx)).map((r) => [r.name, r]));
  assert.equal(results['all-members-healthy']?.ok, false);
  assert.match(
    results['all-members-healthy']?.reason ?? '',
    new RegExp(`${victim.name} \\(stopped by Baton\\)`),
  );
  assert.equal(results.quorum?.ok, false);
  assert.equal(results['leader-elected']?.ok, true);
  assert.equal(results['versions-uniform']?.ok, true);
  await platform.startMember(victim.name, ctx);
  await platform.waitReady(victim.name, ctx);
  s = await until((x) => x.health.healthy && x.members.every((m) => m.engine?.caughtUp));
  assert.deepEqual(
    (await engine.prechecks(s, spec, ctx)).filter((r) => !r.ok),
    [],
  );
});

test('a raised NOSPACE alarm fails no-alarms until it is disarmed', async () => {
  const s = await until((x) => x.health.healthy);
  const leader = leaderOf(s) as MemberView;
  const admin = new EtcdAdminClient();
  const id = (await admin.status(leader.endpoint as string)).memberId;
  await admin.close();
  const alarm = async (action: string) => {
    const res = await fetch(`http://${leader.endpoint}/v3/maintenance/alarm`, {
      method: 'POST',
      body: JSON.stringify({ action, memberID: id, alarm: 'NOSPACE' }),
      signal: AbortSignal.timeout(3000),
    });
    assert.equal(res.status, 200, await res.text());
  };
  await alarm('ACTIVATE');
  try {
    const check = (await engine.prechecks(await snapshot(), spec, ctx)).find((r) => r.name === 'no-alarms');
    assert.equal(check?.ok, false);
    assert.match(check?.reason ?? '', new RegExp(`NOSPACE on ${leader.name}`));
  } finally {
    await alarm('DEACTIVATE');
  }
  const check = (await engine.prechecks(await until((x) => x.health.healthy), spec, ctx)).find(
    (r) => r.name === 'no-alarms',
  );
  assert.equal(check?.ok, true);
});

test('a follower replaced with 3.4.23+r1 after missing writes rejoins and catches up', async (t) => {
  let s = await until((x) => x.health.healthy && x.members.every((m) => m.engine?.caughtUp));
  const victim = s.members.find((m) => m.engine?.role === 'follower') as MemberView;
  const writer = s.members.find((m) => m.name !== victim.name) as MemberView;
  await platform.stopMember(victim.name, ctx);
  for (let i = 0; i < 300; i++) await put(writer.endpoint as string, `k${i}`, `v${i}`);
  s = await snapshot();
  assert.equal(
    s.members.find((m) => m.name === victim.name)?.engine,
    undefined,
    'a stopped member is omitted',
  );

  const started = performance.now();
  await platform.replaceMember(victim.name, '3.4.23+r1', {}, ctx);
  await platform.waitReady(victim.name, ctx);
  const ready = performance.now();
  s = await until((x) => x.members.find((m) => m.name === victim.name)?.engine?.caughtUp === true);
  const caughtUp = performance.now();
  const m = s.members.find((x) => x.name === victim.name);
  assert.equal(m?.version, '3.4.23+r1');
  assert.equal(m?.engine?.role, 'follower');
  assert.ok((m?.engine?.lag ?? Infinity) <= 50);
  assert.equal(s.health.healthy, true);
  t.diagnostic(
    `stopped member started on 3.4.23+r1: ready after ${(ready - started).toFixed(0)} ms, caught up (300 writes behind) after ${(caughtUp - started).toFixed(0)} ms`,
  );

  // A running member replaced in place: graceful stop, start, ready, caught up.
  const pid = platform.records().find((r) => r.name === victim.name)?.process?.pid;
  const restart = performance.now();
  await platform.replaceMember(victim.name, '3.4.23+r2', {}, ctx);
  await platform.waitReady(victim.name, ctx);
  const back = performance.now();
  s = await until((x) => x.members.find((y) => y.name === victim.name)?.engine?.caughtUp === true);
  const synced = performance.now();
  assert.notEqual(platform.records().find((r) => r.name === victim.name)?.process?.pid, pid);
  assert.equal(s.members.find((x) => x.name === victim.name)?.version, '3.4.23+r2');
  t.diagnostic(
    `running follower replaced with 3.4.23+r2: ready after ${(back - restart).toFixed(0)} ms, caught up after ${(synced - restart).toFixed(0)} ms`,
  );
});
