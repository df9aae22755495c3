/**
 * The local platform with a real etcd cluster: created by a Baton process that is then killed with
 * SIGKILL, re-attached by `open`, one member replaced (idempotently), stopped, started, deleted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../core/clock.js';
import { nullLogger } from '../../core/logger.js';
import type { PortContext } from '../../core/ports.js';
import { etcdLocalAdapter } from '../../wiring/local/etcd.js';
import { LocalPlatform } from './platform.js';
import { isAlive } from './process.js';

const ctx: PortContext = { clock: systemClock, logger: nullLogger };
const stateDir = await mkdtemp(join(tmpdir(), 'baton-local-etcd-'));
const adapters = { etcd: etcdLocalAdapter };
let platform: LocalPlatform | undefined;
after(async () => {
  // The cluster was created by a killed child; re-open it so cleanup never depends on test order.
  platform ??= await LocalPlatform.open({ stateDir, name: 'kv', adapters, ctx }).catch(() => undefined);
  await platform?.delete(ctx);
  await rm(stateDir, { recursive: true, force: true });
});

const CREATOR = `
import { LocalPlatform } from ${JSON.stringify(fileURLToPath(new URL('./platform.ts', import.meta.url)))};
import { etcdLocalAdapter } from ${JSON.stringify(fileURLToPath(new URL('../../wiring/local/etcd.ts', import.meta.url)))};
import { systemClock } from ${JSON.stringify(fileURLToPath(new URL('../../core/clock.ts', import.meta.url)))};
import { nullLogger } from ${JSON.stringify(fileURLToPath(new URL('../../core/logger.ts', import.meta.url)))};
await LocalPlatform.create({ stateDir: process.argv[1], name: 'kv', adapter: etcdLocalAdapter, version: '3.4.23', members: 3, ctx: { clock: systemClock, logger: nullLogger } });
console.log('created');
setInterval(() => {}, 1000);
`;

async function etcdGet(endpoint: string, key: string): Promise<string | undefined> {
  const res = await fetch(`http://${endpoint}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from(key).toString('base64') }),
    signal: AbortSignal.timeout(3000),
  });
  const body = (await res.json()) as { kvs?: { value: string }[] };
  const v = body.kvs?.[0]?.value;
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
}

async function etcdPut(endpoint: string, key: string, value: string): Promise<void> {
  const res = await fetch(`http://${endpoint}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({
      key: Buffer.from(key).toString('base64'),
      value: Buffer.from(value).toString('base64'),
    }),
    signal: AbortSignal.timeout(3000),
  });
  assert.equal(res.status, 200);
}

test('an etcd cluster outlives the Baton process that created it (kill -9) and is re-attached', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CREATOR, stateDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('created') && resolve());
    child.once('exit', (code) => reject(new Error(`creator exited with ${code}`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;

  const summary = await LocalPlatform.list(stateDir);
  assert.deepEqual(
    summary.map((c) => [c.name, c.engine, c.members.map((m) => [m.name, m.version, m.alive])]),
    [
      [
        'kv',
        'etcd',
        [
          ['etcd-0', '3.4.23', true],
          ['etcd-1', '3.4.23', true],
          ['etcd-2', '3.4.23', true],
        ],
      ],
    ],
  );

  platform = await LocalPlatform.open({ stateDir, name: 'kv', adapters, ctx });
  const members = await platform.listMembers(ctx);
  assert.deepEqual(
    members.map((m) => [m.name, m.running, m.ready]),
    [
      ['etcd-0', true, true],
      ['etcd-1', true, true],
      ['etcd-2', true, true],
    ],
  );
  const endpoint = members[0]?.endpoint as string;
  await etcdPut(endpoint, 'greeting', 'hello');
  assert.equal(await etcdGet(members[2]?.endpoint as string, 'greeting'), 'hello');
});

test('replacing an etcd member with a build label restarts it once, on the same data', async () => {
  assert.ok(platform);
  const before = platform.records().find((m) => m.name === 'etcd-1')?.process;
  await platform.replaceMember('etcd-1', '3.4.23+r1', {}, ctx);
  const first = platform.records().find((m) => m.name === 'etcd-1')?.process;
  assert.notEqual(first?.pid, before?.pid);
  assert.equal(await isAlive(before), false);
  await platform.replaceMember('etcd-1', '3.4.23+r1', {}, ctx);
  assert.deepEqual(
    platform.records().find((m) => m.name === 'etcd-1')?.process,
    first,
    'second call does not restart',
  );
  await platform.waitReady('etcd-1', ctx);
  const m1 = (await platform.listMembers(ctx)).find((m) => m.name === 'etcd-1');
  assert.deepEqual([m1?.version, m1?.ready], ['3.4.23+r1', true]);
  assert.equal(await etcdGet(m1?.endpoint as string, 'greeting'), 'hello');
});

test('an etcd member stopped and started again rejoins with its data; delete removes everything', async () => {
  assert.ok(platform);
  await platform.stopMember('etcd-2', ctx);
  const members = await platform.listMembers(ctx);
  assert.deepEqual(
    members.map((m) => m.ready),
    [true, true, false],
  );
  await etcdPut(members[0]?.endpoint as string, 'while-down', 'yes');
  await platform.startMember('etcd-2', ctx);
  await platform.waitReady('etcd-2', ctx);
  const m2 = (await platform.listMembers(ctx)).find((m) => m.name === 'etcd-2');
  assert.equal(m2?.ready, true);
  assert.equal(await etcdGet(m2?.endpoint as string, 'while-down'), 'yes');

  const ids = platform.records().map((m) => m.process);
  await platform.delete(ctx);
  platform = undefined;
  for (const id of ids) assert.equal(await isAlive(id), false);
  assert.deepEqual(await LocalPlatform.list(stateDir), []);
});
