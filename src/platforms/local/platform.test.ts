import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { after, test } from 'node:test';
import { systemClock } from '../../core/clock.js';
import { BadInputError, OperationalError } from '../../core/errors.js';
import { nullLogger } from '../../core/logger.js';
import type { PortContext } from '../../core/ports.js';
import { LocalPlatform } from './platform.js';
import { findLaunched, identify, isAlive, spawnDetached, stopProcess } from './process.js';
import { readClusterState, writeClusterState } from './state.js';
import { askVersion, createTestAdapter } from '../../../test/local/test-adapter.js';

const ctx: PortContext = { clock: systemClock, logger: nullLogger };
const stateDir = await mkdtemp(join(tmpdir(), 'baton-local-'));
const platforms: LocalPlatform[] = [];
after(async () => {
  for (const p of platforms) await p.delete(ctx).catch(() => undefined);
  await rm(stateDir, { recursive: true, force: true });
});

async function create(
  name: string,
  extra: Partial<Parameters<typeof LocalPlatform.create>[0]> = {},
): Promise<LocalPlatform> {
  const p = await LocalPlatform.create({
    stateDir,
    name,
    adapter: createTestAdapter(),
    version: '1.0.0',
    members: 3,
    ctx,
    ...extra,
  });
  platforms.push(p);
  return p;
}

async function waitUntil(pred: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await pred()) return;
    await systemClock.sleep(20);
  }
  assert.fail('condition not reached within 5 s');
}

function pids(p: LocalPlatform): Record<string, number | undefined> {
  return Object.fromEntries(p.records().map((m) => [m.name, m.process?.pid]));
}

test('create starts every member on distinct recorded ports and lists them ready', async () => {
  const p = await create('alpha');
  const members = await p.listMembers(ctx);
  assert.deepEqual(
    members.map((m) => [m.name, m.component, m.ordinal, m.version, m.running, m.ready]),
    [
      ['test-0', 'test', 0, '1.0.0', true, true],
      ['test-1', 'test', 1, '1.0.0', true, true],
      ['test-2', 'test', 2, '1.0.0', true, true],
    ],
  );
  const layout = p.layout();
  const ports = layout.members.flatMap((m) => Object.values(m.ports));
  assert.equal(new Set(ports).size, 6);
  for (const m of layout.members) {
    assert.equal(members.find((x) => x.name === m.name)?.endpoint, `127.0.0.1:${m.ports.main}`);
    assert.equal(await readFile(join(m.dataDir, 'created-with'), 'utf8'), '1.0.0');
  }
  const state = await readClusterState(p.dir);
  assert.equal(
    state?.members.every((m) => m.process && m.desired === 'running'),
    true,
  );
});

test('create refuses a bad name, a taken name, a bad member count and an uninstalled version', async () => {
  await assert.rejects(
    create('Bad_Name'),
    (e: Error) => e instanceof BadInputError && /cluster name/.test(e.message),
  );
  await assert.rejects(create('x'.repeat(41)), BadInputError);
  await create('taken', { members: 1 });
  await assert.rejects(
    create('taken', { members: 1 }),
    (e: Error) => e instanceof BadInputError && /already exists/.test(e.message),
  );
  await assert.rejects(
    create('count', { members: 0 }),
    (e: Error) => e instanceof BadInputError && /member count/.test(e.message),
  );
  await assert.rejects(
    create('noversion', { version: '9.9.9' }),
    (e: Error) => e instanceof BadInputError && /installed: 1\.0\.0, 1\.1\.0/.test(e.message),
  );
  assert.deepEqual((await readdir(join(stateDir, 'clusters'))).includes('noversion'), false);
  await mkdir(join(stateDir, 'clusters', 'halfway'));
  await assert.rejects(
    create('halfway', { members: 1 }),
    (e: Error) => e instanceof BadInputError && /without a state file.*remove the directory/.test(e.message),
  );
});

test('a relative state directory is recorded as absolute paths', async () => {
  const p = await create('relative', { members: 1, stateDir: relative(process.cwd(), stateDir) });
  const m = p.layout().members[0];
  assert.ok(m && isAbsolute(m.dataDir) && isAbsolute(m.logFile) && isAbsolute(p.dir));
  assert.ok(m.dataDir.startsWith(stateDir));
  assert.ok((await LocalPlatform.list(relative(process.cwd(), stateDir))).some((c) => c.name === 'relative'));
});

