/**
 * The engines Baton drives on Kubernetes, shared by the operator and `baton --platform
 * kubernetes`: `generic` (pod readiness is the health gate) and the engines whose adapters talk to
 * each member's admin endpoint ({@link PlatformMember.endpoint}: the pod's DNS name through the
 * headless Service, `spec.target.endpointTemplate`, or a per-pod `spec.target.endpoints` entry).
 * Credentials come from the Secret `spec.credentialsSecret` names and go straight into the
 * engine's client; they are never logged, put in status, or put in Events.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { UpgradeResource } from '../api/upgrade.js';
import { BadInputError } from '../core/errors.js';
import type { Engine } from '../core/ports.js';
import { readCredentials, type Credentials } from '../platforms/kubernetes/journal.js';
import { drivenOn, engineKit, enginesOn } from './engines.js';

/** Engines that can be driven on pods, in the order error messages list them. */
export const POD_ENGINES: readonly string[] = enginesOn('kubernetes');

/** How to name the engine setting in an error: `spec.engine` (operator) or `--engine` (CLI). */
export type EngineField = 'spec.engine' | '--engine';

/**
 * The engine `name` with `credentials` handed to its client (see each kit in `wiring/engines/`:
 * etcd3 `auth`, Redis `AUTH`, PostgreSQL user/password; `generic` takes none). Any other name is a
 * BadInputError `engine-unavailable` naming `field` and the engines that can be used.
 */
export async function createPodEngine(
  name: string,
  credentials: Credentials | undefined,
  field: EngineField,
): Promise<Engine> {
  if (!drivenOn(name, 'kubernetes')) {
    const subject = field === 'spec.engine' ? `${field}: engine "${name}"` : `${field} ${name}`;
    throw new BadInputError(
      'engine-unavailable',
      `${subject} cannot be driven on Kubernetes (its admin API has no adapter here); use one of ${POD_ENGINES.join(', ')}`,
    );
  }
  return (await engineKit(name)).create(credentials);
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
  const usable = drivenOn(name, 'kubernetes');
  if (!usable || name === 'generic' || !secret) return createPodEngine(name, undefined, field);
  const credentials = await readCredentials(kc, upgrade.metadata.namespace ?? 'default', secret);
  return createPodEngine(name, credentials, field);
}
