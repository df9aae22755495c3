import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../core/clock.js';
import { BadInputError } from '../core/errors.js';
import { nullLogger } from '../core/logger.js';
import { parseEndpoint, sameEndpoints, sharedEndpoints } from './clients/endpoint.js';
import { createProbeClient, createProbeClientFactory, PROBE_ENGINES } from './index.js';

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
    const refused = (e: unknown) =>
      e instanceof BadInputError && e.code === 'probe-engine' && e.message.includes('etcd, postgres, redis');
    assert.throws(
      () => createProbeClient('tikv', { endpoints: async () => [], logger: nullLogger }),
      refused,
    );
    assert.throws(
      () =>
        createProbeClientFactory('tikv', {
          endpoints: async () => [],
          logger: nullLogger,
          clock: new FakeClock(),
        }),
      refused,
    );
  });

  it('makes the clients of one probe with a shared endpoint source', async () => {
    let calls = 0;
    const factory = createProbeClientFactory('postgres', {
      endpoints: async () => {
        calls += 1;
        return ['127.0.0.1:1'];
      },
      logger: nullLogger,
      clock: new FakeClock(),
    });
    const clients = [factory(), factory(), factory()];
    // Nothing listens on port 1: each rediscovery fails, after one look at the endpoints in all.
    const results = await Promise.allSettled(clients.map((c) => c.rediscover()));
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.equal(calls, 1);
    await Promise.all(clients.map((c) => c.close()));
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

  it('a shared source answers concurrent calls with one call and reuses an answer for its TTL', async () => {
    const clock = new FakeClock();
    let calls = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const shared = sharedEndpoints(
      async () => {
        calls += 1;
        await gate;
        return calls === 2 ? [] : [`a:${calls}`];
      },
      clock,
      1000,
    );
    const both = Promise.all([shared(), shared()]);
    release();
    assert.deepEqual(await both, [['a:1'], ['a:1']]);
    assert.equal(calls, 1);
    clock.advance(999);
    assert.deepEqual(await shared(), ['a:1']);
    assert.equal(calls, 1);
    clock.advance(1);
    assert.deepEqual(await shared(), [], 'asked again once the answer is a second old');
    assert.deepEqual(await shared(), ['a:3'], 'an empty answer is not reused');
    assert.equal(calls, 3);
  });

  it('compares endpoint lists ignoring order', () => {
    assert.equal(sameEndpoints(['a:1', 'b:2'], ['b:2', 'a:1']), true);
    assert.equal(sameEndpoints(['a:1'], ['a:1', 'b:2']), false);
    assert.equal(sameEndpoints(['a:1', 'c:3'], ['a:1', 'b:2']), false);
  });
});
