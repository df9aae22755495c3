import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeClock } from '../../core/clock.js';
import { OperationalError } from '../../core/errors.js';
import { nullLogger } from '../../core/logger.js';
import { isLeaderRole } from '../../core/types.js';
import { parseSimClusterDescription } from './description.js';
import { createSimWorld } from './world.js';
import { engineRegistry } from '../../engines/registry.js';

type Op =
  | { kind: 'replace'; member: number; version: string }
  | { kind: 'stop'; member: number }
  | { kind: 'drain'; member: number }
  | { kind: 'restore'; member: number }
  | { kind: 'advance'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('replace' as const),
    member: fc.nat(4),
    version: fc.constantFrom('1.0.0', '1.1.0', '1.2.0'),
  }),
  fc.record({ kind: fc.constant('stop' as const), member: fc.nat(4) }),
  fc.record({ kind: fc.constant('drain' as const), member: fc.nat(4) }),
  fc.record({ kind: fc.constant('restore' as const), member: fc.nat(4) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 12_000 }) }),
);

const scenario = fc.record({
  engine: fc.constantFrom('sim', 'cockroachdb'),
  members: fc.integer({ min: 1, max: 5 }),
  seed: fc.nat(1_000_000),
  ops: fc.array(opArb, { minLength: 1, maxLength: 40 }),
});

/** Run `ops` against a fresh world, checking the structural invariants after each, and return a trace. */
async function play(s: { engine: string; members: number; seed: number; ops: Op[] }): Promise<string> {
  const clock = new FakeClock();
  const component = s.engine === 'sim' ? 'db' : 'cockroachdb';
  const w = createSimWorld(
    parseSimClusterDescription(
      {
        engine: s.engine,
        version: '1.0.0',
        seed: s.seed,
        components: [{ name: component, members: s.members }],
      },
      engineRegistry,
    ),
    { clock },
  );
  const ctx = { clock, logger: nullLogger };
  const names = w.cluster.memberViews().map((m) => m.name);
  const totalLeaders = () => Number(w.cluster.health().facts?.leaders ?? 0);
  const initialLeaders = totalLeaders();
  let restarts = 0;
  for (const op of s.ops) {
    const name = names[('member' in op ? op.member : 0) % names.length] as string;
    const view = () => {
      const pm = w.cluster.platformMembers().find((m) => m.name === name)!;
      const engine = w.cluster.engineState(name);
      return engine ? { ...pm, engine } : pm;
    };
    const snap = { observedAt: clock.now(), members: [], health: w.cluster.health() };
    try {
      if (op.kind === 'replace') {
        await w.platform.replaceMember(name, op.version, {}, ctx);
        if (w.cluster.recorder.calls('replaceMember').at(-1)?.args?.restarted === true) restarts++;
      }
      if (op.kind === 'stop') await w.platform.stopMember!(name, ctx);
      if (op.kind === 'drain')
        await w.engine.drain(view(), undefined, snap, {
          ...ctx,
          platform: w.platform,
          spec: undefined as never,
        });
      if (op.kind === 'restore') await w.engine.restore!(view(), snap, ctx);
      if (op.kind === 'advance') await w.cluster.advance(op.ms);
    } catch (err) {
      if (!(err instanceof OperationalError)) throw err;
    }
    const views = w.cluster.memberViews();
    assert.ok(views.filter((m) => m.running && isLeaderRole(m.role)).length <= 1, 'at most one leader');
    for (const m of views) {
      assert.ok(m.running || !m.ready, `${m.name} ready but not running`);
      assert.ok(
        m.ready || w.cluster.engineState(m.name) === undefined,
        `${m.name} unreachable while not ready`,
      );
    }
    if (s.engine === 'cockroachdb') assert.equal(totalLeaders(), initialLeaders, 'leaderships are conserved');
    assert.equal(w.cluster.recorder.totalRestarts(), restarts);
  }
  // Whatever happened, starting every member on one version and waiting heals the cluster.
  for (const n of names) await w.platform.replaceMember(n, '9.0.0', {}, ctx);
  for (const n of names)
    await w.engine.restore!(
      { ...w.cluster.platformMembers().find((m) => m.name === n)! },
      { observedAt: 0, members: [], health: w.cluster.health() },
      ctx,
    );
  await w.cluster.advance(60_000);
  assert.equal(w.cluster.health().healthy, true, w.cluster.health().detail);
  assert.ok(w.cluster.memberViews().every((m) => m.ready && m.caughtUp && m.version === '9.0.0'));
  const r = w.cluster.recorder;
  return JSON.stringify([r.calls(), r.elections(), r.transfers(), r.leaderStops(), w.cluster.memberViews()]);
}

describe('SimCluster properties', () => {
  it('keeps its invariants under any sequence of calls, heals, and replays identically', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        assert.equal(await play(s), await play(s));
      }),
      { numRuns: 300, seed: 20260101 },
    );
  });
});
