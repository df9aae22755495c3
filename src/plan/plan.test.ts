import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadInputError } from '../core/errors.js';
import type { EngineMemberState, MemberView, Snapshot, UpgradeSpec } from '../core/types.js';
import type { ComponentRule, EngineRules } from '../core/rules.js';
import { buildPlan, resolveComponents } from './plan.js';
import { compareVersions } from '../core/version.js';

function member(
  name: string,
  version: string,
  engine: Partial<EngineMemberState> | null = {},
  platform: Partial<MemberView> = {},
): MemberView {
  return {
    name,
    component: name.replace(/-\d+$/, ''),
    ordinal: Number(/(\d+)$/.exec(name)?.[1] ?? 0),
    version,
    ready: true,
    running: true,
    ...platform,
    ...(engine ? { engine: { role: 'follower', healthy: true, caughtUp: true, lag: 0, ...engine } } : {}),
  };
}

function snapshot(members: MemberView[], healthy = true): Snapshot {
  return {
    observedAt: 0,
    members,
    health: { healthy, detail: healthy ? 'all good' : '1 of 3 members down' },
  };
}

function spec(
  version: string,
  extra: Partial<UpgradeSpec> = {},
  strategy: Partial<UpgradeSpec['strategy']> = {},
): UpgradeSpec {
  return {
    name: 'up',
    cluster: 'demo',
    engine: 'test',
    version,
    strategy: {
      batch: { kind: 'serial' },
      maxUnavailable: 1,
      soakSeconds: 0,
      pauseAfterFirstBatch: false,
      pauseAfterEachBatch: false,
      timeouts: { drainSeconds: 60, drainPolicy: 'pause', readySeconds: 60, readyPolicy: 'pause' },
      ...strategy,
    },
    paused: false,
    cancel: false,
    force: [],
    finalize: 'auto',
    finalizeRequested: false,
    rollback: false,
    supervised: false,
    pausedExpirySeconds: 1_296_000,
    generation: 1,
    ...extra,
  };
}

const rule = (
  name: string,
  topology: ComponentRule['topology'],
  extra: Partial<ComponentRule> = {},
): ComponentRule => ({
  name,
  topology,
  stage: 'cluster',
  prerequisites: [],
  quorum: topology === 'raft',
  ...extra,
});

/** etcd-like: one major at a time, finalization across minors, fixed step figures. */
function etcdRules(extra: Partial<EngineRules> = {}): EngineRules {
  return {
    name: 'etcd',
    title: 'etcd',
    components: [rule('etcd', 'raft')],
    versions: {
      direct: (from, to) =>
        Math.abs(to.minor - from.minor) <= 1
          ? { ok: true }
          : { ok: false, reason: 'one minor version at a time' },
      allowDowngrade: (from, to) =>
        from.minor === to.minor ? { ok: true } : { ok: false, reason: 'only patch downgrades are safe' },
      releases: ['3.4.23', '3.5.0', '3.5.9', '3.6.0'],
      notes: (v) => (v.minor === 6 && v.patch === 0 ? ['3.6: v2 store removed'] : []),
    },
    prechecks: [{ name: 'cluster-healthy', description: 'every member answers /health' }],
    hooks: [],
    finalization: { required: (from, to) => from.minor !== to.minor, description: 'minor changes finalize' },
    drainTimeoutProceedSafe: false,
    stepEstimatesMs: { precheck: 1_000, replace: 10_000, verify: 2_000, drain: 500, finalize: 3_000 },
    ...extra,
  };
}

/** TiDB-like: three components chained by prerequisites, one stage. */
function tidbRules(extra: Partial<EngineRules> = {}): EngineRules {
  return {
    name: 'tidb',
    title: 'TiDB',
    components: [
      rule('pd', 'raft'),
      rule('tikv', 'multi-raft', { prerequisites: ['pd'] }),
      rule('tidb', 'stateless', { prerequisites: ['tikv'] }),
    ],
    versions: { direct: () => ({ ok: true }), allowDowngrade: () => ({ ok: false, reason: 'never' }) },
    prechecks: [],
    hooks: ['beforeComponent'],
    drainTimeoutProceedSafe: true,
    stepEstimatesMs: { replace: 1_000, verify: 1_000, drain: 1_000, hook: 100 },
    ...extra,
  };
}

const etcd3 = () => [
  member('etcd-0', '3.4.23', { role: 'leader' }),
  member('etcd-1', '3.4.23', { lag: 5 }),
  member('etcd-2', '3.4.23', { lag: 10 }),
];

