/**
 * Driving an upgrade in this process with the probe its spec asks for: take the driver lock, start
 * the probe (and wait out its baseline), run the runner with the probe's gate as the availability
 * check, stop the probe with the final status so each phase is measured, and print the result.
 * Shared by `baton apply`, the driving control verbs and `baton dashboard`.
 */
import { writeFile } from 'node:fs/promises';
import { BadInputError } from '../core/errors.js';
import { formatPhases, formatReportText } from '../probe/report.js';
import { parseOutput } from '../wiring/args.js';
import { type DriveResult, driveUpgrade } from './drive.js';
import { acquireDriver } from './driver.js';
import type { CliIO } from '../wiring/io.js';
import { budgetOf, type ProbeHandle, type ProbeOutcome, probeLogFile, startProbe } from './probe.js';
import { humanDuration, renderData, renderPrechecks } from './render.js';
import type { Target } from '../wiring/targets.js';

/** A drive and, when a probe ran, what it measured. */
export type ProbedDrive = DriveResult & { probe?: ProbeOutcome };

/** Options of {@link driveWithProbe}. */
export interface DriveWithProbeOptions {
  /** Run the probe the spec describes (`spec.probe`), if it has one. Default true. */
  probe?: boolean;
  /** Probe baseline before the first step. Default 0. */
  baselineMs?: number;
  /** Write a JSON report of the drive here. */
  reportFile?: string;
  /** No progress output. */
  quiet?: boolean;
}

/**
 * Drive upgrade `name` of `t` until it ends or needs a human, with the probe of its spec. Throws
 * BadInputError `driver-running` when another baton drives it.
 */
export async function driveWithProbe(
  t: Target,
  name: string,
  io: CliIO,
  opts: DriveWithProbeOptions = {},
): Promise<ProbedDrive> {
  const lock = await acquireDriver(t.platform.journal, name);
  if ('heldBy' in lock) {
    throw new BadInputError(
      'driver-running',
      `upgrade ${name} is being driven by baton pid ${lock.heldBy}: watch it with \`baton status --watch\``,
    );
  }
  let probe: ProbeHandle | undefined;
  try {
    const spec = (await t.platform.journal.get(name))?.spec;
    const p = spec?.probe;
    if (p && opts.probe !== false) {
      probe = await startProbe(t, io, {
        rate: p.rate,
        workers: p.workers,
        readRatio: p.readRatio,
        baselineMs: opts.baselineMs ?? 0,
        logFile: probeLogFile(t.platform.journal, name),
      });
    }
    const budget = budgetOf(p);
    const result = await driveUpgrade(t, name, io, {
      quiet: opts.quiet,
      availability: probe ? () => probe!.verdict(budget) : undefined,
    });
    const outcome = probe ? await probe.stop(result.status) : undefined;
    if (opts.reportFile) {
      const { operations: _ops, failedAttempts: _attempts, ...report } = outcome?.report ?? {};
      await writeFile(
        opts.reportFile,
        JSON.stringify(
          {
            upgrade: result.record.spec.name,
            phase: result.status.phase,
            durationMs: result.elapsedMs,
            probe: outcome ? report : undefined,
            effect: outcome?.effect,
          },
          null,
          2,
        ),
      );
    }
    return outcome ? { ...result, probe: outcome } : result;
  } finally {
    if (probe) await probe.stop().catch(() => undefined);
    await lock.release();
  }
}

/** Print the end of a drive as text, JSON or YAML (`output`). */
export function finishDrive(io: CliIO, output: string | undefined, t: Target, r: ProbedDrive): void {
  const format = parseOutput(output);
  if (format !== 'text') {
    const probe = r.probe
      ? { ...r.probe.report, operations: undefined, failedAttempts: undefined }
      : undefined;
    io.stdout.write(
      renderData(
        { spec: r.record.spec, status: r.status, probe, effect: r.probe?.effect, elapsedMs: r.elapsedMs },
        format,
      ),
    );
    return;
  }
  const s = r.status;
  const when = t.kind === 'sim' ? 'simulated duration' : 'took';
  io.stdout.write(`\n${s.phase}: ${s.reason}\n`);
  io.stdout.write(
    `  ${s.progress.done}/${s.progress.total} members at their target; ${r.actions} steps; ${when} ${humanDuration(r.elapsedMs)}\n`,
  );
  const dry = t.kind === 'sim' ? ' (on a real cluster; this was a dry run)' : '';
  if (r.end === 'paused')
    io.stdout.write(`  resume with \`baton resume\`, or stop with \`baton cancel\`${dry}\n`);
  if (r.end === 'awaiting-finalization') {
    io.stdout.write(`  finalize with \`baton finalize\`, or roll back with \`baton rollback\`${dry}\n`);
  }
  if (r.end === 'prechecks-failed') {
    io.stdout.write(renderPrechecks(s.prechecks));
    io.stdout.write(
      '  nothing was changed; fix the cause, or skip a check with --force NAME, then run apply again\n',
    );
  }
  if (r.probe) {
    io.stdout.write('Probe:\n');
    for (const line of formatReportText(r.probe.report)) io.stdout.write(`  ${line}\n`);
    if (r.probe.effect) for (const line of formatPhases(r.probe.effect)) io.stdout.write(`  ${line}\n`);
  }
  if (t.sim) {
    const rec = t.sim.recorder;
    io.stdout.write(
      `  leadership transfers: ${rec.transfers().length}; elections after an unplanned leader stop: ${rec.elections().length}\n`,
    );
    const v = rec.violations();
    io.stdout.write(v.length ? `  safety violations: ${v.join('; ')}\n` : '  safety violations: none\n');
  }
}
