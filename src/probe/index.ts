/**
 * The probe's public surface: the workload, its report formats, and one client per engine chosen
 * by name, so front ends and the runner need not know the client classes.
 */
import type { Clock } from '../core/clock.js';
import { BadInputError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { sharedEndpoints } from './clients/endpoint.js';
import { EtcdProbeClient } from './clients/etcd.js';
import { PostgresPrimaryLocator, PostgresProbeClient } from './clients/postgres.js';
import { RedisProbeClient } from './clients/redis.js';
import { TidbProbeClient } from './clients/tidb.js';
import type { EndpointSource, ProbeClient, ProbeClientFactory } from './types.js';

export { Probe, percentile, formatRate, type ProbeOptions } from './probe.js';
export { formatFigures, formatReportJson, formatReportText } from './report.js';
export { EtcdProbeClient, PostgresProbeClient, RedisProbeClient, TidbProbeClient };
export type * from './types.js';

/** Engines the probe has a client for. */
export const PROBE_ENGINES = ['etcd', 'postgres', 'redis', 'tidb'] as const;

/** Name of an engine the probe has a client for. */
export type ProbeEngine = (typeof PROBE_ENGINES)[number];

/** What {@link createProbeClient} needs. */
export interface ProbeClientOptions {
  endpoints: EndpointSource;
  logger: Logger;
  /** Per-call limit; default 2000 ms. */
  timeoutMs?: number;
  /** PostgreSQL: the primary locator shared by the clients of one probe. */
  postgresLocator?: PostgresPrimaryLocator;
}

function checkEngine(engine: string): void {
  if (!(PROBE_ENGINES as readonly string[]).includes(engine)) unknownEngine(engine);
}

function unknownEngine(engine: string): never {
  throw new BadInputError(
    'probe-engine',
    `no probe client for engine "${engine}"; the probe supports ${PROBE_ENGINES.join(', ')}`,
  );
}

/**
 * The clients of one probe's workers for `engine`: they share one endpoint source (a call while
 * another runs gets its answer, an answer is reused for a second; see {@link sharedEndpoints}) and,
 * for PostgreSQL, one primary locator, so that workers failing together look the cluster up once.
 * Throws BadInputError `probe-engine` for an engine without a client.
 */
export function createProbeClientFactory(
  engine: string,
  opts: Omit<ProbeClientOptions, 'postgresLocator'> & { clock: Clock },
): ProbeClientFactory {
  checkEngine(engine);
  const timeoutMs = opts.timeoutMs ?? 2000;
  const shared: ProbeClientOptions = {
    endpoints: sharedEndpoints(opts.endpoints, opts.clock),
    logger: opts.logger,
    timeoutMs,
  };
  if (engine === 'postgres') {
    shared.postgresLocator = new PostgresPrimaryLocator({
      endpoints: shared.endpoints,
      logger: opts.logger,
      connectTimeoutMs: timeoutMs,
      queryTimeoutMs: timeoutMs,
    });
  }
  return () => createProbeClient(engine, shared);
}

/**
 * The probe client for `engine`, reaching the members `endpoints` lists, with per-call limits of
 * `timeoutMs` (default 2000). Throws BadInputError `probe-engine` for an engine without a client.
 */
export function createProbeClient(engine: string, opts: ProbeClientOptions): ProbeClient {
  const timeoutMs = opts.timeoutMs ?? 2000;
  switch (engine) {
    case 'etcd':
      return new EtcdProbeClient({
        endpoints: opts.endpoints,
        logger: opts.logger,
        callTimeoutMs: timeoutMs,
      });
    case 'postgres':
      return new PostgresProbeClient({
        endpoints: opts.endpoints,
        logger: opts.logger,
        connectTimeoutMs: timeoutMs,
        queryTimeoutMs: timeoutMs,
        ...(opts.postgresLocator ? { locator: opts.postgresLocator } : {}),
      });
    case 'redis':
      return new RedisProbeClient({
        endpoints: opts.endpoints,
        logger: opts.logger,
        connectTimeoutMs: timeoutMs,
      });
    case 'tidb':
      return new TidbProbeClient({
        endpoints: opts.endpoints,
        logger: opts.logger,
        connectTimeoutMs: timeoutMs,
        queryTimeoutMs: Math.max(timeoutMs, 5000),
      });
    default:
      return unknownEngine(engine);
  }
}
