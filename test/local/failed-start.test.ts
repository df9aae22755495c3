/**
 * A member that cannot start on the new version: the etcd "binary" registered for `3.4.23+bad`
 * exits at once. The upgrade pauses (exit 1) naming the member and why, the other members are
 * untouched and the cluster keeps serving writes on them, and `baton rollback` starts the failed
 * member again on its original version.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Etcd3 } from 'etcd3';
import type { ProbeReport } from '../../src/probe/types.js';
import {
  clusterState,
  createLocalCluster,
  installed,
  memberPids,
  runCliExpect,
  statusJson,
  tempStateDir,
} from './helpers.js';

test(
  'a member failing on the new version pauses the upgrade; rollback brings it back',
  { timeout: 180_000 },
  async (t) => {
    if (!installed('etcd')) return t.skip('etcd is not installed');
    const state = await tempStateDir('failstart');
    t.after(state.cleanup);
    const cluster = 'failstart';
    const bad = join(state.dir, 'etcd-bad.sh');
    await writeFile(bad, '#!/bin/sh\necho "etcd-bad: this build refuses to start" >&2\nexit 3\n');
    await chmod(bad, 0o755);
    const binary = ['--binary', `3.4.23+bad=${bad}`];
    await createLocalCluster(state.dir, cluster, 'etcd', 3);
    const original = await memberPids(state.dir, cluster);

    const reportFile = join(state.dir, 'report.json');
    const applied = await runCliExpect(
      [
        'apply',
        '--state-dir',
        state.dir,
        '--to',
        '3.4.23+bad',
        ...binary,
        '--ready-timeout',
        '5s',
        '--probe',
        '--report',
        reportFile,
      ],
      1,
    );
    const why = `\n--- apply stdout\n${applied.stdout}`;

    const st = await statusJson(state.dir, binary);
    assert.equal(st.status.phase, 'Paused', why);
    const inFlight = Object.entries(st.status.members).filter(([, p]) => p.state !== 'pending');
    assert.equal(inFlight.length, 1, `members touched: ${inFlight.map(([n]) => n).join(', ')}${why}`);
    const [failed] = inFlight[0]!;
    assert.ok(st.status.pauseCause?.includes(failed), `pause cause: ${st.status.pauseCause}`);
    assert.match(st.status.pauseCause!, /exited with code 3.*this build refuses to start/);

    // The others still run their original processes, and the cluster takes writes on them.
    const pids = await memberPids(state.dir, cluster);
    const others = Object.keys(original).filter((n) => n !== failed);
    for (const name of others) assert.equal(pids[name], original[name], `${name} was touched`);
    const views = st.members ?? [];
    assert.equal(views.find((v) => v.name === failed)?.ready, false);
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as { probe: ProbeReport };
    assert.equal(report.probe.lostWrites, 0);
    assert.ok(report.probe.acknowledgedWrites > 0);
    const client = new Etcd3({
      hosts: views.filter((v) => v.name !== failed).map((v) => `http://${v.endpoint}`),
    });
    try {
      await client.put('failstart/after-pause').value('still serving');
      assert.equal(await client.get('failstart/after-pause').string(), 'still serving');
    } finally {
      client.close();
    }

    // Rollback: the failed member runs its original version again; nobody else restarts.
    const rolled = await runCliExpect(['rollback', '--state-dir', state.dir, ...binary]);
    const after = await statusJson(state.dir, binary);
    assert.equal(after.status.phase, 'Completed', rolled.stdout);
    assert.equal(after.status.direction, 'rollback');
    const final = await memberPids(state.dir, cluster);
    for (const name of others)
      assert.equal(final[name], original[name], `${name} was restarted by the rollback`);
    assert.notEqual(final[failed], original[failed]);
    for (const m of (await clusterState(state.dir, cluster)).members)
      assert.equal(m.version, '3.4.23', m.name);
    for (const v of after.members ?? []) {
      assert.ok(v.ready && v.engine?.healthy, `${v.name} is not back: ${JSON.stringify(v)}`);
    }
  },
);
