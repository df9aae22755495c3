/**
 * The parts of an upgrade's page shared by the dashboard and the report: summary, members in
 * plan order with their states, prechecks, probe figures per phase, history.
 */
import type { MemberRow } from '../../report/members.js';
import type { UpgradeReport } from '../../report/model.js';
import type { ProbeRun } from '../../probe/log-format.js';
import type { Band } from './chart.js';

function clock(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function secs(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

/** Member steps as chart bands, from the timeline. */
export function stepBands(r: UpgradeReport): Band[] {
  return r.timeline.rows
    .filter((row) => row.bars.length > 0)
    .map((row) => ({
      from: Math.min(...row.bars.map((b) => b.from)),
      to: Math.max(...row.bars.map((b) => b.to)),
      label: row.member,
    }));
}

/** The latest probe run's seconds, and every run's seconds joined in time order. */
export function allSeconds(runs: ProbeRun[]) {
  return runs.flatMap((r) => r.seconds).sort((a, b) => a.at - b.at);
}

/** Phase, versions, progress, reason, times. */
export function Summary({ r }: { r: UpgradeReport }) {
  const u = r.upgrade;
  return (
    <div class="summary">
      <span class={`phase ${u.phase}`} data-phase={u.phase}>
        {u.phase}
      </span>
      <span>
        {u.engine} <b>{u.cluster}</b> {u.from || '?'} → {u.to}
      </span>
      <span>
        {u.done}/{u.total} members at target
      </span>
      <span class="muted">
        created {clock(u.createdAt)}
        {u.finishedAt !== undefined ? `, finished ${clock(u.finishedAt)} (${secs(u.durationMs)})` : ''}
      </span>
      <span class="reason">{u.reason}</span>
    </div>
  );
}

function stateClass(s: MemberRow['state']): string {
  return s.replace(' ', '-');
}

/** Members in plan order with state, batch and what each waits for. */
export function MembersTable({ rows }: { rows: MemberRow[] }) {
  return (
    <table class="members">
      <thead>
        <tr>
          <th>member</th>
          <th>component</th>
          <th>batch</th>
          <th>state</th>
          <th>version</th>
          <th>waits for / did</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((m) => (
          <tr
            key={m.name}
            class={m.inCurrentBatch ? 'current' : ''}
            data-member={m.name}
            data-state={m.state}
          >
            <td>{m.name}</td>
            <td>{m.component}</td>
            <td>{m.batch ?? '-'}</td>
            <td>
              <span class={`state ${stateClass(m.state)}`}>{m.state}</span>
            </td>
            <td>
              {m.from} → {m.to}
            </td>
            <td>{m.detail}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Every precheck with its result. */
export function Prechecks({ r }: { r: UpgradeReport }) {
  if (r.prechecks.length === 0) return <p class="muted">No precheck ran.</p>;
  return (
    <table class="prechecks">
      <tbody>
        {r.prechecks.map((p) => (
          <tr key={p.name}>
            <td>{p.ok ? '✓' : p.forced ? '⚠ forced' : '✗'}</td>
            <td>{p.name}</td>
            <td>{p.reason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The probe's figures per phase of the upgrade, for the runs that ended. */
export function Phases({ runs }: { runs: ProbeRun[] }) {
  const ended = runs.filter((r) => r.effect);
  if (ended.length === 0) return null;
  return (
    <div>
      {ended.map((run) => (
        <table class="phases" key={run.runId}>
          <thead>
            <tr>
              <th>phase</th>
              <th>duration</th>
              <th>ops/s achieved of offered</th>
              <th>loss vs baseline</th>
              <th>p99</th>
              <th>max</th>
              <th>write gap</th>
              <th>failed</th>
            </tr>
          </thead>
          <tbody>
            {run.effect!.phases.map((p, i) => (
              <tr key={i}>
                <td>{p.kind === 'member' ? `step ${p.member}` : p.kind}</td>
                <td>{secs(p.to - p.from)}</td>
                <td>
                  {p.achievedPerSec} of {p.offeredPerSec}
                </td>
                <td>{p.throughputLossPct !== undefined ? `${p.throughputLossPct}%` : '-'}</td>
                <td>{p.p99Ms} ms</td>
                <td>{p.maxMs} ms</td>
                <td>{p.maxGapMs} ms</td>
                <td>{p.failed}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </div>
  );
}

/** The probe runs' final figures in one line each. */
export function ProbeSummaries({ runs }: { runs: ProbeRun[] }) {
  return (
    <div>
      {runs.map((run) => {
        const s = run.summary;
        return (
          <p key={run.runId} class="probe-summary">
            <b>{run.engine}</b> probe{' '}
            {run.load.rate !== undefined ? `at ${run.load.rate} ops/s` : 'closed loop'} over{' '}
            {run.load.workers} workers:{' '}
            {s
              ? `${s.ops} ops, ${s.failedOps} failed, longest write gap ${s.maxGapMs} ms, p99 ${s.p99Ms} ms, ${s.acknowledgedWrites} acknowledged, ${s.lostWrites} lost`
              : `running, ${run.seconds.length} s so far`}
          </p>
        );
      })}
    </div>
  );
}

/** Every history entry, newest last. */
export function History({ r }: { r: UpgradeReport }) {
  return (
    <div class="history">
      {r.history.map((h, i) => (
        <div key={i} data-type={h.type}>
          {clock(h.at).slice(11)} {h.type}
          {h.member ? ` ${h.member}` : ''}: {h.message}
        </div>
      ))}
    </div>
  );
}
