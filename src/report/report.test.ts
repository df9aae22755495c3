import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FakeClock } from '../core/clock.js';
import { nullLogger } from '../core/logger.js';
import type { MemberState, UpgradeStatus } from '../core/types.js';
import { createSimWorld, parseSimClusterDescription } from '../platforms/sim/index.js';
import { summaryOf } from '../probe/log.js';
import type { ProbeRun } from '../probe/log-format.js';
import { upgradeEffect } from '../probe/phases.js';
import type { ProbeOperation, ProbeReport, ProbeSecond } from '../probe/types.js';
import { Runner } from '../runner/runner.js';
import { engineRegistry } from '../engines/registry.js';
import { createUpgrade, makeSpec } from '../runner/start.js';
import { reportHtml } from './html.js';
import { reportMarkdown } from './markdown.js';
import { memberRows } from './members.js';
import { buildReport } from './model.js';

const GOLDEN = join(process.cwd(), 'test', 'golden', 'report.json');

/** A finished simulated 3-member etcd upgrade on a fake clock: the same journal every run. */
async function simUpgrade() {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const world = createSimWorld(
    parseSimClusterDescription(
      {
        engine: 'etcd',
        version: '3.5.9',
        components: [{ name: 'etcd', members: 3 }],
      },
      engineRegistry,
    ),
    {
      clock,
    },
  );
  const spec = makeSpec({ name: 'up', cluster: world.cluster.name, engine: 'etcd', version: '3.5.10' });
  await createUpgrade(world.platform, world.engine, spec, { clock, logger: nullLogger });
  await new Runner({ ...world, clock, logger: nullLogger, name: 'up' }).run();
  return (await world.platform.journal.get('up'))!;
}

/**
 * A probe run over the upgrade's span, one write due every 100 ms taking 3 ms, except that the
 * writes due during the second member's step wait for its end: what a stall looks like.
 */
function probeRunOver(status: UpgradeStatus): ProbeRun {
  const t0 = status.history[0]!.at - 2000;
  const t1 = status.finishedAt! + 1000;
  const second = Object.values(status.members).sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0))[1]!;
  const stallEnd = second.finishedAt!;
  const operations: ProbeOperation[] = [];
  for (let due = t0, n = 0; due < t1; due += 100, n++) {
    const end = due > stallEnd - 400 && due < stallEnd ? stallEnd : due + 3;
    operations.push({ kind: 'write', id: `run-${n}`, start: due, end, ok: true, attempts: 1 });
  }
  operations.sort((a, b) => a.end - b.end);
  const seconds: ProbeSecond[] = [];
  for (let at = t0; at < t1; at += 1000) {
    const done = operations.filter((o) => o.end >= at && o.end < at + 1000);
    const lat = done.map((o) => o.end - o.start).sort((a, b) => a - b);
    seconds.push({
      at,
      offered: 10,
      ok: done.length,
      writesOk: done.length,
      failed: 0,
      p50Ms: lat[Math.ceil(lat.length / 2) - 1] ?? 0,
      p99Ms: lat[lat.length - 1] ?? 0,
      maxMs: lat[lat.length - 1] ?? 0,
      maxGapMs: 0,
      errors: {},
    });
  }
  const report: ProbeReport = {
    engine: 'etcd',
    runId: 'run',
    startedAt: t0,
    stoppedAt: t1,
    load: { rate: 10, workers: 1, readRatio: 0 },
    seconds,
    ops: operations.length,
    writes: operations.length,
    reads: 0,
    failedOps: 0,
    errorRate: 0,
    maxGapMs: 400,
    p50Ms: 3,
    p99Ms: 400,
    maxMs: 400,
    recentP99Ms: 3,
    offered: operations.length,
    errorKinds: {},
    lostWrites: 0,
    unverifiedWrites: 0,
    acknowledgedWrites: operations.length,
    readMismatches: 0,
    durationMs: t1 - t0,
    final: true,
    lost: [],
    errors: [],
    operations,
    failedAttempts: [],
  };
  return {
    runId: 'run',
    engine: 'etcd',
    startedAt: t0,
    load: report.load,
    seconds,
    summary: summaryOf(report),
    effect: upgradeEffect(report, status),
  };
}

