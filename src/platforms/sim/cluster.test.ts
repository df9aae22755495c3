import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { OperationalError } from '../../core/errors.js';
import { nullLogger } from '../../core/logger.js';
import type { MemberView } from '../../core/types.js';
import { parseSimClusterDescription, type SimClusterInput } from './description.js';
import { SimCrash } from './faults.js';
import { createSimWorld } from './world.js';
import { engineRegistry } from '../../engines/registry.js';

const T = { replaceMs: 5_000, readyMs: 3_000, catchUpMs: 2_000, drainMs: 1_000, electionMs: 1_500 };

function world(input: Partial<SimClusterInput> = {}) {
  const clock = new FakeClock();
  const description = parseSimClusterDescription(
    {
      engine: 'sim',
      version: '1.0.0',
      components: [{ name: 'db', members: 3 }],
      seed: 7,
      timings: T,
      ...input,
    },
    engineRegistry,
  );
  const w = createSimWorld(description, { clock });
  const ctx = { clock, logger: nullLogger };
  const view = (name: string): MemberView => {
    const pm = w.cluster.platformMembers().find((m) => m.name === name);
    assert.ok(pm);
    const engine = w.cluster.engineState(name);
    return engine ? { ...pm, engine } : pm;
  };
  const snapshot = () => ({
    observedAt: clock.now(),
    members: w.cluster.platformMembers().map((m) => view(m.name)),
    health: w.cluster.health(),
  });
  const actx = () => ({ ...ctx, platform: w.platform, spec: undefined as never });
  return { ...w, clock, ctx, view, snapshot, actx };
}

function followerOf(w: ReturnType<typeof world>, component = 'db'): string {
  const leader = w.cluster.leaderOf(component);
  const f = w.cluster.memberViews().find((m) => m.component === component && m.name !== leader);
  assert.ok(f);
  return f.name;
}

