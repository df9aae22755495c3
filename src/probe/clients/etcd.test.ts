import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { systemClock } from '../../core/clock.js';
import { nullLogger } from '../../core/logger.js';
import { Probe } from '../probe.js';
import type { ProbeClient } from '../types.js';
import { EtcdProbeClient } from './etcd.js';
import { recordingClient } from './testing/recording.js';
import { freePort, pause, removeDir, ServerProcess, tempDir, waitFor } from './testing/servers.js';

describe('EtcdProbeClient against a real etcd', () => {
  let dir = '';
  let endpoint = '';
  let server: ServerProcess;
  let admin: Etcd3;

  const healthy = async () => {
    const res = await fetch(`http://${endpoint}/health`);
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  };

  before(async () => {
    dir = tempDir('etcd');
    const [client, peer] = [await freePort(), await freePort()];
    endpoint = `127.0.0.1:${client}`;
    server = new ServerProcess(
      '/usr/bin/etcd',
      [
        '--name=p0',
        `--data-dir=${join(dir, 'data')}`,
        `--listen-client-urls=http://${endpoint}`,
        `--advertise-client-urls=http://${endpoint}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=p0=http://127.0.0.1:${peer}`,
        '--initial-cluster-state=new',
      ],
      join(dir, 'etcd.log'),
    );
    server.start();
    await waitFor('etcd healthy', healthy);
    admin = new Etcd3({ hosts: `http://${endpoint}` });
  });

  after(async () => {
    admin?.close();
    await server?.stop();
    removeDir(dir);
  });

  const newProbe = (client: ProbeClient) =>
    new Probe({ client, clock: systemClock, logger: nullLogger, intervalMs: 2, retryDeadlineMs: 15000 });
  const newClient = () => new EtcdProbeClient({ endpoints: async () => [endpoint], logger: nullLogger });
  const acked = (probe: Probe, n: number) =>
    waitFor(`${n} acknowledged writes`, async () => probe.snapshot().acknowledgedWrites >= n);

  it('acknowledges writes, reads them back and loses none', async () => {
    const probe = newProbe(newClient());
    await probe.start();
    await acked(probe, 100);
    const r = await probe.stop();
    assert.equal(r.failedOps, 0);
    assert.equal(r.lostWrites, 0);
    assert.equal(r.unverifiedWrites, 0);
    assert.ok(r.reads > 0);
    assert.equal(r.readMismatches, 0);
    const stored = await admin.getAll().prefix(`/baton/probe/${r.runId}-`).keys();
    assert.equal(stored.length, r.acknowledgedWrites);
  });

  it('retries a write through a brief restart of the server, without failures or losses', async () => {
    const probe = newProbe(newClient());
    await probe.start();
    await acked(probe, 20);
    await server.stop();
    const down = Date.now();
    await pause(700);
    const before = probe.snapshot().acknowledgedWrites;
    server.start();
    await waitFor('etcd healthy again', healthy);
    const outage = Date.now() - down;
    await acked(probe, before + 20);
    const r = await probe.stop();
    assert.equal(r.failedOps, 0);
    assert.equal(r.lostWrites, 0);
    assert.ok(
      r.operations.some((o) => o.attempts > 1),
      'some operation needed a retry',
    );
    assert.ok(r.maxGapMs >= 700, `longest gap ${r.maxGapMs} ms spans the ${outage} ms outage`);
  });

  it('counts an acknowledged write deleted behind its back as lost', async () => {
    const ids: string[] = [];
    const inner = newClient();
    const client = recordingClient(inner, ids);
    const probe = newProbe(client);
    await probe.start();
    await acked(probe, 10);
    const victim = ids[3] ?? '';
    await admin.delete().key(`/baton/probe/${victim}`);
    const r = await probe.stop();
    assert.equal(r.lostWrites, 1);
    assert.deepEqual(r.lost[0], { id: victim, expected: r.lost[0]?.expected, actual: undefined });
    assert.match(r.lost[0]?.expected ?? '', new RegExp(`^${victim}@`));
    assert.equal(probe.verdict({}).ok, false);
  });
});
