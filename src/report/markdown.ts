/**
 * The report as Markdown for tickets and CI summaries: summary, plan, prechecks, members, the
 * probe's effect per phase, the timeline as a Mermaid Gantt chart (rendered by GitHub and GitLab),
 * and the history.
 */
import { formatErrorKinds, formatLoad } from '../probe/report.js';
import type { UpgradeReport } from './model.js';

function iso(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

function probeSection(r: UpgradeReport): string[] {
  if (r.probe.length === 0) return ['No probe ran during this upgrade.'];
  const out: string[] = [];
  for (const run of r.probe) {
    const s = run.summary;
    out.push(`### Probe run ${run.runId} (${run.engine}, ${formatLoad(run.load)})`, '');
    if (!s) {
      out.push(`The run did not end cleanly; ${run.seconds.length} seconds were recorded.`, '');
      continue;
    }
    out.push(
      ...table(
        [
          'operations',
          'failed',
          'error rate',
          'longest write gap',
          'p50',
          'p99',
          'max',
          'acknowledged',
          'lost',
        ],
        [
          [
            `${s.ops}`,
            `${s.failedOps}`,
            `${(s.errorRate * 100).toFixed(2)}%`,
            `${s.maxGapMs} ms`,
            `${s.p50Ms} ms`,
            `${s.p99Ms} ms`,
            `${s.maxMs} ms`,
            `${s.acknowledgedWrites}`,
            `${s.lostWrites + s.unverifiedWrites}`,
          ],
        ],
      ),
      '',
      `Failed attempts by kind: ${formatErrorKinds(s.errorKinds)}.`,
      '',
    );
    const e = run.effect;
    if (!e) continue;
    out.push(
      ...table(
        [
          'phase',
          'duration',
          'ops/s achieved',
          'ops/s offered',
          'loss vs baseline',
          'p99',
          'max',
          'write gap',
          'failed',
        ],
        e.phases.map((p) => [
          p.kind === 'member' ? `step ${p.member}` : p.kind,
          seconds(p.to - p.from),
          `${p.achievedPerSec}`,
          `${p.offeredPerSec}`,
          p.throughputLossPct !== undefined ? `${p.throughputLossPct}%` : '-',
          `${p.p99Ms} ms`,
          `${p.maxMs} ms`,
          `${p.maxGapMs} ms`,
          `${p.failed}`,
        ]),
      ),
      '',
      `Worst member step: ${e.worstStep ? `${e.worstStep.member}, ${e.worstStep.throughputLossPct}% throughput loss` : 'none measured'}; ` +
        `p99 ${e.p99BeforeMs} ms before the upgrade, ${e.p99DuringMs} ms during it.`,
      '',
    );
  }
  return out;
}

function gantt(r: UpgradeReport): string[] {
  const rows = r.timeline.rows.filter((row) => row.bars.length > 0);
  if (rows.length === 0) return [];
  const lines = ['```mermaid', 'gantt', '  dateFormat x', '  axisFormat %H:%M:%S'];
  for (const row of rows) {
    lines.push(`  section ${row.member}`);
    row.bars.forEach((b) => lines.push(`  ${b.state} : ${b.from}, ${b.to}`));
  }
  if (r.timeline.pauses.length > 0) {
    lines.push('  section paused');
    for (const p of r.timeline.pauses) lines.push(`  paused : crit, ${p.from}, ${p.to}`);
  }
  lines.push('```');
  return lines;
}

/** The report as Markdown text. */
export function reportMarkdown(r: UpgradeReport): string {
  const u = r.upgrade;
  const lines = [
    `# Upgrade ${u.name}: ${u.phase}`,
    '',
    `${u.engine} cluster \`${u.cluster}\` from ${u.from || '?'} to ${u.to} (${u.direction}); ${u.done}/${u.total} members at their target.`,
    '',
    `- Reason: ${u.reason}`,
    `- Created ${iso(u.createdAt)}, finished ${iso(u.finishedAt)}, took ${seconds(u.durationMs)}`,
  ];
  if (u.pauseCause) lines.push(`- Paused by Baton: ${u.pauseCause}`);
  if (r.plan) {
    lines.push(
      '',
      '## Plan',
      '',
      `Batches ${r.plan.batchPolicy}, at most ${r.plan.maxUnavailable} unavailable, estimated ${seconds(r.plan.estimatedMs)}.`,
      '',
    );
    for (const c of r.plan.components) {
      lines.push(`- ${c.name} to ${c.version}: ${c.batches.map((b) => b.join(' + ')).join(' -> ')}`);
    }
    for (const w of r.plan.warnings) lines.push(`- Warning: ${w}`);
  }
  lines.push('', '## Prechecks', '');
  lines.push(
    ...(r.prechecks.length
      ? table(
          ['check', 'result', 'reason'],
          r.prechecks.map((p) => [p.name, p.ok ? 'ok' : p.forced ? 'failed (forced)' : 'FAILED', p.reason]),
        )
      : ['None ran.']),
  );
  lines.push('', '## Members', '');
  lines.push(
    ...table(
      ['member', 'component', 'batch', 'state', 'from', 'to', 'detail'],
      r.members.map((m) => [
        m.name,
        m.component,
        m.batch ? `${m.batch}` : '-',
        m.state,
        m.from,
        m.to,
        m.detail,
      ]),
    ),
  );
  lines.push('', '## Timeline', '', ...gantt(r));
  lines.push('', '## Probe', '', ...probeSection(r));
  lines.push('## History', '');
  for (const h of r.history) {
    lines.push(`- ${iso(h.at)} ${h.type}${h.member ? ` ${h.member}` : ''}: ${h.message}`);
  }
  return `${lines.join('\n')}\n`;
}