describe('SimCluster replace timing', () => {
  it('stops at once, runs the new version after replaceMs, ready after readyMs, caught up after catchUpMs', async () => {
    const w = world();
    const name = followerOf(w);
    await w.platform.replaceMember(name, '1.1.0', {}, w.ctx);
    const steps: [number, { running: boolean; ready: boolean; reachable: boolean; caughtUp?: boolean }][] = [
      [0, { running: false, ready: false, reachable: false }],
      [T.replaceMs - 1, { running: false, ready: false, reachable: false }],
      [1, { running: true, ready: false, reachable: false }],
      [T.readyMs - 1, { running: true, ready: false, reachable: false }],
      [1, { running: true, ready: true, reachable: true, caughtUp: false }],
      [T.catchUpMs - 1, { running: true, ready: true, reachable: true, caughtUp: false }],
      [1, { running: true, ready: true, reachable: true, caughtUp: true }],
    ];
    for (const [advance, want] of steps) {
      await w.cluster.advance(advance);
      const m = (await w.platform.listMembers(w.ctx)).find((x) => x.name === name);
      assert.equal(m?.version, '1.1.0');
      assert.equal(m?.running, want.running, `running at +${advance}`);
      assert.equal(m?.ready, want.ready, `ready at +${advance}`);
      const state = w.cluster.engineState(name);
      assert.equal(state !== undefined, want.reachable);
      if (want.caughtUp !== undefined) assert.equal(state?.caughtUp, want.caughtUp);
    }
    assert.ok((w.cluster.engineState(name)?.lag ?? 99) <= 50);
  });

  it('is idempotent: a member running or starting the target version is left alone', async () => {
    const w = world();
    const name = followerOf(w);
    await w.platform.replaceMember(name, '1.1.0', {}, w.ctx);
    await w.cluster.advance(1_000);
    await w.platform.replaceMember(name, '1.1.0', {}, w.ctx);
    await w.cluster.advance(20_000);
    await w.platform.replaceMember(name, '1.1.0', {}, w.ctx);
    assert.equal(w.cluster.recorder.restartCount(name, '1.1.0'), 1);
    assert.deepEqual(
      w.cluster.recorder.calls('replaceMember').map((c) => c.args?.restarted),
      [true, false, false],
    );
    assert.deepEqual(w.cluster.recorder.repeatedRestarts(), []);
    assert.equal(w.cluster.member(name).ready, true);
  });

  it('a second replace to another version supersedes the one in flight', async () => {
    const w = world();
    const name = followerOf(w);
    await w.platform.replaceMember(name, '1.1.0', {}, w.ctx);
    await w.cluster.advance(T.replaceMs + 1);
    await w.platform.replaceMember(name, '1.0.0', {}, w.ctx);
    await w.cluster.advance(T.replaceMs + T.readyMs);
    const m = w.cluster.member(name);
    assert.equal(m.version, '1.0.0');
    assert.equal(m.ready, true);
    assert.deepEqual(w.cluster.recorder.restarts(name), { '1.1.0': 1, '1.0.0': 1 });
  });

  it('records the most members of a component unavailable at once', async () => {
    const w = world({ components: [{ name: 'db', members: 5 }] });
    const followers = w.cluster.memberViews().filter((m) => m.role === 'follower');
    await w.platform.replaceMember(followers[0]!.name, '1.1.0', {}, w.ctx);
    await w.cluster.advance(1_000);
    await w.platform.replaceMember(followers[1]!.name, '1.1.0', {}, w.ctx);
    await w.cluster.advance(60_000);
    await w.platform.replaceMember(followers[2]!.name, '1.1.0', {}, w.ctx);
    await w.cluster.advance(60_000);
    assert.equal(w.cluster.recorder.maxUnavailable('db'), 2);
    assert.deepEqual(w.cluster.recorder.unavailabilityPeaks().db?.members, [
      followers[0]!.name,
      followers[1]!.name,
    ]);
  });

  it('stopMember stops without restarting, idempotently; replace starts it again', async () => {
    const w = world();
    const name = followerOf(w);
    await w.platform.stopMember!(name, w.ctx);
    await w.platform.stopMember!(name, w.ctx);
    await w.cluster.advance(60_000);
    assert.equal(w.cluster.member(name).running, false);
    await w.platform.replaceMember(name, '1.0.0', {}, w.ctx);
    await w.cluster.advance(T.replaceMs + T.readyMs);
    assert.equal(w.cluster.member(name).ready, true);
    assert.equal(w.cluster.recorder.restartCount(name, '1.0.0'), 1);
  });
});

