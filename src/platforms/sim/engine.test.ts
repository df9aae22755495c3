import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { OperationalError } from '../../core/errors.js';
import { nullLogger } from '../../core/logger.js';
import type { MemberView, Snapshot, UpgradeSpec } from '../../core/types.js';
import { parseSimClusterDescription, type SimClusterInput } from './description.js';
import { SimCluster } from './cluster.js';
import { SimPlatform } from './platform.js';
import { simRules } from '../../engines/sim/rules.js';
import { PRESERVE_DOWNGRADE, SimEngine } from './engine.js';
import { createSimWorld } from './world.js';
import { makeSpec } from '../../runner/start.js';
import { engineRegistry } from '../../engines/registry.js';

function spec(version: string): UpgradeSpec {
  return makeSpec({
    name: 'u',
    cluster: 'sim',
    engine: 'sim',
    version,
    strategy: { timeouts: { drainSeconds: 60, readySeconds: 300 } },
  });
}

function setup(input: SimClusterInput) {
  const clock = new FakeClock();
  const w = createSimWorld(parseSimClusterDescription({ seed: 3, ...input }, engineRegistry), { clock });
  const ctx = { clock, logger: nullLogger };
  const snapshot = async (): Promise<Snapshot> => {
    const members = await w.platform.listMembers(ctx);
    const obs = await w.engine.observe(members, ctx);
    return {
      observedAt: clock.now(),
      members: members.map((m): MemberView =>
        obs.members[m.name] ? { ...m, engine: obs.members[m.name] } : m,
      ),
      health: obs.health,
    };
  };
  const actx = (version: string) => ({ ...ctx, platform: w.platform, spec: spec(version) });
  return { ...w, clock, ctx, snapshot, actx };
}

/** A small TiDB cluster at v7.5.0: PD x3, TiKV x3, TiDB x2. */
const TIDB_SMALL: SimClusterInput = {
  engine: 'tidb',
  version: 'v7.5.0',
  components: [
    { name: 'pd', members: 3 },
    { name: 'tikv', members: 3 },
    { name: 'tidb', members: 2 },
  ],
};

