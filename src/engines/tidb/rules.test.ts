import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TIDB_NO_DOWNGRADE, TIDB_RELEASES, tidbRules } from './rules.js';
import { TIDB_RELEASE_CATALOG } from './releases.js';
import { compareVersions, parseVersion } from '../../core/version.js';
import { findVersionPath } from '../../plan/path.js';
import { buildPlan } from '../../plan/plan.js';
import { BadInputError } from '../../core/errors.js';
import type { MemberView, UpgradeSpec } from '../../core/types.js';
import { makeSpec } from '../../runner/start.js';

const v = parseVersion;
const { versions } = tidbRules;

describe('tidb rules', () => {
  const directCases: [string, string, boolean, RegExp?][] = [
    ['v6.4.0', 'v6.5.2', true],
    ['v6.5.2', 'v8.1.0', true],
    ['v7.5.0', 'v7.5.1', true],
    ['v8.1.0', 'v8.1.0', true],
    ['v6.5.2', 'v6.5.1', false, /including patch versions/],
    ['v8.1.0', 'v7.5.0', false, /do not support downgrade or rollback/],
    ['v3.0.20', 'v6.5.0', false, /older than v4\.0: upgrade it to v4\.0 first/],
    ['v3.0.20', 'v4.0.16', true],
  ];
  for (const [from, to, ok, reason] of directCases) {
    it(`direct ${from} -> ${to} is ${ok ? 'allowed' : 'refused'}`, () => {
      const verdict = versions.direct(v(from), v(to));
      assert.equal(verdict.ok, ok);
      if (!verdict.ok && reason) assert.match(verdict.reason, reason);
    });
  }

  it('refuses every downgrade, quoting the TiDB rule', () => {
    for (const [from, to] of [
      ['v6.5.2', 'v6.5.1'],
      ['v8.1.0', 'v7.5.0'],
    ] as const) {
      const verdict = versions.allowDowngrade(v(from), v(to));
      assert.equal(verdict.ok, false);
      if (!verdict.ok) assert.ok(verdict.reason.includes(TIDB_NO_DOWNGRADE));
    }
  });

  it('asks to read the compatibility changes of every intermediate release (v6.4.0 -> v6.5.2)', () => {
    const between = TIDB_RELEASES.filter(
      (r) => compareVersions(r, 'v6.4.0') > 0 && compareVersions(r, 'v6.5.2') <= 0,
    );
    assert.deepEqual(between, ['v6.5.0', 'v6.5.1', 'v6.5.2']);
    const notes = between.flatMap((r) => versions.notes?.(v(r)) ?? []);
    assert.equal(notes.length, 4);
    assert.match(
      notes[0]!,
      /^v6\.5\.0 \(2022-12-29\) compatibility changes: .*metadata lock.*: https:\/\/docs\.pingcap\.com\/tidb\/stable\/release-6\.5\.0#compatibility-changes$/,
    );
    // The seed links v6.5.0's section as `#deprecated-feature` (the page's heading is singular).
    assert.match(
      notes[1]!,
      /^v6\.5\.0 deprecated features: the AMEND TRANSACTION mechanism .*release-6\.5\.0#deprecated-feature$/,
    );
    assert.match(
      notes[2]!,
      /^v6\.5\.1 \(2023-03-10\) compatibility changes: telemetry off by default.*release-6\.5\.1#compatibility-changes$/,
    );
    assert.match(
      notes[3]!,
      /^v6\.5\.2 \(2023-04-21\) compatibility changes: TiCDC encodes FLOAT.*release-6\.5\.2#compatibility-changes$/,
    );
  });

  it('knows v8.1.x and v8.5.x: dates, summaries, a release with none, and one not summarized yet', () => {
    const between = TIDB_RELEASES.filter(
      (r) => compareVersions(r, 'v8.1.0') > 0 && compareVersions(r, 'v8.5.3') <= 0,
    );
    assert.deepEqual(between, [
      'v8.1.1',
      'v8.1.2',
      'v8.2.0',
      'v8.3.0',
      'v8.4.0',
      'v8.5.0',
      'v8.5.1',
      'v8.5.2',
      'v8.5.3',
    ]);
    const notes = between.flatMap((r) => versions.notes?.(v(r)) ?? []);
    const of = (tag: string) => notes.filter((n) => n.startsWith(`${tag} `));
    assert.match(
      of('v8.1.1')[0]!,
      /^v8\.1\.1 \(2024-08-27\) compatibility changes: .*tidb_enable_parallel_hashagg_spill defaults to OFF/,
    );
    assert.match(of('v8.5.1')[0]!, /^v8\.5\.1 \(2025-01-17\) compatibility changes: CentOS Linux 7/);
    assert.match(
      of('v8.5.2')[0]!,
      /^v8\.5\.2 \(2025-06-12\) compatibility changes: none: improvements and bug fixes only:/,
    );
    assert.match(
      of('v8.5.0')[0]!,
      /^v8\.5\.0 \(2024-12-19\) compatibility changes: non-strict mode .*release-8\.5\.0#compatibility-changes$/,
    );
    assert.match(
      of('v8.5.0')[1]!,
      /^v8\.5\.0 deprecated features: tidb_enable_auto_analyze_priority_queue.*#deprecated-features$/,
    );
    assert.match(
      of('v8.2.0')[0]!,
      /^v8\.2\.0 \(2024-07-11, DMR\) compatibility changes: TiDB Lightning strict-format/,
    );
  });

  it('summarizes every release, and the deprecations of every x.y.0, with the link to its notes', () => {
    for (const r of TIDB_RELEASE_CATALOG) {
      const lines = versions.notes?.(v(r.version)) ?? [];
      for (const line of lines) assert.doesNotMatch(line, /not summarized/, line);
      assert.equal(lines.length, r.version.endsWith('.0') ? 2 : 1, r.version);
    }
    // v5.4.0's notes have no deprecated-features section: its line says so and summarizes what its
    // compatibility changes remove, linking them.
    assert.match(
      versions.notes?.(v('v5.4.0'))[1] ?? '',
      /^v5\.4\.0 deprecated features: no deprecated-features section; its compatibility changes: cdclog and cdclog-based PITR removed;.*: https:\/\/docs\.pingcap\.com\/tidb\/stable\/release-5\.4\.0#compatibility-changes$/,
    );
    // v7.4.0's notes have no deprecated-features section: said so, linking its compatibility changes.
    assert.equal(
      versions.notes?.(v('v7.4.0'))[1],
      'v7.4.0 deprecated features: none: its notes have no deprecated-features section: https://docs.pingcap.com/tidb/stable/release-7.4.0#compatibility-changes',
    );
    // v6.0.0's page is release-6.0.0-dmr.
    assert.deepEqual(
      versions.notes?.(v('v6.0.0')).map((n) => n.replace(/: .*: /, ': ... : ')),
      [
        'v6.0.0 (2022-04-07, DMR) compatibility changes: ... : https://docs.pingcap.com/tidb/stable/release-6.0.0-dmr#compatibility-changes',
        'v6.0.0 deprecated features: ... : https://docs.pingcap.com/tidb/stable/release-6.0.0-dmr#compatibility-changes',
      ],
    );
  });

  it('lists every v5.0.x .. v5.4.x patch release of PingCAP release timeline, with its date', () => {
    const v5 = TIDB_RELEASE_CATALOG.filter((r) => r.version.startsWith('v5.')).map(
      (r) => `${r.version} ${r.date}`,
    );
    assert.deepEqual(v5, [
      'v5.0.0 2021-04-07',
      'v5.0.1 2021-04-24',
      'v5.0.2 2021-06-10',
      'v5.0.3 2021-07-02',
      'v5.0.4 2021-09-27',
      'v5.0.5 2021-12-03',
      'v5.0.6 2021-12-31',
      'v5.1.0 2021-06-24',
      'v5.1.1 2021-07-30',
      'v5.1.2 2021-09-27',
      'v5.1.3 2021-12-03',
      'v5.1.4 2022-02-22',
      'v5.1.5 2022-12-28',
      'v5.2.0 2021-08-27',
      'v5.2.1 2021-09-09',
      'v5.2.2 2021-10-29',
      'v5.2.3 2021-12-03',
      'v5.2.4 2022-04-26',
      'v5.3.0 2021-11-30',
      'v5.3.1 2022-03-03',
      'v5.3.2 2022-06-29',
      'v5.3.3 2022-09-14',
      'v5.3.4 2022-11-24',
      'v5.4.0 2022-02-15',
      'v5.4.1 2022-05-13',
      'v5.4.2 2022-07-08',
      'v5.4.3 2022-10-13',
    ]);
    // v5.0.0 -> v5.4.3 passes every one of them after v5.0.0, each with its line.
    const path = findVersionPath(tidbRules, 'v5.0.0', 'v5.4.3');
    assert.equal(path.length, 1);
    assert.equal(
      path[0]!.notes.filter((n) => /^v5\.\d\.\d \(\d{4}-\d\d-\d\d\) compatibility changes: /.test(n)).length,
      26,
    );
    assert.match(
      versions.notes?.(v('v5.1.4'))[0] ?? '',
      /^v5\.1\.4 \(2022-02-22\) compatibility changes: tidb_analyze_version defaults to 1 again/,
    );
  });

  it('knows v8.5.5, v8.5.6, v8.5.7 and v7.5.8, with their dates', () => {
    assert.match(
      versions.notes?.(v('v8.5.6'))[0] ?? '',
      /^v8\.5\.6 \(2026-04-14\) compatibility changes: column-level privileges/,
    );
    assert.match(
      versions.notes?.(v('v8.5.7'))[0] ?? '',
      /^v8\.5\.7 \(2026-07-09\) compatibility changes: TiKV rejects invalid max_ts updates/,
    );
    assert.match(
      versions.notes?.(v('v7.5.8'))[0] ?? '',
      /^v7\.5\.8 \(2026-09-17\) compatibility changes: none listed in its notes/,
    );
    assert.match(
      versions.notes?.(v('v8.5.5'))[0] ?? '',
      /^v8\.5\.5 \(2026-01-15\) compatibility changes: restored tables are in restore mode.*release-8\.5\.5#compatibility-changes$/,
    );
  });

  it('summarizes v6.1.x patch releases, v6.5.7 and v8.5.4 from their notes', () => {
    const line = (tag: string) => versions.notes?.(v(tag))[0] ?? '';
    assert.match(
      line('v6.1.1'),
      /^v6\.1\.1 \(2022-09-01\) compatibility changes: SHOW DATABASES LIKE is case-insensitive/,
    );
    assert.match(line('v6.1.2'), /compatibility changes: none listed in its notes/);
    assert.match(line('v6.1.3'), /TiCDC transaction-atomicity defaults to none/);
    assert.match(line('v6.1.6'), /Confluent Schema Registry compatibility policy to None/);
    assert.match(
      line('v6.5.7'),
      /^v6\.5\.7 \(2024-01-08\) compatibility changes: new TiDB performance\.force-init-stats/,
    );
    assert.match(
      line('v8.5.4'),
      /^v8\.5\.4 \(2025-11-27\) compatibility changes: tidb_mpp_store_fail_ttl 60s -> 0s/,
    );
    assert.equal(versions.notes?.(v('v8.5.4')).length, 1, 'a patch release has no deprecated-features line');
  });

  it('says when a version is not in the release catalog', () => {
    assert.deepEqual(versions.notes?.(v('v9.1.0')), [
      "v9.1.0 is not in Baton's TiDB release catalog (v4.0.16 .. v8.5.7): read its release notes yourself: https://docs.pingcap.com/tidb/stable/release-9.1.0",
    ]);
    const path = findVersionPath(tidbRules, 'v8.4.0', 'v9.1.0');
    assert.equal(path.length, 1);
    assert.match(path[0]!.notes.at(-1)!, /not in Baton's TiDB release catalog/);
  });

  it('orders PD, TiProxy, TiFlash, TiKV, Pump, TiDB, TiCDC with their topologies', () => {
    assert.deepEqual(
      tidbRules.components.map((c) => [c.name, c.topology, c.quorum, c.prerequisites]),
      [
        ['pd', 'raft', true, []],
        ['tiproxy', 'stateless', false, ['pd']],
        ['tiflash', 'multi-raft', false, ['pd']],
        ['tikv', 'multi-raft', true, ['pd', 'tiflash']],
        ['pump', 'stateless', false, ['tikv']],
        ['tidb', 'stateless', false, ['tikv', 'pump']],
        ['ticdc', 'stateless', false, ['tidb']],
      ],
    );
    assert.match(tidbRules.uniformVersion ?? '', /same version/);
    assert.deepEqual(tidbRules.hooks, ['beforeUpgrade', 'beforeComponent', 'afterComponent', 'afterUpgrade']);
    assert.deepEqual(
      tidbRules.prechecks.map((p) => p.name),
      [
        'pd-available',
        'all-stores-up',
        'no-down-peers',
        'no-leftover-scheduler',
        'versions-uniform',
        'no-ddl-running',
      ],
    );
    assert.deepEqual(tidbRules.leadershipReturn, { fraction: 2 / 3, minimum: 200, timeoutSeconds: 400 });
    assert.equal(tidbRules.finalization, undefined);
  });

  it('lists releases in ascending order', () => {
    for (let i = 1; i < TIDB_RELEASES.length; i++) {
      assert.ok(compareVersions(TIDB_RELEASES[i - 1] as string, TIDB_RELEASES[i] as string) < 0);
    }
  });

  it('plans v6.4.0 -> v6.5.2 as one pass with the notes of v6.5.0, v6.5.1 and v6.5.2', () => {
    const path = findVersionPath(tidbRules, 'v6.4.0', 'v6.5.2');
    assert.equal(path.length, 1);
    assert.deepEqual(
      path[0]?.notes.filter((n) => n.includes('compatibility changes')).map((n) => n.split(':')[0]),
      [
        'v6.5.0 (2022-12-29) compatibility changes',
        'v6.5.1 (2023-03-10) compatibility changes',
        'v6.5.2 (2023-04-21) compatibility changes',
      ],
    );
    assert.equal(path[0]?.finalize, false);
  });

  it('plans v3.x through v4.0 and refuses any downgrade even when allowed by the caller', () => {
    assert.deepEqual(
      findVersionPath(tidbRules, 'v3.0.20', 'v8.1.0').map((h) => h.to),
      ['v4.0.16', 'v8.1.0'],
    );
    assert.throws(
      () => findVersionPath(tidbRules, 'v6.5.2', 'v6.5.1', { allowDowngrade: true }),
      (err: unknown) => err instanceof Error && err.message.includes(TIDB_NO_DOWNGRADE),
    );
  });

  describe('plans a cluster', () => {
    const member = (name: string, version: string): MemberView => ({
      name,
      component: name.replace(/-\d+$/, ''),
      ordinal: Number(/(\d+)$/.exec(name)?.[1] ?? 0),
      version,
      ready: true,
      running: true,
      engine: { role: 'none', healthy: true, caughtUp: true, lag: 0 },
    });
    const cluster = (extra: MemberView[]) => ({
      observedAt: 0,
      members: [
        member('pd-0', 'v8.1.1'),
        member('pd-1', 'v8.1.1'),
        member('pd-2', 'v8.1.1'),
        member('tikv-0', 'v8.1.1'),
        member('tikv-1', 'v8.1.1'),
        member('tikv-2', 'v8.1.1'),
        member('tidb-0', 'v8.1.1'),
        ...extra,
      ],
      health: { healthy: true, detail: 'all good' },
    });
    const plan = (version: string, extra: MemberView[], components?: UpgradeSpec['components']) =>
      buildPlan({
        spec: makeSpec({
          cluster: 'tc',
          engine: 'tidb',
          version,
          ...(components ? { components } : {}),
        }),
        snapshot: cluster(extra),
        rules: tidbRules,
      });
    const proxies = [member('tiproxy-0', 'v1.2.0'), member('tiproxy-1', 'v1.2.0')];

    it('leaves TiProxy on its own version unless the spec gives one for it', () => {
      const p = plan('v8.5.0', proxies);
      assert.deepEqual(
        p.components.map((c) => [c.name, c.version]),
        [
          ['pd', 'v8.5.0'],
          ['tikv', 'v8.5.0'],
          ['tidb', 'v8.5.0'],
        ],
      );
      assert.ok(
        p.warnings.some((w) =>
          w.startsWith('tiproxy keeps v1.2.0, not v8.5.0: TiProxy is released on its own line (v1.x)'),
        ),
        p.warnings.join('\n'),
      );
      // Its own release line is no "different versions" against TiDB Operator's one-version rule.
      assert.ok(!p.warnings.some((w) => w.includes('components target different versions')));
    });

    it('moves TiProxy to the version given for it, after PD', () => {
      const p = plan('v8.5.0', proxies, [{ name: 'tiproxy', version: 'v1.3.2' }]);
      assert.deepEqual(
        p.components.map((c) => [c.name, c.version]),
        [
          ['pd', 'v8.5.0'],
          ['tiproxy', 'v1.3.2'],
          ['tikv', 'v8.5.0'],
          ['tidb', 'v8.5.0'],
        ],
      );
      assert.deepEqual(
        p.components
          .find((c) => c.name === 'tiproxy')
          ?.members.map((m) => m.name)
          .sort(),
        ['tiproxy-0', 'tiproxy-1'],
      );
      assert.ok(!p.warnings.some((w) => w.includes('tiproxy keeps')));
      assert.ok(!p.warnings.some((w) => w.includes('components target different versions')));
    });

    it('refuses v8.4.0 or later while the cluster has Pump members (TiDB Binlog is removed)', () => {
      const pumps = [member('pump-0', 'v8.1.1'), member('pump-1', 'v8.1.1')];
      for (const target of ['v8.4.0', 'v8.5.4']) {
        assert.throws(
          () => plan(target, pumps),
          (err: unknown) =>
            err instanceof BadInputError &&
            err.code === 'component-removed' &&
            err.message ===
              `cluster "tc" has pump members (pump-0, pump-1), which TiDB removed in v8.4.0, so it cannot go to ${target}: TiDB Binlog (Pump and Drainer) is removed in v8.4.0: switch incremental replication to TiCDC (and point-in-time recovery to PITR), remove Pump and Drainer from the cluster, then upgrade`,
        );
      }
      // A per-component target counts too: TiDB servers on v8.4.0 write no binlog any more.
      assert.throws(
        () => plan('v8.3.0', pumps, [{ name: 'tidb', version: 'v8.4.0' }]),
        (err: unknown) => err instanceof BadInputError && err.code === 'component-removed',
      );
      // Below v8.4.0 Pump still rolls, before the TiDB servers; without Pump v8.5.x plans.
      assert.deepEqual(
        plan('v8.3.0', pumps).components.map((c) => c.name),
        ['pd', 'tikv', 'pump', 'tidb'],
      );
      assert.equal(plan('v8.5.4', []).to, 'v8.5.4');
    });

    it('refuses to plan a cluster whose only members keep their own version', () => {
      assert.throws(
        () =>
          buildPlan({
            spec: makeSpec({ cluster: 'tc', engine: 'tidb', version: 'v8.5.0' }),
            snapshot: { observedAt: 0, members: proxies, health: { healthy: true, detail: 'ok' } },
            rules: tidbRules,
          }),
        (err: unknown) => err instanceof BadInputError && err.code === 'nothing-to-plan',
      );
    });
  });
});
