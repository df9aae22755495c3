/**
 * Entry of the report page: renders the report embedded in the HTML file
 * (`<script id="report-data" type="application/json">`). Everything it needs is inlined in the
 * file, so it opens without a network.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import type { UpgradeReport } from '../../report/model.js';
import { GAP_LINES, LATENCY_LINES, SeriesChart, THROUGHPUT_LINES } from './chart.js';
import { TimelineLegend, TimelineView } from './timeline.js';
import {
  allSeconds,
  History,
  MembersTable,
  Phases,
  Prechecks,
  ProbeSummaries,
  stepBands,
  Summary,
} from './views.js';

/** The report's probe plots, in order: title and the lines drawn. */
const REPORT_CHARTS = [
  ['Throughput (ops/s)', THROUGHPUT_LINES],
  ['Latency (ms)', LATENCY_LINES],
  ['Longest write gap (ms)', GAP_LINES],
] as const;

function Report({ r }: { r: UpgradeReport }) {
  const width = Math.min(Math.max(document.body.clientWidth - 80, 600), 1400);
  const seconds = allSeconds(r.probe);
  const bands = stepBands(r);
  return (
    <>
      <header>
        <h1>Baton upgrade report: {r.upgrade.name}</h1>
      </header>
      <main>
        <section id="summary">
          <Summary r={r} />
          {r.plan && (
            <p class="muted">
              Plan: batches {r.plan.batchPolicy}, at most {r.plan.maxUnavailable} unavailable;{' '}
              {r.plan.components
                .map((c) => `${c.name} → ${c.version}: ${c.batches.map((b) => b.join(' + ')).join(' → ')}`)
                .join('; ')}
            </p>
          )}
        </section>
        <section id="timeline" class="timeline">
          <h2>Timeline</h2>
          <TimelineView timeline={r.timeline} width={width} />
          <TimelineLegend />
        </section>
        <section id="probe">
          <h2>Probe</h2>
          {r.probe.length === 0 ? (
            <p class="muted">No probe ran during this upgrade.</p>
          ) : (
            <>
              <ProbeSummaries runs={r.probe} />
              {REPORT_CHARTS.map(([title, lines]) => (
                <SeriesChart
                  key={title}
                  title={title}
                  seconds={seconds}
                  lines={lines}
                  bands={bands}
                  width={width}
                />
              ))}
              <Phases runs={r.probe} />
            </>
          )}
        </section>
        <section id="prechecks">
          <h2>Prechecks</h2>
          <Prechecks r={r} />
        </section>
        <section id="members">
          <h2>Final state</h2>
          <MembersTable rows={r.members} />
        </section>
        <section id="history">
          <h2>History</h2>
          <History r={r} />
        </section>
      </main>
    </>
  );
}

const data = document.getElementById('report-data')?.textContent;
if (data) render(<Report r={JSON.parse(data) as UpgradeReport} />, document.body);
