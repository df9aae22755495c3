/** CockroachDB: pgwire (pg), HTTP and gRPC Drain to each pod's SQL port 26257 and HTTP port 8080; SQL user/password from the Secret on secure clusters. */
import { CockroachEngine } from '../../engines/cockroachdb/engine.js';
import type { EngineKit } from '../kit.js';

/** CockroachDB's kit. */
export const kit: EngineKit = {
  create: (credentials) =>
    new CockroachEngine(
      credentials
        ? { clientOptions: { username: credentials.username ?? 'root', password: credentials.password } }
        : {},
    ),
};
