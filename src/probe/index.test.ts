import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadInputError } from '../core/errors.js';
import { nullLogger } from '../core/logger.js';
import { parseEndpoint, sameEndpoints } from './clients/endpoint.js';
import { createProbeClient, PROBE_ENGINES } from './index.js';

describe('createProbeClient', () => {
  it('builds the client of every supported engine without connecting', async () => {
    for (const engine of PROBE_ENGINES) {
      const client = createProbeClient(engine, {
        endpoints: async () => ['127.0.0.1:1'],
        logger: nullLogger,
      });
      assert.equal(client.engine, engine);
      await client.close();
    }
  });

  it('refuses an engine without a client, naming the supported ones', () => {
    assert.throws(
      () => createProbeClient('tikv', { endpoints: async () => [], logger: nullLogger }),
      (e: unknown) =>
        e instanceof BadInputError &&
        e.code === 'probe-engine' &&
        e.message.includes('etcd, postgres, redis'),
    );
  });
});

describe('endpoints', () => {
  it('parses host:port with or without a scheme', () => {
    assert.deepEqual(parseEndpoint('127.0.0.1:2379'), { host: '127.0.0.1', port: 2379 });
    assert.deepEqual(parseEndpoint('http://localhost:6379'), { host: 'localhost', port: 6379 });
  });

  it('refuses what is not host:port', () => {
    for (const bad of ['127.0.0.1', ':80', '127.0.0.1:0', '127.0.0.1:70000', 'host:port']) {
      assert.throws(() => parseEndpoint(bad), BadInputError, bad);
    }
  });

  it('compares endpoint lists ignoring order', () => {
    assert.equal(sameEndpoints(['a:1', 'b:2'], ['b:2', 'a:1']), true);
    assert.equal(sameEndpoints(['a:1'], ['a:1', 'b:2']), false);
    assert.equal(sameEndpoints(['a:1', 'c:3'], ['a:1', 'b:2']), false);
  });
});
