/** Redis Cluster: ioredis with AUTH (an ACL user when given, else the password alone), run locally by redis-server. */
import { RedisEngine } from '../../engines/redis/engine.js';
import type { EngineKit } from '../kit.js';
import { redisLocalAdapter } from '../local/redis.js';

/** Redis's kit. */
export const kit: EngineKit = {
  create: (credentials) => new RedisEngine(credentials ? { auth: credentials } : {}),
  local: redisLocalAdapter,
};
