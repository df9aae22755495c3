/**
 * Redis Enterprise: the REST API of a ready REC pod (port 9443), basic auth from the Secret (the
 * REC's admin credentials); the Kubernetes version for the operator's support check.
 */
import { RedisEnterpriseEngine } from '../../engines/redis-enterprise/engine.js';
import type { EngineKit } from '../kit.js';

/** Redis Enterprise's kit. */
export const kit: EngineKit = {
  create: (credentials, context) =>
    new RedisEnterpriseEngine({
      ...(credentials
        ? { rest: { username: credentials.username ?? 'admin', password: credentials.password } }
        : {}),
      ...(context?.kubernetesVersion ? { kubernetesVersion: context.kubernetesVersion } : {}),
    }),
};
