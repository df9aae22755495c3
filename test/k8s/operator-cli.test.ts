import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { Command } from 'commander';
import { registerOperatorCommand } from '../../src/operator/command.js';
import { systemClock } from '../../src/core/clock.js';
import { BadInputError } from '../../src/core/errors.js';
import { nullLogger } from '../../src/core/logger.js';
import { waitFor } from '../kube/helpers.js';
import { pickFreePorts } from '../../src/platforms/local/ports.js';
import { serviceAccountToken } from '../kube/deploy.js';
import { setup } from './operator-fixtures.js';

/** A free port for the operator to bind later, below the ephemeral range (see pickFreePorts). */
async function freePort(): Promise<number> {
  const [port] = await pickFreePorts(1, { random: Math.random });
  return port!;
}

function cli(signal: AbortSignal) {
  let err = '';
  const program = new Command().exitOverride();
  const stream = (w: (s: string) => void) => ({ write: w, isTTY: false });
  registerOperatorCommand(
    program,
    {
      stdout: stream(() => {}),
      stderr: stream((s) => (err += s)),
      env: {},
      clock: systemClock,
      logger: nullLogger,
      signal,
    },
    { code: 0 },
  );
  return { program, stderr: () => err };
}

describe('baton operator (CLI)', () => {
  it('runs until interrupted, serving /readyz, then stops gracefully and releases the Lease', async (t) => {
    const env = await setup(t);
    const dir = await mkdtemp(join(tmpdir(), 'baton-op-cli-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, 'kubeconfig');
    // The operator's own identity: the ServiceAccount token deploy/ binds, never the admin's.
    await env.server.writeKubeconfig(kubeconfig, { token: await serviceAccountToken(env.server.rest) });
    const port = await freePort();
    const ac = new AbortController();
    t.after(() => ac.abort());
    const { program, stderr } = cli(ac.signal);
    const running = program.parseAsync(
      [
        'operator',
        '--kubeconfig',
        kubeconfig,
        '-n',
        env.ns,
        '--lease-name',
        env.lease.name,
        '--lease-namespace',
        env.lease.namespace,
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--identity',
        'cli-op',
      ],
      { from: 'user' },
    );
    await waitFor(
      'readyz',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200,
    );
    await waitFor('leadership', () => stderr().includes('"msg":"became leader"'));
    ac.abort();
    await running;
    assert.match(stderr(), /"msg":"operator stopped"/);
    const lease = await env.kc.makeApiClient(CoordinationV1Api).readNamespacedLease(env.lease);
    assert.ok(!lease.spec?.holderIdentity, 'the Lease was released');
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
  });

  it('rejects a bad port, a bad namespace and a missing kubeconfig as bad input', async () => {
    const ac = new AbortController();
    await assert.rejects(
      cli(ac.signal).program.parseAsync(['operator', '--port', 'http'], { from: 'user' }),
      (e: unknown) => {
        assert.ok(e instanceof BadInputError);
        assert.match(e.message, /--port http: must be a whole number/);
        return true;
      },
    );
    await assert.rejects(
      cli(ac.signal).program.parseAsync(['operator', '-n', 'db,Bad_NS'], { from: 'user' }),
      (e: unknown) => {
        assert.ok(e instanceof BadInputError);
        assert.match(e.message, /--namespace: "Bad_NS" is not a valid namespace name/);
        return true;
      },
    );
    await assert.rejects(
      cli(ac.signal).program.parseAsync(['operator', '--kubeconfig', '/nonexistent/kubeconfig'], {
        from: 'user',
      }),
      (e: unknown) => e instanceof BadInputError && /no such file/.test(e.message),
    );
  });
});
