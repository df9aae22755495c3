/**
 * `baton dashboard --platform kubernetes` on the real control plane: it lists the namespace's
 * Upgrade objects through the API with the user's kubeconfig, and its Resume / Pause change the
 * Upgrade's spec as `baton resume|pause --platform kubernetes` do (the operator carries them out,
 * so the dashboard does not drive), only with the token printed at start.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { waitFor } from '../kube/helpers.js';
import { createUpgrade, getUpgrade, setup } from '../k8s/operator-fixtures.js';
import { buildUi } from '../browser/chromium.js';

describe('baton dashboard on Kubernetes', () => {
  it(
    'lists the Upgrade objects and pauses / resumes them with the token',
    { timeout: 120_000 },
    async (t) => {
      await buildUi();
      const env = await setup(t);
      await createUpgrade(env, 'web-up', { target: { statefulSet: 'web' }, version: '1.1.0', paused: true });
      const dir = await mkdtemp(join(tmpdir(), 'baton-dash-kube-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const kubeconfig = join(dir, 'kubeconfig');
      await env.server.writeKubeconfig(kubeconfig);

      let out = '';
      let err = '';
      const stop = new AbortController();
      const running = main(
        [
          'dashboard',
          '--platform',
          'kubernetes',
          '--kubeconfig',
          kubeconfig,
          '-n',
          env.ns,
          '--port',
          '0',
          '--refresh',
          '200',
        ],
        {
          stdout: { write: (s) => void (out += s), isTTY: false },
          stderr: { write: (s) => void (err += s), isTTY: false },
          env: {},
          clock: systemClock,
          logger: nullLogger,
          signal: stop.signal,
        },
      );
      t.after(async () => {
        stop.abort();
        await running;
      });
      let code: number | undefined;
      void running.then((c) => (code = c));
      const url = await waitFor(
        'the dashboard address',
        () => {
          const m = /open (http:\/\/127\.0\.0\.1:\d+)\/#token=(\S+)/.exec(out);
          if (!m && code !== undefined) throw new Error(`baton dashboard exited ${code}:\n${out}\n${err}`);
          return m ? { base: m[1]!, token: m[2]! } : undefined;
        },
        30_000,
      );
      assert.match(out, new RegExp(`for the upgrades in namespace ${env.ns}`));

      const key = `${env.ns}/web-up`;
      const listed = (await (await fetch(`${url.base}/api/upgrades`)).json()) as {
        upgrades: Record<string, unknown>;
      };
      assert.ok(listed.upgrades[key], `listed: ${Object.keys(listed.upgrades).join(', ')}`);

      const control = (verb: string, token?: string) =>
        fetch(`${url.base}/api/control`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify({ key, verb }),
        });
      const refused = await control('resume');
      assert.equal(refused.status, 401);
      assert.equal((await getUpgrade(env, 'web-up')).spec.paused, true, 'nothing changed without the token');

      const resumed = await control('resume', url.token);
      assert.equal(resumed.status, 200, await resumed.clone().text());
      assert.deepEqual(await resumed.json(), { message: 'upgrade web-up: resume requested' });
      assert.equal((await getUpgrade(env, 'web-up')).spec.paused, false);

      const paused = await control('pause', url.token);
      assert.equal(paused.status, 200, await paused.clone().text());
      assert.equal((await getUpgrade(env, 'web-up')).spec.paused, true);
      assert.equal(err, '');
    },
  );
});
