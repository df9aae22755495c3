import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { systemClock } from '../../core/clock.js';
import { pickFreePorts } from '../../platforms/local/ports.js';
import {
  DEFAULT_REDIS_TIMEOUTS,
  RedisClientPool,
  ioredisConnectionFactory,
  makeIoredisConnectionFactory,
} from './client.js';
import { SYSTEM_REDIS_SERVER } from '../../wiring/local/redis.js';

test('credentials reach Redis: AUTH with the password, or with an ACL user', async (t) => {
  const [port] = await pickFreePorts(1, { random: Math.random });
  const server = spawn(
    SYSTEM_REDIS_SERVER,
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--requirepass',
      'pw-default',
    ],
    { stdio: 'ignore' },
  );
  t.after(() => {
    server.kill('SIGKILL');
  });
  const pools: RedisClientPool[] = [];
  t.after(() => pools.forEach((p) => p.close()));
  const ping = (factory = ioredisConnectionFactory) => {
    const pool = new RedisClientPool(factory, DEFAULT_REDIS_TIMEOUTS);
    pools.push(pool);
    return pool.node(`127.0.0.1:${port}`).ping();
  };
  const authed = makeIoredisConnectionFactory({ password: 'pw-default' });
  for (let i = 0; !(await ping(authed).catch(() => false)); i++) {
    assert.ok(i < 100, 'redis-server did not come up');
    await systemClock.sleep(50);
  }
  assert.equal(await ping(authed), true);
  assert.notEqual(await ping().catch((err: Error) => err.message), true, 'no password: refused');
  assert.notEqual(
    await ping(makeIoredisConnectionFactory({ password: 'wrong' })).catch((err: Error) => err.message),
    true,
  );

  const conn = authed('127.0.0.1', port!, DEFAULT_REDIS_TIMEOUTS);
  t.after(() => conn.close());
  await conn.call('ACL', 'SETUSER', 'baton', 'on', '>pw-baton', '+@all', '~*');
  assert.equal(await ping(makeIoredisConnectionFactory({ username: 'baton', password: 'pw-baton' })), true);
});