describe('SimEngine', () => {
  it('observes roles, lag and leaderships; an unreachable member is absent', async () => {
    const s = setup(TIDB_SMALL);
    await s.platform.replaceMember('tidb-1', 'v8.1.0', {}, s.ctx);
    const snap = await s.snapshot();
    const pd = snap.members.filter((m) => m.component === 'pd');
    assert.equal(pd.filter((m) => m.engine?.role === 'leader').length, 1);
    assert.ok(
      snap.members.filter((m) => m.component === 'tikv').every((m) => (m.engine?.leaderCount ?? 0) > 0),
    );
    assert.equal(snap.members.find((m) => m.name === 'tidb-1')?.engine, undefined);
    assert.equal(snap.members.find((m) => m.name === 'tidb-0')?.engine?.role, 'none');
    assert.equal(snap.health.healthy, true);
    assert.equal(snap.health.facts?.underReplicatedRanges, 0);
  });

  it('prechecks pass on a healthy cluster and name the offenders otherwise', async () => {
    const healthy = setup({
      engine: 'tidb',
      version: 'v7.5.0',
      components: [
        { name: 'pd', members: 3 },
        { name: 'tikv', members: 3 },
      ],
    });
    const ok = await healthy.engine.prechecks(await healthy.snapshot(), spec('v8.1.0'), healthy.ctx);
    assert.deepEqual(
      ok.map((r) => [r.name, r.ok]),
      [
        ['pd-available', true],
        ['all-stores-up', true],
        ['no-down-peers', true],
        ['no-leftover-scheduler', true],
        ['versions-uniform', true],
        ['no-ddl-running', true],
      ],
    );
    assert.match(ok[1]?.reason ?? '', /all 3 members of tikv are ready and healthy/);

    const sick = setup({
      engine: 'tidb',
      version: 'v7.5.0',
      components: [
        { name: 'pd', members: [{ role: 'leader' }, { ready: false }, { ready: false }] },
        { name: 'tikv', members: [{}, { ready: false }, {}] },
      ],
      precheckFailures: { 'no-ddl-running': 'ADD INDEX idx_a on t1 is running' },
    });
    const bad = await sick.engine.prechecks(await sick.snapshot(), spec('v8.1.0'), sick.ctx);
    assert.deepEqual(
      bad.filter((r) => !r.ok).map((r) => [r.name, r.ok, r.reason]),
      [
        ['pd-available', false, 'pd has 1 healthy of 3 members, no majority'],
        ['all-stores-up', false, 'tikv-1 is not ready (not ready since before the upgrade)'],
        ['no-down-peers', false, 'tikv-1 is unreachable'],
        ['no-ddl-running', false, 'ADD INDEX idx_a on t1 is running'],
      ],
    );
  });

  it('sim prechecks: quorum, readiness and catch-up', async () => {
    const s = setup({
      engine: 'sim',
      version: '1.0.0',
      components: [{ name: 'db', members: [{ role: 'leader' }, { lag: 900 }, {}] }],
    });
    const results = await s.engine.prechecks(await s.snapshot(), spec('1.1.0'), s.ctx);
    assert.deepEqual(
      results.map((r) => [r.name, r.ok]),
      [
        ['all-members-ready', true],
        ['quorum', true],
        ['replication-caught-up', false],
      ],
    );
    assert.match(results[2]?.reason ?? '', /^db-1 lags by 9\d\d$/);
  });

  it('cockroachdb: beforeUpgrade preserves the old major, finalize resets it', async () => {
    const s = setup({
      engine: 'cockroachdb',
      version: '23.2.5',
      components: [{ name: 'cockroachdb', members: 3 }],
    });
    const snap = await s.snapshot();
    assert.equal(
      await s.engine.hook('beforeUpgrade', undefined, snap, s.actx('24.1.3')),
      `SET CLUSTER SETTING ${PRESERVE_DOWNGRADE} = '23.2'`,
    );
    assert.equal(s.cluster.settings.get(PRESERVE_DOWNGRADE), '23.2');
    assert.equal(await s.engine.finalize(snap, s.ctx), `RESET CLUSTER SETTING ${PRESERVE_DOWNGRADE}`);
    assert.equal(
      await s.engine.finalize(snap, s.ctx),
      `${PRESERVE_DOWNGRADE} already reset: nothing to finalize`,
    );
    assert.equal(s.cluster.settings.has(PRESERVE_DOWNGRADE), false);
    assert.equal(s.cluster.finalized, true);
    assert.match(
      await s.engine.hook('beforeUpgrade', undefined, snap, s.actx('23.2.9')),
      /patch upgrade within 23\.2/,
    );
    assert.equal(s.cluster.recorder.hooks().length, 2);
    assert.equal(s.cluster.recorder.finalizations().length, 2);
  });

  it('tidb: DDL paused around the TiDB tier, leftover evict-leader schedulers swept', async () => {
    const s = setup(TIDB_SMALL);
    const snap = await s.snapshot();
    const tikv0 = snap.members.find((m) => m.name === 'tikv-0')!;
    await s.engine.drain(tikv0, undefined, snap, s.actx('v8.1.0'));
    await s.cluster.advance(1_000);
    assert.equal(s.cluster.member('tikv-0').leaderCount, 0);
    assert.match(await s.engine.hook('beforeComponent', 'tidb', snap, s.actx('v8.1.0')), /paused DDL/);
    assert.equal(s.cluster.ddlPaused, true);
    assert.match(await s.engine.hook('afterComponent', 'tidb', snap, s.actx('v8.1.0')), /resumed DDL/);
    assert.equal(s.cluster.ddlPaused, false);
    assert.equal(
      await s.engine.hook('afterUpgrade', undefined, snap, s.actx('v8.1.0')),
      'removed leftover evict-leader schedulers of tikv-0',
    );
    await s.cluster.advance(1_000);
    assert.ok(s.cluster.member('tikv-0').leaderCount > 0);
    assert.equal(
      await s.engine.hook('afterUpgrade', undefined, snap, s.actx('v8.1.0')),
      'no leftover evict-leader scheduler',
    );
  });

  it('refuses a hook the engine does not list', async () => {
    const s = setup({ engine: 'sim', version: '1.0.0' });
    await assert.rejects(
      s.engine.hook('beforeUpgrade', undefined, await s.snapshot(), s.actx('1.1.0')),
      (err: unknown) => err instanceof OperationalError && err.code === 'unknown-hook',
    );
  });

  it('refuses to drain a leader when no member can take over', async () => {
    const s = setup({
      engine: 'sim',
      version: '1.0.0',
      components: [{ name: 'db', members: [{ role: 'leader' }, { ready: false }, { lag: 5000 }] }],
    });
    const snap = await s.snapshot();
    await assert.rejects(
      s.engine.drain(snap.members[0]!, undefined, snap, s.actx('1.1.0')),
      (err: unknown) => err instanceof OperationalError && err.code === 'no-leadership-target',
    );
  });

  it('replaceOptions tells a replica which primary to follow (replication topology)', async () => {
    const clock = new FakeClock();
    const rules = {
      ...simRules,
      components: [{ ...simRules.components[0]!, topology: 'replication' as const }],
    };
    const cluster = new SimCluster(
      parseSimClusterDescription({ engine: 'sim', version: '17.5', seed: 1 }, engineRegistry),
      {
        clock,
        rules,
      },
    );
    const engine = new SimEngine(cluster);
    const platform = new SimPlatform(cluster);
    const ctx = { clock, logger: nullLogger };
    const members = await platform.listMembers(ctx);
    const primary = cluster.leaderOf('db');
    assert.ok(primary);
    const replica = members.find((m) => m.name !== primary)!;
    const snap = { observedAt: 0, members, health: cluster.health() };
    assert.deepEqual(await engine.replaceOptions(replica, snap, ctx), { settings: { primary } });
    assert.deepEqual(
      await engine.replaceOptions(
        members.find((m) => m.name === primary)!,
        snap,
        ctx,
      ),
      {},
    );
    assert.equal(cluster.member(primary).role, 'primary');
  });

  it('cockroachdb: after finalization a node on the previous major refuses to start; before it, rollback works', async () => {
    const s = setup({
      engine: 'cockroachdb',
      version: '24.1.3',
      components: [{ name: 'cockroachdb', members: 3 }],
    });
    await s.platform.replaceMember('cockroachdb-0', '23.2.5', {}, s.ctx);
    await s.cluster.advance(10_000);
    assert.equal(s.cluster.member('cockroachdb-0').ready, true, 'rollback before finalization');
    await s.platform.replaceMember('cockroachdb-0', '24.1.3', {}, s.ctx);
    await s.cluster.advance(10_000);
    await s.engine.finalize(await s.snapshot(), s.ctx);
    assert.equal(s.cluster.finalizedVersion, '24.1.3');
    await s.platform.replaceMember('cockroachdb-1', '24.1.5', {}, s.ctx);
    await s.platform.replaceMember('cockroachdb-2', '23.2.5', {}, s.ctx);
    await s.cluster.advance(60_000);
    assert.equal(s.cluster.member('cockroachdb-1').ready, true, 'a patch of the finalized major starts');
    const refused = s.cluster.member('cockroachdb-2');
    assert.equal(refused.running, true);
    assert.equal(refused.ready, false);
    assert.match(
      refused.detail ?? '',
      /refuses to start: cluster version 24\.1 is finalized and newer than binary 23\.2\.5/,
    );
  });
});
