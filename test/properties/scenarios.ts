/**
 * Random upgrade scenarios (fast-check arbitraries) and the invariants every driven run must keep.
 * A scenario is plain data: engine, components with members (ready or not, lag, already at the
 * target), batch policy and budget, timeouts and their policies, faults and crash points, and
 * user controls. {@link violations} lists every broken invariant of one driven run.
 */
import fc from 'fast-check';
import { isTerminal } from '../../src/core/types.js';
import { engineRules } from '../../src/engines/registry.js';
import type { SimFault } from '../../src/platforms/sim/index.js';
import { atVersion } from '../../src/core/version.js';
import { componentsOf, type RunOutcome, type Scenario, type ScenarioMember } from './harness.js';

/** From -> to pairs per engine: patch, one step, majors with finalization, multi-hop paths. */
export const VERSION_PAIRS: Record<string, [string, string][]> = {
  sim: [['1.0.0', '1.1.0']],
  tidb: [['v7.5.0', 'v8.1.0']],
  'kubernetes-nodes': [
    ['1.30.2', '1.31.1'],
    ['1.30.2', '1.30.5'],
  ],
  cockroachdb: [
    ['23.2.5', '24.1.2'],
    ['24.1.1', '24.1.3'],
    ['23.1.4', '24.1.2'],
  ],
  'redis-enterprise': [['7.4.6', '7.8.2']],
};

const ENGINES = Object.keys(VERSION_PAIRS);

const memberArb: fc.Arbitrary<ScenarioMember> = fc.record({
  ready: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  lag: fc.oneof(
    { weight: 8, arbitrary: fc.nat(40) },
    { weight: 1, arbitrary: fc.integer({ min: 51, max: 400 }) },
  ),
  atTarget: fc.oneof(
    { weight: 12, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
});

const batchArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'serial' as const }) },
  fc.record({ kind: fc.constant('fixed' as const), size: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('percent' as const), percent: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ kind: fc.constant('exponential' as const), capPercent: fc.integer({ min: 1, max: 60 }) }),
);

function faultArb(names: string[]): fc.Arbitrary<SimFault> {
  const member = fc.constantFrom(...names);
  return fc.oneof(
    fc.record({ kind: fc.constant('never-ready' as const), member }),
    fc.record({ kind: fc.constant('drain-timeout' as const), member }),
    fc.record({
      kind: fc.constant('api-error' as const),
      call: fc.constantFrom(
        'replaceMember' as const,
        'drain' as const,
        'observe' as const,
        'listMembers' as const,
        'prechecks' as const,
        'hook' as const,
        'finalize' as const,
        'restore' as const,
      ),
      nth: fc.integer({ min: 1, max: 6 }),
    }),
    fc.record({
      kind: fc.constant('crash' as const),
      nth: fc.integer({ min: 1, max: 40 }),
      when: fc.constantFrom('before' as const, 'after' as const),
    }),
    fc.record({ kind: fc.constant('slow' as const), member, factor: fc.integer({ min: 2, max: 5 }) }),
  );
}

