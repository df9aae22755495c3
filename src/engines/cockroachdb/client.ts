/**
 * One typed client for CockroachDB's admin surfaces: SQL through the PostgreSQL wire protocol
 * (sql.ts), the HTTP endpoints (http.ts) and the gRPC Drain call (drain-rpc.ts). Every call
 * targets one node, carries a deadline, is tried once (the engine decides what to try next), and
 * fails with an OperationalError naming the node.
 */
import * as grpc from '@grpc/grpc-js';
import { BadInputError } from '../../core/errors.js';
import { CockroachDrainRpc, type DrainProgress } from './drain-rpc.js';
import {
  CockroachHttp,
  type CockroachTls,
  type CockroachNodeStatus,
  type CockroachNodeVars,
  type CockroachReadiness,
} from './http.js';
import { CockroachSql, createWebSession } from './sql.js';

export type { CockroachNodeStatus, CockroachNodeVars, CockroachReadiness, CockroachTls } from './http.js';
export type { DrainProgress } from './drain-rpc.js';

/** Where one node answers: SQL (pgwire), HTTP (DB Console port) and gRPC. */
export interface CockroachAddresses {
  sql: string;
  http: string;
  rpc: string;
}

/** CockroachDB's default ports: SQL and RPC share 26257, HTTP is 8080. */
export const DEFAULT_SQL_PORT = 26257;
export const DEFAULT_HTTP_PORT = 8080;

const NAMED_ADDRESS = /^(sql|http|rpc)=([^\s,=]+:\d{1,5})$/;

/**
 * A node's addresses named one by one, `sql=HOST:PORT,http=HOST:PORT[,rpc=HOST:PORT]` (RPC
 * defaults to the SQL address, where a real node serves both); undefined when `endpoint` is not
 * in that form. For nodes whose ports are not the defaults as seen from Baton: port-forwards
 * (`kubectl port-forward` gives each port its own local port), `--http-addr` set elsewhere.
 */
export function namedAddresses(endpoint: string): CockroachAddresses | undefined {
  const named: Partial<Record<'sql' | 'http' | 'rpc', string>> = {};
  for (const part of endpoint.split(',')) {
    const m = NAMED_ADDRESS.exec(part.trim());
    if (!m || named[m[1] as 'sql'] !== undefined) return undefined;
    named[m[1] as 'sql'] = m[2]!;
  }
  if (!named.sql || !named.http) return undefined;
  return { sql: named.sql, http: named.http, rpc: named.rpc ?? named.sql };
}

/**
 * The addresses of a node from its platform endpoint: named ones ({@link namedAddresses}), else
 * the endpoint is its SQL address (`host` or `host:port`), RPC on the same port, HTTP on
 * `httpPort` of the same host.
 */
export function defaultAddresses(endpoint: string, httpPort = DEFAULT_HTTP_PORT): CockroachAddresses {
  if (endpoint.includes('=')) {
    const named = namedAddresses(endpoint);
    if (!named) {
      throw new BadInputError(
        'cockroachdb-bad-endpoint',
        `endpoint ${endpoint}: name each address once, sql=HOST:PORT,http=HOST:PORT[,rpc=HOST:PORT], or give HOST[:SQL_PORT]`,
      );
    }
    return named;
  }
  const m = /^(.*?)(?::(\d+))?$/.exec(endpoint)!;
  const host = m[1]!;
  const sql = `${host}:${m[2] ?? DEFAULT_SQL_PORT}`;
  return { sql, rpc: sql, http: `${host}:${httpPort}` };
}

/** The admin calls the CockroachDB engine makes. */
export interface CockroachAdminApi {
  readiness(node: CockroachAddresses): Promise<CockroachReadiness>;
  vars(node: CockroachAddresses): Promise<CockroachNodeVars>;
  details(node: CockroachAddresses): Promise<{ nodeId: number; buildTag: string }>;
  nodes(node: CockroachAddresses): Promise<CockroachNodeStatus[]>;
  clusterVersion(node: CockroachAddresses): Promise<string>;
  preserveDowngrade(node: CockroachAddresses): Promise<string>;
  setPreserveDowngrade(node: CockroachAddresses, major: string): Promise<void>;
  resetPreserveDowngrade(node: CockroachAddresses): Promise<void>;
  drain(node: CockroachAddresses): Promise<DrainProgress>;
  close(): Promise<void>;
}

