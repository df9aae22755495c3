/**
 * The upgrade verbs: plan, check, apply, status, history, pause, resume, cancel, finalize, rollback.
 */
import { type Command, Option } from 'commander';
import { BadInputError } from '../core/errors.js';
import type { UpgradeRecord } from '../core/ports.js';
import type { ComponentSpec, Snapshot, UpgradeSpec } from '../core/types.js';
import { isTerminal } from '../core/types.js';
import { engineRules } from '../engines/registry.js';
import { atVersion, parseVersion } from '../core/version.js';
import { observe } from '../runner/observe.js';
import { applyForce } from '../runner/decide.js';
import { runPrechecks } from '../runner/runner.js';
import { createUpgrade, makeSpec, previewPlan } from '../runner/start.js';
import {
  collect,
  parseBatch,
  parseCount,
  parseDurationSeconds,
  parseOutput,
  parsePairs,
  parsePolicy,
  parseRate,
  parseDurationMs,
} from '../wiring/args.js';
import { acquireDriver, liveDriver } from './driver.js';
import { type DriveResult, driveUpgrade, exitCodeFor } from './drive.js';
import type { CliIO } from '../wiring/io.js';
import {
  humanDuration,
  renderData,
  renderHistory,
  renderPlan,
  renderPrechecks,
  renderStatus,
  progressLine,
} from './render.js';
import {
  type Target,
  type TargetOptions,
  defaultStateDir,
  localTarget,
  parsePlatform,
  simTarget,
} from '../wiring/targets.js';
import { startProbe, type ProbeHandle } from './probe.js';
import { formatReportText } from '../probe/report.js';
import type { ProbeReport } from '../probe/types.js';

/** Options every verb that talks to a cluster takes. */
export function addTargetOptions(cmd: Command): Command {
  return cmd
    .option(
      '--platform <name>',
      'where the cluster runs: local (processes on this machine), sim (dry run), kubernetes',
      'local',
    )
    .option(
      '--state-dir <dir>',
      'state directory of the local platform (default .baton in the working directory)',
    )
    .option('-c, --cluster <name>', 'cluster name (local: under the state directory)')
    .option(
      '--engine <name>',
      'database engine (sim: etcd, postgres, redis, cockroachdb, tidb, kubernetes, redis-enterprise, sim)',
    )
    .option('--members <n>', 'sim: members per component')
    .option('--from <version>', 'sim: version the simulated members run')
    .option('-f, --file <cluster.yaml>', 'sim: cluster description (components, roles, faults)')
    .option('--seed <n>', 'sim: random seed (deterministic runs)')
    .option('--binary <version=path>', 'local: use this binary for a version label (repeatable)', collect, [])
    .option('-n, --namespace <ns>', 'kubernetes: namespace')
    .option('--kubeconfig <file>', 'kubernetes: kubeconfig file')
    .option('--context <name>', 'kubernetes: kubeconfig context')
    .option(
      '--statefulset <[component=]name>',
      'kubernetes: StatefulSet to upgrade, one component each (repeatable)',
      collect,
      [],
    )
    .option(
      '--cluster-ref <kind/name>',
      'kubernetes: the cluster object whose StatefulSets to upgrade, e.g. TidbCluster/basic',
    )
    .option(
      '--cluster-api-version <group/version>',
      'kubernetes: apiVersion of --cluster-ref for kinds Baton does not know',
    )
    .option(
      '--endpoint <pod=host:port>',
      'kubernetes: admin endpoint of a pod for this command only, e.g. a port-forward (repeatable)',
      collect,
      [],
    )
    .option('--name <upgrade>', 'upgrade name (default <cluster>-upgrade)')
    .option('-o, --output <format>', 'json or yaml');
}

