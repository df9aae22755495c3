/**
 * The probe's public surface: the workload, its report formats, and one client per engine chosen
 * by name, so front ends and the runner need not know the client classes.
 */
import { BadInputError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { EtcdProbeClient } from './clients/etcd.js';
import { PostgresProbeClient } from './clients/postgres.js';
import { RedisProbeClient } from './clients/redis.js';
import { TidbProbeClient } from './clients/tidb.js';
import type { EndpointSource, ProbeClient } from './types.js';

export { Probe, percentile, formatRate, type ProbeOptions } from './probe.js';
export { formatFigures, formatReportJson, formatReportText } from './report.js';
export { EtcdProbeClient, PostgresProbeClient, RedisProbeClient, TidbProbeClient };
export type * from './types.js';

/** Engines the probe has a client for. */
export const PROBE_ENGINES = ['etcd', 'postgres', 'redis', 'tidb'] as const;

/** Name of an engine the probe has a client for. */
export type ProbeEngine = (typeof PROBE_ENGINES)[number];

/**
 * The probe client for `engine`, reaching the members `endpoints` lists, with per-call limits of
 * `timeoutMs` (default 2000). Throws BadInputError `probe-engine` for an engine without a client.
 */
export function createProbeClient(
  engine: string,
  opts: { endpoints: EndpointSource; logger: Logger; timeoutMs?: number },
): ProbeClient {
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
      throw new BadInputError(
        'probe-engine',
        `no probe client for engine "${engine}"; the probe supports ${PROBE_ENGINES.join(', ')}`,
      );
  }
}
