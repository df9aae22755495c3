/** etcd, 3 members, a configuration restart `3.4.23 -> 3.4.23+r1` under the probe, through the CLI. */
import { test } from 'node:test';
import { installed, tempStateDir } from './helpers.js';
import { runUpgradeScenario } from './upgrade-scenario.js';

test('etcd: 3 members upgraded under writes, leader last, no write lost', { timeout: 120_000 }, async (t) => {
  if (!installed('etcd')) return t.skip('etcd is not installed');
  const state = await tempStateDir('etcd-up');
  t.after(state.cleanup);
  await runUpgradeScenario({ engine: 'etcd', members: 3, to: '3.4.23+r1', leaders: 1 }, state.dir);
});
