/**
 * Free-port selection for local members. Ports are drawn at random from a range below the
 * kernel's ephemeral range (so outgoing connections never sit on them), bind-tested on
 * 127.0.0.1, and never one already recorded for another cluster under the same state directory.
 */
import { createServer } from 'node:net';
import { OperationalError } from '../../core/errors.js';

/** Inclusive range the local platform draws member ports from by default. */
export const DEFAULT_PORT_RANGE: readonly [number, number] = [20000, 32000];

/** True when a listener can bind `port` on `host` right now (it is closed again at once). */
export function canBind(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Options of {@link pickFreePorts}. */
export interface PickPortsOptions {
  /** Ports that must not be chosen (recorded for other clusters). */
  exclude?: Iterable<number>;
  /** Inclusive range; default {@link DEFAULT_PORT_RANGE}. */
  range?: readonly [number, number];
  /** Uniform in [0, 1); injected so tests are deterministic. */
  random: () => number;
  /** Give up after this many candidates (default 2000). */
  maxAttempts?: number;
  host?: string;
}

/**
 * `count` distinct ports, each free on `host` when tested and none in `exclude`. Throws
 * OperationalError when the range is exhausted.
 */
export async function pickFreePorts(count: number, opts: PickPortsOptions): Promise<number[]> {
  const [lo, hi] = opts.range ?? DEFAULT_PORT_RANGE;
  const taken = new Set(opts.exclude ?? []);
  const chosen: number[] = [];
  const maxAttempts = opts.maxAttempts ?? 2000;
  for (let attempt = 0; chosen.length < count && attempt < maxAttempts; attempt++) {
    const port = lo + Math.floor(opts.random() * (hi - lo + 1));
    if (taken.has(port)) continue;
    taken.add(port);
    if (await canBind(port, opts.host)) chosen.push(port);
  }
  if (chosen.length < count) {
    throw new OperationalError(
      'no-free-ports',
      `found only ${chosen.length} of ${count} free ports in ${lo}-${hi} on ${opts.host ?? '127.0.0.1'}`,
    );
  }
  return chosen;
}