/** Random scenarios: 1..50 members over a random subset of an engine's components. */
export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    engine: fc.constantFrom(...ENGINES),
    big: fc.oneof({ weight: 11, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    pick: fc.nat(),
    subset: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    tiny: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  })
  .chain(({ engine, big, pick, subset, tiny }) => {
    const all = componentsOf(engine);
    let chosen = all.filter((_, i) => subset[i]);
    if (chosen.length === 0) chosen = [all[pick % all.length]!];
    // A component on its own release line (TiProxy) is upgraded only when given its own version:
    // a cluster of nothing else has nothing to plan (refused as bad input), so add one that moves.
    const ownLine = (name: string) =>
      engineRules(engine).components.find((c) => c.name === name)?.ownVersion !== undefined;
    if (chosen.every(ownLine)) chosen = [...chosen, all.find((name) => !ownLine(name))!];
    const perComponent = big ? Math.max(1, Math.floor(50 / chosen.length)) : 4;
    const pairs = VERSION_PAIRS[engine]!;
    const [from, to] = pairs[pick % pairs.length]!;
    return fc
      .tuple(
        ...chosen.map((name) => {
          // Quorum components of 1 or 2 members can never stop one safely; keep them rare.
          const quorum = engineRules(engine).components.find((c) => c.name === name)?.quorum === true;
          const min = quorum && !tiny ? 3 : 1;
          return fc.array(memberArb, { minLength: min, maxLength: Math.max(min, perComponent) });
        }),
      )
      .chain((memberLists) => {
        const components = chosen.map((name, i) => ({ name, members: memberLists[i]! }));
        const names = components.flatMap((c) => c.members.map((_, i) => `${c.name}-${i}`));
        return fc.record({
          engine: fc.constant(engine),
          seed: fc.nat(1_000_000),
          from: fc.constant(from),
          to: fc.constant(to),
          components: fc.constant(components),
          batch: batchArb,
          maxUnavailable: fc.integer({ min: 1, max: 3 }),
          soakSeconds: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 120 })),
          pauseAfterFirstBatch: fc.boolean(),
          pauseAfterEachBatch: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true)),
          supervised: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)),
          drainPolicy: fc.constantFrom('pause' as const, 'proceed' as const),
          drainSeconds: fc.integer({ min: 10, max: 300 }),
          readySeconds: fc.oneof(
            { weight: 6, arbitrary: fc.constant(600) },
            fc.integer({ min: 5, max: 120 }),
          ),
          finalize: fc.constantFrom('auto' as const, 'manual' as const),
          force: fc.oneof(
            { weight: 3, arbitrary: fc.constant(['*'] as string[]) },
            { weight: 1, arbitrary: fc.constant([] as string[]) },
          ),
          faults: fc.array(faultArb(names), { maxLength: 3 }),
          timings: fc.record({
            replaceMs: fc.integer({ min: 100, max: 1500 }),
            readyMs: fc.integer({ min: 100, max: 1000 }),
            catchUpMs: fc.integer({ min: 0, max: 1000 }),
            drainMs: fc.integer({ min: 100, max: 1000 }),
            electionMs: fc.integer({ min: 100, max: 1000 }),
          }),
          controls: fc.array(
            fc.record({
              after: fc.integer({ min: 1, max: 400 }),
              kind: fc.oneof(
                { weight: 3, arbitrary: fc.constant('pause' as const) },
                { weight: 2, arbitrary: fc.constant('cancel' as const) },
                { weight: 1, arbitrary: fc.constant('rollback' as const) },
              ),
            }),
            { maxLength: 2 },
          ),
          resumes: fc.integer({ min: 0, max: 2 }),
          owner: fc.boolean(),
        });
      });
  });

/** Leader stops the runner chose on purpose: drain timed out and the policy said proceed (safe). */
function deliberateLeaderStops(s: Scenario): Set<string> {
  const rules = engineRules(s.engine);
  if (s.drainPolicy !== 'proceed' || !rules.drainTimeoutProceedSafe) return new Set();
  return new Set(s.faults.flatMap((f) => (f.kind === 'drain-timeout' ? [f.member] : [])));
}

