import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { systemClock } from '../../core/clock.js';
import { BadInputError } from '../../core/errors.js';
import { nullLogger } from '../../core/logger.js';
import type { AdapterContext, LocalMemberLayout } from '../../platforms/local/adapter.js';
import {
  ETCD_ELECTION_MS,
  ETCD_HEARTBEAT_MS,
  createEtcdLocalAdapter,
  etcdFlags,
  etcdLocalAdapter,
} from './etcd.js';

const dir = await mkdtemp(join(tmpdir(), 'baton-etcd-local-'));
after(() => rm(dir, { recursive: true, force: true }));

const members: LocalMemberLayout[] = [0, 1, 2].map((i) => ({
  name: `etcd-${i}`,
  ordinal: i,
  host: '127.0.0.1',
  ports: { client: 21000 + i, peer: 22000 + i },
  dataDir: join(dir, `etcd-${i}`, 'data'),
  logFile: join(dir, `etcd-${i}`, 'member.log'),
}));

const actx = (registeredBinaries: Record<string, string> = {}): AdapterContext => ({
  clock: systemClock,
  logger: nullLogger,
  cluster: { name: 'kv', engine: 'etcd', dir, members },
  registeredBinaries,
});

test('flags: loopback-only listeners, static bootstrap, fast raft timing, settings override allowed flags', () => {
  const flags = etcdFlags(members[1] as LocalMemberLayout, members, 'kv', 'new', {
    'snapshot-count': '5000',
  });
  assert.ok(flags.includes('--name=etcd-1'));
  assert.ok(flags.includes('--listen-client-urls=http://127.0.0.1:21001'));
  assert.ok(flags.includes('--listen-peer-urls=http://127.0.0.1:22001'));
  assert.ok(
    flags.includes(
      '--initial-cluster=etcd-0=http://127.0.0.1:22000,etcd-1=http://127.0.0.1:22001,etcd-2=http://127.0.0.1:22002',
    ),
  );
  assert.ok(flags.includes('--initial-cluster-state=new'));
  assert.ok(flags.includes('--initial-cluster-token=baton-kv'));
  assert.ok(flags.includes(`--heartbeat-interval=${ETCD_HEARTBEAT_MS}`));
  assert.ok(flags.includes(`--election-timeout=${ETCD_ELECTION_MS}`));
  assert.ok(flags.includes('--snapshot-count=5000'));
  assert.ok(flags.every((f) => !/0\.0\.0\.0|localhost/.test(f)));
  const slower = etcdFlags(members[0] as LocalMemberLayout, members, 'kv', 'existing', {
    'election-timeout': '2000',
  });
  assert.ok(slower.includes('--election-timeout=2000'));
  assert.throws(
    () => etcdFlags(members[0] as LocalMemberLayout, members, 'kv', 'new', { 'data-dir': '/x' }),
    BadInputError,
  );
  assert.throws(
    () => etcdFlags(members[0] as LocalMemberLayout, members, 'kv', 'new', { '--name': 'x' }),
    BadInputError,
  );
});

test('launch says new before the data dir is initialised and existing afterwards', async () => {
  const m = members[0] as LocalMemberLayout;
  await etcdLocalAdapter.initMember(m, '3.4.23', actx());
  let spec = await etcdLocalAdapter.launch(m, '3.4.23+r1', {}, actx());
  assert.equal(spec.command, '/usr/bin/etcd');
  assert.ok(spec.args.includes('--initial-cluster-state=new'));
  assert.equal(spec.runAsUser, undefined);
  await mkdir(join(m.dataDir, 'member'), { recursive: true });
  spec = await etcdLocalAdapter.launch(m, '3.4.23', {}, actx());
  assert.ok(spec.args.includes('--initial-cluster-state=existing'));
  assert.ok(
    Object.keys(spec.env ?? {}).every((k) => !k.startsWith('ETCD_')),
    'etcd reads ETCD_* variables as flags',
  );
});

test('installed versions come from the system binary and registered ones; labels resolve to their release', async () => {
  const adapter = createEtcdLocalAdapter();
  assert.deepEqual(await adapter.installedVersions({ registeredBinaries: {} }), ['3.4.23']);
  assert.deepEqual(
    await adapter.installedVersions({ registeredBinaries: { 'v3.5.9': '/opt/etcd-3.5.9/etcd' } }),
    ['3.4.23', '3.5.9'],
  );
  assert.equal(
    (await adapter.binaries('3.4.23+r7', { registeredBinaries: {} })).paths.server,
    '/usr/bin/etcd',
  );
  assert.equal(
    (await adapter.binaries('3.5.9', { registeredBinaries: { '3.5.9': '/opt/etcd-3.5.9/etcd' } })).paths
      .server,
    '/opt/etcd-3.5.9/etcd',
  );
  await assert.rejects(
    adapter.binaries('3.5.9', { registeredBinaries: {} }),
    (e: Error) =>
      e instanceof BadInputError &&
      /etcd 3\.5\.9 is not installed.*installed: 3\.4\.23.*--binary 3\.5\.9=/.test(e.message),
  );
  const missing = createEtcdLocalAdapter({ systemBinary: join(dir, 'no-etcd') });
  assert.deepEqual(await missing.installedVersions({ registeredBinaries: {} }), []);
});

test('ping is false for a port nobody answers on', async () => {
  // Port 1 is privileged and unused on a test machine, unlike any port other tests may draw.
  const silent = { ...(members[2] as LocalMemberLayout), ports: { client: 1, peer: 2 } };
  assert.equal(await etcdLocalAdapter.ping(silent, actx()), false);
});