test('buildPlan: one hop, members in safe order, serial batches, leadership move, estimate', () => {
  const plan = buildPlan({
    spec: spec('3.5.9', {}, { soakSeconds: 2 }),
    snapshot: snapshot(etcd3()),
    rules: etcdRules(),
  });
  assert.equal(plan.engine, 'etcd');
  assert.equal(plan.cluster, 'demo');
  assert.equal(plan.from, '3.4.23');
  assert.equal(plan.to, '3.5.9');
  assert.deepEqual(plan.path, [{ from: '3.4.23', to: '3.5.9', notes: [], finalize: true }]);
  assert.equal(plan.finalization, true);
  assert.deepEqual(plan.stages, [{ name: 'cluster', components: ['etcd'] }]);
  const etcd = plan.components[0];
  assert.ok(etcd);
  assert.deepEqual(
    etcd.members.map((m) => [m.name, m.reason, m.leadershipMove]),
    [
      ['etcd-2', 'follower, lag 10', false],
      ['etcd-1', 'follower, lag 5', false],
      ['etcd-0', 'leader last', true],
    ],
  );
  assert.deepEqual(etcd.batches, [
    { index: 1, members: ['etcd-2'] },
    { index: 2, members: ['etcd-1'] },
    { index: 3, members: ['etcd-0'] },
  ]);
  assert.deepEqual(etcd.upToDate, []);
  assert.deepEqual(plan.leadershipMoves, [
    'etcd-0 (leader) -> most caught-up healthy member when its turn comes (now: etcd-1, lag 5)',
  ]);
  assert.deepEqual(plan.prechecks, [
    { name: 'cluster-healthy', description: 'every member answers /health' },
  ]);
  assert.deepEqual(plan.warnings, []);
  // precheck + 3 * (replace + verify) + 1 drain + 3 soaks + 1 finalize
  assert.equal(plan.estimatedMs, 1_000 + 3 * 12_000 + 500 + 3 * 2_000 + 3_000);
});

test('buildPlan: observed durations drive the estimate', () => {
  const plan = buildPlan({
    spec: spec('3.4.24'),
    snapshot: snapshot(etcd3()),
    rules: etcdRules(),
    durations: { replace: [100, 300, 200], verify: [10], drain: [5], precheck: [1] },
  });
  assert.equal(plan.finalization, false);
  assert.equal(plan.estimatedMs, 1 + 3 * 210 + 5);
});

test('buildPlan: members at the target are up to date, not batched; mixed versions warned', () => {
  const members = etcd3();
  members[1] = member('etcd-1', '3.5.9', { lag: 5 });
  const plan = buildPlan({ spec: spec('3.5.9'), snapshot: snapshot(members), rules: etcdRules() });
  const etcd = plan.components[0];
  assert.deepEqual(etcd?.upToDate, ['etcd-1']);
  assert.deepEqual(
    etcd?.members.map((m) => m.name),
    ['etcd-2', 'etcd-0'],
  );
  assert.deepEqual(
    etcd?.batches.flatMap((b) => b.members),
    ['etcd-2', 'etcd-0'],
  );
  assert.deepEqual(plan.leadershipMoves, [
    'etcd-0 (leader) -> most caught-up healthy member when its turn comes (now: etcd-1, lag 5)',
  ]);
  assert.deepEqual(plan.warnings, [
    'etcd members run mixed versions: 3.4.23 (etcd-0, etcd-2), 3.5.9 (etcd-1)',
  ]);

  const done = buildPlan({
    spec: spec('3.4.23'),
    snapshot: snapshot(etcd3()),
    rules: etcdRules(),
  });
  assert.deepEqual(done.path, []);
  assert.deepEqual(done.components[0]?.batches, []);
  assert.deepEqual(done.components[0]?.upToDate, ['etcd-0', 'etcd-1', 'etcd-2']);
  assert.equal(done.from, '3.4.23');
  assert.equal(done.to, '3.4.23');
});

test('buildPlan: multi-hop path with notes and finalization per hop', () => {
  const plan = buildPlan({ spec: spec('3.6.0'), snapshot: snapshot(etcd3()), rules: etcdRules() });
  assert.deepEqual(plan.path, [
    { from: '3.4.23', to: '3.5.9', notes: [], finalize: true },
    { from: '3.5.9', to: '3.6.0', notes: ['3.6: v2 store removed'], finalize: true },
  ]);
  assert.deepEqual(plan.components[0]?.path, plan.path);
  // two passes of three members, one leader each, one precheck and two finalizations
  assert.equal(plan.estimatedMs, 1_000 + 2 * (3 * 12_000 + 500) + 2 * 3_000);
});

