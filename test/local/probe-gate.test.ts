/**
 * The probe's safety gate on a real upgrade: `baton apply --probe --max-write-gap` on a 3-member
 * etcd cluster whose probe, at 20 writes a second, can never keep the write gap under 20 ms. The
 * gate pauses the upgrade through the runner's automatic pause with the probe's figure as the
 * cause (exit 1), before any member is touched, and `baton status` shows that cause.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createLocalCluster,
  installed,
  memberPids,
  runCliExpect,
  statusJson,
  tempStateDir,
} from './helpers.js';

test(
  'a probe figure over its budget pauses the upgrade with the figure as the cause',
  { timeout: 180_000 },
  async (t) => {
    if (!installed('etcd')) return t.skip('etcd is not installed');
    const state = await tempStateDir('probegate');
    t.after(state.cleanup);
    await createLocalCluster(state.dir, 'gate', 'etcd', 3);
    const original = await memberPids(state.dir, 'gate');

    const applied = await runCliExpect(
      [
        'apply',
        '--state-dir',
        state.dir,
        '--to',
        '3.4.23+r1',
        '--probe',
        '--probe-rate',
        '20',
        '--probe-read-ratio',
        '0',
        '--probe-baseline',
        '1s',
        '--max-write-gap',
        '20ms',
      ],
      1,
    );
    const why = `\n--- apply stdout\n${applied.stdout}\n--- stderr\n${applied.stderr}`;

    const st = await statusJson(state.dir);
    assert.equal(st.status.phase, 'Paused', why);
    const cause = /^probe: longest write gap (\d+) ms > 20 ms$/.exec(st.status.pauseCause ?? '');
    assert.ok(cause, `pause cause: ${st.status.pauseCause}${why}`);
    // Writes are due every 50 ms: no gap between acknowledged writes can be shorter on average.
    assert.ok(Number(cause[1]) >= 40, `gap ${cause[1]} ms`);
    assert.equal(st.spec.paused, false, 'an automatic pause, not a request');
    assert.equal(Object.keys(st.status.members).length, 3, why);
    for (const [name, m] of Object.entries(st.status.members)) {
      assert.equal(m.state, 'pending', `${name} was touched${why}`);
    }
    assert.deepEqual(await memberPids(state.dir, 'gate'), original, 'no member was restarted');
    assert.match(applied.stdout, /Paused: paused: probe: longest write gap \d+ ms > 20 ms/);

    const text = await runCliExpect(['status', '--state-dir', state.dir]);
    assert.match(text.stdout, /Paused: +probe: longest write gap \d+ ms > 20 ms/);
  },
);
