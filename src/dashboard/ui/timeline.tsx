/**
 * The timeline (Gantt) of an upgrade as SVG: one row per member with a bar per state it went
 * through (draining, replacing, verifying), the pauses shaded across every row, and a dashed line
 * at every block. Shared by the dashboard and the report.
 */
import type { Timeline } from '../../report/model.js';

const LABEL = 130;
const ROW = 24;
const AXIS = 22;

/** Tick spacing in ms giving about `n` ticks over `span`. */
export function tickStep(span: number, n = 8): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600].map((s) => s * 1000);
  return steps.find((s) => span / s <= n) ?? 3_600_000;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** The Gantt chart of `timeline`, `width` pixels wide. */
export function TimelineView({ timeline, width }: { timeline: Timeline; width: number }) {
  const rows = timeline.rows;
  const span = Math.max(timeline.to - timeline.from, 1000);
  const plot = Math.max(width - LABEL - 10, 100);
  const x = (t: number) => LABEL + ((t - timeline.from) / span) * plot;
  const height = AXIS + rows.length * ROW + 6;
  const step = tickStep(span);
  const ticks: number[] = [];
  for (let t = Math.ceil(timeline.from / step) * step; t <= timeline.to; t += step) ticks.push(t);
  return (
    <svg class="timeline-svg" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img">
      <g class="axis">
        {ticks.map((t) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={AXIS - 4} y2={height} stroke="#eaecf0" />
            <text x={x(t)} y={12} text-anchor="middle">
              {clock(t)}
            </text>
          </g>
        ))}
      </g>
      {timeline.pauses.map((p, i) => (
        <rect
          key={`p${i}`}
          class="pause"
          x={x(p.from)}
          y={AXIS}
          width={Math.max(x(p.to) - x(p.from), 2)}
          height={rows.length * ROW}
        >
          <title>{`paused ${clock(p.from)} - ${clock(p.to)}: ${p.cause}`}</title>
        </rect>
      ))}
      {rows.map((r, i) => (
        <g key={r.member} class="row" data-member={r.member}>
          <text x={4} y={AXIS + i * ROW + 16}>
            {r.member}
          </text>
          {r.bars.map((b, j) => (
            <rect
              key={j}
              class={`bar ${b.state}`}
              data-state={b.state}
              x={x(b.from)}
              y={AXIS + i * ROW + 4}
              width={Math.max(x(b.to) - x(b.from), 2)}
              height={ROW - 8}
              rx={3}
            >
              <title>{`${r.member} ${b.state} ${clock(b.from)} - ${clock(b.to)} (${((b.to - b.from) / 1000).toFixed(1)} s)`}</title>
            </rect>
          ))}
        </g>
      ))}
      {timeline.blocks.map((b, i) => (
        <line key={`b${i}`} class="block" x1={x(b.at)} x2={x(b.at)} y1={AXIS} y2={height}>
          <title>{`${clock(b.at)} blocked: ${b.message}`}</title>
        </line>
      ))}
    </svg>
  );
}

/** The colours of the timeline's bars. */
export function TimelineLegend() {
  return (
    <div class="legend">
      <span style="--c: var(--draining)">draining</span>
      <span style="--c: var(--replacing)">replacing</span>
      <span style="--c: #53b1fd">verifying</span>
      <span style="--c: var(--paused)">paused</span>
      <span style="--c: var(--gated)">blocked</span>
    </div>
  );
}