test('buildPlan: warnings for unready, unreachable, unhealthy cluster and no leadership target', () => {
  const members = [
    member('etcd-0', '3.4.23', { role: 'leader' }),
    member('etcd-1', '3.4.23', { lag: 5 }, { ready: false, detail: 'CrashLoopBackOff' }),
    member('etcd-2', '3.4.23', null),
  ];
  const plan = buildPlan({ spec: spec('3.5.9'), snapshot: snapshot(members, false), rules: etcdRules() });
  assert.deepEqual(
    plan.components[0]?.members.map((m) => [m.name, m.reason]),
    [
      ['etcd-1', 'unready first: not Ready (CrashLoopBackOff)'],
      ['etcd-2', 'no engine state: counted as a follower with lag 0'],
      ['etcd-0', 'leader last'],
    ],
  );
  assert.deepEqual(plan.warnings, [
    'cluster unhealthy: 1 of 3 members down',
    'no healthy caught-up member to take leadership of etcd-0: etcd-1 not ready, etcd-2 not reachable by the engine; the upgrade waits when it reaches etcd-0',
    'etcd-1 is not Ready (CrashLoopBackOff): it goes first and counts against the unavailability budget',
    'etcd-2 is not reachable by the etcd engine: its role and lag are unknown',
  ]);
  assert.deepEqual(plan.leadershipMoves, [
    'etcd-0 (leader) -> most caught-up healthy member when its turn comes (none now)',
  ]);
});

test('buildPlan: batch policies, pauses and their warnings', () => {
  const many = Array.from({ length: 20 }, (_, i) => member(`etcd-${i}`, '3.4.23', { lag: i }));
  const plan = buildPlan({
    spec: spec(
      '3.5.9',
      {},
      { batch: { kind: 'exponential', capPercent: 25 }, maxUnavailable: 4, pauseAfterFirstBatch: true },
    ),
    snapshot: snapshot(many),
    rules: etcdRules(),
  });
  assert.deepEqual(
    plan.components[0]?.batches.map((b) => b.members.length),
    [1, 1, 2, 4, 5, 5, 2],
  );
  assert.deepEqual(plan.components[0]?.batches[0]?.members, ['etcd-19']);
  assert.deepEqual(plan.warnings, [
    'etcd: batches of up to 5 exceed maxUnavailable 4; members beyond the budget wait for earlier ones',
  ]);
  const fixed = buildPlan({
    spec: spec('3.5.9', {}, { batch: { kind: 'fixed', size: 2 }, maxUnavailable: 2 }),
    snapshot: snapshot(etcd3()),
    rules: etcdRules(),
  });
  assert.deepEqual(fixed.warnings, [
    'etcd: batches of 2 of 3 members would break quorum; at most 1 go at once',
  ]);
  assert.deepEqual(fixed.batchPolicy, { kind: 'fixed', size: 2 });
  assert.equal(fixed.maxUnavailable, 2);
});

test('buildPlan: refuses bad input with a BadInputError code', () => {
  const cases: [() => unknown, string][] = [
    [
      () => buildPlan({ spec: spec('latest'), snapshot: snapshot(etcd3()), rules: etcdRules() }),
      'bad-version',
    ],
    [
      () =>
        buildPlan({
          spec: spec('3.5.9'),
          snapshot: snapshot([member('etcd-0', 'nightly')]),
          rules: etcdRules(),
        }),
      'bad-version',
    ],
    [() => buildPlan({ spec: spec('3.5.9'), snapshot: snapshot([]), rules: etcdRules() }), 'empty-cluster'],
    [
      () =>
        buildPlan({
          spec: spec('3.5.9', {}, { batch: { kind: 'percent', percent: 0 } }),
          snapshot: snapshot(etcd3()),
          rules: etcdRules(),
        }),
      'bad-batch-policy',
    ],
    [
      () =>
        buildPlan({
          spec: spec('3.5.9', {}, { maxUnavailable: 0 }),
          snapshot: snapshot(etcd3()),
          rules: etcdRules(),
        }),
      'bad-budget',
    ],
    [
      () => buildPlan({ spec: spec('3.4.22'), snapshot: snapshot(etcd3()), rules: etcdRules() }),
      'downgrade-refused',
    ],
    [
      () =>
        buildPlan({
          spec: spec('3.3.0'),
          snapshot: snapshot(etcd3()),
          rules: etcdRules(),
          allowDowngrade: true,
        }),
      'downgrade-refused',
    ],
    [
      () => buildPlan({ spec: spec('3.9.0'), snapshot: snapshot(etcd3()), rules: etcdRules() }),
      'no-version-path',
    ],
  ];
  for (const [run, code] of cases) {
    assert.throws(run, (err: unknown) => err instanceof BadInputError && err.code === code, code);
  }
  const members = etcd3();
  members[2] = member('etcd-2', '3.5.9');
  assert.throws(
    () => buildPlan({ spec: spec('3.5.0'), snapshot: snapshot(members), rules: etcdRules() }),
    (err: unknown) => err instanceof BadInputError && err.code === 'downgrade-refused',
    'one member above the target is a downgrade',
  );
});

