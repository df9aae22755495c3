import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, systemClock } from '../../core/clock.js';
import { BadInputError, OperationalError } from '../../core/errors.js';
import { nullLogger, type Logger } from '../../core/logger.js';
import type { RedisConnectionFactory } from '../../engines/redis/client.js';
import type { AdapterContext, LocalMemberLayout } from '../../platforms/local/adapter.js';
import {
  LOCAL_NODE_TIMEOUT_MS,
  SYSTEM_REDIS_SERVER,
  bootstrapCluster,
  initialRoles,
  redisLocalAdapter,
  serverVersion,
} from './redis.js';

const member: LocalMemberLayout = {
  name: 'redis-2',
  ordinal: 2,
  host: '127.0.0.1',
  ports: { client: 21001, bus: 24007 },
  dataDir: '/tmp/x/members/redis-2/data',
  logFile: '/tmp/x/members/redis-2/member.log',
};

const actx = (registeredBinaries: Record<string, string> = {}): AdapterContext => ({
  clock: systemClock,
  logger: nullLogger,
  cluster: { name: 'c', engine: 'redis', dir: '/tmp/x', members: [member] },
  registeredBinaries,
});

const isBad = (code: string) => (err: unknown) => err instanceof BadInputError && err.code === code;

describe('initialRoles', () => {
  it('makes the first half primaries and pairs member N/2+i with primary i', () => {
    assert.deepEqual(initialRoles(6), [
      { ordinal: 0, role: 'primary' },
      { ordinal: 1, role: 'primary' },
      { ordinal: 2, role: 'primary' },
      { ordinal: 3, role: 'replica', primaryOrdinal: 0 },
      { ordinal: 4, role: 'replica', primaryOrdinal: 1 },
      { ordinal: 5, role: 'replica', primaryOrdinal: 2 },
    ]);
    assert.equal(initialRoles(10).filter((r) => r.role === 'primary').length, 5);
  });

  it('refuses counts that cannot give each of at least 3 primaries a replica on another member', () => {
    for (const n of [1, 2, 3, 4, 5, 7, 9]) {
      assert.throws(() => initialRoles(n), isBad('redis-member-count'));
    }
    assert.throws(() => initialRoles(3), /got 3: use --members 6/);
  });
});

describe('redisLocalAdapter binaries', async () => {
  const system = await serverVersion(SYSTEM_REDIS_SERVER);

  it('reports the system redis-server version and registered labels', { skip: !system }, async () => {
    const versions = await redisLocalAdapter.installedVersions({
      registeredBinaries: { '7.2.4': '/opt/r/7.2.4' },
    });
    assert.deepEqual(versions, [system, '7.2.4']);
    assert.match(system!, /^\d+\.\d+\.\d+$/);
  });

  it('runs a +build label on its release binaries', { skip: !system }, async () => {
    const set = await redisLocalAdapter.binaries(`${system}+r1`, { registeredBinaries: {} });
    assert.equal(set.version, `${system}+r1`);
    assert.equal(set.paths.server, SYSTEM_REDIS_SERVER);
  });

  it('uses a registered binary for its label', { skip: !system }, async () => {
    const set = await redisLocalAdapter.binaries('7.9.1', {
      registeredBinaries: { '7.9.1': SYSTEM_REDIS_SERVER },
    });
    assert.equal(set.paths.server, SYSTEM_REDIS_SERVER);
  });

  it('refuses a version that is not installed, naming the installed ones', async () => {
    await assert.rejects(redisLocalAdapter.binaries('9.9.9', { registeredBinaries: {} }), (err: unknown) => {
      assert.ok(err instanceof BadInputError);
      assert.match(
        err.message,
        /redis 9\.9\.9 is not installed on this machine \(installed: .*\); register one with --binary 9\.9\.9=/,
      );
      return true;
    });
  });

  it('refuses a registered path that is not executable', async () => {
    await assert.rejects(
      redisLocalAdapter.binaries('7.9.1', { registeredBinaries: { '7.9.1': '/nonexistent/redis-server' } }),
      isBad('redis-binary-missing'),
    );
  });
});