/** Options that shape the upgrade. */
function addSpecOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--to <version>', 'target version')
    .option('--component-version <component=version>', 'per-component target (repeatable)', collect, [])
    .option('--batch <policy>', 'serial | fixed:N | percent:P | exponential[:CAP%]', 'serial')
    .option('--max-unavailable <n>', 'most members of a component down at once', '1')
    .option('--soak <duration>', 'wait after each batch is ready', '0s')
    .option('--pause-after-first-batch', 'pause after the first batch')
    .option('--pause-after-each-batch', 'pause after every batch')
    .option('--drain-timeout <duration>', 'time to move leadership away', '120s')
    .option(
      '--drain-timeout-policy <p>',
      'pause | proceed (only where the engine says proceeding is safe)',
      'pause',
    )
    .option('--ready-timeout <duration>', 'time for a replaced member to be ready and caught up', '10m')
    .option('--ready-timeout-policy <p>', 'pause | proceed (stateless components only)', 'pause')
    .option(
      '--force <check>',
      'skip this failing precheck (repeatable; * for all); recorded in history',
      collect,
      [],
    )
    .addOption(
      new Option('--finalize <mode>', 'finalize automatically or wait for `baton finalize`')
        .choices(['auto', 'manual'])
        .default('auto'),
    )
    .option('--supervised', 'pause before the leader/primary step until `baton resume`')
    .option('--paused-expiry <duration>', 'a paused upgrade expires after this long', '15d');
}

interface RawOpts {
  platform?: string;
  stateDir?: string;
  cluster?: string;
  engine?: string;
  members?: string;
  from?: string;
  file?: string;
  seed?: string;
  binary?: string[];
  name?: string;
  output?: string;
  to?: string;
  componentVersion?: string[];
  batch?: string;
  maxUnavailable?: string;
  soak?: string;
  pauseAfterFirstBatch?: boolean;
  pauseAfterEachBatch?: boolean;
  drainTimeout?: string;
  drainTimeoutPolicy?: string;
  readyTimeout?: string;
  readyTimeoutPolicy?: string;
  force?: string[];
  finalize?: 'auto' | 'manual';
  supervised?: boolean;
  pausedExpiry?: string;
  probe?: boolean;
  maxErrorRate?: string;
  maxGap?: string;
  watch?: boolean;
  detach?: boolean;
}

/** Target options from raw flags. */
export function targetOptions(o: RawOpts): TargetOptions {
  return {
    platform: parsePlatform(o.platform),
    stateDir: o.stateDir ?? defaultStateDir(),
    cluster: o.cluster,
    engine: o.engine,
    members: o.members !== undefined ? parseCount('--members', o.members, 1, 500) : undefined,
    from: o.from,
    file: o.file,
    seed: o.seed !== undefined ? parseCount('--seed', o.seed, 0, 2 ** 31) : undefined,
    binaries: parsePairs('--binary', o.binary ?? []),
  };
}

/** Open the target the flags describe. */
export async function openTarget(o: RawOpts, io: CliIO): Promise<Target> {
  const t = targetOptions(o);
  if (t.platform === 'sim') return simTarget(t);
  if (t.platform === 'local') return localTarget(t, io.clock, io.logger);
  const { kubernetesTarget } = await import('./kube-target.js');
  return kubernetesTarget(o as Record<string, unknown>, io);
}

/** The spec the flags describe, validated (bad input throws before anything is written). */
export function specFromOptions(o: RawOpts, target: Target): UpgradeSpec {
  const components: ComponentSpec[] = Object.entries(
    parsePairs('--component-version', o.componentVersion ?? []),
  ).map(([name, version]) => ({ name, version }));
  return makeSpec({
    name: o.name,
    cluster: target.cluster,
    engine: target.engine.name,
    version: o.to!,
    components: components.length ? components : undefined,
    strategy: {
      batch: parseBatch(o.batch ?? 'serial'),
      maxUnavailable: parseCount('--max-unavailable', o.maxUnavailable ?? '1', 1, 100000),
      soakSeconds: parseDurationSeconds('--soak', o.soak ?? '0s'),
      pauseAfterFirstBatch: !!o.pauseAfterFirstBatch,
      pauseAfterEachBatch: !!o.pauseAfterEachBatch,
      timeouts: {
        drainSeconds: parseDurationSeconds('--drain-timeout', o.drainTimeout ?? '120s'),
        drainPolicy: parsePolicy('--drain-timeout-policy', o.drainTimeoutPolicy ?? 'pause'),
        readySeconds: parseDurationSeconds('--ready-timeout', o.readyTimeout ?? '10m'),
        readyPolicy: parsePolicy('--ready-timeout-policy', o.readyTimeoutPolicy ?? 'pause'),
      },
    },
    force: o.force ?? [],
    finalize: o.finalize ?? 'auto',
    supervised: !!o.supervised,
    pausedExpirySeconds: parseDurationSeconds('--paused-expiry', o.pausedExpiry ?? '15d'),
  });
}