describe('SimCluster leadership', () => {
  it('drain moves raft leadership to the target after drainMs, once', async () => {
    const w = world();
    const leader = w.cluster.leaderOf('db')!;
    const target = followerOf(w);
    const r1 = await w.engine.drain(w.view(leader), w.view(target), w.snapshot(), w.actx());
    const r2 = await w.engine.drain(w.view(leader), w.view(target), w.snapshot(), w.actx());
    assert.equal(r1.movedTo, target);
    assert.match(r2.message, /already under way/);
    await w.cluster.advance(T.drainMs - 1);
    assert.equal(w.cluster.leaderOf('db'), leader);
    await w.cluster.advance(1);
    assert.equal(w.cluster.leaderOf('db'), target);
    assert.equal(w.cluster.recorder.transfers().length, 1);
    const again = await w.engine.drain(w.view(leader), undefined, w.snapshot(), w.actx());
    assert.match(again.message, /not the leader: nothing to move/);
  });

  it('a leader replaced while leading with a healthy target is a violation, followed by an election', async () => {
    const w = world();
    const leader = w.cluster.leaderOf('db')!;
    await w.platform.replaceMember(leader, '1.1.0', {}, w.ctx);
    assert.equal(w.cluster.leaderOf('db'), undefined);
    assert.equal(w.cluster.health().healthy, false);
    const stops = w.cluster.recorder.leaderStopViolations();
    assert.equal(stops.length, 1);
    assert.equal(stops[0]?.member, leader);
    assert.ok(stops[0]?.healthyTarget);
    await w.cluster.advance(T.electionMs - 1);
    assert.equal(w.cluster.leaderOf('db'), undefined);
    await w.cluster.advance(1);
    const elected = w.cluster.leaderOf('db');
    assert.ok(elected && elected !== leader);
    assert.deepEqual(
      w.cluster.recorder.elections().map((e) => [e.leader, e.previous]),
      [[elected, leader]],
    );
    assert.match(w.cluster.recorder.violations()[0] ?? '', /stopped while holding leader although/);
  });

  it('a single-member leader stopping has no healthy target: recorded, not a violation', async () => {
    const w = world({ components: [{ name: 'db', members: 1 }] });
    await w.platform.replaceMember('db-0', '1.1.0', {}, w.ctx);
    assert.equal(w.cluster.recorder.leaderStops().length, 1);
    assert.deepEqual(w.cluster.recorder.leaderStopViolations(), []);
    await w.cluster.advance(T.replaceMs + T.readyMs + T.electionMs);
    assert.equal(w.cluster.leaderOf('db'), 'db-0');
  });

  it('no election without a quorum of ready members', async () => {
    const w = world();
    const [a, b] = w.cluster.memberViews().filter((m) => m.role === 'follower');
    await w.platform.stopMember!(a!.name, w.ctx);
    await w.platform.stopMember!(w.cluster.leaderOf('db')!, w.ctx);
    await w.cluster.advance(10 * T.electionMs);
    assert.equal(w.cluster.leaderOf('db'), undefined);
    assert.match(w.cluster.health().detail, /no quorum/);
    await w.platform.replaceMember(a!.name, '1.0.0', {}, w.ctx);
    await w.cluster.advance(T.replaceMs + T.readyMs + T.electionMs);
    assert.ok([a!.name, b!.name].includes(w.cluster.leaderOf('db')!));
  });

  it('multi-raft drain evicts region leaders in steps; restore brings them back', async () => {
    const w = world({
      engine: 'cockroachdb',
      version: '24.1.3',
      components: [{ name: 'cockroachdb', members: 3 }],
    });
    const total = () => w.cluster.memberViews().reduce((n, m) => n + m.leaderCount, 0);
    const before = total();
    const node = w.cluster.member('cockroachdb-0');
    assert.ok(node.leaderCount > 0);
    const r = await w.engine.drain(w.view('cockroachdb-0'), undefined, w.snapshot(), w.actx());
    assert.match(r.message, new RegExp(`requested moving ${node.leaderCount} region leaders`));
    const counts: number[] = [];
    for (let i = 0; i < 4; i++) {
      await w.cluster.advance(T.drainMs / 4);
      counts.push(w.cluster.member('cockroachdb-0').leaderCount);
      assert.equal(total(), before);
    }
    assert.equal(counts.at(-1), 0);
    assert.ok(counts[0]! > 0 && counts[0]! < node.leaderCount, `gradual: ${counts.join(',')}`);
    await w.engine.restore!(w.view('cockroachdb-0'), w.snapshot(), w.ctx);
    await w.cluster.advance(T.drainMs);
    assert.equal(w.cluster.member('cockroachdb-0').leaderCount, Math.floor(before / 3));
    assert.equal(total(), before);
  });

  it('a multi-raft member stopped with leaders loses them until re-election (violation when others could take them)', async () => {
    const w = world({
      engine: 'cockroachdb',
      version: '24.1.3',
      components: [{ name: 'cockroachdb', members: 3 }],
    });
    const before = w.cluster.memberViews().reduce((n, m) => n + m.leaderCount, 0);
    await w.platform.replaceMember('cockroachdb-1', '24.1.5', {}, w.ctx);
    assert.equal(w.cluster.recorder.leaderStopViolations().length, 1);
    assert.equal(w.cluster.health().healthy, false);
    await w.cluster.advance(T.electionMs);
    assert.equal(w.cluster.health().healthy, true);
    assert.equal(
      w.cluster.memberViews().reduce((n, m) => n + m.leaderCount, 0),
      before,
    );
  });
});

