import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { nullLogger } from '../../core/logger.js';
import { RedisProbeClient } from './redis.js';
import {
  ackedWrites,
  assertCleanRun,
  assertRetriedThroughOutage,
  newTestProbe,
} from '../../../test/probe/probe.js';
import { recordingClient } from '../../../test/probe/recording.js';
import {
  freePort,
  logTail,
  pause,
  removeDir,
  ServerProcess,
  tempDir,
  waitFor,
} from '../../../test/probe/servers.js';

interface Node {
  port: number;
  server: ServerProcess;
}

/** Runs one command on one node over a short-lived connection. */
async function command(port: number, ...args: string[]): Promise<unknown> {
  const r = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await r.call(args[0] ?? 'PING', ...args.slice(1));
  } finally {
    r.disconnect();
  }
}

async function info(port: number, field: string): Promise<string | undefined> {
  const text = String(await command(port, 'INFO', 'replication'));
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}

async function clusterOk(port: number): Promise<boolean> {
  return /cluster_state:ok/.test(String(await command(port, 'CLUSTER', 'INFO')));
}

describe('RedisProbeClient against a real Redis Cluster (primary + replica)', () => {
  let dir = '';
  const nodes: Node[] = [];

  const primary = async (): Promise<Node> => {
    for (const n of nodes) if ((await info(n.port, 'role').catch(() => undefined)) === 'master') return n;
    throw new Error('no primary');
  };

  /**
   * Start Redis node `name` on a free port and wait until it answers. A server that exited meanwhile
   * (its port taken by another test file between the probe and its bind) gets a new port, twice
   * at most; otherwise the failure says how the server ended and what its log says.
   */
  const startNode = async (name: string): Promise<Node> => {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const server = new ServerProcess(
        '/usr/bin/redis-server',
        [
          ...(
            `--port ${port} --bind 127.0.0.1 --cluster-announce-ip 127.0.0.1 --cluster-enabled yes ` +
            `--cluster-config-file ${join(dir, `nodes-${name}.conf`)} --cluster-node-timeout 5000 ` +
            `--dir ${dir} --dbfilename dump-${name}.rdb --appendonly yes --appendfsync always ` +
            `--appendfilename aof-${name}.aof --appenddirname aof-${name}`
          ).split(' '),
          // No RDB snapshots; the append-only file with fsync always makes a restart lose nothing.
          '--save',
          '',
        ],
        join(dir, `redis-${name}.log`),
      );
      server.start();
      try {
        const up = async () => !server.running || (await command(port, 'PING')) === 'PONG';
        await waitFor(`redis ${port} up`, up);
      } catch (err) {
        await server.stop();
        throw new Error(`${(err as Error).message} (still running; log: ${logTail(server.logFile)})`);
      }
      if (server.running) return { port, server };
      if (attempt >= 3) throw new Error(`redis ${port} exited at start (log: ${logTail(server.logFile)})`);
    }
  };

  before(async () => {
    dir = tempDir('redis');
    for (const name of ['a', 'b']) nodes.push(await startNode(name));
    const [a, b] = nodes as [Node, Node];
    await command(a.port, 'CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await command(b.port, 'CLUSTER', 'MEET', '127.0.0.1', String(a.port));
    const aId = String(await command(a.port, 'CLUSTER', 'MYID'));
    await waitFor('b knows a', async () => String(await command(b.port, 'CLUSTER', 'NODES')).includes(aId));
    await command(b.port, 'CLUSTER', 'REPLICATE', aId);
    await waitFor('replica in sync', async () => (await info(b.port, 'master_link_status')) === 'up');
    await waitFor('cluster ok', async () => (await clusterOk(a.port)) && (await clusterOk(b.port)));
  });

  after(async () => {
    for (const n of nodes) await n.server.stop();
    removeDir(dir);
  });

  const newClient = () =>
    new RedisProbeClient({
      endpoints: async () => nodes.map((n) => `127.0.0.1:${n.port}`),
      logger: nullLogger,
    });

  it('acknowledges writes, reads them back and loses none', async () => {
    const probe = newTestProbe(newClient());
    await probe.start();
    await ackedWrites(probe, 100);
    const r = await probe.stop();
    assertCleanRun(r);
    const p = await primary();
    const keys = (await command(p.port, 'KEYS', `baton:probe:${r.runId}-*`)) as string[];
    assert.equal(keys.length, r.acknowledgedWrites);
  });

  it('follows a CLUSTER FAILOVER to the replica without failures or losses', async (t) => {
    const probe = newTestProbe(newClient());
    await probe.start();
    await ackedWrites(probe, 50);
    const old = await primary();
    const replica = nodes.find((n) => n !== old) as Node;
    await command(replica.port, 'CLUSTER', 'FAILOVER');
    await waitFor('replica promoted', async () => (await info(replica.port, 'role')) === 'master');
    const promoted = probe.snapshot().acknowledgedWrites;
    await ackedWrites(probe, promoted + 50);
    const r = await probe.stop();
    t.diagnostic(`failover: longest write gap ${r.maxGapMs} ms, p99 ${r.p99Ms} ms, ${r.ops} ops`);
    assert.equal(r.failedOps, 0);
    assert.equal(r.lostWrites, 0);
    assert.equal((await primary()).port, replica.port);
    const keys = (await command(replica.port, 'KEYS', `baton:probe:${r.runId}-*`)) as string[];
    assert.equal(keys.length, r.acknowledgedWrites);
  });

  it('retries a write through a brief restart of the primary, without failures or losses', async (t) => {
    const probe = newTestProbe(newClient());
    await probe.start();
    await ackedWrites(probe, 20);
    const p = await primary();
    await p.server.stop();
    await pause(700);
    const before = probe.snapshot().acknowledgedWrites;
    p.server.start();
    await waitFor(
      'primary back',
      async () => (await clusterOk(p.port)) && (await info(p.port, 'role')) === 'master',
    );
    await ackedWrites(probe, before + 20);
    const r = await probe.stop();
    t.diagnostic(`restart: longest write gap ${r.maxGapMs} ms, p99 ${r.p99Ms} ms`);
    assertRetriedThroughOutage(r);
  });

  it('rebuilds its client on the new endpoints when the member list changes', async () => {
    const [a, b] = nodes as [Node, Node];
    let listed = [a];
    const client = new RedisProbeClient({
      endpoints: async () => listed.map((n) => `127.0.0.1:${n.port}`),
      logger: nullLogger,
    });
    await client.connect();
    await client.write('moved-1', 'x');
    listed = [b];
    await client.rediscover();
    await client.write('moved-2', 'y');
    assert.deepEqual(await client.readMany(['moved-1', 'moved-2', 'absent']), ['x', 'y', undefined]);
    await client.close();
  });

  it('counts an acknowledged key deleted behind its back as lost', async () => {
    const ids: string[] = [];
    const probe = newTestProbe(recordingClient(newClient(), ids));
    await probe.start();
    await ackedWrites(probe, 10);
    const victim = ids[3] ?? '';
    assert.equal(await command((await primary()).port, 'DEL', `baton:probe:${victim}`), 1);
    const r = await probe.stop();
    assert.equal(r.lostWrites, 1);
    assert.equal(r.lost[0]?.id, victim);
    assert.equal(r.lost[0]?.actual, undefined);
  });
});
