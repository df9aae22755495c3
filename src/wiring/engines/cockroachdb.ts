/**
 * CockroachDB: pgwire (pg), HTTP and gRPC Drain to each pod's SQL port 26257 and HTTP port 8080.
 * A secure cluster's Secret gives the client certificate (`ca.crt`, `client.root.crt`/`.key` or
 * the operator's `tls.crt`/`tls.key`: TLS on all three surfaces, SQL authenticated by the
 * certificate) and/or a SQL user's password (SQL, and the DB Console login the HTTP API needs).
 */
import { CockroachEngine } from '../../engines/cockroachdb/engine.js';
import type { EngineKit } from '../kit.js';

/** CockroachDB's kit. */
export const kit: EngineKit = {
  clientCertificate: true,
  create: (credentials) =>
    new CockroachEngine(
      credentials
        ? {
            clientOptions: {
              username: credentials.username ?? 'root',
              ...(credentials.password ? { password: credentials.password } : {}),
              ...(credentials.tls ? { tls: credentials.tls } : {}),
            },
          }
        : {},
    ),
};
