import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { reuseConnections } from './agent.js';

async function countingServer(t: { after: (fn: () => unknown) => void }) {
  let connections = 0;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}');
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const port = (server.address() as { port: number }).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return { kc, connections: () => connections };
}

describe('reuseConnections', () => {
  it('sends sequential requests over one keep-alive connection', async (t) => {
    const { kc, connections } = await countingServer(t);
    const core = reuseConnections(kc).makeApiClient(CoreV1Api);
    for (let i = 0; i < 10; i++) await core.readNamespace({ name: 'x' });
    assert.equal(connections(), 1);
    assert.equal(reuseConnections(kc), kc, 'idempotent');
  });

  it('without it, client-node opens a connection per request (why it exists)', async (t) => {
    const { kc, connections } = await countingServer(t);
    const core = kc.makeApiClient(CoreV1Api);
    for (let i = 0; i < 5; i++) await core.readNamespace({ name: 'x' });
    assert.equal(connections(), 5);
  });
});