async function withTarget<T>(o: RawOpts, io: CliIO, fn: (t: Target) => Promise<T>): Promise<T> {
  const target = await openTarget(o, io);
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}

/** The upgrade a control verb acts on: by --name, or the only/latest non-terminal one. */
async function findUpgrade(target: Target, name: string | undefined): Promise<UpgradeRecord> {
  if (name) {
    const r = await target.platform.journal.get(name);
    if (!r)
      throw new BadInputError('no-such-upgrade', `no upgrade named "${name}" on cluster ${target.cluster}`);
    return r;
  }
  const all = await target.platform.journal.list();
  if (all.length === 0) {
    throw new BadInputError(
      'no-upgrade',
      `cluster ${target.cluster} has no upgrade: start one with \`baton apply --to VERSION\``,
    );
  }
  const open = all.filter((r) => !isTerminal(r.status.phase));
  if (open.length > 1) {
    throw new BadInputError(
      'which-upgrade',
      `several upgrades are open (${open.map((r) => r.spec.name).join(', ')}): choose one with --name`,
    );
  }
  return open[0] ?? all[all.length - 1]!;
}

function out(io: CliIO, o: RawOpts, data: unknown, text: () => string): void {
  const format = parseOutput(o.output);
  io.stdout.write(format === 'text' ? text() : renderData(data, format));
}

function noSimState(t: Target): void {
  if (t.kind === 'sim') {
    throw new BadInputError(
      'sim-has-no-state',
      'the sim platform keeps no state between commands: run the whole dry run with `baton apply --platform sim ...`',
    );
  }
}

