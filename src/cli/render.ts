/**
 * Text, JSON and YAML renderings of plans, prechecks, statuses and histories. Pure: returns
 * strings; the caller writes them.
 */
import { stringify as toYaml } from 'yaml';
import type { UpgradeRecord } from '../core/ports.js';
import type { PrecheckResult, Snapshot, UpgradeStatus } from '../core/types.js';
import type { Plan } from '../core/types.js';

/** Output formats of `-o`. */
export type OutputFormat = 'text' | 'json' | 'yaml';

/** Machine-readable rendering of any value. */
export function renderData(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(value, null, 2) + '\n' : toYaml(value);
}

/** "12s", "3m 20s", "1h 5m". */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function batchText(plan: Plan): string {
  const b = plan.batchPolicy;
  switch (b.kind) {
    case 'serial':
      return 'serial';
    case 'fixed':
      return `fixed ${b.size}`;
    case 'percent':
      return `${b.percent}% per batch`;
    case 'exponential':
      return `exponential (1, 2, 4, ... capped at ${b.capPercent}%)`;
  }
}

/** The plan preview shown by `baton plan` and before `apply` starts. */
export function renderPlan(plan: Plan, snapshot?: Snapshot): string {
  const out: string[] = [];
  out.push(`Plan: ${plan.engine} cluster ${plan.cluster}, ${plan.from} -> ${plan.to}`);
  if (plan.path.length === 0)
    out.push('  Version path: nothing to change (every member already runs the target)');
  else {
    out.push(`  Version path (${plan.path.length} hop${plan.path.length > 1 ? 's' : ''}):`);
    for (const h of plan.path) {
      out.push(`    ${h.from} -> ${h.to}${h.finalize ? '  (needs finalization)' : ''}`);
      for (const n of h.notes) out.push(`      note: ${n}`);
    }
  }
  out.push(
    `  Batches: ${batchText(plan)}, at most ${plan.maxUnavailable} member(s) of a component unavailable at once`,
  );
  out.push('  Prechecks:');
  for (const p of plan.prechecks) out.push(`    - ${p.name}: ${p.description}`);
  if (plan.custody) out.push(`  Take over (before the first member): ${plan.custody.takeOver}`);
  for (const stage of plan.stages) {
    out.push(`  Stage ${stage.name}:`);
    for (const name of stage.components) {
      const c = plan.components.find((x) => x.name === name);
      if (!c) continue;
      const pre = c.prerequisites.length ? ` (after ${c.prerequisites.join(', ')})` : '';
      out.push(
        `    Component ${c.name} -> ${c.version}${pre}: ${c.members.length} to upgrade, ${c.upToDate.length} up to date`,
      );
      for (const b of c.batches) {
        const parts = b.members.map((n) => {
          const m = c.members.find((x) => x.name === n);
          const v = snapshot?.members.find((x) => x.name === n);
          const role = m?.role ?? v?.engine?.role;
          return `${n}${role && role !== 'none' ? ` [${role}]` : ''}${m ? ` (${m.reason})` : ''}`;
        });
        out.push(`      batch ${b.index}: ${parts.join(', ')}`);
      }
    }
  }
  if (plan.leadershipMoves.length) {
    out.push('  Leadership moves:');
    for (const l of plan.leadershipMoves) out.push(`    - ${l}`);
  }
  if (plan.custody) out.push(`  Hand back (after the last member): ${plan.custody.handBack}`);
  if (plan.finalization)
    out.push('  Finalization: required after the last member; rollback stays possible until then');
  for (const w of plan.warnings) out.push(`  warning: ${w}`);
  out.push(`  Estimated duration: ${humanDuration(plan.estimatedMs)}`);
  return out.join('\n') + '\n';
}

/** Precheck results, one per line. */
export function renderPrechecks(results: PrecheckResult[]): string {
  return (
    results.map((r) => `${r.ok ? 'PASS' : r.forced ? 'FORCED' : 'FAIL'}  ${r.name}: ${r.reason}`).join('\n') +
    '\n'
  );
}

/** One-line progress: "Running 3/5 etcd member 2 of 3, batch 2 of 3: replace etcd-1 with 3.5.9 (ETA 40s)". */
export function progressLine(status: UpgradeStatus): string {
  const p = status.progress;
  const parts = [`${status.phase}`, `${p.done}/${p.total}`];
  if (p.component && p.memberIndex !== undefined && status.phase !== 'Completed') {
    parts.push(`${p.component} member ${p.memberIndex} of ${p.memberTotal}`);
  }
  if (p.batchTotal) parts.push(`batch ${p.batchIndex} of ${p.batchTotal}`);
  let line = parts.join('  ');
  line += `: ${status.reason}`;
  if (p.etaMs !== undefined && !['Completed', 'Cancelled', 'Failed', 'Expired'].includes(status.phase)) {
    line += ` (ETA ${humanDuration(p.etaMs)})`;
  }
  return line;
}

/** Full status of one upgrade. */
export function renderStatus(rec: UpgradeRecord, snapshot?: Snapshot): string {
  const { spec, status } = rec;
  const out: string[] = [];
  out.push(
    `Upgrade ${spec.name}: ${spec.engine} cluster ${spec.cluster} -> ${spec.version}${status.direction === 'rollback' ? ' (rolling back)' : ''}`,
  );
  out.push(`  Phase:     ${status.phase}`);
  out.push(`  Reason:    ${status.reason}`);
  out.push(`  Progress:  ${progressLine(status)}`);
  if (status.progress.step) out.push(`  Step:      ${status.progress.step}`);
  if (status.blockedBy) out.push(`  Blocked:   ${status.blockedBy.check}: ${status.blockedBy.reason}`);
  if (status.pauseCause) out.push(`  Paused:    ${status.pauseCause}`);
  // What the cluster says now when it could be observed; else what the runner last saw.
  const warnings = snapshot ? (snapshot.health.warnings ?? []) : (status.warnings ?? []);
  for (const w of warnings) out.push(`  Warning:   ${w}`);
  if (spec.force.length)
    out.push(
      `  Force:     set (${spec.force.join(', ')}); forced so far: ${status.forced.join(', ') || 'none'}`,
    );
  if (status.plan?.finalization)
    out.push(`  Finalized: ${status.finalized ? 'yes' : 'no (rollback possible)'}`);
  if (status.prechecks.length) {
    out.push('  Prechecks:');
    for (const r of status.prechecks)
      out.push(`    ${r.ok ? 'PASS' : r.forced ? 'FORCED' : 'FAIL'}  ${r.name}: ${r.reason}`);
  }
  out.push('  Members:');
  const views = new Map(snapshot?.members.map((m) => [m.name, m]));
  for (const [name, m] of Object.entries(status.members)) {
    const v = views.get(name);
    const role = v?.engine?.role && v.engine.role !== 'none' ? ` ${v.engine.role}` : '';
    const running = v ? ` running ${v.version}${v.ready ? '' : ' (not ready)'}` : '';
    out.push(`    ${name.padEnd(16)} ${m.state.padEnd(10)} ${m.from} -> ${m.to}${role}${running}`);
  }
  return out.join('\n') + '\n';
}

/** History lines with times relative to the first entry. */
export function renderHistory(status: UpgradeStatus): string {
  const t0 = status.history[0]?.at ?? 0;
  return (
    status.history
      .map(
        (h) =>
          `+${((h.at - t0) / 1000).toFixed(1).padStart(7)}s  ${h.type.padEnd(7)} ${h.member && !h.message.startsWith(`${h.member}:`) ? `${h.member}: ` : ''}${h.message}`,
      )
      .join('\n') + '\n'
  );
}
