/**
 * The upgrade verbs as commander commands: plan, check, apply, status, history, pause, resume,
 * cancel, finalize, rollback. Only their options live here; every option value is checked while the
 * command line is parsed (bad input is exit 2 before anything is opened, whatever the cluster's
 * state), and what a verb does is loaded from upgrade-actions.ts only when it runs.
 */
import { type Command, Option } from 'commander';
import { DEFAULT_PAUSED_EXPIRY_SECONDS, DEFAULT_STRATEGY, durationText } from '../core/defaults.js';
import { parseVersion } from '../core/version.js';
import {
  checked,
  collect,
  collected,
  parseBatch,
  parseCount,
  parseDurationMs,
  parseDrainPolicy,
  parseDurationSeconds,
  parseNamespace,
  parseNumber,
  parseOutput,
  parsePairs,
  parsePlatform,
  parsePolicy,
  parsePositiveDurationSeconds,
  parseRate,
} from '../wiring/args.js';
import type { CliIO } from '../wiring/io.js';
import { CONTROL_VERBS, type ControlVerb } from './control-verbs.js';
import { addNodesOptions } from './nodes-flags.js';
import { MAX_PROBE_RATE, MAX_PROBE_WORKERS } from '../probe/probe.js';
import { DEFAULT_OPEN_LOOP_WORKERS } from './probe.js';

/** A validator of a version flag. */
function versionOf(flag: string): (text: string) => void {
  return (text) => {
    try {
      parseVersion(text);
    } catch (err) {
      throw Object.assign(err as Error, { message: `${flag} ${text}: ${(err as Error).message}` });
    }
  };
}

/** Loads the actions module and runs `fn` of it. */
const actions = () => import('./upgrade-actions.js');

/** Options every verb that talks to a cluster takes. */
export function addTargetOptions(cmd: Command): Command {
  return cmd
    .option(
      '--platform <name>',
      'where the cluster runs: local (processes on this machine), sim (dry run), kubernetes',
      checked(parsePlatform),
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
    .option(
      '--members <n>',
      'sim: members per component',
      checked((v) => parseCount('--members', v, 1, 500)),
    )
    .option('--from <version>', 'sim: version the simulated members run', checked(versionOf('--from')))
    .option('-f, --file <cluster.yaml>', 'sim: cluster description (components, roles, faults)')
    .option(
      '--seed <n>',
      'sim: random seed (deterministic runs)',
      checked((v) => parseCount('--seed', v, 0, 2 ** 31)),
    )
    .option(
      '--binary <version=path>',
      'local: use this binary for a version label (repeatable)',
      collected((v) => parsePairs('--binary', [v])),
      [],
    )
    .option(
      '-n, --namespace <ns>',
      'kubernetes: namespace',
      checked((v) => parseNamespace('--namespace', v)),
    )
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
    .option(
      '--credentials-secret <name>',
      'kubernetes: Secret with the engine admin credentials (username/password, or a CockroachDB client certificate), recorded in a new upgrade',
    )
    .option('--name <upgrade>', 'upgrade name (default <cluster>-upgrade)')
    .option('-o, --output <format>', 'json or yaml', checked(parseOutput));
}

/** Options that shape the upgrade. */
export function addSpecOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--to <version>', 'target version', checked(versionOf('--to')))
    .option(
      '--component-version <component=version>',
      'per-component target (repeatable)',
      collected((v) =>
        Object.values(parsePairs('--component-version', [v])).forEach(versionOf('--component-version')),
      ),
      [],
    )
    .option(
      '--batch <policy>',
      `serial | fixed:N | percent:P | exponential[:CAP%] (default ${DEFAULT_STRATEGY.batch.kind}; kubernetes-nodes: exponential:10)`,
      checked(parseBatch),
    )
    .option(
      '--max-unavailable <n>',
      `most members of a component down at once (default ${DEFAULT_STRATEGY.maxUnavailable}; kubernetes-nodes: the batch cap)`,
      checked((v) => parseCount('--max-unavailable', v, 1, 100000)),
    )
    .option(
      '--soak <duration>',
      'wait after each batch is ready',
      checked((v) => parseDurationSeconds('--soak', v)),
      durationText(DEFAULT_STRATEGY.soakSeconds),
    )
    .option('--pause-after-first-batch', 'pause after the first batch')
    .option('--pause-after-each-batch', 'pause after every batch')
    .option(
      '--drain-timeout <duration>',
      'time to move leadership away',
      checked((v) => parsePositiveDurationSeconds('--drain-timeout', v)),
      durationText(DEFAULT_STRATEGY.timeouts.drainSeconds),
    )
    .option(
      '--drain-timeout-policy <p>',
      'pause | proceed (only where the engine says proceeding is safe); kubernetes-nodes also delete | give-up',
      checked((v) => parseDrainPolicy('--drain-timeout-policy', v)),
      DEFAULT_STRATEGY.timeouts.drainPolicy,
    )
    .option(
      '--ready-timeout <duration>',
      'time for a replaced member to be ready and caught up',
      checked((v) => parsePositiveDurationSeconds('--ready-timeout', v)),
      durationText(DEFAULT_STRATEGY.timeouts.readySeconds),
    )
    .option(
      '--ready-timeout-policy <p>',
      'pause | proceed (stateless components only)',
      checked((v) => parsePolicy('--ready-timeout-policy', v)),
      DEFAULT_STRATEGY.timeouts.readyPolicy,
    )
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
    .option(
      '--paused-expiry <duration>',
      'a paused upgrade expires after this long',
      checked((v) => parsePositiveDurationSeconds('--paused-expiry', v)),
      durationText(DEFAULT_PAUSED_EXPIRY_SECONDS),
    );
}

