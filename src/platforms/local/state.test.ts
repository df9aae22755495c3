import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { OperationalError } from '../../core/errors.js';
import type { ClusterState } from './state.js';
import {
  STATE_FILE,
  clusterDir,
  listClusterNames,
  readClusterState,
  recordedPorts,
  writeClusterState,
} from './state.js';

const stateDir = await mkdtemp(join(tmpdir(), 'baton-state-'));
after(() => rm(stateDir, { recursive: true, force: true }));

function sample(name: string, ports: number[]): ClusterState {
  return {
    schema: 1,
    name,
    engine: 'test',
    createdAt: 1,
    updatedAt: 2,
    members: ports.map((p, i) => ({
      name: `test-${i}`,
      ordinal: i,
      host: '127.0.0.1',
      ports: { main: p },
      dataDir: `/d/${i}`,
      logFile: `/l/${i}`,
      version: '1.0.0',
      settings: {},
      desired: 'running' as const,
      process: { pid: 100 + i, startTicks: 5, bootId: 'b' },
    })),
  };
}

test('state round-trips through an atomic write that leaves no temp file behind', async () => {
  const dir = clusterDir(stateDir, 'one');
  await mkdir(dir, { recursive: true });
  const state = sample('one', [20001, 20002]);
  await writeClusterState(dir, state);
  await writeClusterState(dir, { ...state, updatedAt: 3 });
  assert.deepEqual(await readClusterState(dir), { ...state, updatedAt: 3 });
  assert.deepEqual(await readdir(dir), [STATE_FILE]);
  assert.match(await readFile(join(dir, STATE_FILE), 'utf8'), /\n$/);
});

test('a missing cluster reads as undefined; a torn or malformed file is an OperationalError naming it', async () => {
  assert.equal(await readClusterState(clusterDir(stateDir, 'absent')), undefined);
  const dir = clusterDir(stateDir, 'torn');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, STATE_FILE), '{"schema":1,"name":');
  await assert.rejects(
    readClusterState(dir),
    (e: Error) => e instanceof OperationalError && e.message.includes(dir),
  );
  await writeFile(
    join(dir, STATE_FILE),
    JSON.stringify({ ...sample('torn', [1]), members: [{ name: 'x' }] }),
  );
  await assert.rejects(
    readClusterState(dir),
    (e: Error) => e instanceof OperationalError && /members\.0/.test(e.message),
  );
  await rm(dir, { recursive: true });
});

test('listClusterNames and recordedPorts cover every cluster with a state file', async () => {
  const two = clusterDir(stateDir, 'two');
  await mkdir(two, { recursive: true });
  await writeClusterState(two, sample('two', [20003]));
  await mkdir(clusterDir(stateDir, 'half-created'), { recursive: true });
  assert.deepEqual(await listClusterNames(stateDir), ['one', 'two']);
  assert.deepEqual([...(await recordedPorts(stateDir))].sort(), [20001, 20002, 20003]);
  assert.deepEqual(await listClusterNames(join(stateDir, 'nowhere')), []);
});
