import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { nullLogger } from '../../core/logger.js';
import { EtcdProbeClient } from './etcd.js';
import {
  ackedWrites,
  assertCleanRun,
  assertRetriedThroughOutage,
  newTestProbe,
} from '../../../test/probe/probe.js';
import { recordingClient } from '../../../test/probe/recording.js';
import { freePort, pause, removeDir, ServerProcess, tempDir, waitFor } from '../../../test/probe/servers.js';

interface EtcdMember {
  name: string;
  endpoint: string;
  server: ServerProcess;
}

/** Starts an `n`-member etcd cluster in `dir` and waits until every member is healthy. */
async function startEtcd(dir: string, n: number): Promise<EtcdMember[]> {
  const ports = [];
  for (let i = 0; i < n; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const initial = ports.map((p, i) => `e${i}=http://127.0.0.1:${p.peer}`).join(',');
  const members = ports.map((p, i) => {
    const endpoint = `127.0.0.1:${p.client}`;
    const server = new ServerProcess(
      '/usr/bin/etcd',
      [
        `--name=e${i}`,
        `--data-dir=${join(dir, `e${i}`)}`,
        `--listen-client-urls=http://${endpoint}`,
        `--advertise-client-urls=http://${endpoint}`,
        `--listen-peer-urls=http://127.0.0.1:${p.peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${p.peer}`,
        `--initial-cluster=${initial}`,
        '--initial-cluster-state=new',
      ],
      join(dir, `e${i}.log`),
    );
    return { name: `e${i}`, endpoint, server };
  });
  for (const m of members) m.server.start();
  for (const m of members) await waitFor(`${m.name} healthy`, () => healthy(m.endpoint));
  return members;
}

async function healthy(endpoint: string): Promise<boolean> {
  const res = await fetch(`http://${endpoint}/health`);
  return res.ok && ((await res.json()) as { health?: string }).health === 'true';
}

/** The member that leads the raft group, as etcdctl reports it. */
function leaderOf(members: EtcdMember[]): EtcdMember {
  const out = execFileSync(
    '/usr/bin/etcdctl',
    ['endpoint', 'status', '-w', 'json', `--endpoints=${members.map((m) => m.endpoint).join(',')}`],
    { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8' },
  );
  const rows = JSON.parse(out) as {
    Endpoint: string;
    Status: { header: { member_id: number }; leader: number };
  }[];
  const row = rows.find((r) => r.Status.header.member_id === r.Status.leader);
  const leader = members.find((m) => row && row.Endpoint.endsWith(m.endpoint));
  if (!leader) throw new Error(`no leader in ${out}`);
  return leader;
}

describe('EtcdProbeClient against a real etcd', () => {
  let dir = '';
  let endpoint = '';
  let server: ServerProcess;
  let admin: Etcd3;

  before(async () => {
    dir = tempDir('etcd');
    const [member] = await startEtcd(dir, 1);
    assert.ok(member);
    endpoint = member.endpoint;
    server = member.server;
    admin = new Etcd3({ hosts: `http://${endpoint}` });
  });

  after(async () => {
    admin?.close();
    await server?.stop();
    removeDir(dir);
  });

  const newClient = () => new EtcdProbeClient({ endpoints: async () => [endpoint], logger: nullLogger });

  it('acknowledges writes, reads them back and loses none', async () => {
    const probe = newTestProbe(newClient());
    await probe.start();
    await ackedWrites(probe, 100);
    const r = await probe.stop();
    assertCleanRun(r);
    assert.equal(r.readMismatches, 0);
    const stored = await admin.getAll().prefix(`/baton/probe/${r.runId}-`).keys();
    assert.equal(stored.length, r.acknowledgedWrites);
  });

  it('retries a write through a brief restart of the server, without failures or losses', async (t) => {
    const probe = newTestProbe(newClient());
    await probe.start();
    await ackedWrites(probe, 20);
    await server.stop();
    const down = Date.now();
    await pause(700);
    const before = probe.snapshot().acknowledgedWrites;
    server.start();
    await waitFor('etcd healthy again', () => healthy(endpoint));
    const outage = Date.now() - down;
    await ackedWrites(probe, before + 20);
    const r = await probe.stop();
    t.diagnostic(`restart: longest write gap ${r.maxGapMs} ms, p99 ${r.p99Ms} ms`);
    assertRetriedThroughOutage(r, `the ${outage} ms outage`);
  });

  it('counts an acknowledged write deleted behind its back as lost', async () => {
    const ids: string[] = [];
    const inner = newClient();
    const client = recordingClient(inner, ids);
    const probe = newTestProbe(client);
    await probe.start();
    await ackedWrites(probe, 10);
    const victim = ids[3] ?? '';
    await admin.delete().key(`/baton/probe/${victim}`);
    const r = await probe.stop();
    assert.equal(r.lostWrites, 1);
    assert.deepEqual(r.lost[0], { id: victim, expected: r.lost[0]?.expected, actual: undefined });
    assert.match(r.lost[0]?.expected ?? '', new RegExp(`^${victim}@`));
    assert.equal(probe.verdict({}).ok, false);
  });
});

describe('EtcdProbeClient against a 3-member etcd', () => {
  let dir = '';
  let members: EtcdMember[] = [];

  before(async () => {
    dir = tempDir('etcd3');
    members = await startEtcd(dir, 3);
  });

  after(async () => {
    for (const m of members) await m.server.stop();
    removeDir(dir);
  });

  const newClient = () =>
    new EtcdProbeClient({ endpoints: async () => members.map((m) => m.endpoint), logger: nullLogger });

  it('rides through a leader restart without failures or losses', async (t) => {
    const probe = newTestProbe(newClient());
    await probe.start();
    await ackedWrites(probe, 50);
    const leader = leaderOf(members);
    await leader.server.stop();
    await pause(700);
    leader.server.start();
    await waitFor('old leader healthy again', () => healthy(leader.endpoint));
    const back = probe.snapshot().acknowledgedWrites;
    await ackedWrites(probe, back + 50);
    const r = await probe.stop();
    t.diagnostic(`leader restart: longest write gap ${r.maxGapMs} ms, p99 ${r.p99Ms} ms, ${r.ops} ops`);
    assert.equal(r.failedOps, 0);
    assert.equal(r.lostWrites, 0);
    assert.notEqual(leaderOf(members), undefined);
  });

  it('sends its requests to the leader and follows leadership when it moves', async () => {
    const client = newClient();
    await client.connect();
    const leader = leaderOf(members);
    assert.equal(client.currentLeader, `http://${leader.endpoint}`);
    const next = members.find((m) => m !== leader) as EtcdMember;
    // The simple format gives the member id in hex, as move-leader takes it (JSON would round it).
    const status = execFileSync('/usr/bin/etcdctl', ['endpoint', 'status', `--endpoints=${next.endpoint}`], {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
    });
    const memberId = status.split(',')[1]?.trim() ?? '';
    execFileSync('/usr/bin/etcdctl', ['move-leader', memberId, `--endpoints=${leader.endpoint}`], {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
    });
    // The old leader forwards the next write; its response carries the new term, and the client
    // looks the leader up again by itself.
    let n = 0;
    await waitFor('the client to follow the new leader', async () => {
      await client.write(`moved-leader-${n++}`, 'x');
      return client.currentLeader === `http://${next.endpoint}`;
    });
    assert.equal(await client.read('moved-leader-0'), 'x');
    await client.close();
  });

  it('follows the member list when the endpoints change', async () => {
    let listed = members.slice(0, 1);
    const client = new EtcdProbeClient({
      endpoints: async () => listed.map((m) => m.endpoint),
      logger: nullLogger,
    });
    await client.connect();
    await client.write('moved-1', 'a');
    const first = members[0] as EtcdMember;
    await first.server.stop();
    await assert.rejects(client.write('moved-2', 'b'));
    listed = members.slice(1);
    await client.rediscover();
    await client.write('moved-2', 'b');
    assert.deepEqual(await client.readMany(['moved-1', 'moved-2', 'absent']), ['a', 'b', undefined]);
    first.server.start();
    await waitFor('first member healthy again', () => healthy(first.endpoint));
    await client.close();
  });
});
