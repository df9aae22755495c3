import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { after, test } from 'node:test';
import { canBind, pickFreePorts } from './ports.js';

const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

function listen(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    servers.push(s);
    s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port));
  });
}

/** Deterministic sequence in [0,1) cycling through `values`. */
function sequence(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

test('canBind is false for a port in use and true once it is released', async () => {
  const port = await listen();
  assert.equal(await canBind(port), false);
  servers.pop()?.close();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(await canBind(port), true);
});

test('pickFreePorts returns distinct free ports inside the range, skipping excluded and busy ones', async () => {
  const busy = await listen();
  // Range of 4 ports around the busy one; one excluded, one busy: exactly two remain.
  const lo = busy - 1;
  const range: [number, number] = [lo, lo + 3];
  const excluded = lo + 2;
  const ports = await pickFreePorts(2, {
    range,
    exclude: [excluded],
    random: sequence([0, 0.3, 0.6, 0.9]),
  });
  assert.equal(new Set(ports).size, 2);
  for (const p of ports) {
    assert.ok(p >= range[0] && p <= range[1]);
    assert.notEqual(p, busy);
    assert.notEqual(p, excluded);
  }
});

test('pickFreePorts fails clearly when the range cannot supply enough ports', async () => {
  const busy = await listen();
  await assert.rejects(
    pickFreePorts(2, { range: [busy, busy], random: () => 0, maxAttempts: 50 }),
    (err: Error & { code?: string }) => err.code === 'no-free-ports' && /found only 0 of 2/.test(err.message),
  );
});

test('pickFreePorts is deterministic for a given random source', async () => {
  const a = await pickFreePorts(3, { random: sequence([0.11, 0.52, 0.93, 0.27]) });
  const b = await pickFreePorts(3, { random: sequence([0.11, 0.52, 0.93, 0.27]) });
  assert.deepEqual(a, b);
});
