/**
 * The engines Baton drives on Kubernetes, shared by the operator and `baton --platform
 * kubernetes`: `generic` (pod readiness is the health gate) and the engines whose adapters talk to
 * each member's admin endpoint ({@link PlatformMember.endpoint}: the pod's DNS name through the
 * headless Service, `spec.target.endpointTemplate`, or a per-pod `spec.target.endpoints` entry).
 * Credentials come from the Secret `spec.credentialsSecret` names and go straight into the
 * engine's client; they are never logged, put in status, or put in Events.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { UpgradeResource } from '../../api/upgrade.js';
import { BadInputError } from '../../core/errors.js';
import type { Engine } from '../../core/ports.js';
import { EtcdEngine } from '../../engines/etcd/engine.js';
import { GenericEngine } from '../../engines/generic/engine.js';
import { PostgresEngine } from '../../engines/postgres/engine.js';
import { RedisEngine } from '../../engines/redis/engine.js';
import { readCredentials, type Credentials } from './journal.js';

/** Engines that can be driven on pods, in the order error messages list them. */
export const POD_ENGINES = ['generic', 'etcd', 'redis', 'postgres'] as const;

/** The client port each pod engine listens on by default, used when `spec.target.port` is unset. */
const DEFAULT_PORTS: Readonly<Record<string, number>> = { etcd: 2379, redis: 6379, postgres: 5432 };

/** The default admin port of engine `name` (undefined for `generic` and unknown engines). */
export function defaultPodPort(name: string): number | undefined {
  return DEFAULT_PORTS[name];
}

/** etcd's user when the Secret has no username key (etcd's built-in administrator). */
export const DEFAULT_ETCD_USER = 'root';

/** How to name the engine setting in an error: `spec.engine` (operator) or `--engine` (CLI). */
export type EngineField = 'spec.engine' | '--engine';

/**
 * The engine `name` with `credentials` handed to its client: etcd3 `auth` (user default
 * {@link DEFAULT_ETCD_USER}), Redis `AUTH` (ACL user when given, else the password alone),
 * PostgreSQL user/password (user default `postgres`). `generic` takes none. Any other name is a
 * BadInputError `engine-unavailable` naming `field` and the engines that can be used.
 */
export function createPodEngine(
  name: string,
  credentials: Credentials | undefined,
  field: EngineField,
): Engine {
  switch (name) {
    case 'generic':
      return new GenericEngine();
    case 'etcd':
      return new EtcdEngine(
        credentials
          ? { auth: { username: credentials.username ?? DEFAULT_ETCD_USER, password: credentials.password } }
          : {},
      );
    case 'redis':
      return new RedisEngine(credentials ? { auth: credentials } : {});
    case 'postgres':
      return new PostgresEngine(
        credentials
          ? {
              password: credentials.password,
              ...(credentials.username ? { user: credentials.username } : {}),
            }
          : {},
      );
    default: {
      const subject = field === 'spec.engine' ? `${field}: engine "${name}"` : `${field} ${name}`;
      throw new BadInputError(
        'engine-unavailable',
        `${subject} cannot be driven on Kubernetes (its admin API has no adapter here); use one of ${POD_ENGINES.join(', ')}`,
      );
    }
  }
}

/**
 * The engine an Upgrade resource names (`name` overrides `spec.engine`), with the credentials of
 * `spec.credentialsSecret` read from the Upgrade's namespace when the engine uses any. The Secret
 * is read once, here; a missing Secret or key is a BadInputError naming the field.
 */
export async function engineForUpgrade(
  kc: KubeConfig,
  upgrade: UpgradeResource,
  field: EngineField,
  name: string = upgrade.spec.engine ?? 'generic',
): Promise<Engine> {
  const secret = upgrade.spec.credentialsSecret;
  // Validate the name before touching the Secret: an unusable engine needs no credentials.
  const usable = (POD_ENGINES as readonly string[]).includes(name);
  if (!usable || name === 'generic' || !secret) return createPodEngine(name, undefined, field);
  const credentials = await readCredentials(kc, upgrade.metadata.namespace ?? 'default', secret);
  return createPodEngine(name, credentials, field);
}