/** Register the upgrade verbs. */
export function registerUpgradeCommands(program: Command, io: CliIO, state: { code: number }): void {
  addNodesOptions(
    addSpecOptions(
      addTargetOptions(
        program.command('plan').description('show what an upgrade would do, in order, before anything moves'),
      ),
    ),
  ).action(async (o) => (await actions()).plan(o, io));

  addNodesOptions(
    addTargetOptions(
      program.command('check').description('run the engine prechecks against the cluster; changes nothing'),
    ),
  )
    .option(
      '--to <version>',
      'target version the checks are for (default: the target of the open upgrade)',
      checked(versionOf('--to')),
    )
    .option('--force <check>', 'report this failing check as forced (repeatable)', collect, [])
    .action(async (o) => (await actions()).check(o, io, state));

  addNodesOptions(
    addSpecOptions(
      addTargetOptions(
        program.command('apply').description('plan, precheck and run an upgrade in the foreground'),
      ),
    ),
  )
    .option('--probe', 'run a client workload during the upgrade and report availability and lost writes')
    .option(
      '--probe-rate <ops>',
      'with --probe: operations per second, open loop (default: a light closed loop)',
      checked((v) => parseNumber('--probe-rate', v, 0.1, MAX_PROBE_RATE)),
    )
    .option(
      '--probe-workers <n>',
      `with --probe: connections, i.e. operations in flight (default 1; ${DEFAULT_OPEN_LOOP_WORKERS} with --probe-rate)`,
      checked((v) => parseCount('--probe-workers', v, 1, MAX_PROBE_WORKERS)),
    )
    .option(
      '--probe-read-ratio <r>',
      'with --probe: share of reads, 0 to 1 (default 0.2)',
      checked((v) => parseRate('--probe-read-ratio', v)),
    )
    .option(
      '--probe-baseline <duration>',
      'with --probe: measure the clients this long before the first step (default 2s)',
      checked((v) => parseDurationMs('--probe-baseline', v)),
    )
    .option(
      '--max-error-rate <rate>',
      'with --probe: pause when the failed-operation rate exceeds this (0.01 or 1%)',
      checked((v) => parseRate('--max-error-rate', v)),
    )
    .option(
      '--max-write-gap <duration>',
      'with --probe: pause when no write succeeds for this long (e.g. 500ms)',
      checked((v) => parseDurationMs('--max-write-gap', v)),
    )
    .addOption(
      new Option('--max-gap <duration>')
        .hideHelp()
        .argParser(checked((v) => parseDurationMs('--max-gap', v))),
    )
    .option(
      '--max-p99 <duration>',
      'with --probe: pause when p99 latency over the last 10 s exceeds this',
      checked((v) => parseDurationMs('--max-p99', v)),
    )
    .option('--report <file>', 'write the final report as JSON')
    .option('--detach', 'kubernetes: create the Upgrade resource and return; the operator drives it')
    .action(async (o) => (await actions()).apply(o, io, state));

  addTargetOptions(
    program
      .command('status')
      .description('show the phase, progress, blocking check and members of an upgrade'),
  )
    .option('-w, --watch', 'keep showing progress until the upgrade ends')
    .action(async (o) => (await actions()).status(o, io));

  addTargetOptions(
    program.command('history').description('every step, block and control of an upgrade, with times'),
  ).action(async (o) => (await actions()).history(o, io));

  for (const verb of Object.keys(CONTROL_VERBS) as ControlVerb[]) {
    const def = CONTROL_VERBS[verb];
    const cmd = addTargetOptions(program.command(verb).description(def.description));
    if (def.drive) {
      cmd.option('--detach', 'only record the request; do not drive the upgrade in this terminal');
      cmd.option('--no-probe', "drive without the probe the upgrade's spec asks for");
    }
    cmd.action(async (o) => (await actions()).control(verb, o, io, state));
  }
}
