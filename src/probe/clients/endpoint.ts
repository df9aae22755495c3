/** Parsing of the `host:port` endpoints probe clients receive, and their source shared by workers. */
import type { Clock } from '../../core/clock.js';
import { BadInputError, OperationalError } from '../../core/errors.js';
import type { EndpointSource } from '../types.js';

/** A parsed endpoint. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `host:port` (a leading `http://` or `https://` is ignored). Throws BadInputError
 * `probe-endpoint` for anything else.
 */
export function parseEndpoint(endpoint: string): HostPort {
  const bare = endpoint.replace(/^[a-z]+:\/\//, '');
  const m = /^(.+):(\d+)$/.exec(bare);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !(port > 0 && port < 65536)) {
    throw new BadInputError(
      'probe-endpoint',
      `probe endpoint "${endpoint}" is not host:port, e.g. 127.0.0.1:2379`,
    );
  }
  return { host: m[1], port };
}

/** Calls `source` and throws OperationalError `probe-no-endpoints` when it names no member. */
export async function currentEndpoints(source: EndpointSource, engine: string): Promise<string[]> {
  const endpoints = await source();
  if (endpoints.length === 0) {
    throw new OperationalError(
      'probe-no-endpoints',
      `no ${engine} endpoints to probe: the cluster lists no members`,
    );
  }
  return endpoints;
}

/** True when both lists name the same endpoints, in any order. */
export function sameEndpoints(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sorted = [...b].sort();
  return [...a].sort().every((e, i) => e === sorted[i]);
}

/** How long {@link sharedEndpoints} reuses an answer by default. */
export const ENDPOINTS_TTL_MS = 1000;

/**
 * `source` shared by the clients of one probe: a call made while another runs gets that answer,
 * and an answer is reused for `ttlMs`. Workers that lose their server together then ask the
 * platform once (listing members may ping each one) instead of once each on every retry.
 */
export function sharedEndpoints(
  source: EndpointSource,
  clock: Clock,
  ttlMs = ENDPOINTS_TTL_MS,
): EndpointSource {
  let last: { at: number; endpoints: string[] } | undefined;
  let running: Promise<string[]> | undefined;
  return async () => {
    if (last && clock.now() - last.at < ttlMs) return [...last.endpoints];
    running ??= source()
      .then((endpoints) => {
        last = endpoints.length > 0 ? { at: clock.now(), endpoints: [...endpoints] } : undefined;
        return endpoints;
      })
      .finally(() => (running = undefined));
    return [...(await running)];
  };
}
