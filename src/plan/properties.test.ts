import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isLeaderRole } from '../core/types.js';
import type { BatchPolicy, MemberView, Role } from '../core/types.js';
import type { Topology } from '../core/rules.js';
import { batchSize, splitBatches } from './batches.js';
import { leadershipsHeld, orderMembers, pickLeadershipTarget, unreadyReason } from './order.js';
import { budgetVerdict, quorumVerdict } from './safety.js';

const RUNS = { numRuns: 1000 };

const policyArb: fc.Arbitrary<BatchPolicy> = fc.oneof(
  fc.constant<BatchPolicy>({ kind: 'serial' }),
  fc.integer({ min: 1, max: 50 }).map((size): BatchPolicy => ({ kind: 'fixed', size })),
  fc.integer({ min: 1, max: 100 }).map((percent): BatchPolicy => ({ kind: 'percent', percent })),
  fc
    .double({ min: 0.5, max: 100, noNaN: true })
    .map((capPercent): BatchPolicy => ({ kind: 'exponential', capPercent })),
);

test('property: splitBatches covers every member exactly once, in order, each batch within its policy', () => {
  fc.assert(
    fc.property(
      policyArb,
      fc.integer({ min: 0, max: 300 }),
      fc.record({ afterFirst: fc.boolean(), afterEach: fc.boolean() }),
      (policy, count, pauses) => {
        const names = Array.from({ length: count }, (_, i) => `m-${i}`);
        const batches = splitBatches(policy, names, pauses);
        assert.deepEqual(batches.flat(), names);
        for (const batch of batches) assert.ok(batch.length >= 1);
        const largest = Math.max(0, ...batches.map((b) => b.length));
        if (policy.kind === 'serial') assert.ok(largest <= 1);
        if (policy.kind === 'fixed') assert.ok(largest <= policy.size);
        if (policy.kind === 'percent')
          assert.ok(largest <= Math.max(1, Math.floor((count * policy.percent) / 100)));
        if (policy.kind === 'exponential') {
          const cap = Math.max(1, Math.floor((count * policy.capPercent) / 100));
          assert.ok(largest <= cap, `batch of ${largest} above cap ${cap}`);
          if (batches.length > 0) assert.equal(batches[0]?.length, 1, 'the first batch is 1');
          for (let i = 1; i < batches.length - 1; i++) {
            const prev = (batches[i - 1] as string[]).length;
            const size = (batches[i] as string[]).length;
            const restarted = pauses.afterEach || (pauses.afterFirst && i === 1);
            assert.equal(size, restarted ? 1 : Math.min(cap, prev * 2));
          }
        }
      },
    ),
    RUNS,
  );
});

test('property: batchSize stays between 1 and the member count', () => {
  fc.assert(
    fc.property(
      policyArb,
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: 0, max: 1_000 }),
      (policy, count, since) => {
        const size = batchSize(policy, count, since);
        assert.ok(Number.isInteger(size) && size >= 1 && size <= count, `${size} for ${count}`);
      },
    ),
    RUNS,
  );
});

const roleArb = fc.constantFrom<Role>('leader', 'follower', 'primary', 'replica', 'learner', 'none');

/** Members of one component with unique names and ordinals, random roles, health and lag. */
const membersArb: fc.Arbitrary<MemberView[]> = fc
  .array(
    fc.record({
      ready: fc.boolean(),
      running: fc.boolean(),
      hasEngine: fc.boolean(),
      role: roleArb,
      healthy: fc.boolean(),
      caughtUp: fc.boolean(),
      lag: fc.nat({ max: 1000 }),
      leaderCount: fc.option(fc.nat({ max: 50 }), { nil: undefined }),
    }),
    { minLength: 0, maxLength: 12 },
  )
  .map((specs) =>
    specs.map((s, i): MemberView => ({
      name: `db-${i}`,
      component: 'db',
      ordinal: i,
      version: '1.0.0',
      ready: s.ready && s.running,
      running: s.running,
      ...(s.hasEngine
        ? {
            engine: {
              role: s.role,
              healthy: s.healthy,
              caughtUp: s.caughtUp,
              lag: s.lag,
              ...(s.leaderCount !== undefined ? { leaderCount: s.leaderCount } : {}),
            },
          }
        : {}),
    })),
  );

const topologyArb = fc.constantFrom<Topology>('raft', 'replication', 'multi-raft', 'sharded', 'stateless');

