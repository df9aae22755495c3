/**
 * Helpers for the PostgreSQL integration tests: a local cluster for a `describe`, bounded polling,
 * one-shot SQL, and a writer that records every acknowledged insert so a test can prove none was
 * lost (snapshots come from the runner's own `observe`). Test-only; nothing in the engine imports it.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import type { Engine, PortContext } from '../../src/core/ports.js';
import { LocalPlatform } from '../../src/platforms/local/platform.js';
import { parseEndpoint } from '../../src/engines/postgres/conninfo.js';
import { postgresLocalAdapter } from '../../src/wiring/local/postgres.js';

/**
 * A real PostgreSQL 17.5 cluster `name` of `members` members on the local platform, for the
 * calling `describe`: created by a `before` hook under a temporary state directory, and deleted
 * (processes and files) with `engine` closed by an `after` hook. `platform()` is valid in tests.
 */
export function localPostgresCluster(
  name: string,
  members: number,
  engine: Engine,
): { platform: () => LocalPlatform } {
  const ctx: PortContext = { clock: systemClock, logger: nullLogger };
  let stateDir = '';
  let platform: LocalPlatform | undefined;
  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), `baton-${name}-`));
    platform = await LocalPlatform.create({
      stateDir,
      name,
      adapter: postgresLocalAdapter,
      version: '17.5',
      members,
      ctx,
    });
  });
  after(async () => {
    await engine.close?.();
    await platform?.delete(ctx).catch(() => undefined);
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });
  return { platform: () => platform! };
}

/**
 * Poll `probe` every 100 ms until it returns true; fail after `ms` naming `what` and the last
 * answer (a string answer says why it is not there yet).
 */
export async function eventually(
  what: string,
  ms: number,
  probe: () => Promise<boolean | string>,
): Promise<void> {
  const deadline = Date.now() + ms;
  let last: boolean | string = false;
  while (Date.now() < deadline) {
    last = await probe();
    if (last === true) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what} did not happen within ${ms} ms (last: ${String(last)})`);
}

/** A client for `endpoint` as the `postgres` superuser, with short timeouts and errors swallowed. */
export function pgClient(endpoint: string): pg.Client {
  const { host, port } = parseEndpoint(endpoint);
  const c = new pg.Client({
    host,
    port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 2000,
    query_timeout: 5000,
  });
  c.on('error', () => {});
  return c;
}

/** Run one statement on `endpoint` on a fresh connection. */
export async function sql<T extends pg.QueryResultRow>(
  endpoint: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const c = pgClient(endpoint);
  try {
    await c.connect();
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * Inserts one row after another into `probe(id)` on whichever endpoint accepts the write, recording
 * the id and time of every acknowledged insert. On an error it tries the next endpoint.
 */
export class Writer {
  readonly acked: { id: number; at: number }[] = [];
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly endpoints: string[]) {}

  /** Begin writing in the background. */
  start(): void {
    this.done = this.loop();
  }

  /** Stop writing and wait for the last insert to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Longest time between two consecutive acknowledgements, in ms. */
  longestGapMs(): number {
    let gap = 0;
    for (let i = 1; i < this.acked.length; i++) {
      gap = Math.max(gap, (this.acked[i] as { at: number }).at - (this.acked[i - 1] as { at: number }).at);
    }
    return gap;
  }

  /** Acknowledged ids missing from `endpoint`'s probe table. */
  async lostOn(endpoint: string): Promise<number[]> {
    const present = new Set((await sql<{ id: number }>(endpoint, 'SELECT id FROM probe')).map((r) => r.id));
    return this.acked.filter((a) => !present.has(a.id)).map((a) => a.id);
  }

  private async loop(): Promise<void> {
    let id = 0;
    let c: pg.Client | undefined;
    let i = 0;
    while (!this.stopped) {
      try {
        if (!c) {
          c = pgClient(this.endpoints[i % this.endpoints.length] as string);
          i++;
          await c.connect();
        }
        id++;
        await c.query('INSERT INTO probe(id) VALUES ($1)', [id]);
        this.acked.push({ id, at: Date.now() });
      } catch {
        await c?.end().catch(() => {});
        c = undefined;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await c?.end().catch(() => {});
  }
}