test('a second cluster never reuses ports recorded for another one', async () => {
  // A 5-port range: the first cluster takes 4 of them, the second must fail rather than reuse one.
  const base = 31000 + Math.floor(Math.random() * 900);
  const range: [number, number] = [base, base + 4];
  const first = await create('ports-a', { members: 2, portRange: range });
  const used = new Set(first.layout().members.flatMap((m) => Object.values(m.ports)));
  await assert.rejects(
    create('ports-b', { members: 1, portRange: range }),
    (e: Error) => e instanceof OperationalError && /free ports/.test(e.message),
  );
  const second = await create('ports-c', { members: 1, portRange: [base - 40, base + 4] });
  for (const port of second.layout().members.flatMap((m) => Object.values(m.ports)))
    assert.ok(!used.has(port));
});

test('clusters created at the same time get disjoint ports', async () => {
  const base = 30000 + Math.floor(Math.random() * 900);
  const range: [number, number] = [base, base + 9];
  const [a, b] = await Promise.all([
    create('together-a', { members: 2, portRange: range }),
    create('together-b', { members: 2, portRange: range }),
  ]);
  const ports = [a, b].flatMap((p) => p.layout().members.flatMap((m) => Object.values(m.ports)));
  assert.equal(new Set(ports).size, 8);
  assert.deepEqual(
    (await b.listMembers(ctx)).map((m) => m.ready),
    [true, true],
  );
});

test('a member that exits at start fails create with its log tail, and leaves nothing behind', async () => {
  await assert.rejects(
    create('crashy', { adapter: createTestAdapter({ crashOnStart: true }) }),
    (e: Error) =>
      e instanceof OperationalError && /test-\d/.test(e.message) && /crashing on purpose/.test(e.message),
  );
  assert.equal(
    (await LocalPlatform.list(stateDir)).some((c) => c.name === 'crashy'),
    false,
  );
  await assert.rejects(stat(join(stateDir, 'clusters', 'crashy')), /ENOENT/);
});

test('a member that never answers fails create after the ready bound, with its log tail', async () => {
  await assert.rejects(
    create('silent', {
      adapter: createTestAdapter({ neverReady: true, startOrder: 'sequential' }),
      readyTimeoutMs: 2000,
    }),
    (e: Error & { code?: string }) =>
      e.code === 'member-not-ready' &&
      /test-0 of cluster silent did not answer/.test(e.message) &&
      /listening/.test(e.message),
  );
  await assert.rejects(stat(join(stateDir, 'clusters', 'silent')), /ENOENT/);
});

test('replaceMember is idempotent and runs the new version on the same ports and data', async () => {
  const p = await create('beta', { adapter: createTestAdapter({ startOrder: 'sequential' }) });
  const before = pids(p);
  await p.replaceMember('test-1', '1.1.0', {}, ctx);
  const afterFirst = pids(p);
  assert.notEqual(afterFirst['test-1'], before['test-1']);
  assert.equal(afterFirst['test-0'], before['test-0']);
  await p.replaceMember('test-1', '1.1.0', {}, ctx);
  assert.deepEqual(pids(p), afterFirst, 'second call does not restart');
  await p.waitReady('test-1', ctx);
  const layout = p.layout().members[1];
  assert.ok(layout);
  assert.equal(await askVersion(layout), '1.1.0');
  const listed = await p.listMembers(ctx);
  assert.equal(listed.find((m) => m.name === 'test-1')?.version, '1.1.0');
  const rec = p.records().find((m) => m.name === 'test-1');
  assert.equal(rec?.lastStop?.killed, false);
  assert.equal(rec?.intent, undefined);

  // Build metadata is a configuration-only restart: a real restart on the same release binary.
  await p.replaceMember('test-1', '1.1.0+r2', {}, ctx);
  assert.notEqual(pids(p)['test-1'], afterFirst['test-1']);
  await p.waitReady('test-1', ctx);
  assert.equal(await askVersion(layout), '1.1.0+r2');
});

/**
 * What a Baton killed inside `launch`, after the spawn and before the state write, leaves behind:
 * the launch recorded, the old process stopped, the new one running with its PID only in the pid
 * file. Built from the same steps the platform takes, then the platform object is dropped.
 */
async function killedAfterSpawn(p: LocalPlatform, member: string, version: string): Promise<number> {
  const state = (await readClusterState(p.dir))!;
  const rec = state.members.find((m) => m.name === member)!;
  await stopProcess(rec.process, { timeoutMs: 2000, clock: systemClock });
  const layout = p.layout().members.find((m) => m.name === member)!;
  const spec = await createTestAdapter().launch(layout, version, {}, p.adapterContext(ctx));
  const pidFile = join(dirname(rec.logFile), 'launch.pid');
  rec.intent = { version, since: Date.now() };
  rec.launching = {
    version,
    command: spec.command,
    args: spec.args,
    settings: {},
    pidFile,
    since: Date.now(),
  };
  await writeClusterState(p.dir, state);
  const id = await spawnDetached({ ...spec, env: spec.env ?? {}, logFile: rec.logFile, pidFile });
  await waitUntil(async () => (await findLaunched(pidFile, spec.command)) !== undefined);
  return id.pid;
}

