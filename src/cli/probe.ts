/**
 * The probe for a target: the client of the target's engine, pointed at the members' endpoints as
 * the platform lists them now (so it follows members that move), started before the upgrade.
 */
import { BadInputError } from '../core/errors.js';
import { EtcdProbeClient } from '../probe/clients/etcd.js';
import { PostgresProbeClient } from '../probe/clients/postgres.js';
import { RedisProbeClient } from '../probe/clients/redis.js';
import { Probe } from '../probe/probe.js';
import type { ProbeBudget, ProbeClient, ProbeReport, ProbeVerdict } from '../probe/types.js';
import type { CliIO } from '../wiring/io.js';
import type { Target } from '../wiring/targets.js';

/** A running probe. */
export interface ProbeHandle {
  verdict(budget: ProbeBudget): ProbeVerdict;
  stop(): Promise<ProbeReport>;
}

/** Start a probe for the target's engine; BadInputError for an engine without a probe client. */
export async function startProbe(t: Target, io: CliIO): Promise<ProbeHandle> {
  const endpoints = async () =>
    (await t.platform.listMembers({ clock: t.clock, logger: io.logger }))
      .map((m) => m.endpoint)
      .filter((e): e is string => !!e);
  let client: ProbeClient;
  switch (t.engine.name) {
    case 'etcd':
      client = new EtcdProbeClient({ endpoints, logger: io.logger });
      break;
    case 'postgres':
      client = new PostgresProbeClient({ endpoints, logger: io.logger });
      break;
    case 'redis':
      client = new RedisProbeClient({ endpoints, logger: io.logger });
      break;
    default:
      throw new BadInputError(
        'no-probe',
        `--probe has no client for engine ${t.engine.name}: it supports etcd, postgres and redis`,
      );
  }
  if (t.kind === 'sim')
    throw new BadInputError(
      'no-probe',
      '--probe needs a real cluster (local or kubernetes), not --platform sim',
    );
  const probe = new Probe({ client, clock: io.clock, logger: io.logger });
  await probe.start();
  return { verdict: (b) => probe.verdict(b), stop: () => probe.stop() };
}
