import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { FakeClock } from '../../core/clock.js';
import { nullLogger } from '../../core/logger.js';
import { apiMessage, isPreconditionFailed, isTransient, withRetry } from './api.js';

const fail = (code: number) =>
  new ApiException(code, 'HTTP-Code: ' + code, JSON.stringify({ message: `m${code}` }), {});

test('withRetry retries 5xx/429/network errors with doubling back-off, not 4xx', async () => {
  const clock = new FakeClock(0);
  let calls = 0;
  const out = await withRetry(
    'thing',
    async () => {
      calls++;
      if (calls === 1) throw fail(503);
      if (calls === 2) throw fail(429);
      if (calls === 3) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      return 'ok';
    },
    { clock, logger: nullLogger },
  );
  assert.equal(out, 'ok');
  assert.equal(calls, 4);
  assert.equal(clock.now(), 50 + 100 + 200);

  await assert.rejects(
    withRetry(
      'get x',
      async () => {
        throw fail(404);
      },
      { clock, logger: nullLogger },
    ),
    (e: unknown) => (e as { code?: number }).code === 404,
  );
  let n = 0;
  await assert.rejects(
    withRetry(
      'get y',
      async () => {
        n++;
        throw fail(500);
      },
      { clock, logger: nullLogger, policy: { attempts: 3, baseMs: 1, maxMs: 1 } },
    ),
    /get y: the Kubernetes API failed 3 times \(last: 500 m500\)/,
  );
  assert.equal(n, 3);
  assert.equal(isTransient(fail(409)), false);
  assert.equal(apiMessage(fail(500)), 'm500');
});

test('isPreconditionFailed: a stale resourceVersion or a failed JSON patch test, nothing else', () => {
  const withMessage = (code: number, message: string) =>
    new ApiException(code, 'HTTP-Code: ' + code, JSON.stringify({ message }), {});
  assert.equal(isPreconditionFailed(fail(409)), true);
  assert.equal(
    isPreconditionFailed(
      withMessage(
        422,
        'the server rejected our request due to an error in our request: testing value /metadata/generation failed',
      ),
    ),
    true,
  );
  assert.equal(isPreconditionFailed(withMessage(422, 'Testing value /spec/replicas failed')), true);
  // What kube-apiserver v1.37 answers for a failed test operation: the generic message, no causes.
  assert.equal(
    isPreconditionFailed(withMessage(422, 'the server rejected our request due to an error in our request')),
    true,
  );
  assert.equal(isPreconditionFailed(withMessage(422, 'spec.replicas: Invalid value: -1')), false);
  assert.equal(isPreconditionFailed(fail(404)), false);
  assert.equal(isPreconditionFailed(new Error('socket hang up')), false);
});
