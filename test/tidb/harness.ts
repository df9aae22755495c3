/**
 * Running a real Baton upgrade (runner + TidbEngine) against the TiDB cluster double, optionally
 * under the TiDB probe and with Baton "killed" after chosen journal writes: the runner and the
 * engine are thrown away and new ones resume from the journal, as a restarted `baton apply` or a
 * new operator replica would.
 */
import { systemClock, type Clock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import type { JournalStore, Platform } from '../../src/core/ports.js';
import type { UpgradeSpec } from '../../src/core/types.js';
import { TidbEngine, type TidbEngineOptions } from '../../src/engines/tidb/engine.js';
import { Probe } from '../../src/probe/probe.js';
import { TidbProbeClient } from '../../src/probe/clients/tidb.js';
import type { ProbeReport } from '../../src/probe/types.js';
import { Runner, type ReconcileResult } from '../../src/runner/runner.js';
import { createUpgrade, makeSpec } from '../../src/runner/start.js';
import type { DoubleCluster } from './cluster.js';

/** The error a "killed" Baton dies with (never caught by the runner). */
function crash(): Error {
  return Object.assign(new Error('baton killed (test)'), { processCrash: true });
}

/** A journal that kills Baton right before or right after chosen status writes (1-based). */
function crashingJournal(inner: JournalStore, writes: { n: number }, crashAt: Set<number>): JournalStore {
  return {
    create: (spec, status) => inner.create(spec, status),
    get: (name) => inner.get(name),
    list: () => inner.list(),
    updateSpec: (name, change) => inner.updateSpec(name, change),
    async writeStatus(name, status, revision) {
      writes.n += 1;
      if (crashAt.has(writes.n) && writes.n % 2 === 0) throw crash();
      const rev = await inner.writeStatus(name, status, revision);
      if (crashAt.has(writes.n)) throw crash();
      return rev;
    },
  };
}

/** What {@link runUpgrade} returns. */
export interface UpgradeRun {
  result: ReconcileResult;
  crashes: number;
  probe?: ProbeReport;
  ms: number;
}

/**
 * The runner's clock in these tests: wall-clock time (so every timeout, soak and wait the runner
 * decides on is measured as in production), but a requeue sleeps at most `capMs`: the runner looks
 * again sooner than its 500 ms poll, which changes how often it observes, never what it decides.
 */
export function pollingClock(capMs = 40): Clock {
  return { now: () => Date.now(), sleep: (ms, signal) => systemClock.sleep(Math.min(ms, capMs), signal) };
}

/** Options of {@link runUpgrade}. */
export interface RunOptions {
  version: string;
  /** Per-component targets (TiProxy's own version). */
  components?: UpgradeSpec['components'];
  force?: string[];
  /** Kill Baton after these status writes. */
  crashAt?: number[];
  /** Run the TiDB probe against the TiDB servers during the upgrade. */
  probe?: boolean;
  engine?: TidbEngineOptions;
  /** Stop early (e.g. when blocked). */
  stopWhen?: (r: ReconcileResult) => boolean;
  drainSeconds?: number;
  /** Drive the upgrade already in the journal instead of creating one. */
  resume?: boolean;
  /** The runner's clock (default {@link pollingClock}). */
  clock?: Clock;
}

/** Start an upgrade of `cluster` to `opts.version` and drive it to the end (or `stopWhen`). */
export async function runUpgrade(cluster: DoubleCluster, opts: RunOptions): Promise<UpgradeRun> {
  const clock = opts.clock ?? pollingClock();
  const ctx = { clock, logger: nullLogger };
  const spec = makeSpec({
    name: 'up',
    cluster: 'tidb-double',
    engine: 'tidb',
    version: opts.version,
    ...(opts.components ? { components: opts.components } : {}),
    force: opts.force ?? [],
    strategy: { timeouts: { drainSeconds: opts.drainSeconds ?? 60, readySeconds: 60 } },
  });
  const started = Date.now();
  if (!opts.resume) await createUpgrade(cluster, new TidbEngine(opts.engine), spec, ctx);
  let probe: Probe | undefined;
  if (opts.probe) {
    const client = new TidbProbeClient({ endpoints: async () => cluster.sqlEndpoints(), logger: nullLogger });
    probe = new Probe({
      client,
      clock: systemClock,
      logger: nullLogger,
      intervalMs: 5,
      retryDeadlineMs: 10_000,
      opTimeoutMs: 5_000,
    });
    await probe.start();
  }
  const writes = { n: 0 };
  const crashAt = new Set(opts.crashAt ?? []);
  let crashes = 0;
  for (;;) {
    const platform: Platform = {
      name: cluster.name,
      listMembers: (c) => cluster.listMembers(c),
      replaceMember: (n, v, o, c) => cluster.replaceMember(n, v, o, c),
      stopMember: (n, c) => cluster.stopMember(n, c),
      journal: crashingJournal(cluster.journal, writes, crashAt),
    };
    const runner = new Runner({
      platform,
      engine: new TidbEngine(opts.engine),
      clock,
      logger: nullLogger,
      name: 'up',
    });
    try {
      const result = await runner.run({
        stopWhen: (r) => r.status.phase === 'Paused' || (opts.stopWhen?.(r) ?? false),
      });
      const report = probe ? await probe.stop() : undefined;
      return { result, crashes, ms: Date.now() - started, ...(report ? { probe: report } : {}) };
    } catch (err) {
      if (!(err as { processCrash?: boolean }).processCrash) {
        await probe?.stop();
        throw err;
      }
      crashes += 1;
    }
  }
}