/** Register the upgrade verbs. */
export function registerUpgradeCommands(program: Command, io: CliIO, state: { code: number }): void {
  addSpecOptions(
    addTargetOptions(
      program.command('plan').description('show what an upgrade would do, in order, before anything moves'),
    ),
  ).action(async (o: RawOpts) => {
    await withTarget(o, io, async (t) => {
      const spec = specFromOptions(o, t);
      const { plan, snapshot } = await previewPlan(t.platform, t.engine, spec, {
        clock: t.clock,
        logger: io.logger,
      });
      out(io, o, plan, () => renderPlan(plan, snapshot));
    });
  });

  addTargetOptions(
    program.command('check').description('run the engine prechecks against the cluster; changes nothing'),
  )
    .option('--to <version>', 'target version the checks are for')
    .option('--force <check>', 'report this failing check as forced (repeatable)', collect, [])
    .action(async (o: RawOpts) => {
      await withTarget(o, io, async (t) => {
        const snapshot = await observe(t.platform, t.engine, { clock: t.clock, logger: io.logger });
        const spec = makeSpec({
          cluster: t.cluster,
          engine: t.engine.name,
          version: o.to ?? snapshot.members[0]?.version ?? '0',
          force: o.force,
        });
        const results = applyForce(
          await runPrechecks(t.platform, t.engine, snapshot, spec, { clock: t.clock, logger: io.logger }),
          spec.force,
        );
        out(io, o, { prechecks: results, health: snapshot.health }, () => renderPrechecks(results));
        if (results.some((r) => !r.ok && !r.forced)) state.code = 1;
      });
    });

  addSpecOptions(
    addTargetOptions(
      program.command('apply').description('plan, precheck and run an upgrade in the foreground'),
    ),
  )
    .option('--probe', 'run a client workload during the upgrade and report availability and lost writes')
    .option(
      '--max-error-rate <rate>',
      'with --probe: pause when the failed-operation rate exceeds this (0.01 or 1%)',
    )
    .option('--max-gap <duration>', 'with --probe: pause when no write succeeds for this long (e.g. 500ms)')
    .option('--report <file>', 'write the final report as JSON')
    .option('--detach', 'kubernetes: create the Upgrade resource and return; the operator drives it')
    .action(async (o: RawOpts & { report?: string }) => {
      await withTarget(o, io, async (t) => {
        const spec = specFromOptions(o, t);
        const budget = {
          maxErrorRate:
            o.maxErrorRate !== undefined ? parseRate('--max-error-rate', o.maxErrorRate) : undefined,
          maxGapMs: o.maxGap !== undefined ? parseDurationMs('--max-gap', o.maxGap) : undefined,
        };
        if ((budget.maxErrorRate !== undefined || budget.maxGapMs !== undefined) && !o.probe) {
          throw new BadInputError(
            'probe-budget-without-probe',
            '--max-error-rate and --max-gap need --probe',
          );
        }
        const existing = await t.platform.journal.get(spec.name);
        if (existing && !isTerminal(existing.status.phase)) {
          // Continuing an open upgrade keeps its recorded target: a different --to would silently
          // be ignored (a downgrade or an impossible path would not even be checked).
          const was = JSON.stringify([existing.spec.version, existing.spec.components ?? []]);
          if (was !== JSON.stringify([spec.version, spec.components ?? []])) {
            throw new BadInputError(
              'upgrade-open',
              `upgrade ${spec.name} is ${existing.status.phase} with target ${existing.spec.version}: continue it with --to ${existing.spec.version}, or end it first with \`baton cancel\` (or \`baton rollback\`)`,
            );
          }
        }
        if (existing && !isTerminal(existing.status.phase) && existing.status.plan) {
          io.stdout.write(`upgrade ${spec.name} is ${existing.status.phase}: continuing it\n`);
        } else {
          // New, or a resource created by hand (kubectl) that nothing has planned yet: plan it now.
          // Validates versions, path and components before anything is written.
          const rec = await createUpgrade(t.platform, t.engine, spec, { clock: t.clock, logger: io.logger });
          if (parseOutput(o.output) === 'text') io.stdout.write(renderPlan(rec.status.plan!));
        }
        if (o.detach && t.kind === 'kubernetes') {
          io.stdout.write(
            `upgrade ${spec.name} created: the operator drives it (\`baton status --watch\`)\n`,
          );
          return;
        }
        const result = await driveWithProbe(t, spec.name, io, o.probe ? budget : undefined, o.report);
        finishDrive(io, o, t, result);
        state.code = exitCodeFor(result);
      });
    });

  addTargetOptions(
    program
      .command('status')
      .description('show the phase, progress, blocking check and members of an upgrade'),
  )
    .option('-w, --watch', 'keep showing progress until the upgrade ends')
    .action(async (o: RawOpts) => {
      await withTarget(o, io, async (t) => {
        noSimState(t);
        let rec = await findUpgrade(t, o.name);
        let snapshot: Snapshot | undefined;
        try {
          snapshot = await observe(t.platform, t.engine, { clock: t.clock, logger: io.logger });
        } catch {
          snapshot = undefined;
        }
        out(io, o, { spec: rec.spec, status: rec.status, members: snapshot?.members }, () =>
          renderStatus(rec, snapshot),
        );
        if (!o.watch) return;
        let last = progressLine(rec.status);
        while (!isTerminal(rec.status.phase)) {
          await t.clock.sleep(1000, io.signal);
          rec = (await t.platform.journal.get(rec.spec.name))!;
          const line = progressLine(rec.status);
          if (line !== last) {
            io.stdout.write(`${line}\n`);
            last = line;
          }
        }
      });
    });

  addTargetOptions(
    program.command('history').description('every step, block and control of an upgrade, with times'),
  ).action(async (o: RawOpts) => {
    await withTarget(o, io, async (t) => {
      noSimState(t);
      const rec = await findUpgrade(t, o.name);
      out(io, o, rec.status.history, () => renderHistory(rec.status));
    });
  });

  const control = (
    verb: string,
    description: string,
    change: (spec: UpgradeSpec, rec: UpgradeRecord) => UpgradeSpec,
    drive: boolean,
  ) => {
    const cmd = addTargetOptions(program.command(verb).description(description));
    if (drive) cmd.option('--detach', 'only record the request; do not drive the upgrade in this terminal');
    cmd.action(async (o: RawOpts) => {
      await withTarget(o, io, async (t) => {
        noSimState(t);
        const rec = await findUpgrade(t, o.name);
        if (isTerminal(rec.status.phase)) {
          throw new BadInputError(
            'upgrade-ended',
            `upgrade ${rec.spec.name} is ${rec.status.phase}: there is nothing to ${verb}`,
          );
        }
        const spec = await t.platform.journal.updateSpec(rec.spec.name, (s) => change(s, rec));
        io.stdout.write(`upgrade ${spec.name}: ${verb} requested\n`);
        if (!drive || o.detach || t.kind === 'kubernetes') return;
        const holder = await liveDriver(t.platform.journal, spec.name);
        if (holder !== undefined) {
          io.stdout.write(`the running baton (pid ${holder}) carries it out\n`);
          return;
        }
        const result = await driveWithProbe(t, spec.name, io, undefined, undefined);
        finishDrive(io, o, t, result);
        state.code = exitCodeFor(result);
      });
    });
  };
  control(
    'pause',
    'pause: members in flight finish, no new member starts',
    (s) => ({ ...s, paused: true }),
    false,
  );
  control(
    'resume',
    'resume a paused upgrade (also after an automatic pause) and drive it',
    (s) => ({ ...s, paused: false }),
    true,
  );
  control(
    'cancel',
    'cancel: upgraded members stay upgraded, no new member starts',
    (s) => ({ ...s, cancel: true }),
    true,
  );
  control(
    'finalize',
    'make the upgrade permanent (engines with finalization); rollback is impossible afterwards',
    (s, rec) => {
      if (!rec.status.plan?.finalization) {
        throw new BadInputError(
          'nothing-to-finalize',
          `upgrade ${s.name} (${s.engine}) has no finalization step`,
        );
      }
      return { ...s, finalizeRequested: true, paused: false };
    },
    true,
  );
  control(
    'rollback',
    'roll every upgraded member back to its original version (before finalization)',
    (s, rec) => {
      if (rec.status.finalized) {
        throw new BadInputError(
          'finalized',
          `upgrade ${s.name} is finalized: rollback is no longer possible`,
        );
      }
      const rules = engineRules(s.engine);
      for (const [name, m] of Object.entries(rec.status.members)) {
        if (m.state === 'pending' || atVersion(m.to, m.from)) continue;
        const verdict = rules.versions.allowDowngrade(parseVersion(m.to), parseVersion(m.from));
        if (!verdict.ok) {
          throw new BadInputError(
            'rollback-refused',
            `cannot roll ${name} back from ${m.to} to ${m.from}: ${verdict.reason}`,
          );
        }
      }
      return { ...s, rollback: true, paused: false };
    },
    true,
  );
}