/** Options of {@link CockroachAdminClient}. */
export interface CockroachAdminClientOptions {
  /** SQL user (and DB Console login on secure clusters); default `root`. */
  username?: string;
  password?: string;
  /** `https` for secure clusters' HTTP endpoints; default `http` (`https` with `tls`). */
  httpScheme?: 'http' | 'https';
  /**
   * A secure cluster's CA and client certificate (`ca.crt`, `client.root.crt`, `client.root.key`):
   * pgwire over TLS with the certificate, HTTPS, and gRPC over TLS with it (the RPC port requires
   * a client certificate). Unset: an `--insecure` cluster.
   */
  tls?: CockroachTls;
  /** gRPC channel credentials; default from `tls`, else insecure. */
  rpcCredentials?: grpc.ChannelCredentials;
  /** Deadline of each SQL and HTTP call; default 5 s. */
  timeoutMs?: number;
  /** Deadline of one Drain call; default 30 s. */
  drainTimeoutMs?: number;
}

/** gRPC channel credentials of `tls`: the CA and, when given, the client certificate; else insecure. */
export function rpcCredentialsOf(tls: CockroachTls | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  const withCert = tls.cert && tls.key;
  return grpc.credentials.createSsl(
    Buffer.from(tls.ca),
    withCert ? Buffer.from(tls.key!) : null,
    withCert ? Buffer.from(tls.cert!) : null,
  );
}

/** {@link CockroachAdminApi} over pgwire, HTTP and gRPC. */
export class CockroachAdminClient implements CockroachAdminApi {
  private readonly sql: CockroachSql;
  private readonly http: CockroachHttp;
  private readonly rpc: CockroachDrainRpc;
  /** The SQL address of each HTTP address seen (a certificate-only session is made through SQL). */
  private readonly sqlOf = new Map<string, string>();

  constructor(opts: CockroachAdminClientOptions = {}) {
    this.sql = new CockroachSql({
      user: opts.username,
      password: opts.password,
      timeoutMs: opts.timeoutMs,
      ...(opts.tls ? { tls: opts.tls } : {}),
    });
    this.http = new CockroachHttp({
      scheme: opts.httpScheme,
      ...(opts.tls ? { tls: opts.tls } : {}),
      // Insecure clusters need no login; a password means a secure cluster's DB Console user; a
      // client certificate alone makes the session through SQL (`cockroach auth-session login`).
      ...(opts.password ? { username: opts.username ?? 'root', password: opts.password } : {}),
      ...(!opts.password && opts.tls?.cert
        ? {
            createSession: (http: string) =>
              createWebSession(this.sql, this.sqlOf.get(http) ?? http, opts.username ?? 'root'),
          }
        : {}),
      timeoutMs: opts.timeoutMs,
    });
    this.rpc = new CockroachDrainRpc(opts.rpcCredentials ?? rpcCredentialsOf(opts.tls), opts.drainTimeoutMs);
  }

  readiness(node: CockroachAddresses): Promise<CockroachReadiness> {
    return this.http.readiness(node.http);
  }
  vars(node: CockroachAddresses): Promise<CockroachNodeVars> {
    this.sqlOf.set(node.http, node.sql);
    return this.http.vars(node.http);
  }
  details(node: CockroachAddresses): Promise<{ nodeId: number; buildTag: string }> {
    this.sqlOf.set(node.http, node.sql);
    return this.http.details(node.http);
  }
  nodes(node: CockroachAddresses): Promise<CockroachNodeStatus[]> {
    this.sqlOf.set(node.http, node.sql);
    return this.http.nodes(node.http);
  }
  clusterVersion(node: CockroachAddresses): Promise<string> {
    return this.sql.clusterVersion(node.sql);
  }
  preserveDowngrade(node: CockroachAddresses): Promise<string> {
    return this.sql.preserveDowngrade(node.sql);
  }
  setPreserveDowngrade(node: CockroachAddresses, major: string): Promise<void> {
    return this.sql.setPreserveDowngrade(node.sql, major);
  }
  resetPreserveDowngrade(node: CockroachAddresses): Promise<void> {
    return this.sql.resetPreserveDowngrade(node.sql);
  }
  drain(node: CockroachAddresses): Promise<DrainProgress> {
    return this.rpc.drain(node.rpc);
  }
  async close(): Promise<void> {
    this.rpc.close();
  }
}
