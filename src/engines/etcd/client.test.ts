import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OperationalError } from '../../core/errors.js';
import { EtcdAdminClient } from './client.js';

test('a call to an endpoint nobody serves fails once, as an OperationalError naming it', async () => {
  const client = new EtcdAdminClient({ callTimeoutMs: 500 });
  try {
    // Port 1 is privileged and unused on a test machine.
    await assert.rejects(
      client.status('127.0.0.1:1'),
      (e: Error) =>
        e instanceof OperationalError && e.message.startsWith('etcd status at 127.0.0.1:1 failed'),
    );
    await assert.rejects(client.memberList('127.0.0.1:1'), /etcd member list at 127\.0\.0\.1:1 failed/);
  } finally {
    await client.close();
  }
  await assert.rejects(
    client.status('127.0.0.1:1'),
    (e: Error & { code?: string }) => e.code === 'etcd-client-closed',
  );
});
