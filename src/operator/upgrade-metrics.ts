/**
 * Per-upgrade metrics of the operator, sampled from its informer cache at every scrape, for the
 * Grafana dashboard and the alerts in `deploy/monitoring/`: each upgrade's phase, members by state,
 * since when it is paused and when that pause expires, since when a check blocks it and the step
 * timeouts that block is measured against; blocks counted by check; and the informers' API
 * requests.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { UpgradeResource } from '../api/upgrade.js';
import { DEFAULT_PAUSED_EXPIRY_SECONDS, DEFAULT_STRATEGY } from '../core/defaults.js';
import { parseDurationSeconds } from '../core/duration.js';
import type { InformerStats } from '../api/watch.js';

/** Default step timeouts and pause expiry of the Upgrade resource, in seconds (core/defaults.ts). */
const DEFAULTS = {
  drain: DEFAULT_STRATEGY.timeouts.drainSeconds,
  ready: DEFAULT_STRATEGY.timeouts.readySeconds,
  expiry: DEFAULT_PAUSED_EXPIRY_SECONDS,
};

function seconds(text: string | undefined, fallback: number): number {
  if (!text) return fallback;
  try {
    return parseDurationSeconds('duration', text);
  } catch {
    return fallback;
  }
}

/** Gauges and counters about upgrades; sampled from `upgrades()` and `informers()` on each scrape. */
export class UpgradeMetrics {
  /** Blocks by check, counted as this replica sees them appear. */
  readonly blocks: Counter<'check'>;

  constructor(
    registry: Registry,
    sample: { upgrades: () => UpgradeResource[]; informers: () => Record<string, InformerStats> },
  ) {
    const registers = [registry];
    const each = (fn: (u: UpgradeResource, ns: string, name: string) => void) => {
      for (const u of sample.upgrades()) fn(u, u.metadata.namespace ?? '', u.metadata.name);
    };
    new Gauge({
      name: 'baton_upgrade_info',
      help: 'One series per Upgrade with its engine and phase (value 1)',
      labelNames: ['namespace', 'upgrade', 'engine', 'phase'],
      registers,
      collect() {
        this.reset();
        each((u, namespace, upgrade) =>
          this.set(
            { namespace, upgrade, engine: u.spec.engine ?? 'generic', phase: u.status?.phase ?? 'Pending' },
            1,
          ),
        );
      },
    });
    new Gauge({
      name: 'baton_upgrade_members',
      help: 'Members of an Upgrade by state (pending, draining, replacing, verifying, done)',
      labelNames: ['namespace', 'upgrade', 'state'],
      registers,
      collect() {
        this.reset();
        each((u, namespace, upgrade) => {
          const counts: Record<string, number> = {};
          for (const m of Object.values(u.status?.members ?? {}))
            counts[m.state] = (counts[m.state] ?? 0) + 1;
          for (const [state, n] of Object.entries(counts)) this.set({ namespace, upgrade, state }, n);
        });
      },
    });
    new Gauge({
      name: 'baton_upgrade_paused_timestamp_seconds',
      help: 'When a paused Upgrade was paused (Unix seconds); absent unless paused',
      labelNames: ['namespace', 'upgrade'],
      registers,
      collect() {
        this.reset();
        each((u, namespace, upgrade) => {
          if (u.status?.phase === 'Paused' && u.status.pausedAt)
            this.set({ namespace, upgrade }, u.status.pausedAt / 1000);
        });
      },
    });
    new Gauge({
      name: 'baton_upgrade_expiry_timestamp_seconds',
      help: 'When a paused Upgrade expires (Unix seconds); absent unless paused',
      labelNames: ['namespace', 'upgrade'],
      registers,
      collect() {
        this.reset();
        each((u, namespace, upgrade) => {
          if (u.status?.phase !== 'Paused' || !u.status.pausedAt) return;
          this.set(
            { namespace, upgrade },
            u.status.pausedAt / 1000 + seconds(u.spec.expiry, DEFAULTS.expiry),
          );
        });
      },
    });
    new Gauge({
      name: 'baton_upgrade_blocked_timestamp_seconds',
      help: 'Since when a check blocks an Upgrade (Unix seconds), by check; absent unless blocked',
      labelNames: ['namespace', 'upgrade', 'check'],
      registers,
      collect() {
        this.reset();
        each((u, namespace, upgrade) => {
          const b = u.status?.blockedBy;
          if (b) this.set({ namespace, upgrade, check: b.check }, b.since / 1000);
        });
      },
    });
    new Gauge({
      name: 'baton_upgrade_timeout_seconds',
      help: "An Upgrade's step timeouts in seconds, by step (drain, ready)",
      labelNames: ['namespace', 'upgrade', 'step'],
      registers,
      collect() {
        this.reset();
        each((u, namespace, upgrade) => {
          const t = u.spec.strategy?.timeouts;
          this.set({ namespace, upgrade, step: 'drain' }, seconds(t?.drain, DEFAULTS.drain));
          this.set({ namespace, upgrade, step: 'ready' }, seconds(t?.ready, DEFAULTS.ready));
        });
      },
    });
    this.blocks = new Counter({
      name: 'baton_blocks_total',
      help: 'Blocks of upgrades by check, as this replica saw them begin',
      labelNames: ['check'],
      registers,
    });
    const informerCounter = (name: string, help: string, pick: (s: InformerStats) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['resource'],
        registers,
        collect() {
          this.reset();
          for (const [resource, s] of Object.entries(sample.informers())) this.inc({ resource }, pick(s));
        },
      });
    informerCounter('baton_api_lists_total', 'LIST requests of the informers, by resource', (s) => s.lists);
    informerCounter(
      'baton_api_watches_total',
      'WATCH requests of the informers, by resource',
      (s) => s.watches,
    );
    informerCounter(
      'baton_api_watch_errors_total',
      'Failed lists and watches of the informers, by resource',
      (s) => s.errors,
    );
    informerCounter(
      'baton_api_relists_expired_total',
      'Relists after 410 Gone, by resource',
      (s) => s.expired,
    );
  }

  /** Counts a block that begins with this change of an Upgrade. */
  observe(u: UpgradeResource, old: UpgradeResource | undefined): void {
    const b = u.status?.blockedBy;
    if (!b) return;
    const was = old?.status?.blockedBy;
    if (was && was.check === b.check && was.since === b.since) return;
    this.blocks.inc({ check: b.check });
  }
}
