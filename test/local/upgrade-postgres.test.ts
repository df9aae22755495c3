/** PostgreSQL, 3 members (primary and two streaming standbys), a real minor upgrade 17.5 -> 17.6. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { parseEndpoint } from '../../src/engines/postgres/conninfo.js';
import { installed, tempStateDir } from './helpers.js';
import { runUpgradeScenario } from './upgrade-scenario.js';

async function serverVersion(endpoint: string): Promise<string> {
  const { host, port } = parseEndpoint(endpoint);
  const client = new pg.Client({ host, port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    const r = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return r.rows[0]!.v;
  } finally {
    await client.end();
  }
}

test(
  'postgres: 17.5 -> 17.6 under writes, switchover last, no write lost',
  { timeout: 180_000 },
  async (t) => {
    if (!installed('postgres')) return t.skip('the PostgreSQL 17.5 and 17.6 packages are not installed');
    const state = await tempStateDir('pg-up');
    t.after(state.cleanup);
    const out = await runUpgradeScenario(
      { engine: 'postgres', members: 3, from: '17.5', to: '17.6', leaders: 1 },
      state.dir,
    );
    // The label is not taken on trust: every server reports the new release.
    for (const [name, endpoint] of Object.entries(out.endpoints)) {
      assert.match(await serverVersion(endpoint), /^17\.6\b/, name);
    }
  },
);