test('a process spawned by a Baton killed before recording it is taken in, not started twice', async () => {
  const p = await create('orphan', { members: 2 });
  const orphan = await killedAfterSpawn(p, 'test-1', '1.1.0');
  const next = await LocalPlatform.open({
    stateDir,
    name: 'orphan',
    adapters: { test: createTestAdapter() },
    ctx,
  });
  // Observation stays read-only: the member is still being replaced.
  assert.match((await next.listMembers(ctx)).find((m) => m.name === 'test-1')!.detail!, /being replaced/);
  await next.replaceMember('test-1', '1.1.0', {}, ctx);
  const rec = next.records().find((m) => m.name === 'test-1')!;
  assert.equal(rec.process?.pid, orphan, 'the orphan became the member, nothing new started');
  assert.equal(rec.version, '1.1.0');
  assert.equal(rec.intent, undefined);
  assert.equal(rec.launching, undefined);
  await next.waitReady('test-1', ctx);
  assert.equal(await askVersion(p.layout().members[1]!), '1.1.0');
});

test('a launched, unrecorded process of another version is stopped before the one asked for starts', async () => {
  const p = await create('orphan2', { members: 1 });
  const orphan = await killedAfterSpawn(p, 'test-0', '1.1.0');
  const next = await LocalPlatform.open({
    stateDir,
    name: 'orphan2',
    adapters: { test: createTestAdapter() },
    ctx,
  });
  await next.replaceMember('test-0', '1.0.0', {}, ctx);
  const rec = next.records()[0]!;
  assert.notEqual(rec.process?.pid, orphan);
  await next.waitReady('test-0', ctx);
  assert.equal(await askVersion(p.layout().members[0]!), '1.0.0');
  await waitUntil(async () => (await identify(orphan)) === undefined);
});

test('delete stops a launched process no Baton recorded', async () => {
  const p = await create('orphan3', { members: 1 });
  const orphan = await killedAfterSpawn(p, 'test-0', '1.1.0');
  const next = await LocalPlatform.open({
    stateDir,
    name: 'orphan3',
    adapters: { test: createTestAdapter() },
    ctx,
  });
  await next.delete(ctx);
  assert.equal(await identify(orphan), undefined);
});

test('replaceMember checks the version before stopping anything', async () => {
  const p = await create('gamma', { members: 1 });
  const before = pids(p);
  await assert.rejects(
    p.replaceMember('test-0', '2.0.0', {}, ctx),
    (e: Error) => e instanceof BadInputError && /not installed.*installed: 1\.0\.0, 1\.1\.0/.test(e.message),
  );
  assert.deepEqual(pids(p), before);
  assert.equal((await p.listMembers(ctx))[0]?.running, true);
  await assert.rejects(p.replaceMember('test-9', '1.1.0', {}, ctx), /no member "test-9"/);
});

test('a member ignoring SIGTERM is killed after the stop bound, and that is recorded', async () => {
  const p = await create('stubborn', {
    members: 1,
    adapter: createTestAdapter({ ignoreTerm: true }),
    stopTimeoutMs: 300,
  });
  await p.replaceMember('test-0', '1.1.0', {}, ctx);
  const rec = p.records()[0];
  assert.equal(rec?.lastStop?.killed, true);
  assert.match(rec?.lastStop?.reason ?? '', /replace with 1\.1\.0/);
});

test('stopMember and startMember are idempotent and recorded; listMembers explains a stopped member', async () => {
  const p = await create('delta', { members: 2 });
  await p.stopMember('test-0', ctx);
  await p.stopMember('test-0', ctx);
  let m0 = (await p.listMembers(ctx)).find((m) => m.name === 'test-0');
  assert.deepEqual([m0?.running, m0?.ready], [false, false]);
  assert.match(m0?.detail ?? '', /stopped by Baton/);
  await p.startMember('test-0', ctx);
  const pid = pids(p)['test-0'];
  await p.startMember('test-0', ctx);
  assert.equal(pids(p)['test-0'], pid);
  await p.waitReady('test-0', ctx);
  m0 = (await p.listMembers(ctx)).find((m) => m.name === 'test-0');
  assert.deepEqual([m0?.running, m0?.ready, m0?.version], [true, true, '1.0.0']);
});

