/**
 * What the upgrade verbs do (plan, check, apply, status, history, pause, resume, cancel, finalize,
 * rollback), loaded by upgrade-commands.ts only when one of them runs. Option values were checked
 * when the command line was parsed; they are parsed again here into typed settings.
 */
import { BadInputError, OperationalError } from '../core/errors.js';
import { KUBERNETES_NODES_ENGINE, NODE_DEFAULT_BATCH } from '../api/nodes.js';
import { NO_UNAVAILABILITY_LIMIT } from '../api/upgrade.js';
import type { ComponentSpec, ProbeSpec, Snapshot, UpgradeSpec } from '../core/types.js';
import { isTerminal } from '../core/types.js';
import { waitUntil } from '../core/wait.js';
import { observe } from '../runner/observe.js';
import { applyForce } from '../runner/decide.js';
import { runPrechecks } from '../runner/runner.js';
import { createUpgrade, makeSpec, previewPlan } from '../runner/start.js';
import {
  defaultStateDir,
  parseBatch,
  parseCount,
  parseDrainPolicy,
  parseDurationMs,
  parseDurationSeconds,
  parseNumber,
  parseOutput,
  parsePairs,
  parsePlatform,
  parsePolicy,
  parsePositiveDurationSeconds,
  parseRate,
} from '../wiring/args.js';
import { MAX_PROBE_RATE, MAX_PROBE_WORKERS } from '../probe/probe.js';
import { type ControlVerb, findUpgrade, noSimState, requestControl } from './control.js';
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
import { type Target, type TargetOptions, localTarget, simTarget } from '../wiring/targets.js';

