/**
 * The upgrade verbs: plan, check, apply, status, history, pause, resume, cancel, finalize, rollback.
 */
import { type Command, Option } from 'commander';
import { BadInputError } from '../core/errors.js';
import type { ComponentSpec, ProbeSpec, Snapshot, UpgradeSpec } from '../core/types.js';
import { isTerminal } from '../core/types.js';
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
  parseNumber,
} from '../wiring/args.js';
import { MAX_PROBE_RATE, MAX_PROBE_WORKERS } from '../probe/probe.js';
import { DEFAULT_OPEN_LOOP_WORKERS } from './probe.js';
import { CONTROLS, type ControlVerb, findUpgrade, noSimState, requestControl } from './control.js';
import { exitCodeFor } from './drive.js';
import { driveWithProbe, finishDrive } from './drive-probe.js';
import type { CliIO } from '../wiring/io.js';
import {
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
      'database engine (sim: etcd, postgres, redis, cockroachdb, tidb, kubernetes-nodes, redis-enterprise, sim)',
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
  probeRate?: string;
  probeWorkers?: string;
  probeReadRatio?: string;
  probeBaseline?: string;
  maxErrorRate?: string;
  maxWriteGap?: string;
  maxGap?: string;
  maxP99?: string;
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
    probe: probeSpecFromOptions(o),
  });
}

/**
 * The probe section of the spec from `--probe` and its flags; undefined without `--probe`, and
 * BadInputError when a probe flag comes without it.
 */
export function probeSpecFromOptions(o: RawOpts): ProbeSpec | undefined {
  const gap = o.maxWriteGap ?? o.maxGap;
  const spec: ProbeSpec = {
    rate:
      o.probeRate !== undefined ? parseNumber('--probe-rate', o.probeRate, 0.1, MAX_PROBE_RATE) : undefined,
    workers:
      o.probeWorkers !== undefined
        ? parseCount('--probe-workers', o.probeWorkers, 1, MAX_PROBE_WORKERS)
        : undefined,
    readRatio: o.probeReadRatio !== undefined ? parseRate('--probe-read-ratio', o.probeReadRatio) : undefined,
    maxWriteGapMs: gap !== undefined ? parseDurationMs('--max-write-gap', gap) : undefined,
    maxErrorRate: o.maxErrorRate !== undefined ? parseRate('--max-error-rate', o.maxErrorRate) : undefined,
    maxP99Ms: o.maxP99 !== undefined ? parseDurationMs('--max-p99', o.maxP99) : undefined,
  };
  const given = Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as ProbeSpec;
  if (!o.probe) {
    if (Object.keys(given).length > 0 || o.probeBaseline !== undefined) {
      throw new BadInputError(
        'probe-budget-without-probe',
        '--probe-rate, --probe-workers, --probe-read-ratio, --probe-baseline, --max-write-gap, --max-error-rate and --max-p99 need --probe',
      );
    }
    return undefined;
  }
  return given;
}

/** Run `fn` with the target the flags describe, closing it afterwards. */
export async function withTarget<T>(o: RawOpts, io: CliIO, fn: (t: Target) => Promise<T>): Promise<T> {
  const target = await openTarget(o, io);
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}

function out(io: CliIO, o: RawOpts, data: unknown, text: () => string): void {
  const format = parseOutput(o.output);
  io.stdout.write(format === 'text' ? text() : renderData(data, format));
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
      '--probe-rate <ops>',
      'with --probe: operations per second, open loop (default: a light closed loop)',
    )
    .option(
      '--probe-workers <n>',
      `with --probe: connections, i.e. operations in flight (default 1; ${DEFAULT_OPEN_LOOP_WORKERS} with --probe-rate)`,
    )
    .option('--probe-read-ratio <r>', 'with --probe: share of reads, 0 to 1 (default 0.2)')
    .option(
      '--probe-baseline <duration>',
      'with --probe: measure the clients this long before the first step (default 2s)',
    )
    .option(
      '--max-error-rate <rate>',
      'with --probe: pause when the failed-operation rate exceeds this (0.01 or 1%)',
    )
    .option(
      '--max-write-gap <duration>',
      'with --probe: pause when no write succeeds for this long (e.g. 500ms)',
    )
    .addOption(new Option('--max-gap <duration>').hideHelp())
    .option('--max-p99 <duration>', 'with --probe: pause when p99 latency over the last 10 s exceeds this')
    .option('--report <file>', 'write the final report as JSON')
    .option('--detach', 'kubernetes: create the Upgrade resource and return; the operator drives it')
    .action(async (o: RawOpts & { report?: string }) => {
      await withTarget(o, io, async (t) => {
        const spec = specFromOptions(o, t);
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
        if (o.probe && existing && !isTerminal(existing.status.phase) && existing.spec.probe === undefined) {
          await t.platform.journal.updateSpec(spec.name, (s) => ({ ...s, probe: spec.probe }));
        }
        const result = await driveWithProbe(t, spec.name, io, {
          baselineMs: o.probe ? parseDurationMs('--probe-baseline', o.probeBaseline ?? '2s') : 0,
          reportFile: o.report,
        });
        finishDrive(io, o.output, t, result);
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

  for (const [verb, def] of Object.entries(CONTROLS) as [ControlVerb, (typeof CONTROLS)[ControlVerb]][]) {
    const cmd = addTargetOptions(program.command(verb).description(def.description));
    if (def.drive) {
      cmd.option('--detach', 'only record the request; do not drive the upgrade in this terminal');
      cmd.option('--no-probe', "drive without the probe the upgrade's spec asks for");
    }
    cmd.action(async (o: RawOpts) => {
      await withTarget(o, io, async (t) => {
        const r = await requestControl(t, verb, o.name, !!o.detach);
        io.stdout.write(`upgrade ${r.spec.name}: ${verb} requested\n`);
        if (r.driverPid !== undefined)
          io.stdout.write(`the running baton (pid ${r.driverPid}) carries it out\n`);
        if (!r.drive) return;
        const result = await driveWithProbe(t, r.spec.name, io, { probe: o.probe !== false });
        finishDrive(io, o.output, t, result);
        state.code = exitCodeFor(result);
      });
    });
  }
}