describe('SimCluster faults', () => {
  it('never-ready: the member runs the version but never becomes ready', async () => {
    const w = world({ faults: [{ kind: 'never-ready', member: 'db-1', version: '1.1.0' }] });
    await w.platform.replaceMember('db-1', '1.1.0', {}, w.ctx);
    await w.cluster.advance(3_600_000);
    const m = w.cluster.member('db-1');
    assert.equal(m.running, true);
    assert.equal(m.ready, false);
    assert.match(m.detail ?? '', /never becomes ready/);
    await w.platform.replaceMember('db-1', '1.1.0', {}, w.ctx);
    assert.equal(w.cluster.recorder.restartCount('db-1', '1.1.0'), 1);
    await w.platform.replaceMember('db-1', '1.0.0', {}, w.ctx);
    await w.cluster.advance(T.replaceMs + T.readyMs);
    assert.equal(w.cluster.member('db-1').ready, true);
    assert.equal(w.cluster.recorder.faults().length, 1);
  });

  it('drain-timeout: the transfer is accepted and never completes', async () => {
    const w = world();
    const leader = w.cluster.leaderOf('db')!;
    const w2 = world({ faults: [{ kind: 'drain-timeout', member: leader }] });
    const r = await w2.engine.drain(w2.view(leader), undefined, w2.snapshot(), w2.actx());
    assert.ok(r.movedTo);
    await w2.cluster.advance(3_600_000);
    assert.equal(w2.cluster.leaderOf('db'), leader);
    assert.equal(w2.cluster.recorder.transfers().length, 0);
    assert.equal(w2.cluster.recorder.faults()[0]?.fault.kind, 'drain-timeout');
  });

  it('api-error nth: exactly the Nth call of that kind throws an OperationalError', async () => {
    const w = world({ faults: [{ kind: 'api-error', call: 'listMembers', nth: 2 }] });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        await w.platform.listMembers(w.ctx);
        outcomes.push('ok');
      } catch (err) {
        assert.ok(err instanceof OperationalError);
        assert.equal(err.code, 'sim-api-error');
        outcomes.push('error');
      }
    }
    assert.deepEqual(outcomes, ['ok', 'error', 'ok', 'ok']);
    assert.deepEqual(
      w.cluster.recorder.calls('listMembers').map((c) => c.outcome),
      outcomes,
    );
  });

  it('api-error probability: deterministic per seed, close to the probability', async () => {
    const pattern = async (seed: number) => {
      const w = world({ seed, faults: [{ kind: 'api-error', call: 'observe', probability: 0.25 }] });
      const out: boolean[] = [];
      for (let i = 0; i < 400; i++) {
        out.push(
          await w.engine.observe([], w.ctx).then(
            () => true,
            () => false,
          ),
        );
      }
      return out;
    };
    const a = await pattern(11);
    assert.deepEqual(await pattern(11), a);
    assert.notDeepEqual(await pattern(12), a);
    const failures = a.filter((ok) => !ok).length;
    assert.ok(failures > 60 && failures < 140, `failures ${failures}`);
  });

  it('crash after: the Nth disruptive call takes effect, then throws SimCrash; a repeat is a no-op', async () => {
    const w = world({ faults: [{ kind: 'crash', nth: 2 }] });
    const [a, b] = w.cluster.memberViews().filter((m) => m.role === 'follower');
    await w.platform.replaceMember(a!.name, '1.1.0', {}, w.ctx);
    await assert.rejects(w.platform.replaceMember(b!.name, '1.1.0', {}, w.ctx), (err: unknown) => {
      return err instanceof SimCrash && err.nth === 2 && err.when === 'after' && err.call === 'replaceMember';
    });
    assert.equal(w.cluster.member(b!.name).version, '1.1.0');
    await w.platform.replaceMember(b!.name, '1.1.0', {}, w.ctx);
    assert.equal(w.cluster.recorder.restartCount(b!.name, '1.1.0'), 1);
    assert.deepEqual(
      w.cluster.recorder.calls('replaceMember').map((c) => c.outcome),
      ['ok', 'crash', 'ok'],
    );
  });

  it('crash before: the call throws without effect', async () => {
    const w = world({ faults: [{ kind: 'crash', nth: 1, when: 'before' }] });
    const name = followerOf(w);
    await assert.rejects(w.platform.replaceMember(name, '1.1.0', {}, w.ctx), SimCrash);
    assert.equal(w.cluster.member(name).version, '1.0.0');
    await w.platform.replaceMember(name, '1.1.0', {}, w.ctx);
    assert.equal(w.cluster.recorder.restartCount(name, '1.1.0'), 1);
  });

  it('slow: the member takes factor times longer', async () => {
    const w = world({ faults: [{ kind: 'slow', member: 'db-2', factor: 3 }] });
    await w.platform.replaceMember('db-2', '1.1.0', {}, w.ctx);
    await w.cluster.advance(T.replaceMs + T.readyMs);
    assert.equal(w.cluster.member('db-2').ready, false);
    await w.cluster.advance(2 * (T.replaceMs + T.readyMs) - 1);
    assert.equal(w.cluster.member('db-2').ready, false);
    await w.cluster.advance(1);
    assert.equal(w.cluster.member('db-2').ready, true);
  });
});