/** The raw values of the upgrade verbs' options, as commander gives them. */
export interface RawOpts {
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

/** `text` parsed when the flag was given; undefined (the spec's default) otherwise. */
function given<T>(text: string | undefined, parse: (text: string) => T): T | undefined {
  return text === undefined ? undefined : parse(text);
}

/** The spec the flags describe, validated (bad input throws before anything is written). */
export function specFromOptions(o: RawOpts, target: Target): UpgradeSpec {
  // A node upgrade defaults to ACK's batches, limited only by their cap (as its resource does).
  const nodes = target.engine.name === KUBERNETES_NODES_ENGINE;
  const drainPolicy = given(o.drainTimeoutPolicy, (v) => parseDrainPolicy('--drain-timeout-policy', v));
  if (!nodes && (drainPolicy === 'delete' || drainPolicy === 'give-up')) {
    throw new BadInputError(
      'bad-policy',
      `--drain-timeout-policy ${drainPolicy} applies to node upgrades (--engine ${KUBERNETES_NODES_ENGINE}); use pause or proceed`,
    );
  }
  const components: ComponentSpec[] = Object.entries(
    parsePairs('--component-version', o.componentVersion ?? []),
  ).map(([name, version]) => ({ name, version }));
  return makeSpec({
    name: o.name,
    cluster: target.cluster,
    engine: target.engine.name,
    version: o.to!,
    components: components.length ? components : undefined,
    // A flag left out (commander's defaults aside) takes the default of core/defaults.ts.
    strategy: {
      batch: given(o.batch, parseBatch) ?? (nodes ? NODE_DEFAULT_BATCH : undefined),
      maxUnavailable:
        given(o.maxUnavailable, (v) => parseCount('--max-unavailable', v, 1, 100000)) ??
        (nodes ? NO_UNAVAILABILITY_LIMIT : undefined),
      soakSeconds: given(o.soak, (v) => parseDurationSeconds('--soak', v)),
      pauseAfterFirstBatch: !!o.pauseAfterFirstBatch,
      pauseAfterEachBatch: !!o.pauseAfterEachBatch,
      timeouts: {
        drainSeconds: given(o.drainTimeout, (v) => parsePositiveDurationSeconds('--drain-timeout', v)),
        drainPolicy,
        readySeconds: given(o.readyTimeout, (v) => parsePositiveDurationSeconds('--ready-timeout', v)),
        readyPolicy: given(o.readyTimeoutPolicy, (v) => parsePolicy('--ready-timeout-policy', v)),
      },
    },
    force: o.force ?? [],
    finalize: o.finalize,
    supervised: !!o.supervised,
    pausedExpirySeconds: given(o.pausedExpiry, (v) => parsePositiveDurationSeconds('--paused-expiry', v)),
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

/** `baton plan`: what an upgrade would do, in order, before anything moves. */
export async function plan(o: RawOpts, io: CliIO): Promise<void> {
  await withTarget(o, io, async (t) => {
    const spec = specFromOptions(o, t);
    const { plan, snapshot } = await previewPlan(t.platform, t.engine, spec, {
      clock: t.clock,
      logger: io.logger,
    });
    out(io, o, plan, () => renderPlan(plan, snapshot));
  });
}

/** `baton check`: the engine's prechecks against the cluster; exit 1 when one fails. */
export async function check(o: RawOpts, io: CliIO, state: { code: number }): Promise<void> {
  await withTarget(o, io, async (t) => {
    const snapshot = await observe(t.platform, t.engine, { clock: t.clock, logger: io.logger });
    // Without --to: the target of the upgrade named, else of the one open on this cluster.
    const journal = t.platform.journal;
    const open =
      o.to !== undefined
        ? undefined
        : o.name !== undefined
          ? await journal.get(o.name)
          : (await journal.list()).find((r) => r.spec.cluster === t.cluster && !isTerminal(r.status.phase));
    const spec = makeSpec({
      cluster: t.cluster,
      engine: t.engine.name,
      version: o.to ?? open?.spec.version ?? snapshot.members[0]?.version ?? '0',
      force: o.force,
    });
    const results = applyForce(
      await runPrechecks(t.platform, t.engine, snapshot, spec, { clock: t.clock, logger: io.logger }),
      spec.force,
    );
    out(io, o, { version: spec.version, prechecks: results, health: snapshot.health }, () =>
      renderPrechecks(results),
    );
    if (results.some((r) => !r.ok && !r.forced)) state.code = 1;
  });
}

/** `baton apply`: plan, precheck and run an upgrade in the foreground (or create it, `--detach`). */
export async function apply(
  o: RawOpts & { report?: string },
  io: CliIO,
  state: { code: number },
): Promise<void> {
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
      io.stdout.write(`upgrade ${spec.name} created: the operator drives it (\`baton status --watch\`)\n`);
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
}

/** How often `baton status --watch` reads the journal again. */
const WATCH_POLL_MS = 1000;

/** `baton status`: phase, progress, blocking check and members; `--watch` follows it to the end. */
export async function status(o: RawOpts, io: CliIO): Promise<void> {
  await withTarget(o, io, async (t) => {
    noSimState(t);
    const rec = await findUpgrade(t, o.name);
    let snapshot: Snapshot | undefined;
    try {
      snapshot = await observe(t.platform, t.engine, { clock: t.clock, logger: io.logger });
    } catch {
      snapshot = undefined;
    }
    out(io, o, { spec: rec.spec, status: rec.status, members: snapshot?.members }, () =>
      renderStatus(rec, snapshot),
    );
    if (!o.watch || isTerminal(rec.status.phase)) return;
    // Followed until the upgrade ends or the user stops it (Ctrl-C aborts io.signal): the one wait
    // without a deadline; its reason is the progress line, printed each time it changes.
    let last = progressLine(rec.status);
    const name = rec.spec.name;
    await waitUntil(
      `upgrade ${name} to end`,
      async () => {
        const next = await t.platform.journal.get(name);
        if (!next) throw new OperationalError('upgrade-gone', `upgrade ${name} was deleted while watched`);
        const line = progressLine(next.status);
        if (line !== last) {
          io.stdout.write(`${line}\n`);
          last = line;
        }
        return isTerminal(next.status.phase) ? next : undefined;
      },
      { clock: t.clock, deadline: Infinity, pollMs: WATCH_POLL_MS, signal: io.signal },
    );
  });
}

/** `baton history`: every step, block and control of an upgrade. */
export async function history(o: RawOpts, io: CliIO): Promise<void> {
  await withTarget(o, io, async (t) => {
    noSimState(t);
    const rec = await findUpgrade(t, o.name);
    out(io, o, rec.status.history, () => renderHistory(rec.status));
  });
}

/**
 * A control verb: record it (control.ts), then (resume, cancel, finalize, rollback; not with
 * `--detach` nor on Kubernetes) drive the upgrade here unless another baton already does.
 */
export async function control(
  verb: ControlVerb,
  o: RawOpts,
  io: CliIO,
  state: { code: number },
): Promise<void> {
  await withTarget(o, io, async (t) => {
    const r = await requestControl(t, verb, o.name, !!o.detach);
    io.stdout.write(`upgrade ${r.spec.name}: ${verb} requested\n`);
    if (r.driverPid !== undefined) io.stdout.write(`the running baton (pid ${r.driverPid}) carries it out\n`);
    if (!r.drive) return;
    const result = await driveWithProbe(t, r.spec.name, io, { probe: o.probe !== false });
    finishDrive(io, o.output, t, result);
    state.code = exitCodeFor(result);
  });
}
