/** Redis Cluster, 6 members (3 primaries, 3 replicas), `7.0.15 -> 7.0.15+r1` under the probe. */
import { test } from 'node:test';
import { installed, tempStateDir } from './helpers.js';
import { runUpgradeScenario } from './upgrade-scenario.js';

test(
  'redis: 6 members upgraded under writes, primaries last, no write lost',
  { timeout: 120_000 },
  async (t) => {
    if (!installed('redis')) return t.skip('redis-server is not installed');
    const state = await tempStateDir('redis-up');
    t.after(state.cleanup);
    await runUpgradeScenario({ engine: 'redis', members: 6, to: '7.0.15+r1', leaders: 3 }, state.dir);
  },
);
