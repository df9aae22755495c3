/**
 * The probe for a target: one client of the target's engine per worker, pointed at the members'
 * endpoints as the platform lists them now (so it follows members that move), started before the
 * upgrade; its per-second series goes to the probe log beside the journal while it runs, and its
 * summary and per-phase figures when it stops.
 */
import { join } from 'node:path';
import { BadInputError } from '../core/errors.js';
import type { JournalStore } from '../core/ports.js';
import type { ProbeSpec, UpgradeStatus } from '../core/types.js';
import { ProbeLogWriter, summaryOf } from '../probe/log.js';
import { type UpgradeEffect, upgradeEffect } from '../probe/phases.js';
import { Probe } from '../probe/probe.js';
import type { ProbeBudget, ProbeFigures, ProbeReport, ProbeVerdict } from '../probe/types.js';
import { FileJournalStore } from '../platforms/local/journal.js';
import type { CliIO } from '../wiring/io.js';
import type { Target } from '../wiring/targets.js';

/** Name of the probe log in an upgrade's journal directory. */
export const PROBE_LOG_FILE = 'probe.jsonl';

/** Default workers of an open-loop probe (`--probe-rate` without `--probe-workers`). */
export const DEFAULT_OPEN_LOOP_WORKERS = 32;

/** How a probe runs: its load, its baseline before the upgrade, and where its log goes. */
export interface ProbeSettings extends Pick<ProbeSpec, 'rate' | 'workers' | 'readRatio'> {
  /** Time the probe runs before the upgrade starts, measuring the baseline. */
  baselineMs: number;
  /** Probe log file; none when undefined. */
  logFile?: string;
}

/** A probe's end: its report and, given the upgrade's status, the effect per phase. */
export interface ProbeOutcome {
  report: ProbeReport;
  effect?: UpgradeEffect;
}

/** A running probe. */
export interface ProbeHandle {
  verdict(budget: ProbeBudget): ProbeVerdict;
  figures(): ProbeFigures;
  /** Stops the probe; with the upgrade's `status`, also measures each phase. Idempotent. */
  stop(status?: UpgradeStatus): Promise<ProbeOutcome>;
}

/** The probe log of upgrade `name` when its journal is a directory; undefined otherwise. */
export function probeLogFile(journal: JournalStore, name: string): string | undefined {
  return journal instanceof FileJournalStore ? join(journal.dir, name, PROBE_LOG_FILE) : undefined;
}

/** The gate of a spec's probe settings as the probe checks it. */
export function budgetOf(p: ProbeSpec | undefined): ProbeBudget {
  return { maxGapMs: p?.maxWriteGapMs, maxErrorRate: p?.maxErrorRate, maxP99Ms: p?.maxP99Ms };
}

/**
 * Start a probe for the target's engine and wait out its baseline. BadInputError for an engine
 * without a probe client or a simulated target.
 */
export async function startProbe(t: Target, io: CliIO, settings: ProbeSettings): Promise<ProbeHandle> {
  // The probe clients (and their database libraries) load only when a probe starts.
  const { createProbeClientFactory, PROBE_ENGINES } = await import('../probe/index.js');
  if (!(PROBE_ENGINES as readonly string[]).includes(t.engine.name)) {
    throw new BadInputError(
      'no-probe',
      `--probe has no client for engine ${t.engine.name}: it supports ${PROBE_ENGINES.join(', ')}`,
    );
  }
  if (t.kind === 'sim') {
    throw new BadInputError(
      'no-probe',
      '--probe needs a real cluster (local or kubernetes), not --platform sim',
    );
  }
  const endpoints = async () =>
    (await t.platform.listMembers({ clock: t.clock, logger: io.logger }))
      .map((m) => m.endpoint)
      .filter((e): e is string => !!e);
  const log = settings.logFile ? new ProbeLogWriter(settings.logFile) : undefined;
  let runId = '';
  const probe = new Probe({
    client: createProbeClientFactory(t.engine.name, { endpoints, logger: io.logger, clock: io.clock }),
    clock: io.clock,
    logger: io.logger,
    rate: settings.rate,
    workers: settings.workers ?? (settings.rate !== undefined ? DEFAULT_OPEN_LOOP_WORKERS : 1),
    readRatio: settings.readRatio,
    onSecond: (second) => log?.write({ type: 'second', runId, second }),
  });
  runId = probe.runId;
  await probe.start();
  log?.write({
    type: 'start',
    runId,
    engine: t.engine.name,
    startedAt: probe.started ?? 0,
    load: probe.load,
  });
  // Seconds close as operations end; the timer closes them while none do (a stalled cluster).
  const ticker = setInterval(() => probe.flush(), 1000);
  ticker.unref();
  let outcome: Promise<ProbeOutcome> | undefined;
  const stop = (status?: UpgradeStatus): Promise<ProbeOutcome> =>
    (outcome ??= (async () => {
      clearInterval(ticker);
      const report = await probe.stop();
      const effect = status ? upgradeEffect(report, status) : undefined;
      log?.write({ type: 'end', runId, summary: summaryOf(report), ...(effect ? { effect } : {}) });
      await log?.close();
      return effect ? { report, effect } : { report };
    })());
  try {
    if (settings.baselineMs > 0) await io.clock.sleep(settings.baselineMs, io.signal);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { verdict: (b) => probe.verdict(b), figures: () => probe.snapshot(), stop };
}
