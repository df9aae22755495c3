/**
 * Integration: a real 3-member PostgreSQL 17.5 cluster on 127.0.0.1 through LocalPlatform.
 * Observes roles and lag, switches over under a write load (no acknowledged write lost), rejoins
 * the old primary on 17.6 as a standby without pg_rewind, replaces a standby with 17.6, and fails
 * prechecks with a reason while a standby is stopped. Everything is deleted afterwards.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { systemClock } from '../../core/clock.js';
import { nullLogger } from '../../core/logger.js';
import type { EngineActionContext, PortContext } from '../../core/ports.js';
import type { Snapshot, UpgradeSpec } from '../../core/types.js';
import type { LocalPlatform } from '../../platforms/local/platform.js';
import { makeSpec } from '../../runner/start.js';
import { parseEndpoint } from './conninfo.js';
import { observe } from '../../runner/observe.js';
import { PostgresEngine } from './engine.js';
import { Writer, eventually, localPostgresCluster, sql } from '../../../test/postgres/helpers.js';

const ctx: PortContext = { clock: systemClock, logger: nullLogger };

function spec(): UpgradeSpec {
  return makeSpec({
    name: 'pg-test',
    cluster: 'pgit',
    engine: 'postgres',
    version: '17.6',
    strategy: { timeouts: { drainSeconds: 60, readySeconds: 60 } },
  });
}

const snapshot = (platform: LocalPlatform, engine: PostgresEngine): Promise<Snapshot> =>
  observe(platform, engine, ctx);

describe('PostgreSQL engine on LocalPlatform (real processes)', { timeout: 240_000 }, () => {
  const engine = new PostgresEngine();
  const endpointOf = async (name: string): Promise<string> =>
    (await pg.platform().listMembers(ctx)).find((m) => m.name === name)?.endpoint as string;

  const pg = localPostgresCluster('pgit', 3, engine);

  it('observes one primary and two streaming, caught-up standbys; prechecks pass', async () => {
    await eventually('both standbys streaming', 20_000, async () => {
      const s = await snapshot(pg.platform(), engine);
      return s.health.healthy &&
        s.members.filter((m) => m.engine?.role === 'replica' && m.engine.caughtUp).length === 2
        ? true
        : s.health.detail;
    });
    const s = await snapshot(pg.platform(), engine);
    const roles = Object.fromEntries(s.members.map((m) => [m.name, m.engine?.role]));
    assert.deepEqual(roles, { 'postgres-0': 'primary', 'postgres-1': 'replica', 'postgres-2': 'replica' });
    for (const m of s.members)
      assert.ok(m.engine!.lag <= engine.lagThresholdBytes, `${m.name} lag ${m.engine!.lag}`);
    assert.equal(s.health.facts?.primary, 'postgres-0');
    const checks = await engine.prechecks(s, spec(), ctx);
    assert.deepEqual(
      checks.map((c) => [c.name, c.ok]),
      [
        ['all-members-up', true],
        ['primary-unique', true],
        ['standbys-streaming', true],
        ['replication-lag-under-threshold', true],
      ],
    );
  });

  it('switches over under writes without losing an acknowledged write', async (t) => {
    const p0 = await endpointOf('postgres-0');
    await sql(p0, 'CREATE TABLE probe (id int PRIMARY KEY, at timestamptz DEFAULT now())');
    const endpoints = (await pg.platform().listMembers(ctx)).map((m) => m.endpoint as string);
    const writer = new Writer(endpoints);
    writer.start();
    await eventually('writes acknowledged', 10_000, async () => writer.acked.length >= 50);
    const s = await snapshot(pg.platform(), engine);
    const primary = s.members.find((m) => m.name === 'postgres-0')!;
    const target = s.members.find((m) => m.name === 'postgres-1')!;
    const actx: EngineActionContext = { ...ctx, platform: pg.platform(), spec: spec() };
    const ackedBefore = writer.acked.length;
    const t0 = Date.now();
    const result = await engine.drain(primary, target, s, actx);
    const switchoverMs = Date.now() - t0;
    await eventually(
      'writes on the new primary',
      10_000,
      async () => writer.acked.length >= ackedBefore + 50,
    );
    await writer.stop();

    assert.equal(result.movedTo, 'postgres-1');
    const writeGapMs = writer.longestGapMs();
    t.diagnostic(`switchover ${switchoverMs} ms, longest write gap ${writeGapMs} ms; ${result.message}`);

    const p1 = await endpointOf('postgres-1');
    assert.deepEqual(await writer.lostOn(p1), [], 'every acknowledged write is on the new primary');

    const after = await snapshot(pg.platform(), engine);
    assert.equal(after.health.facts?.primary, 'postgres-1');
    await eventually('postgres-2 streams from the new primary', 20_000, async () => {
      const v = await snapshot(pg.platform(), engine);
      const m = v.members.find((x) => x.name === 'postgres-2');
      return m?.engine?.healthy === true && m.engine.role === 'replica'
        ? true
        : (m?.engine?.detail ?? 'unreachable');
    });
    // Draining a standby hands nothing over.
    const standbyDrain = await engine.drain(
      after.members.find((m) => m.name === 'postgres-2')!,
      undefined,
      after,
      actx,
    );
    assert.equal(standbyDrain.movedTo, undefined);
    assert.match(standbyDrain.message, /postgres-2 is a standby/);
    // A switchover interrupted before re-pointing: postgres-2 still follows the stopped old primary.
    const p2 = await endpointOf('postgres-2');
    const oldPort = parseEndpoint(p0).port;
    await sql(
      p2,
      `ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=${oldPort} user=postgres application_name=postgres-2'`,
    );
    await sql(p2, 'SELECT pg_reload_conf()');
    // Repeating the drain of the (now stopped) old primary names the new primary and repairs that.
    const again = await engine.drain(
      after.members.find((m) => m.name === 'postgres-0')!,
      undefined,
      after,
      actx,
    );
    assert.match(again.message, /re-pointed postgres-2/);
    await eventually('postgres-2 follows the new primary again', 20_000, async () => {
      const v = await snapshot(pg.platform(), engine);
      const m = v.members.find((x) => x.name === 'postgres-2');
      return m?.engine?.healthy === true ? true : (m?.engine?.detail ?? 'unreachable');
    });
    assert.equal(again.movedTo, 'postgres-1');
  });

  it('restarts the old primary on 17.6 as a standby of the new primary, without pg_rewind', async () => {
    const s = await snapshot(pg.platform(), engine);
    const old = s.members.find((m) => m.name === 'postgres-0')!;
    const opts = await engine.replaceOptions(old, s, ctx);
    assert.equal(opts.settings?.role, 'standby');
    assert.match(opts.settings?.primaryConninfo ?? '', /port=\d+ .*application_name=postgres-0/);
    await pg.platform().replaceMember('postgres-0', '17.6', opts, ctx);
    await eventually('postgres-0 streaming and caught up', 30_000, async () => {
      const v = await snapshot(pg.platform(), engine);
      const m = v.members.find((x) => x.name === 'postgres-0');
      return m?.engine?.role === 'replica' && m.engine.caughtUp ? true : (m?.engine?.detail ?? 'unreachable');
    });
    const p0 = await endpointOf('postgres-0');
    const [version] = await sql<{ v: string }>(p0, "SELECT current_setting('server_version') AS v");
    assert.equal(version?.v, '17.6');
    const p1 = await endpointOf('postgres-1');
    await sql(p1, 'INSERT INTO probe(id) VALUES (-1)');
    await eventually('a new write replicated to postgres-0', 10_000, async () => {
      const r = await sql<{ n: string }>(p0, 'SELECT count(*) AS n FROM probe WHERE id = -1');
      return r[0]?.n === '1';
    });
    const log = await readFile(
      pg
        .platform()
        .layout()
        .members.find((m) => m.name === 'postgres-0')!.logFile,
      'utf8',
    );
    assert.doesNotMatch(log, /is not a child of|requested timeline .* does not contain/);
  });

  it('replaces a standby with 17.6 and sees it stream again', async () => {
    const s = await snapshot(pg.platform(), engine);
    const standby = s.members.find((m) => m.name === 'postgres-2')!;
    const opts = await engine.replaceOptions(standby, s, ctx);
    assert.equal(opts.settings?.role, 'standby');
    await pg.platform().replaceMember('postgres-2', '17.6', opts, ctx);
    await eventually('postgres-2 streaming on 17.6', 30_000, async () => {
      const v = await snapshot(pg.platform(), engine);
      const m = v.members.find((x) => x.name === 'postgres-2');
      return m?.engine?.caughtUp === true && m.version === '17.6'
        ? true
        : (m?.engine?.detail ?? 'unreachable');
    });
    const [version] = await sql<{ v: string }>(
      await endpointOf('postgres-2'),
      "SELECT current_setting('server_version') AS v",
    );
    assert.equal(version?.v, '17.6');
  });

  it('fails prechecks with a reason while a standby is stopped, and passes once it is back', async () => {
    await pg.platform().stopMember('postgres-2', ctx);
    const s = await snapshot(pg.platform(), engine);
    const checks = Object.fromEntries((await engine.prechecks(s, spec(), ctx)).map((c) => [c.name, c]));
    assert.equal(checks['all-members-up']?.ok, false);
    assert.match(checks['all-members-up']?.reason ?? '', /postgres-2 is down/);
    assert.equal(checks['standbys-streaming']?.ok, false);
    assert.match(checks['standbys-streaming']?.reason ?? '', /postgres-2/);
    assert.equal(checks['primary-unique']?.ok, true);
    await pg.platform().startMember('postgres-2', ctx);
    await eventually('prechecks pass again', 30_000, async () => {
      const v = await snapshot(pg.platform(), engine);
      const failing = (await engine.prechecks(v, spec(), ctx)).filter((c) => !c.ok);
      return failing.length === 0 ? true : failing.map((c) => c.reason).join('; ');
    });
  });
});

describe('PostgreSQL engine on a single-member cluster (real process)', { timeout: 120_000 }, () => {
  const engine = new PostgresEngine();

  const pg = localPostgresCluster('pgone', 1, engine);

  it('hands nothing over and restarts the member as the primary for a config-only pass', async () => {
    const s = await snapshot(pg.platform(), engine);
    assert.equal(s.health.healthy, true, s.health.detail);
    const only = s.members[0]!;
    const drained = await engine.drain(only, undefined, s, { ...ctx, platform: pg.platform(), spec: spec() });
    assert.equal(drained.movedTo, undefined);
    assert.match(drained.message, /only member/);
    const opts = await engine.replaceOptions(only, s, ctx);
    assert.deepEqual(opts, { settings: { role: 'primary' } });
    await pg.platform().replaceMember(only.name, '17.5+r1', opts, ctx);
    await eventually('the primary is back on 17.5+r1', 30_000, async () => {
      const v = await snapshot(pg.platform(), engine);
      return v.health.healthy && v.members[0]?.version === '17.5+r1' ? true : v.health.detail;
    });
  });
});
