/**
 * Bad input against a real local etcd cluster: one line on stderr naming the problem, exit code 2,
 * nothing on stdout, and no journal written (no entry under the cluster's `upgrades/`).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  createLocalCluster,
  installed,
  journalEntries,
  runCli,
  statusJson,
  tempStateDir,
} from './helpers.js';

const CLUSTER = 'badinput';
let stateDir = '';
let cleanup: () => Promise<void> = async () => {};

before(async () => {
  if (!installed('etcd')) return;
  const state = await tempStateDir('badinput');
  stateDir = state.dir;
  cleanup = state.cleanup;
  await createLocalCluster(stateDir, CLUSTER, 'etcd', 1);
});
after(() => cleanup());

const cases: { what: string; args: () => string[]; says: RegExp }[] = [
  {
    what: 'unknown engine at cluster creation',
    args: () => ['cluster', 'create', 'other', '--engine', 'mongodb', '--state-dir', stateDir],
    says: /engine "mongodb" does not run on the local platform: use one of etcd, postgres, redis/,
  },
  {
    what: 'engine that is not the cluster’s',
    args: () => ['apply', '--state-dir', stateDir, '--engine', 'mongodb', '--to', '1.0'],
    says: /runs etcd, not mongodb/,
  },
  {
    what: 'unparsable version',
    args: () => ['apply', '--state-dir', stateDir, '--to', 'banana'],
    says: /cannot parse version "banana"/,
  },
  {
    what: 'downgrade',
    args: () => ['apply', '--state-dir', stateDir, '--to', '3.4.0'],
    says: /refusing to downgrade etcd from 3\.4\.23 to 3\.4\.0/,
  },
  {
    what: 'impossible path',
    args: () => ['apply', '--state-dir', stateDir, '--to', '4.0.0'],
    says: /no upgrade path for etcd from 3\.4\.23 to 4\.0\.0/,
  },
  {
    what: 'unknown batch policy',
    args: () => ['apply', '--state-dir', stateDir, '--to', '3.4.23+r1', '--batch', 'sometimes'],
    says: /--batch sometimes/,
  },
  {
    what: 'probe budget without the probe',
    args: () => ['apply', '--state-dir', stateDir, '--to', '3.4.23+r1', '--max-gap', '500ms'],
    says: /--max-write-gap, --max-error-rate and --max-p99 need --probe/,
  },
  {
    what: 'probe rate that is not a number',
    args: () => ['apply', '--state-dir', stateDir, '--to', '3.4.23+r1', '--probe', '--probe-rate', 'fast'],
    says: /--probe-rate fast: must be a number from 0\.1 to 100000/,
  },
  {
    what: 'probe load without the probe',
    args: () => ['apply', '--state-dir', stateDir, '--to', '3.4.23+r1', '--probe-rate', '1000'],
    says: /--probe-rate, .* need --probe/,
  },
  {
    what: 'unknown cluster',
    args: () => ['apply', '--state-dir', stateDir, '-c', 'nosuch', '--to', '3.4.23+r1'],
    says: /no local cluster "nosuch"/,
  },
];

for (const c of cases) {
  test(`bad input (${c.what}): one line, exit 2, no journal`, { timeout: 60_000 }, async (t) => {
    if (!installed('etcd')) return t.skip('etcd is not installed');
    const r = await runCli(c.args());
    assert.equal(r.code, 2, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: [^\n]+\n$/);
    assert.match(r.stderr, c.says);
    assert.deepEqual(await journalEntries(stateDir, CLUSTER), []);
    assert.equal(existsSync(join(stateDir, 'clusters', 'other')), false);
  });
}

test(
  'apply with another target while an upgrade is open is refused, and the open one is kept',
  { timeout: 60_000 },
  async (t) => {
    if (!installed('etcd')) return t.skip('etcd is not installed');
    // A one-member cluster fails the quorum precheck: the upgrade stays open in Prechecking.
    const first = await runCli(['apply', '--state-dir', stateDir, '--to', '3.4.23+r1']);
    assert.equal(first.code, 1, first.stdout);
    const open = await statusJson(stateDir);
    assert.equal(open.status.phase, 'Prechecking');

    const r = await runCli(['apply', '--state-dir', stateDir, '--to', '3.4.23+r2']);
    assert.equal(r.code, 2, r.stdout);
    assert.match(
      r.stderr,
      /^error: upgrade badinput-upgrade is Prechecking with target 3\.4\.23\+r1[^\n]*\n$/,
    );
    const kept = await statusJson(stateDir);
    assert.equal(kept.spec.version, '3.4.23+r1');
    assert.equal(kept.spec.generation, open.spec.generation);
  },
);