describe('SimCluster invariants and determinism', () => {
  it('records a replace before the prerequisite component is upgraded and healthy', async () => {
    const w = world({
      engine: 'tidb',
      version: 'v7.5.0',
      components: [
        { name: 'pd', members: 3 },
        { name: 'tikv', members: 3 },
      ],
    });
    await w.platform.replaceMember('pd-0', 'v8.1.0', {}, w.ctx);
    await w.platform.replaceMember('tikv-0', 'v8.1.0', {}, w.ctx);
    const v = w.cluster.recorder.prerequisiteViolations();
    assert.equal(v.length, 1);
    assert.equal(v[0]?.prerequisite, 'pd');
    assert.match(v[0]?.reason ?? '', /pd-0 not ready, pd-1 on v7\.5\.0, not v8\.1\.0/);
    for (const pd of ['pd-1', 'pd-2']) await w.platform.replaceMember(pd, 'v8.1.0', {}, w.ctx);
    await w.cluster.advance(60_000);
    await w.platform.replaceMember('tikv-1', 'v8.1.0', {}, w.ctx);
    assert.equal(w.cluster.recorder.prerequisiteViolations().length, 1);
  });

  it('expectTargets makes a skipped prerequisite a violation', async () => {
    const w = world({
      engine: 'tidb',
      version: 'v7.5.0',
      components: [
        { name: 'pd', members: 3 },
        { name: 'tikv', members: 3 },
      ],
    });
    w.cluster.expectTargets({ pd: 'v8.1.0', tikv: 'v8.1.0' });
    await w.platform.replaceMember('tikv-0', 'v8.1.0', {}, w.ctx);
    assert.match(
      w.cluster.recorder.prerequisiteViolations()[0]?.reason ?? '',
      /pd-0 on v7\.5\.0, not v8\.1\.0/,
    );
  });

  it('the same seed gives the same world; another seed another one', () => {
    const shape = (seed: number) =>
      world({ seed, engine: 'tidb', version: 'v7.5.0', components: undefined })
        .cluster.memberViews()
        .map((m) => `${m.name}:${m.role}:${m.leaderCount}:${m.lag}`)
        .join(' ');
    assert.equal(shape(3), shape(3));
    assert.notEqual(shape(3), shape(4));
  });

  it('follower lag jitters with the seed but stays caught up', async () => {
    const w = world();
    const name = followerOf(w);
    const lags = new Set<number>();
    for (let i = 0; i < 20; i++) {
      await w.cluster.advance(1_000);
      const s = w.cluster.engineState(name);
      assert.equal(s?.caughtUp, true);
      lags.add(s?.lag ?? -1);
    }
    assert.ok(lags.size > 3);
  });

  it('a described lagging follower stays behind until replaced', async () => {
    const w = world({
      components: [{ name: 'db', members: [{ role: 'leader' }, { lag: 800 }, {}] }],
    });
    assert.equal(w.cluster.engineState('db-1')?.caughtUp, false);
    assert.ok((w.cluster.engineState('db-1')?.lag ?? 0) >= 800);
    await w.platform.replaceMember('db-1', '1.1.0', {}, w.ctx);
    await w.cluster.advance(T.replaceMs + T.readyMs + T.catchUpMs);
    assert.equal(w.cluster.engineState('db-1')?.caughtUp, true);
  });

  it('a described unready member counts as unavailable and is unreachable', () => {
    const w = world({ components: [{ name: 'db', members: [{}, { ready: false }, {}] }] });
    assert.equal(w.cluster.recorder.maxUnavailable('db'), 1);
    assert.equal(w.cluster.engineState('db-1'), undefined);
    assert.notEqual(w.cluster.leaderOf('db'), 'db-1');
  });

  it('a careful roll (followers first, hand-over, leader last) leaves no violation; a naive one is caught', async () => {
    const careful = world({ components: [{ name: 'db', members: 5 }] });
    const waitUntil = async (w: typeof careful, ok: () => boolean) => {
      for (let i = 0; i < 1_000 && !ok(); i++) await w.cluster.advance(250);
      assert.ok(ok(), 'condition reached');
    };
    const leader = careful.cluster.leaderOf('db')!;
    for (const m of careful.cluster.memberViews().filter((x) => x.name !== leader)) {
      await careful.platform.replaceMember(m.name, '1.1.0', {}, careful.ctx);
      await waitUntil(careful, () => careful.cluster.member(m.name).caughtUp);
    }
    await careful.engine.drain(careful.view(leader), undefined, careful.snapshot(), careful.actx());
    await waitUntil(careful, () => careful.cluster.leaderOf('db') !== leader);
    await careful.platform.replaceMember(leader, '1.1.0', {}, careful.ctx);
    await waitUntil(careful, () => careful.cluster.member(leader).caughtUp);
    assert.deepEqual(careful.cluster.recorder.violations(), []);
    assert.equal(careful.cluster.recorder.maxUnavailable('db'), 1);
    assert.equal(careful.cluster.recorder.elections().length, 0);
    assert.equal(careful.cluster.health().healthy, true);

    const naive = world({ components: [{ name: 'db', members: 5 }] });
    // Leader first, while healthy followers could have taken over: that stop is the violation.
    const naiveLeader = naive.cluster.leaderOf('db')!;
    const others = naive.cluster.memberViews().filter((m) => m.name !== naiveLeader);
    for (const name of [naiveLeader, ...others.map((m) => m.name)]) {
      await naive.platform.replaceMember(name, '1.1.0', {}, naive.ctx);
    }
    assert.equal(naive.cluster.recorder.maxUnavailable('db'), 5);
    assert.equal(naive.cluster.recorder.leaderStopViolations().length, 1);
    await naive.cluster.advance(60_000);
    assert.equal(naive.cluster.health().healthy, true);
  });

  it('TiFlash (multi-raft without quorum) holds no leaders; a learner is never elected', async () => {
    const t = world({
      engine: 'tidb',
      version: 'v7.5.0',
      components: [
        { name: 'tiflash', members: 2 },
        { name: 'tikv', members: 3 },
      ],
    });
    assert.deepEqual(
      t.cluster.memberViews().map((m) => [m.name, m.leaderCount > 0]),
      [
        ['tiflash-0', false],
        ['tiflash-1', false],
        ['tikv-0', true],
        ['tikv-1', true],
        ['tikv-2', true],
      ],
    );
    const w = world({ components: [{ name: 'db', members: [{ role: 'leader' }, { role: 'learner' }, {}] }] });
    await w.platform.stopMember!('db-2', w.ctx);
    await w.platform.replaceMember('db-0', '1.1.0', {}, w.ctx);
    assert.equal(
      w.cluster.recorder.leaderStops()[0]?.healthyTarget,
      undefined,
      'a learner is no hand-over target',
    );
    await w.cluster.advance(T.replaceMs + T.readyMs + T.electionMs);
    assert.equal(
      w.cluster.leaderOf('db'),
      undefined,
      'one voter of three is no quorum; the learner does not count',
    );
    await w.platform.replaceMember('db-2', '1.1.0', {}, w.ctx);
    await w.cluster.advance(T.replaceMs + T.readyMs + T.electionMs);
    assert.ok(['db-0', 'db-2'].includes(w.cluster.leaderOf('db') ?? ''));
    assert.equal(w.cluster.member('db-1').role, 'learner');
  });
});