async function driveWithProbe(
  t: Target,
  name: string,
  io: CliIO,
  budget: { maxErrorRate?: number; maxGapMs?: number } | undefined,
  reportFile: string | undefined,
): Promise<DriveResult & { probe?: Awaited<ReturnType<ProbeHandle['stop']>> }> {
  const lock = await acquireDriver(t.platform.journal, name);
  if ('heldBy' in lock) {
    throw new BadInputError(
      'driver-running',
      `upgrade ${name} is being driven by baton pid ${lock.heldBy}: watch it with \`baton status --watch\``,
    );
  }
  let probe: ProbeHandle | undefined;
  try {
    if (budget) probe = await startProbe(t, io);
    const result = await driveUpgrade(t, name, io, {
      availability: probe ? () => probe!.verdict(budget!) : undefined,
    });
    const report = probe ? await probe.stop() : undefined;
    if (reportFile) {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(
        reportFile,
        JSON.stringify(
          {
            upgrade: result.record.spec.name,
            phase: result.status.phase,
            durationMs: result.elapsedMs,
            probe: report,
          },
          null,
          2,
        ),
      );
    }
    return { ...result, probe: report };
  } finally {
    if (probe) await probe.stop().catch(() => undefined);
    await lock.release();
  }
}

function finishDrive(io: CliIO, o: RawOpts, t: Target, r: DriveResult & { probe?: ProbeReport }): void {
  const format = parseOutput(o.output);
  if (format !== 'text') {
    io.stdout.write(
      renderData({ spec: r.record.spec, status: r.status, probe: r.probe, elapsedMs: r.elapsedMs }, format),
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
    for (const line of formatReportText(r.probe)) io.stdout.write(`  ${line}\n`);
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