test('a member that dies unexpectedly is reported with how it ended and its last log line', async () => {
  const p = await create('theta', { members: 1 });
  const pid = pids(p)['test-0'] as number;
  process.kill(pid, 'SIGKILL');
  await waitUntil(async () => /killed by SIGKILL/.test((await p.listMembers(ctx))[0]?.detail ?? ''));
  const m0 = (await p.listMembers(ctx))[0];
  assert.deepEqual([m0?.running, m0?.ready], [false, false]);
  assert.match(
    (await p.listMembers(ctx))[0]?.detail ?? '',
    /killed by SIGKILL; last log line: test member listening/,
  );
  const other = await LocalPlatform.open({
    stateDir,
    name: 'theta',
    adapters: { test: createTestAdapter() },
    ctx,
  });
  assert.match(
    (await other.listMembers(ctx))[0]?.detail ?? '',
    new RegExp(`process ${pid} is not running; last log line: test member listening`),
  );
  await p.startMember('test-0', ctx);
  await p.waitReady('test-0', ctx);
});

test('open re-attaches to running members after the creating object is dropped', async () => {
  const created = await create('epsilon', { members: 2, registeredBinaries: { '1.2.0': process.execPath } });
  const before = pids(created);
  const adapters = { test: createTestAdapter() };
  const reopened = await LocalPlatform.open({ stateDir, name: 'epsilon', adapters, ctx });
  assert.deepEqual(pids(reopened), before);
  assert.deepEqual(
    (await reopened.listMembers(ctx)).map((m) => m.ready),
    [true, true],
  );
  // Registered binaries recorded at creation still resolve after open.
  await reopened.replaceMember('test-0', '1.2.0', {}, ctx);
  await reopened.waitReady('test-0', ctx);
  assert.equal(pids(reopened)['test-1'], before['test-1']);
  await assert.rejects(
    LocalPlatform.open({ stateDir, name: 'nope', adapters, ctx }),
    (e: Error) => e instanceof BadInputError && /no local cluster "nope"/.test(e.message),
  );
  await assert.rejects(LocalPlatform.open({ stateDir, name: 'epsilon', adapters: {}, ctx }), /engine "test"/);
});

test('a recorded PID whose start time no longer matches is never signalled, even by delete', async () => {
  const p = await create('iota', { members: 1 });
  const real = p.records()[0]?.process;
  assert.ok(real);
  const state = await readClusterState(p.dir);
  assert.ok(state?.members[0]?.process);
  state.members[0].process = { ...real, startTicks: real.startTicks + 1 };
  await writeClusterState(p.dir, state);
  const reopened = await LocalPlatform.open({
    stateDir,
    name: 'iota',
    adapters: { test: createTestAdapter() },
    ctx,
  });
  assert.equal((await reopened.listMembers(ctx))[0]?.running, false);
  await reopened.delete(ctx);
  assert.equal(await isAlive(real), true, 'the process the state no longer identifies is left alone');
  await stopProcess(real, { timeoutMs: 2_000, clock: systemClock });
  assert.equal(await isAlive(real), false);
});

test('list summarises clusters; delete stops only recorded processes and removes the directory', async () => {
  const p = await create('zeta', { members: 2 });
  const summary = (await LocalPlatform.list(stateDir)).find((c) => c.name === 'zeta');
  assert.equal(summary?.engine, 'test');
  assert.deepEqual(
    summary?.members.map((m) => [m.name, m.version, m.alive, typeof m.pid]),
    [
      ['test-0', '1.0.0', true, 'number'],
      ['test-1', '1.0.0', true, 'number'],
    ],
  );
  const ids = p.records().map((m) => m.process);
  await p.delete(ctx);
  for (const id of ids) assert.equal(await isAlive(id), false);
  await assert.rejects(stat(p.dir), /ENOENT/);
  assert.equal(
    (await LocalPlatform.list(stateDir)).some((c) => c.name === 'zeta'),
    false,
  );
});

test('members run as the requested user when Baton is root', { skip: process.getuid?.() !== 0 }, async () => {
  const p = await create('eta', { members: 1, adapter: createTestAdapter({ runAsUser: 'nobody' }) });
  const rec = p.records()[0];
  assert.ok(rec?.process);
  const status = await readFile(`/proc/${rec.process.pid}/status`, 'utf8');
  assert.match(status, /^Uid:\s+65534\s/m);
  assert.equal((await stat(rec.dataDir)).uid, 65534);
  assert.equal(rec.runAsUser, 'nobody');
});
