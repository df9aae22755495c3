/**
 * The operator's HTTP endpoints and metrics: `/healthz` (the process is serving and not shut
 * down), `/readyz` (informer caches synced; a follower is ready too, so a rollout of the
 * Deployment never waits for leadership, which only one replica can hold), `/metrics` (prom-client,
 * from the injected registry).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Metrics the operator records. Created once per registry. */
export class OperatorMetrics {
  /** Reconciles by result: ok, conflict, error, skipped (not leader). */
  readonly reconciles: Counter<'result'>;
  /** Reconciles that threw. */
  readonly errors: Counter<'kind'>;
  /** Duration of runner actions by step kind and outcome. */
  readonly stepDuration: Histogram<'step' | 'ok'>;
  /** Upgrades known to this replica, by phase. */
  readonly upgrades: Gauge<'phase'>;
  /** 1 while this replica holds the leader Lease. */
  readonly leader: Gauge;
  /** Upgrades created for managed StatefulSets. */
  readonly managedCreated: Counter;

  constructor(registry: Registry, sample: { phases: () => Record<string, number>; leader: () => boolean }) {
    const registers = [registry];
    this.reconciles = new Counter({
      name: 'baton_reconciles_total',
      help: 'Upgrade reconciles by result',
      labelNames: ['result'],
      registers,
    });
    this.errors = new Counter({
      name: 'baton_reconcile_errors_total',
      help: 'Reconciles that failed with an error, by kind (api, internal)',
      labelNames: ['kind'],
      registers,
    });
    this.stepDuration = new Histogram({
      name: 'baton_step_duration_seconds',
      help: 'Duration of runner actions (precheck, drain, replace, hook, restore, finalize)',
      labelNames: ['step', 'ok'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
      registers,
    });
    this.upgrades = new Gauge({
      name: 'baton_upgrades',
      help: 'Upgrades known to this replica, by phase',
      labelNames: ['phase'],
      registers,
      collect() {
        this.reset();
        for (const [phase, n] of Object.entries(sample.phases())) this.set({ phase }, n);
      },
    });
    this.leader = new Gauge({
      name: 'baton_leader',
      help: '1 while this replica holds the leader Lease',
      registers,
      collect() {
        this.set(sample.leader() ? 1 : 0);
      },
    });
    this.managedCreated = new Counter({
      name: 'baton_managed_upgrades_created_total',
      help: 'Upgrades created for managed StatefulSets after a template change',
      registers,
    });
  }
}

/** Options of {@link startHealthServer}. */
export interface HealthServerOptions {
  port: number;
  /** Interface to bind (default 0.0.0.0; tests use 127.0.0.1). */
  host?: string;
  registry: Registry;
  healthy: () => boolean;
  ready: () => { ok: boolean; reason: string };
}

/** A listening health/metrics server. */
export interface HealthServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Serve /healthz, /readyz and /metrics. */
export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const text = (code: number, body: string) => {
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed\n');
    if (path === '/healthz') return opts.healthy() ? text(200, 'ok\n') : text(503, 'shutting down\n');
    if (path === '/readyz') {
      const r = opts.ready();
      return text(r.ok ? 200 : 503, `${r.reason}\n`);
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': opts.registry.contentType });
          res.end(body);
        },
        (err: unknown) => text(500, `metrics failed: ${String(err)}\n`),
      );
      return;
    }
    text(404, 'not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
