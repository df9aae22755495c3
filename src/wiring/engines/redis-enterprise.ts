/** Redis Enterprise: the REST API of a ready REC pod (port 9443), basic auth from the Secret (the REC's admin credentials). */
import { RedisEnterpriseEngine } from '../../engines/redis-enterprise/engine.js';
import type { EngineKit } from '../kit.js';

/** Redis Enterprise's kit. */
export const kit: EngineKit = {
  create: (credentials) =>
    new RedisEnterpriseEngine(
      credentials
        ? { rest: { username: credentials.username ?? 'admin', password: credentials.password } }
        : {},
    ),
};
