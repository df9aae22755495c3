/** PostgreSQL streaming replication: pg with user/password (user default `postgres`), run locally from npm's embedded binaries. */
import { PostgresEngine } from '../../engines/postgres/engine.js';
import type { EngineKit } from '../kit.js';
import { postgresLocalAdapter } from '../local/postgres.js';

/** PostgreSQL's kit. */
export const kit: EngineKit = {
  create: (credentials) =>
    new PostgresEngine(
      credentials
        ? { password: credentials.password, ...(credentials.username ? { user: credentials.username } : {}) }
        : {},
    ),
  local: postgresLocalAdapter,
};