test('buildPlan: an allowed downgrade plans a pass from the highest version', () => {
  const members = etcd3().map((m) => ({ ...m, version: '3.4.23' }));
  const plan = buildPlan({
    spec: spec('3.4.20'),
    snapshot: snapshot(members),
    rules: etcdRules(),
    allowDowngrade: true,
  });
  assert.deepEqual(plan.path, [{ from: '3.4.23', to: '3.4.20', notes: [], finalize: false }]);
  assert.equal(plan.components[0]?.members.length, 3);
});

const tidbCluster = () => [
  member('tidb-0', 'v8.1.0', { role: 'none' }),
  member('tikv-0', 'v8.1.0', { role: 'none', leaderCount: 30 }),
  member('tikv-1', 'v8.1.0', { role: 'none', leaderCount: 3 }),
  member('pd-0', 'v8.1.0', { role: 'leader' }),
  member('pd-1', 'v8.1.0'),
  member('monitor-0', 'v8.1.0', { role: 'none' }),
];

test('resolveComponents: engine order, prerequisites, defaults for unknown components', () => {
  const resolved = resolveComponents(spec('v8.5.0'), snapshot(tidbCluster()), tidbRules());
  assert.deepEqual(
    resolved.map((c) => [c.name, c.stage, c.prerequisites, c.version, c.rule.topology, c.rule.quorum]),
    [
      ['pd', 'cluster', [], 'v8.5.0', 'raft', true],
      ['tikv', 'cluster', ['pd'], 'v8.5.0', 'multi-raft', false],
      ['tidb', 'cluster', ['tikv'], 'v8.5.0', 'stateless', false],
      ['monitor', 'cluster', [], 'v8.5.0', 'stateless', false],
    ],
  );
  const single = resolveComponents(
    spec('3.5.9'),
    snapshot([member('etcd-0', '3.4.23'), member('etcdx-0', '3.4.23')]),
    etcdRules(),
  );
  assert.deepEqual(
    single.map((c) => [c.name, c.rule.topology]),
    [
      ['etcd', 'raft'],
      ['etcdx', 'raft'],
    ],
  );
});

test("resolveComponents: components the rules do not name follow the platform's componentRank, then name", () => {
  const m = (name: string, componentRank?: number) =>
    member(name, '1.0.0', {}, componentRank === undefined ? {} : { componentRank });
  const order = (members: MemberView[]) =>
    resolveComponents(spec('1.1.0'), snapshot(members), etcdRules({ components: [] })).map((c) => c.name);
  // A TidbCluster resolved as pd, tikv, tidb keeps that order under an engine without component rules.
  assert.deepEqual(order([m('tidb-0', 2), m('pd-0', 0), m('tikv-0', 1), m('tikv-1', 1)]), [
    'pd',
    'tikv',
    'tidb',
  ]);
  // Unranked components come after ranked ones, by name; with no ranks at all, by name.
  assert.deepEqual(order([m('zeta-0'), m('beta-0', 1), m('alpha-0')]), ['beta', 'alpha', 'zeta']);
  assert.deepEqual(order([m('tidb-0'), m('pd-0'), m('tikv-0')]), ['pd', 'tidb', 'tikv']);
});