/** Every invariant the driven run broke, one line each; empty when the run was safe and sound. */
export function violations(s: Scenario, out: RunOutcome): string[] {
  const bad: string[] = [];
  const { world, status, spec, stop } = out;
  const rec = world.cluster.recorder;
  const views = world.cluster.memberViews();

  // Budget: never more members of a component down than maxUnavailable, counting members that
  // were already down before the upgrade (those cannot be made available by waiting).
  for (const [component, peak] of Object.entries(rec.unavailabilityPeaks())) {
    const allowed = Math.max(s.maxUnavailable, out.initiallyUnready[component] ?? 0);
    if (peak.count > allowed) {
      bad.push(
        `${component}: ${peak.count} members down at once (${peak.members.join(', ')}), budget ${s.maxUnavailable}`,
      );
    }
  }

  // Quorum: a component that needs one never has more members down than it can lose, unless
  // more were already down before the upgrade. A single-member component has no quorum to keep:
  // its restart is its downtime.
  const rules = engineRules(s.engine);
  for (const c of s.components) {
    if (!rules.components.find((r) => r.name === c.name)?.quorum || c.members.length === 1) continue;
    const canLose = c.members.length - (Math.floor(c.members.length / 2) + 1);
    const peak = rec.maxUnavailable(c.name);
    if (peak > Math.max(canLose, out.initiallyUnready[c.name] ?? 0)) {
      bad.push(`${c.name}: ${peak} of ${c.members.length} members down at once, quorum allows ${canLose}`);
    }
  }

  // Leadership handed over before a leader stops whenever a healthy target existed.
  const deliberate = deliberateLeaderStops(s);
  for (const v of rec.leaderStopViolations()) {
    if (!deliberate.has(v.member)) {
      bad.push(`${v.member} stopped holding ${v.held} although ${v.healthyTarget} could take over`);
    }
  }

  for (const p of rec.prerequisiteViolations()) {
    bad.push(`${p.member} replaced before ${p.prerequisite} was done: ${p.reason}`);
  }

  // Crashes and retries never double a step.
  // A rollback after a finalized intermediate hop restarts a member onto that hop's version a
  // second time; nothing else may.
  const rolledBack = status.direction === 'rollback';
  for (const r of rec.repeatedRestarts()) {
    if (!rolledBack || r.count > 2) bad.push(`${r.member} restarted ${r.count} times onto ${r.version}`);
  }

  // Blocked prechecks change nothing.
  if (status.phase === 'Prechecking' || status.phase === 'Pending') {
    const moved = rec.calls('replaceMember').length + rec.calls('drain').length;
    if (moved > 0) bad.push(`${moved} disruptive call(s) although prechecks never passed`);
  }

  // A finalized intermediate hop is the lowest version a rollback may reach.
  let floor: string | undefined;
  for (let k = 0; k < status.hop; k++) {
    if (status.hooksDone.includes(`finalize-hop:${k}`)) floor = status.plan?.path[k]?.to;
  }

  // Members with an owner are replaced only while Baton holds them, and a completed upgrade has
  // handed them back.
  if (s.owner) {
    const unheld = rec.calls('replaceMember').filter((c) => c.error?.includes('take the members over'));
    if (unheld.length > 0) bad.push(`${unheld.length} replacement(s) tried while the owner held the members`);
    if (status.phase === 'Completed' && world.cluster.held)
      bad.push('Completed but the members are still held');
  }

  // A finished upgrade leaves no member kept free of leaderships (evict-leader schedulers).
  if (status.phase === 'Completed' || status.phase === 'Cancelled') {
    for (const m of views)
      if (m.evicting) bad.push(`${status.phase} but ${m.name} is still kept free of leaderships`);
  }

  // Every run ends done, or stops with a named cause.
  switch (stop) {
    case 'terminal':
      if (!isTerminal(status.phase)) bad.push(`terminal stop in phase ${status.phase}`);
      if (!status.reason) bad.push(`terminal phase ${status.phase} without a reason`);
      if (status.phase === 'Completed') {
        // A component on its own release line (TiProxy) keeps its version when none is given for it.
        const ownLine = new Set(
          engineRules(s.engine)
            .components.filter((c) => c.ownVersion !== undefined)
            .map((c) => c.name),
        );
        for (const m of views) {
          const want = ownLine.has(m.component)
            ? out.initialVersions[m.name]!
            : status.direction === 'rollback'
              ? (floor ?? out.initialVersions[m.name]!)
              : s.to;
          if (!atVersion(m.version, want)) bad.push(`Completed but ${m.name} runs ${m.version}, not ${want}`);
          if (!m.ready && out.initiallyUnready[m.component] === 0)
            bad.push(`Completed but ${m.name} is not ready`);
        }
        if (status.direction === 'forward' && status.plan?.finalization && !status.finalized)
          bad.push('Completed without finalization although the plan needs it');
      }
      if (status.phase === 'Cancelled') {
        for (const m of views) {
          const restarts = Object.keys(rec.restarts(m.name));
          if (restarts.length === 0 && m.version !== out.initialVersions[m.name])
            bad.push(`Cancelled: untouched ${m.name} changed version`);
        }
      }
      break;
    case 'awaiting-finalization':
      for (const m of views) {
        if (!atVersion(m.version, s.to)) bad.push(`AwaitingFinalization but ${m.name} runs ${m.version}`);
      }
      break;
    case 'paused':
      if (!status.pauseCause) bad.push(`paused without a cause (reason: ${status.reason})`);
      break;
    case 'blocked':
      if (!status.blockedBy?.check || !status.blockedBy.reason) bad.push('blocked without a named check');
      break;
    case 'stalled':
      bad.push(`stalled in ${status.phase} without a blocking check: ${status.reason}`);
      break;
    case 'step-limit':
      bad.push(`no end after ${out.reconciles} reconciles: ${status.phase}: ${status.reason}`);
      break;
  }
  if (spec.generation < 1) bad.push('spec generation went below 1');
  return bad;
}