test('property: orderMembers puts unready first, the leader last, and ignores input order', () => {
  fc.assert(
    fc.property(membersArb, topologyArb, fc.nat(), (members, topology, seed) => {
      const ordered = orderMembers(members, topology).map((o) => o.member);
      assert.deepEqual([...ordered.map((m) => m.name)].sort(), members.map((m) => m.name).sort());
      const firstReady = ordered.findIndex((m) => unreadyReason(m) === undefined);
      if (firstReady >= 0) {
        assert.ok(
          ordered.slice(firstReady).every((m) => unreadyReason(m) === undefined),
          'every unready member comes before every ready one',
        );
        const ready = ordered.slice(firstReady);
        if (topology === 'multi-raft' || topology === 'sharded') {
          for (let i = 1; i < ready.length; i++) {
            assert.ok(leadershipsHeld(ready[i - 1] as MemberView) <= leadershipsHeld(ready[i] as MemberView));
          }
        } else {
          const firstLeader = ready.findIndex((m) => isLeaderRole(m.engine?.role));
          if (firstLeader >= 0) {
            assert.ok(
              ready.slice(firstLeader).every((m) => isLeaderRole(m.engine?.role)),
              'leaders last',
            );
          }
        }
      }
      const shuffled = [...members].sort(
        (a, b) => ((a.ordinal * 7919 + seed) % 13) - ((b.ordinal * 7919 + seed) % 13),
      );
      assert.deepEqual(
        orderMembers(shuffled, topology).map((o) => o.member.name),
        ordered.map((m) => m.name),
      );
    }),
    RUNS,
  );
});

test('property: budgetVerdict never takes a member down beyond the budget', () => {
  fc.assert(
    fc.property(
      membersArb,
      fc.array(fc.nat({ max: 14 }), { maxLength: 6 }),
      fc.integer({ min: 0, max: 5 }),
      (members, picks, budget) => {
        const candidates = picks.map((i) => `db-${i}`);
        const verdict = budgetVerdict(members, candidates, budget);
        const down = new Set(members.filter((m) => !m.ready || !m.running).map((m) => m.name));
        const unavailable = new Set([...down, ...candidates]);
        // Within budget, or replacing only members already down (that takes nothing more down).
        const onlyDown = candidates.length > 0 && candidates.every((c) => down.has(c));
        assert.equal(verdict.allow, unavailable.size <= budget || onlyDown, verdict.reason);
      },
    ),
    RUNS,
  );
});

test('property: quorumVerdict allows only when no healthy majority is lost', () => {
  fc.assert(
    fc.property(membersArb, fc.array(fc.nat({ max: 12 }), { maxLength: 6 }), (members, picks) => {
      const stopping = picks.map((i) => `db-${i}`);
      const verdict = quorumVerdict(members, stopping, {
        name: 'db',
        topology: 'raft',
        stage: 'cluster',
        prerequisites: [],
        quorum: true,
      });
      const isUp = (m: (typeof members)[number]) => m.running && m.ready && m.engine?.healthy === true;
      const up = members.filter((m) => !stopping.includes(m.name) && isUp(m)).length;
      const stop = new Set(stopping);
      // A majority stays up; or nothing healthy is taken away; or the only member restarts.
      const harmless = stop.size > 0 && members.every((m) => !stop.has(m.name) || !isUp(m));
      const single = members.length === 1 && stop.size === 1;
      assert.equal(verdict.allow, 2 * up > members.length || harmless || single, verdict.reason);
    }),
    RUNS,
  );
});

test('property: a picked leadership target is always an eligible member', () => {
  fc.assert(
    fc.property(
      membersArb,
      fc.nat({ max: 11 }),
      fc.array(fc.nat({ max: 11 }), { maxLength: 4 }),
      (members, at, ex) => {
        const member = members[at % Math.max(1, members.length)];
        if (!member) return;
        const exclude = ex.map((i) => `db-${i}`);
        const pick = pickLeadershipTarget(member, members, { exclude });
        if (pick.target) {
          const t = pick.target;
          assert.notEqual(t.name, member.name);
          assert.ok(!exclude.includes(t.name));
          assert.ok(
            t.ready && t.running && t.engine?.healthy && t.engine.caughtUp && t.engine.role !== 'learner',
          );
          const better = members.filter(
            (m) =>
              m.name !== member.name &&
              !exclude.includes(m.name) &&
              m.ready &&
              m.running &&
              m.engine?.healthy &&
              m.engine.caughtUp &&
              m.engine.role !== 'learner' &&
              m.engine.lag < (t.engine?.lag ?? 0),
          );
          assert.deepEqual(better, [], 'no eligible member lags less');
        } else {
          assert.ok(pick.reason.length > 0);
        }
      },
    ),
    RUNS,
  );
});