test('resolveComponents: spec overrides, stages in rule order, prerequisites before dependents', () => {
  const rules = tidbRules({
    components: [
      rule('operator', 'stateless', { stage: 'operator' }),
      rule('pd', 'raft'),
      rule('tikv', 'multi-raft', { prerequisites: ['pd'] }),
      rule('tidb', 'stateless', { prerequisites: ['tikv'] }),
    ],
  });
  const members = [...tidbCluster(), member('operator-0', 'v8.1.0', null)];
  const resolved = resolveComponents(
    spec('v8.5.0', {
      components: [
        { name: 'monitor', stage: 'addons' },
        { name: 'pd', prerequisites: ['tidb'] },
        { name: 'tidb', prerequisites: [], version: 'v8.5.1' },
      ],
    }),
    snapshot(members),
    rules,
  );
  assert.deepEqual(
    resolved.map((c) => [c.name, c.stage, c.version]),
    [
      ['operator', 'operator', 'v8.5.0'],
      ['tidb', 'cluster', 'v8.5.1'],
      ['pd', 'cluster', 'v8.5.0'],
      ['tikv', 'cluster', 'v8.5.0'],
      ['monitor', 'addons', 'v8.5.0'],
    ],
  );
  const plan = buildPlan({
    spec: spec('v8.5.0', { components: [{ name: 'monitor', stage: 'addons' }] }),
    snapshot: snapshot(members),
    rules,
  });
  assert.deepEqual(plan.stages, [
    { name: 'operator', components: ['operator'] },
    { name: 'cluster', components: ['pd', 'tikv', 'tidb'] },
    { name: 'addons', components: ['monitor'] },
  ]);
  assert.deepEqual(
    plan.components.map((c) => c.name),
    ['operator', 'pd', 'tikv', 'tidb', 'monitor'],
  );
});

test('resolveComponents: refusals', () => {
  const cases: [Partial<UpgradeSpec>, string, string][] = [
    [{ components: [{ name: 'tiflash' }] }, 'unknown-component', 'component "tiflash"'],
    [{ components: [{ name: 'tidb', prerequisites: ['pdd'] }] }, 'unknown-component', 'prerequisite "pdd"'],
    [{ components: [{ name: 'pd' }, { name: 'pd' }] }, 'duplicate-component', 'listed twice'],
    [
      { components: [{ name: 'pd', prerequisites: ['tidb'] }] },
      'prerequisite-cycle',
      'pd -> tidb -> tikv -> pd',
    ],
    [{ components: [{ name: 'pd', prerequisites: ['pd'] }] }, 'prerequisite-cycle', 'pd -> pd'],
    [{ components: [{ name: 'pd', stage: 'databases' }] }, 'prerequisite-stage', 'later stage databases'],
  ];
  for (const [extra, code, text] of cases) {
    assert.throws(
      () => resolveComponents(spec('v8.5.0', extra), snapshot(tidbCluster()), tidbRules()),
      (err: unknown) => err instanceof BadInputError && err.code === code && err.message.includes(text),
      code,
    );
  }
});

test('buildPlan: TiDB-like cluster in prerequisite order with multi-raft leadership moves', () => {
  const plan = buildPlan({ spec: spec('v8.5.0'), snapshot: snapshot(tidbCluster()), rules: tidbRules() });
  assert.deepEqual(
    plan.components.map((c) => [c.name, c.prerequisites, c.members.map((m) => m.name)]),
    [
      ['pd', [], ['pd-1', 'pd-0']],
      ['tikv', ['pd'], ['tikv-1', 'tikv-0']],
      ['tidb', ['tikv'], ['tidb-0']],
      ['monitor', [], ['monitor-0']],
    ],
  );
  assert.deepEqual(plan.leadershipMoves, [
    'pd-0 (leader) -> most caught-up healthy member when its turn comes (now: pd-1, lag 0)',
    'tikv-1 (3 leaderships) -> moved to other members before it stops',
    'tikv-0 (30 leaderships) -> moved to other members before it stops',
  ]);
  // 6 members * 2000 + 3 leaders * 1000 + 1 pass * 1 hook * 100
  assert.equal(plan.estimatedMs, 6 * 2_000 + 3 * 1_000 + 100);
  const mixed = buildPlan({
    spec: spec('v8.5.0', { components: [{ name: 'tidb', version: 'v8.5.1' }] }),
    snapshot: snapshot(tidbCluster()),
    rules: tidbRules({ uniformVersion: 'TiDB requires every component on the same version' }),
  });
  assert.equal(mixed.components.find((c) => c.name === 'tidb')?.version, 'v8.5.1');
  assert.ok(
    mixed.warnings.some(
      (w) => w.includes('tidb v8.5.1') && w.includes('TiDB requires every component on the same version'),
    ),
  );
});

test('buildPlan: Plan.path is the widest component path', () => {
  const rules = etcdRules({ components: [rule('etcd', 'raft'), rule('proxy', 'stateless')] });
  const members = [...etcd3(), member('proxy-0', '3.5.9', { role: 'none' })];
  const plan = buildPlan({ spec: spec('3.6.0'), snapshot: snapshot(members), rules });
  assert.equal(plan.path.length, 2);
  assert.equal(plan.components[1]?.path?.length, 1);
  assert.equal(plan.from, '3.4.23');
  assert.ok(compareVersions(plan.to, '3.6.0') === 0);
});