describe('redisLocalAdapter launch', async () => {
  const system = await serverVersion(SYSTEM_REDIS_SERVER);

  it(
    'binds loopback, sets the bus port explicitly, clusters, and keeps an AOF',
    { skip: !system },
    async () => {
      const spec = await redisLocalAdapter.launch(member, system!, {}, actx());
      assert.equal(spec.command, SYSTEM_REDIS_SERVER);
      assert.equal(spec.cwd, member.dataDir);
      const flags = new Map<string, string>();
      for (let i = 0; i < spec.args.length; i += 2) flags.set(spec.args[i]!, spec.args[i + 1]!);
      assert.equal(flags.get('--bind'), '127.0.0.1');
      assert.equal(flags.get('--port'), '21001');
      assert.equal(flags.get('--cluster-port'), '24007');
      assert.equal(flags.get('--cluster-enabled'), 'yes');
      assert.equal(flags.get('--cluster-config-file'), '/tmp/x/members/redis-2/data/nodes.conf');
      assert.equal(flags.get('--cluster-node-timeout'), String(LOCAL_NODE_TIMEOUT_MS));
      assert.equal(flags.get('--appendonly'), 'yes');
      assert.equal(flags.get('--appendfsync'), 'everysec');
      assert.equal(flags.get('--protected-mode'), 'no');
      assert.equal(flags.get('--dir'), member.dataDir);
    },
  );

  it('appends settings as directives after the defaults, so they win', { skip: !system }, async () => {
    const spec = await redisLocalAdapter.launch(member, system!, { 'cluster-node-timeout': '5000' }, actx());
    assert.deepEqual(spec.args.slice(-2), ['--cluster-node-timeout', '5000']);
  });

  it('refuses settings the platform owns or that are not directive names', { skip: !system }, async () => {
    await assert.rejects(
      redisLocalAdapter.launch(member, system!, { port: '1' }, actx()),
      isBad('redis-owned-setting'),
    );
    await assert.rejects(
      redisLocalAdapter.launch(member, system!, { 'x y': '1' }, actx()),
      isBad('redis-bad-setting'),
    );
  });

  it('refuses a server older than 7.0 (no cluster-port)', { skip: !system }, async () => {
    await assert.rejects(
      redisLocalAdapter.launch(member, '6.2.14', {}, actx({ '6.2.14': SYSTEM_REDIS_SERVER })),
      isBad('redis-version-too-old'),
    );
  });

  it('refuses to initialise a member of a cluster with an unusable member count', async () => {
    await assert.rejects(redisLocalAdapter.initMember(member, '7.0.15', actx()), isBad('redis-member-count'));
  });
});

describe('bootstrapCluster waits (fake time, scripted nodes)', () => {
  /** Six fresh nodes that never learn of each other (CLUSTER MEET is lost: a blocked bus port). */
  const isolated = (): { connect: RedisConnectionFactory; meets: number[] } => {
    const meets: number[] = [];
    const connect: RedisConnectionFactory = (_host, port) => ({
      closed: false,
      close() {},
      async call(command, ...args) {
        const cmd = [command, ...args].join(' ').toUpperCase();
        const id = String(port).padStart(40, '0');
        if (cmd === 'CLUSTER INFO')
          return 'cluster_state:fail\r\ncluster_known_nodes:1\r\ncluster_my_epoch:0\r\n';
        if (cmd.startsWith('CLUSTER SET-CONFIG-EPOCH')) return 'OK';
        if (cmd === 'CLUSTER MYID') return id;
        if (cmd === 'CLUSTER NODES')
          return `${id} 127.0.0.1:${port}@${port + 100} myself,master - 0 0 0 connected`;
        if (cmd.startsWith('CLUSTER MEET')) {
          meets.push(Number(args[2]));
          return 'OK';
        }
        throw new Error(`unexpected command ${cmd}`);
      },
    });
    return { connect, meets };
  };

  it('shows what it waits for while it waits, and fails at its deadline on the injected clock', async () => {
    const clock = new FakeClock();
    const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = { ...nullLogger, info: (msg, fields) => lines.push({ msg, fields }) };
    const members: LocalMemberLayout[] = [0, 1, 2, 3, 4, 5].map((i) => ({
      name: `redis-${i}`,
      ordinal: i,
      host: '127.0.0.1',
      ports: { client: 7000 + i, bus: 7100 + i },
      dataDir: `/tmp/x/members/redis-${i}/data`,
      logFile: `/tmp/x/members/redis-${i}/member.log`,
    }));
    const { connect, meets } = isolated();
    const t0 = clock.now();
    await assert.rejects(
      bootstrapCluster(
        {
          clock,
          logger,
          cluster: { name: 'c', engine: 'redis', dir: '/tmp/x', members },
          registeredBinaries: {},
        },
        { connect, waitMs: 3_000, pollMs: 100 },
      ),
      (err: unknown) =>
        err instanceof OperationalError &&
        err.code === 'redis-bootstrap-timeout' &&
        err.message ===
          'timed out waiting for redis cluster c: every node knowing every other (redis-0 misses 5 node(s), 0 in handshake)',
    );
    assert.equal(clock.now() - t0, 3_000, 'the deadline, on fake time');
    assert.deepEqual(meets, [7001, 7002, 7003, 7004, 7005]);
    const waiting = lines.filter((l) => l.msg.startsWith('waiting for '));
    assert.deepEqual(
      waiting.map((l) => [l.msg, l.fields?.cluster, l.fields?.leftMs]),
      [
        [
          'waiting for redis cluster c: every node knowing every other (redis-0 misses 5 node(s), 0 in handshake)',
          'c',
          3_000,
        ],
      ],
      'shown once while the reason stays the same',
    );
  });
});
