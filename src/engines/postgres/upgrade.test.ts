/**
 * End to end: the Runner rolls a real 3-member PostgreSQL cluster from 17.5 to 17.6 through
 * LocalPlatform under a write load. Standbys go first, the primary last by switchover, the old
 * primary rejoins as a standby, and no acknowledged write is lost.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../core/clock.js';
import { nullLogger } from '../../core/logger.js';
import type { PortContext } from '../../core/ports.js';
import { Runner, type RunnerEvent } from '../../runner/runner.js';
import { createUpgrade, makeSpec } from '../../runner/start.js';
import { observe } from '../../runner/observe.js';
import { PostgresEngine } from './engine.js';
import { Writer, localPostgresCluster, sql } from '../../../test/postgres/helpers.js';

const ctx: PortContext = { clock: systemClock, logger: nullLogger };

describe(
  'rolling upgrade of PostgreSQL 17.5 -> 17.6 by the runner (real processes)',
  { timeout: 240_000 },
  () => {
    const engine = new PostgresEngine();

    const pg = localPostgresCluster('pgup', 3, engine);

    it('upgrades every member, the primary last by switchover, losing no acknowledged write', async (t) => {
      const members = await pg.platform().listMembers(ctx);
      const primaryEndpoint = members.find((m) => m.name === 'postgres-0')?.endpoint as string;
      await sql(primaryEndpoint, 'CREATE TABLE probe (id int PRIMARY KEY)');
      const writer = new Writer(members.map((m) => m.endpoint as string));
      writer.start();

      const spec = makeSpec({ cluster: 'pgup', engine: 'postgres', version: '17.6', name: 'up' });
      await createUpgrade(pg.platform(), engine, spec, ctx);
      const events: RunnerEvent[] = [];
      const runner = new Runner({
        platform: pg.platform(),
        engine,
        clock: systemClock,
        logger: nullLogger,
        name: 'up',
        onEvent: (e) => events.push(e),
      });
      const result = await runner.run();
      await writer.stop();

      assert.equal(result.status.phase, 'Completed', result.status.reason);
      const after = await observe(pg.platform(), engine, ctx);
      assert.deepEqual(
        after.members.map((m) => [m.name, m.version]),
        [
          ['postgres-0', '17.6'],
          ['postgres-1', '17.6'],
          ['postgres-2', '17.6'],
        ],
      );
      assert.equal(after.health.healthy, true, after.health.detail);
      const newPrimary = after.members.find((m) => m.engine?.role === 'primary');
      assert.ok(newPrimary && newPrimary.name !== 'postgres-0', 'the primary role moved off postgres-0');
      for (const m of after.members.filter((x) => x.name !== newPrimary.name)) {
        assert.equal(m.engine?.role, 'replica');
        assert.equal(m.engine?.healthy, true, `${m.name}: ${m.engine?.detail}`);
      }
      const switchover = events.find((e) => /^switched over from postgres-0/.test(e.message));
      assert.ok(switchover, 'the old primary was switched over, not just restarted');
      const replaced = result.status.history
        .filter((h) => h.member && /replacing with 17\.6$/.test(h.message))
        .map((h) => h.member);
      assert.deepEqual(replaced.slice(0, 2).sort(), ['postgres-1', 'postgres-2'], 'standbys first');
      assert.equal(replaced[2], 'postgres-0', 'the primary goes last');
      assert.deepEqual(await writer.lostOn(newPrimary.endpoint as string), []);
      t.diagnostic(
        `${writer.acked.length} writes acknowledged, longest write gap ${writer.longestGapMs()} ms; ${switchover.message}`,
      );
    });
  },
);