/** Engines whose upgrades have several components, hooks, or finalization and multi-hop paths. */
const CRASH_ENGINES = ['tidb', 'redis-enterprise', 'kubernetes-nodes', 'cockroachdb', 'sim'];

/**
 * Upgrades for the crash-at-every-write test: healthy members (a few already at the target),
 * several components where the engine has them, every batch policy, soak, pause gates,
 * supervised leader steps and manual finalization; no faults and no timed user controls, so the
 * uninterrupted run is the reference every crashed run must reproduce.
 */
export const crashScenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ engine: fc.constantFrom(...CRASH_ENGINES), pick: fc.nat() })
  .chain(({ engine, pick }) => {
    const pairs = VERSION_PAIRS[engine]!;
    const [from, to] = pairs[pick % pairs.length]!;
    const rules = engineRules(engine);
    const member = fc.record({
      ready: fc.constant(true),
      lag: fc.nat(40),
      atTarget: fc.oneof(
        { weight: 8, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
    });
    return fc.record({
      engine: fc.constant(engine),
      seed: fc.nat(1_000_000),
      from: fc.constant(from),
      to: fc.constant(to),
      components: fc.tuple(
        ...rules.components.map((c) =>
          fc
            .array(member, { minLength: c.quorum ? 3 : 1, maxLength: c.quorum ? 4 : 3 })
            .map((members) => ({ name: c.name, members })),
        ),
      ),
      batch: batchArb,
      maxUnavailable: fc.integer({ min: 1, max: 2 }),
      soakSeconds: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 30 })),
      pauseAfterFirstBatch: fc.boolean(),
      pauseAfterEachBatch: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true)),
      supervised: fc.boolean(),
      drainPolicy: fc.constant('pause' as const),
      drainSeconds: fc.constant(120),
      readySeconds: fc.constant(600),
      finalize: fc.constantFrom('auto' as const, 'manual' as const),
      force: fc.constant([] as string[]),
      faults: fc.constant([] as SimFault[]),
      timings: fc.record({
        replaceMs: fc.integer({ min: 100, max: 1500 }),
        readyMs: fc.integer({ min: 100, max: 1000 }),
        catchUpMs: fc.integer({ min: 0, max: 1000 }),
        drainMs: fc.integer({ min: 100, max: 1000 }),
        electionMs: fc.integer({ min: 100, max: 1000 }),
      }),
      controls: fc.constant([] as Scenario['controls']),
      resumes: fc.constant(0),
      // Most runs have an owner, so the take-over and hand-back steps are crashed around too.
      owner: fc.oneof(
        { weight: 3, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
    });
  });
