import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../core/clock.js';
import { nullLogger } from '../core/logger.js';
import { simClusterFromFlags } from '../platforms/sim/index.js';
import { Runner } from './runner.js';
import { createUpgrade, makeSpec } from './start.js';
import { engineRegistry } from '../engines/registry.js';

test('a 3-member raft cluster upgrades follower, follower, leader last with a transfer', async () => {
  const clock = new FakeClock();
  const world = simClusterFromFlags({ engine: 'sim', members: 3, from: '1.0.0', seed: 1 }, engineRegistry, {
    clock,
  });
  const spec = makeSpec({ cluster: 'sim', engine: 'sim', version: '1.1.0', name: 'up' });
  const ctx = { clock, logger: nullLogger };
  await createUpgrade(world.platform, world.engine, spec, ctx);
  const leader = world.cluster.leaderOf('db');
  const runner = new Runner({ ...world, clock, logger: nullLogger, name: 'up' });
  const r = await runner.run();
  assert.equal(r.status.phase, 'Completed', r.status.reason);
  for (const m of world.cluster.memberViews()) assert.equal(m.version, '1.1.0');
  assert.deepEqual(world.cluster.recorder.violations(), []);
  assert.equal(world.cluster.recorder.repeatedRestarts().length, 0);
  const order = world.cluster.recorder.calls('replaceMember').map((c) => c.member);
  assert.equal(order[order.length - 1], leader, 'leader goes last');
  assert.ok(world.cluster.recorder.transfers().length >= 1);
});