describe('buildReport', () => {
  it('holds the report of a simulated upgrade with a probe run (golden JSON)', async () => {
    const rec = await simUpgrade();
    const report = buildReport(rec, [probeRunOver(rec.status)]);
    const text = `${JSON.stringify(report, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN) {
      await mkdir(join(GOLDEN, '..'), { recursive: true });
      await writeFile(GOLDEN, text);
    }
    assert.equal(
      text,
      await readFile(GOLDEN, 'utf8'),
      'report JSON changed: rerun with UPDATE_GOLDEN=1 and review',
    );
  });

  it('draws each member step as bars in state order and ends every bar when the member was done', async () => {
    const rec = await simUpgrade();
    const r = buildReport(rec, []);
    assert.equal(r.timeline.rows.length, 3);
    for (const row of r.timeline.rows) {
      assert.ok(row.bars.length >= 2, `${row.member}: ${JSON.stringify(row.bars)}`);
      assert.equal(row.bars.at(-1)?.state, 'verifying');
      assert.equal(row.bars.at(-1)?.to, row.doneAt);
      for (let i = 1; i < row.bars.length; i++) assert.equal(row.bars[i]!.from, row.bars[i - 1]!.to);
    }
    assert.ok(
      r.timeline.rows.some((row) => row.bars[0]?.state === 'draining'),
      'the leader was drained',
    );
    assert.deepEqual(r.timeline.pauses, []);
    assert.equal(r.upgrade.phase, 'Completed');
    assert.equal(r.upgrade.durationMs, rec.status.finishedAt! - rec.status.history[0]!.at);
  });

  it('renders Markdown with a Mermaid Gantt chart and the probe phases', async () => {
    const rec = await simUpgrade();
    const md = reportMarkdown(buildReport(rec, [probeRunOver(rec.status)]));
    assert.match(md, /^# Upgrade up: Completed$/m);
    assert.match(md, /```mermaid\ngantt\n {2}dateFormat x/);
    assert.match(md, /^\| step etcd-\d \| /m);
    assert.match(md, /Worst member step: etcd-\d, \d+(\.\d)?% throughput loss/);
    assert.match(md, /\| quorum \| ok \|/);
  });

  it('inlines everything into one HTML file whose data cannot close its script element', async () => {
    const rec = await simUpgrade();
    const r = buildReport(rec, []);
    r.history.push({ at: 0, type: 'error', message: 'evil </script><script>alert(1)</script>' });
    const html = reportHtml(r, { js: 'console.log("</script>")', css: 'body{}' });
    assert.equal(html.match(/<\/script>/g)?.length, 2, 'only the two script elements close');
    assert.ok(!/https?:\/\//.test(html), 'nothing is loaded from the network');
    const data = /<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1];
    assert.deepEqual(JSON.parse(data ?? ''), JSON.parse(JSON.stringify(r)));
  });
});

describe('memberRows', () => {
  const base = (members: UpgradeStatus['members'], extra: Partial<UpgradeStatus> = {}) =>
    ({
      phase: 'Running',
      currentBatch: [],
      members,
      plan: {
        components: [
          {
            name: 'db',
            batches: [
              { index: 0, members: ['a'] },
              { index: 1, members: ['b'] },
              { index: 2, members: ['c'] },
            ],
          },
        ],
      },
      ...extra,
    }) as unknown as UpgradeStatus;
  const m = (state: MemberState, extra: object = {}) => ({
    component: 'db',
    state,
    from: '1',
    to: '2',
    since: 0,
    replaceCalls: 0,
    ...extra,
  });

  it('names each state the way a person reads it, in plan order', () => {
    const rows = memberRows(
      base(
        { a: m('done'), b: m('draining', { leadershipMovedTo: 'c' }), c: m('pending') },
        { currentBatch: ['b'] },
      ),
    );
    assert.deepEqual(
      rows.map((r) => [r.name, r.batch, r.state, r.inCurrentBatch]),
      [
        ['a', 1, 'done', false],
        ['b', 2, 'draining', true],
        ['c', 3, 'taking over', false],
      ],
    );
    assert.equal(rows[1]?.detail, 'moving leadership away to c');
  });

  it('shows the next member gated by a block or a pause, and a failed one with its error', () => {
    const blocked = memberRows(
      base(
        { a: m('done'), b: m('pending'), c: m('pending') },
        {
          blockedBy: { check: 'quorum', reason: 'b would lose quorum', since: 0 },
        },
      ),
    );
    assert.deepEqual(
      blocked.map((r) => r.state),
      ['done', 'gated', 'waiting'],
    );
    assert.equal(blocked[1]?.detail, 'quorum: b would lose quorum');
    const paused = memberRows(
      base(
        { a: m('verifying', { lastError: 'exited with code 3' }), b: m('pending'), c: m('pending') },
        { phase: 'Paused', pauseCause: 'a failed' },
      ),
    );
    assert.deepEqual(
      paused.map((r) => r.state),
      ['failed', 'gated', 'waiting'],
    );
    assert.equal(paused[0]?.detail, 'exited with code 3');
    const supervised = memberRows(
      base({ a: m('done'), b: m('done'), c: m('pending') }, { supervisedGate: 'c' }),
    );
    assert.equal(supervised[2]?.state, 'gated');
    const verifying = memberRows(base({ a: m('verifying'), b: m('pending'), c: m('pending') }));
    assert.equal(verifying[0]?.state, 'replacing');
    assert.match(verifying[0]!.detail, /ready and caught up/);
  });
});
