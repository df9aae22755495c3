import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { BadInputError } from '../../core/errors.js';
import { pickBinary, readBinaryVersion, releaseOf, which } from './binaries.js';

test('which finds executables on a PATH and by absolute path, and nothing else', async () => {
  assert.equal(await which('node', dirname(process.execPath)), process.execPath);
  assert.equal(await which(process.execPath), process.execPath);
  assert.equal(await which('no-such-binary-anywhere', dirname(process.execPath)), undefined);
});

test('readBinaryVersion extracts the first version number a binary prints', async () => {
  assert.equal(await readBinaryVersion(process.execPath), process.versions.node);
  assert.equal(await readBinaryVersion('/nonexistent/binary'), undefined);
});

test('build metadata and a v prefix are stripped to find the release', () => {
  assert.equal(releaseOf('3.4.23+r2'), '3.4.23');
  assert.equal(releaseOf('v3.5.9'), '3.5.9');
  assert.equal(releaseOf('17.5'), '17.5');
});

test('pickBinary prefers an exact label, then the release, else lists what is installed', () => {
  const installed = { '3.4.23': '/usr/bin/etcd', '3.4.23+patched': '/opt/etcd-patched' };
  assert.equal(pickBinary('etcd', '3.4.23+r1', installed), '/usr/bin/etcd');
  assert.equal(pickBinary('etcd', 'v3.4.23+patched', installed), '/opt/etcd-patched');
  assert.throws(
    () => pickBinary('etcd', '3.5.0', installed),
    (e: Error) =>
      e instanceof BadInputError &&
      e.message ===
        'etcd 3.5.0 is not installed on this machine (installed: 3.4.23, 3.4.23+patched); register one with --binary 3.5.0=/path/to/binary',
  );
});
