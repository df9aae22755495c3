/**
 * The batch chooser is linear in the members it tries (the safety checks kept as counts,
 * plan/safety.ts tallies) and must choose exactly what the quadratic one it replaced chose: the
 * same batch and the same denial, word for word. The reference below is that earlier code (each
 * check re-scanning the component for every member tried), kept here only to compare with.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ComponentRule, Topology } from '../../src/core/rules.js';
import type { BatchPolicy, MemberView } from '../../src/core/types.js';
import {
  batchGate,
  batchSize,
  chooseBatch,
  planBatches,
  validateBatchPolicy,
} from '../../src/plan/batches.js';
import {
  budgetTally,
  budgetVerdict,
  hostedQuorumTally,
  hostedQuorumVerdict,
  inSyncCopyTally,
  inSyncCopyVerdict,
  quorumTally,
  quorumVerdict,
  type Verdict,
} from '../../src/plan/safety.js';

const SEED = Number(process.env.BATON_PROPERTY_SEED ?? 20260101);
const RUNS = Number(process.env.BATON_PROPERTY_RUNS ?? 500);

// ---- Reference: the checks and the chooser as they were (one scan per member tried). ----

interface Denial {
  check: string;
  reason: string;
}

const list = (names: Iterable<string>) => {
  const all = [...names];
  return all.length === 0 ? 'none' : all.join(', ');
};

function refBudget(members: MemberView[], candidates: string[], max: number): Verdict {
  const check = 'unavailability-budget';
  const down = new Set(members.filter((m) => !m.running || !m.ready).map((m) => m.name));
  const added = [...new Set(candidates)].filter((name) => !down.has(name));
  const total = down.size + added.length;
  const of = `${total} of ${members.length} ${members[0]?.component ?? 'component'} members unavailable`;
  const detail = `(down: ${list(down)}; stopping: ${list(added)})`;
  if (total <= max) return { allow: true, check, reason: `${of} ${detail}, within budget ${max}` };
  if (candidates.length > 0 && added.length === 0) {
    return { allow: true, check, reason: `${of} ${detail}: only members already down are replaced` };
  }
  return { allow: false, check, reason: `${of} ${detail} would exceed maxUnavailable ${max}` };
}

function refQuorum(members: MemberView[], stopping: string[], rule: ComponentRule): Verdict {
  const check = 'quorum';
  if (!rule.quorum) return { allow: true, check, reason: `${rule.name} has no quorum to keep` };
  const stop = new Set(stopping);
  const isUp = (m: MemberView) => m.running && m.ready && m.engine?.healthy === true;
  if (members.length === 1 && stop.size === 1) {
    return {
      allow: true,
      check,
      reason: `${rule.name} has a single member: it is unavailable while it restarts`,
    };
  }
  if (stop.size > 0 && members.every((m) => !stop.has(m.name) || !isUp(m))) {
    return {
      allow: true,
      check,
      reason: `stopping ${list(stop)} takes no healthy ${rule.name} member away (already down)`,
    };
  }
  const up = members.filter((m) => !stop.has(m.name) && isUp(m));
  const needed = Math.floor(members.length / 2) + 1;
  const what = `stopping ${list(stop)} leaves ${up.length} of ${members.length} ${rule.name} members ready and healthy`;
  if (up.length >= needed) return { allow: true, check, reason: `${what} (majority ${needed})` };
  return { allow: false, check, reason: `${what}; quorum needs ${needed}` };
}

function refInSync(members: MemberView[], stopping: string[], rule: ComponentRule): Verdict {
  const check = 'last-in-sync-copy';
  if (!['replication', 'sharded', 'multi-raft'].includes(rule.topology) || members.length <= 1) {
    return {
      allow: true,
      check,
      reason: `not applicable to ${rule.name} (${rule.topology}, ${members.length} members)`,
    };
  }
  const stop = new Set(stopping);
  const inSync = members.filter(
    (m) => !stop.has(m.name) && m.running && m.ready && m.engine?.healthy === true && m.engine.caughtUp,
  );
  if (inSync.length > 0) {
    return { allow: true, check, reason: `in-sync copies remain on ${list(inSync.map((m) => m.name))}` };
  }
  return {
    allow: false,
    check,
    reason: `stopping ${list(stop)} would leave no healthy caught-up ${rule.name} member outside it`,
  };
}

function refHosted(members: MemberView[], stopping: string[]): Verdict {
  const check = 'hosted-quorum';
  const stop = new Set(stopping);
  const groups = new Map<string, { tolerates: number; down: number; taken: string[] }>();
  for (const m of members) {
    for (const h of m.engine?.hosts ?? []) {
      const g = groups.get(h.group) ?? { tolerates: h.tolerates, down: 0, taken: [] };
      g.tolerates = Math.min(g.tolerates, h.tolerates);
      g.down = Math.max(g.down, h.groupDown);
      if (stop.has(m.name) && h.healthy) g.taken.push(`${h.member} on ${m.name}`);
      groups.set(h.group, g);
    }
  }
  const touched = [...groups].filter(([, g]) => g.taken.length > 0);
  if (touched.length === 0)
    return { allow: true, check, reason: `${list(stop)} host no healthy database member` };
  if (stop.size === 1) {
    return {
      allow: true,
      check,
      reason: `${list(stop)} alone: its database members (${touched.flatMap(([, g]) => g.taken).join(', ')}) are drained one at a time`,
    };
  }
  for (const [group, g] of touched) {
    if (g.down + g.taken.length > g.tolerates) {
      return {
        allow: false,
        check,
        reason: `stopping ${list(stop)} would take ${g.taken.join(', ')} of database ${group} down with ${g.down} already down; it tolerates ${g.tolerates}`,
      };
    }
  }
  return {
    allow: true,
    check,
    reason: touched
      .map(([group, g]) => `${group}: ${g.down + g.taken.length} down of ${g.tolerates} tolerated`)
      .join('; '),
  };
}

function refChoose(
  ordered: readonly string[],
  size: number,
  deny: (trial: string[]) => Denial | undefined,
  skip: boolean,
  from = 0,
): { batch: string[]; denial?: Denial } {
  const batch: string[] = [];
  let denial: Denial | undefined;
  for (let i = from; i < ordered.length; i++) {
    if (batch.length >= size) break;
    batch.push(ordered[i]!);
    const bad = deny(batch);
    if (!bad) continue;
    batch.pop();
    denial ??= bad;
    if (!skip) break;
  }
  return { batch, ...(denial ? { denial } : {}) };
}

function refPlan(
  policy: BatchPolicy,
  names: string[],
  deny: (trial: string[]) => Denial | undefined,
  skip: boolean,
): string[][] {
  validateBatchPolicy(policy);
  const batches: string[][] = [];
  let left = [...names];
  let sincePause = 0;
  while (left.length > 0) {
    let { batch } = refChoose(left, batchSize(policy, names.length, sincePause), deny, skip);
    if (batch.length === 0) batch = [left[0]!];
    batches.push(batch);
    const taken = new Set(batch);
    left = left.filter((n) => !taken.has(n));
    sincePause += 1;
  }
  return batches;
}

// ---- Random components ----

const TOPOLOGIES: Topology[] = ['raft', 'replication', 'multi-raft', 'sharded', 'stateless'];

const memberArb = fc.record({
  running: fc.boolean(),
  ready: fc.oneof(fc.constant(true), fc.boolean()),
  engine: fc.option(
    fc.record({
      healthy: fc.oneof(fc.constant(true), fc.boolean()),
      caughtUp: fc.oneof(fc.constant(true), fc.boolean()),
      hosts: fc.array(
        fc.record({
          group: fc.constantFrom('db/a', 'db/b', 'db/c'),
          tolerates: fc.integer({ min: 0, max: 2 }),
          groupDown: fc.integer({ min: 0, max: 2 }),
          healthy: fc.oneof(fc.constant(true), fc.boolean()),
        }),
        { maxLength: 2 },
      ),
    }),
    { freq: 6 },
  ),
});

const caseArb = fc
  .record({
    members: fc.array(memberArb, { minLength: 1, maxLength: 24 }),
    topology: fc.constantFrom(...TOPOLOGIES),
    quorum: fc.boolean(),
    budget: fc.integer({ min: 1, max: 8 }),
    size: fc.integer({ min: 1, max: 12 }),
    skip: fc.boolean(),
    seed: fc.integer(),
    extra: fc.array(fc.constantFrom('ghost-1', 'ghost-2'), { maxLength: 2 }),
  })
  .map((c) => {
    const members: MemberView[] = c.members.map((m, i) => ({
      name: `m-${i}`,
      component: 'db',
      ordinal: i,
      version: '1.0.0',
      ready: m.ready,
      running: m.running,
      ...(m.engine
        ? {
            engine: {
              role: 'follower' as const,
              healthy: m.engine.healthy,
              caughtUp: m.engine.caughtUp,
              lag: 0,
              hosts: m.engine.hosts.map((h, j) => ({ ...h, member: `pod-${i}-${j}` })),
            },
          }
        : {}),
    }));
    // A shuffled order of the members (and names of no member, as callers may pass them).
    const names = [...members.map((m) => m.name), ...new Set(c.extra)];
    let s = c.seed >>> 0;
    for (let i = names.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) >>> 0;
      const j = s % (i + 1);
      [names[i], names[j]] = [names[j]!, names[i]!];
    }
    const rule: ComponentRule = {
      name: 'db',
      topology: c.topology,
      stage: 'cluster',
      prerequisites: [],
      quorum: c.quorum,
    };
    return { ...c, members, names, rule };
  });

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

const refDeny = (c: Case) => (trial: string[]) => {
  const v = [
    refBudget(c.members, trial, c.budget),
    refQuorum(c.members, trial, c.rule),
    refInSync(c.members, trial, c.rule),
    refHosted(c.members, trial),
  ].find((x) => !x.allow);
  return v ? { check: v.check, reason: v.reason } : undefined;
};

const gateOf = (c: Case) =>
  batchGate([
    budgetTally(c.members, c.budget),
    quorumTally(c.members, c.rule),
    inSyncCopyTally(c.members, c.rule),
    hostedQuorumTally(c.members),
  ]);

describe('batch choice: linear, and the same choices as the quadratic chooser', () => {
  it('each check gives the verdict it gave before, word for word, for any list of members', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 0, max: 30 }), (c, k) => {
        const stopping = c.names.slice(0, k % (c.names.length + 1));
        assert.deepEqual(
          budgetVerdict(c.members, stopping, c.budget),
          refBudget(c.members, stopping, c.budget),
        );
        assert.deepEqual(quorumVerdict(c.members, stopping, c.rule), refQuorum(c.members, stopping, c.rule));
        assert.deepEqual(
          inSyncCopyVerdict(c.members, stopping, c.rule),
          refInSync(c.members, stopping, c.rule),
        );
        assert.deepEqual(hostedQuorumVerdict(c.members, stopping), refHosted(c.members, stopping));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('chooseBatch picks the same batch and reports the same denial', () => {
    fc.assert(
      fc.property(caseArb, fc.nat(5), (c, from) => {
        const start = Math.min(from, c.names.length);
        const got = chooseBatch(c.names, c.size, gateOf(c), c.skip, start);
        assert.deepEqual(got, refChoose(c.names, c.size, refDeny(c), c.skip, start));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('planBatches cuts the same batches', () => {
    const policies: BatchPolicy[] = [
      { kind: 'serial' },
      { kind: 'fixed', size: 3 },
      { kind: 'percent', percent: 30 },
      { kind: 'exponential', capPercent: 50 },
    ];
    fc.assert(
      fc.property(caseArb, fc.constantFrom(...policies), (c, policy) => {
        const hosted = (trial: string[]) => {
          const v = refHosted(c.members, trial);
          return v.allow ? undefined : { check: v.check, reason: v.reason };
        };
        const gate = batchGate([hostedQuorumTally(c.members)]);
        assert.deepEqual(
          planBatches(policy, c.names, {}, gate, c.skip),
          refPlan(policy, c.names, hosted, c.skip),
        );
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('a tally counts a member out again exactly as it counted it in', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const tallies = [
          budgetTally(c.members, c.budget),
          quorumTally(c.members, c.rule),
          inSyncCopyTally(c.members, c.rule),
          hostedQuorumTally(c.members),
        ];
        const half = c.names.slice(0, Math.ceil(c.names.length / 2));
        for (const t of tallies) for (const n of half) t.add(n);
        const before = tallies.map((t) => t.verdict());
        for (const n of c.names.slice(half.length)) for (const t of tallies) t.add(n);
        for (const n of c.names.slice(half.length)) for (const t of tallies) t.remove(n);
        assert.deepEqual(
          tallies.map((t) => t.verdict()),
          before,
        );
        for (const t of tallies) assert.equal(t.allows(), t.verdict().allow);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
