/**
 * A CockroachDB test double: a {@link CockroachDoubleCluster} whose every node serves pgwire
 * (sql-server.ts), HTTP (http-server.ts) and gRPC Drain (rpc-server.ts) on 127.0.0.1. Stopping a
 * node closes its listeners and drops its clients; starting it again listens on the same ports
 * (drawn below the ephemeral range, so an outgoing connection cannot sit on them meanwhile), like
 * a pod that comes back under the same name. The real server multiplexes gRPC and pgwire on one
 * port (cmux); the double gives gRPC its own port, which the client reaches through
 * {@link CockroachAddresses.rpc}.
 */
import type { Server } from 'node:http';
import type { Server as NetServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { CockroachAddresses } from '../../src/engines/cockroachdb/client.js';
import { pickFreePorts } from '../../src/platforms/local/ports.js';
import { CockroachDoubleCluster, type CockroachDoubleOptions } from './cluster.js';
import { createHttpServer } from './http-server.js';
import { createRpcServer } from './rpc-server.js';
import { createSqlServer, type NodeTls } from './sql-server.js';

interface Listeners {
  sql: NetServer;
  http: Server;
  rpc: grpc.Server;
}

/** Options of {@link startCockroachDouble}. */
export interface StartDoubleOptions extends CockroachDoubleOptions {
  /** Require this password for SQL and the DB Console login (a secure cluster); unset: insecure. */
  password?: string;
  /**
   * A secure cluster started with `--certs-dir`: every node serves pgwire over TLS with client
   * certificates (CN = user, signed by `ca`), HTTPS, and gRPC over TLS requiring a client
   * certificate, all with the node certificate `cert`/`key`.
   */
  tls?: NodeTls;
}

function listen(server: NetServer | Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1' }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: NetServer | Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A running double; {@link close} it in an `after` hook. */
export class CockroachDouble {
  private readonly listeners = new Map<number, Listeners>();

  private constructor(
    readonly cluster: CockroachDoubleCluster,
    private readonly ports: Map<number, { sql: number; http: number; rpc: number }>,
    private readonly password: string | undefined,
    private readonly tls: NodeTls | undefined,
  ) {}

  /** Start a cluster whose nodes are all up, live and on `opts.version`. */
  static async start(opts: StartDoubleOptions): Promise<CockroachDouble> {
    const cluster = new CockroachDoubleCluster(opts);
    const free = await pickFreePorts(opts.nodes * 3, { random: Math.random });
    const ports = new Map<number, { sql: number; http: number; rpc: number }>();
    cluster.nodes.forEach((n, i) =>
      ports.set(n.id, { sql: free[3 * i]!, http: free[3 * i + 1]!, rpc: free[3 * i + 2]! }),
    );
    const double = new CockroachDouble(cluster, ports, opts.password, opts.tls);
    for (const n of cluster.nodes) await double.open(n.id);
    cluster.start();
    return double;
  }

  /** Where node `id` answers. */
  addresses(id: number): CockroachAddresses {
    const p = this.ports.get(id)!;
    return { sql: `127.0.0.1:${p.sql}`, http: `127.0.0.1:${p.http}`, rpc: `127.0.0.1:${p.rpc}` };
  }

  private async open(id: number): Promise<void> {
    const p = this.ports.get(id)!;
    const advertise = (n: number) => {
      const a = this.addresses(n);
      return { rpc: a.rpc, sql: a.sql };
    };
    const sql = createSqlServer(this.cluster, id, this.password, this.tls);
    const http = createHttpServer(this.cluster, id, advertise, this.password, this.tls);
    const rpc = createRpcServer(this.cluster, id);
    // The RPC port of a secure node requires a client certificate signed by the cluster CA.
    const rpcCredentials = this.tls
      ? grpc.ServerCredentials.createSsl(
          Buffer.from(this.tls.ca),
          [{ cert_chain: Buffer.from(this.tls.cert), private_key: Buffer.from(this.tls.key) }],
          true,
        )
      : grpc.ServerCredentials.createInsecure();
    await listen(sql, p.sql);
    await listen(http, p.http);
    await new Promise<void>((resolve, reject) =>
      rpc.bindAsync(`127.0.0.1:${p.rpc}`, rpcCredentials, (err) => (err ? reject(err) : resolve())),
    );
    this.listeners.set(id, { sql, http, rpc });
  }

  private async shut(id: number): Promise<void> {
    const l = this.listeners.get(id);
    if (!l) return;
    this.listeners.delete(id);
    l.rpc.forceShutdown();
    await Promise.all([closeServer(l.sql), closeServer(l.http)]);
  }

  /** Stop node `id` (its process exits; the pod is gone). Idempotent. */
  async stopNode(id: number): Promise<void> {
    this.cluster.stopNode(id);
    await this.shut(id);
  }

  /**
   * Start node `id` on `version`. Resolves false, with the node `crashed`, when the binary refuses
   * the cluster version (nothing listens then).
   */
  async startNode(id: number, version: string): Promise<boolean> {
    await this.shut(id);
    if (!this.cluster.startNode(id, version)) return false;
    await this.open(id);
    return true;
  }

  /** Stop every node and the background loop. */
  async close(): Promise<void> {
    this.cluster.stop();
    for (const id of [...this.listeners.keys()]) await this.shut(id);
  }
}
