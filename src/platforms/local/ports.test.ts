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
  // A 31-port range starting at a port in use, every other port of it excluded; the random source
  // walks the range from the start, so the busy and excluded ports are all tried first.
  const range: [number, number] = [busy, busy + 30];
  const excluded = [busy + 1, busy + 3, busy + 5];
  const ports = await pickFreePorts(3, {
    range,
    exclude: excluded,
    random: sequence(Array.from({ length: 31 }, (_, i) => i / 31)),
  });
  assert.equal(new Set(ports).size, 3);
  for (const p of ports) {
    assert.ok(p >= range[0] && p <= range[1]);
    assert.notEqual(p, busy);
    assert.ok(!excluded.includes(p));
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
