/**
 * The probe's per-second series drawn with uPlot, with the member steps shaded so a dip lines up
 * with the member that caused it. Shared by the dashboard (live: the data grows) and the report.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { ProbeSecond } from '../../probe/types.js';

/** A shaded interval on the time axis (a member's step), clock ms. */
export interface Band {
  from: number;
  to: number;
  label: string;
}

/** One line of a chart: its label, colour, axis scale and value per second. */
export interface Line {
  label: string;
  stroke: string;
  scale: 'ops' | 'ms' | 'n';
  value: (s: ProbeSecond) => number;
}

const UNITS: Record<Line['scale'], string> = { ops: 'ops/s', ms: 'ms', n: 'count' };

/** Draws the bands under the series. */
function bandsPlugin(bands: () => Band[]): uPlot.Plugin {
  return {
    hooks: {
      drawClear: (u: uPlot) => {
        const { ctx } = u;
        const { top, height } = u.bbox;
        ctx.save();
        bands().forEach((b, i) => {
          const x0 = u.valToPos(b.from / 1000, 'x', true);
          const x1 = u.valToPos(b.to / 1000, 'x', true);
          ctx.fillStyle = i % 2 ? 'rgba(247, 144, 9, 0.12)' : 'rgba(46, 144, 250, 0.12)';
          ctx.fillRect(x0, top, Math.max(x1 - x0, 1), height);
          ctx.fillStyle = 'rgba(52, 64, 84, 0.8)';
          ctx.font = `${Math.round(10 * devicePixelRatio)}px sans-serif`;
          ctx.fillText(b.label, x0 + 3, top + 12 * devicePixelRatio);
        });
        ctx.restore();
      },
    },
  };
}

function dataOf(seconds: ProbeSecond[], lines: Line[]): uPlot.AlignedData {
  return [seconds.map((s) => s.at / 1000), ...lines.map((l) => seconds.map((s) => l.value(s)))];
}

/** A uPlot chart of `lines` over `seconds`, `width` x `height` pixels, with `bands` shaded. */
export function SeriesChart(props: {
  title: string;
  seconds: ProbeSecond[];
  lines: Line[];
  bands: Band[];
  width: number;
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const bands = useRef(props.bands);
  bands.current = props.bands;
  useEffect(() => {
    if (!box.current) return;
    const scales = [...new Set(props.lines.map((l) => l.scale))];
    const opts: uPlot.Options = {
      title: props.title,
      width: props.width,
      height: props.height ?? 220,
      plugins: [bandsPlugin(() => bands.current)],
      scales: { x: { time: true } },
      series: [
        {},
        ...props.lines.map((l) => ({ label: l.label, stroke: l.stroke, width: 1.5, scale: l.scale })),
      ],
      axes: [
        {},
        ...scales.map((s, i) => ({
          scale: s,
          side: i === 0 ? 3 : 1,
          label: UNITS[s],
          grid: { show: i === 0 },
        })),
      ],
    };
    plot.current = new uPlot(opts, dataOf(props.seconds, props.lines), box.current);
    return () => {
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [props.width, props.height, props.title]);
  useEffect(() => {
    plot.current?.setData(dataOf(props.seconds, props.lines));
  }, [props.seconds, props.bands]);
  return <div class="chart" ref={box} data-points={props.seconds.length} />;
}

/** Throughput achieved against offered, p99 latency and failed attempts: the live chart. */
export const LIVE_LINES: Line[] = [
  { label: 'offered', stroke: '#98a2b3', scale: 'ops', value: (s) => s.offered },
  { label: 'achieved', stroke: '#2e90fa', scale: 'ops', value: (s) => s.ok },
  { label: 'p99', stroke: '#f79009', scale: 'ms', value: (s) => s.p99Ms },
  {
    label: 'failed attempts',
    stroke: '#d92d20',
    scale: 'n',
    value: (s) => Object.values(s.errors).reduce((a, b) => a + b, 0),
  },
];

/** Throughput achieved against offered. */
export const THROUGHPUT_LINES: Line[] = LIVE_LINES.slice(0, 2);

/** Latency: p50, p99 and max of the operations acknowledged each second. */
export const LATENCY_LINES: Line[] = [
  { label: 'p50', stroke: '#12b76a', scale: 'ms', value: (s) => s.p50Ms },
  { label: 'p99', stroke: '#f79009', scale: 'ms', value: (s) => s.p99Ms },
  { label: 'max', stroke: '#d92d20', scale: 'ms', value: (s) => s.maxMs },
];

/** The longest write gap each second. */
export const GAP_LINES: Line[] = [
  { label: 'longest write gap', stroke: '#7a5af8', scale: 'ms', value: (s) => s.maxGapMs },
];
