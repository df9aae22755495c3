/**
 * Entry of `baton dashboard`'s page: the upgrades Baton knows, updated by server-sent events
 * (`hello` with everything once, then `upgrade` and `probe` events for what changed), and
 * Pause / Resume / Cancel buttons that post to the server with the token from the URL fragment.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { foldProbeLog, type ProbeLogLine } from '../../probe/log-format.js';
import type { UpgradeReport } from '../../report/model.js';
import { LIVE_LINES, SeriesChart } from './chart.js';
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

interface State {
  upgrades: Record<string, UpgradeReport>;
  probe: Record<string, ProbeLogLine[]>;
  connected: boolean;
}

const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';

function useFeed(): State {
  const [state, setState] = useState<State>({ upgrades: {}, probe: {}, connected: false });
  useEffect(() => {
    const es = new EventSource('/api/events');
    es.addEventListener('hello', (e) => {
      const d = JSON.parse((e as MessageEvent<string>).data) as Omit<State, 'connected'>;
      setState({ ...d, connected: true });
    });
    es.addEventListener('upgrade', (e) => {
      const d = JSON.parse((e as MessageEvent<string>).data) as { key: string; report: UpgradeReport };
      setState((s) => ({ ...s, upgrades: { ...s.upgrades, [d.key]: d.report } }));
    });
    es.addEventListener('probe', (e) => {
      const d = JSON.parse((e as MessageEvent<string>).data) as { key: string; lines: ProbeLogLine[] };
      setState((s) => ({ ...s, probe: { ...s.probe, [d.key]: [...(s.probe[d.key] ?? []), ...d.lines] } }));
    });
    es.onerror = () => setState((s) => ({ ...s, connected: false }));
    return () => es.close();
  }, []);
  return state;
}

function Controls({ upgradeKey, phase }: { upgradeKey: string; phase: string }) {
  const [message, setMessage] = useState<{ text: string; refused: boolean } | undefined>();
  const [busy, setBusy] = useState(false);
  const ended = ['Completed', 'Failed', 'Cancelled', 'Expired'].includes(phase);
  const act = async (verb: string) => {
    setBusy(true);
    try {
      const res = await fetch('/api/control', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ key: upgradeKey, verb }),
      });
      const body = (await res.json()) as { message?: string; error?: string };
      setMessage({ text: body.message ?? body.error ?? res.statusText, refused: !res.ok });
    } catch (err) {
      setMessage({ text: String(err), refused: true });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="controls">
      {['pause', 'resume', 'cancel'].map((verb) => (
        <button
          key={verb}
          id={`${verb}-button`}
          disabled={busy || ended || !token}
          onClick={() => void act(verb)}
        >
          {verb[0]!.toUpperCase() + verb.slice(1)}
        </button>
      ))}
      {!token && <span class="message refused">no token in the URL: controls are off</span>}
      {message && <span class={`message${message.refused ? ' refused' : ''}`}>{message.text}</span>}
    </div>
  );
}

function Upgrade({ upgradeKey, r, lines }: { upgradeKey: string; r: UpgradeReport; lines: ProbeLogLine[] }) {
  const width = Math.min(Math.max(document.body.clientWidth - 80, 600), 1400);
  const runs = foldProbeLog(lines);
  const seconds = allSeconds(runs);
  return (
    <>
      <section id="summary">
        <Summary r={r} />
        <Controls upgradeKey={upgradeKey} phase={r.upgrade.phase} />
      </section>
      <section id="members">
        <h2>Plan and members</h2>
        <MembersTable rows={r.members} />
      </section>
      <section id="probe">
        <h2>Live probe</h2>
        {runs.length === 0 ? (
          <p class="muted">No probe is running for this upgrade (start it with `baton apply --probe`).</p>
        ) : (
          <>
            <ProbeSummaries runs={runs} />
            <SeriesChart
              title="Throughput, p99 and failed attempts"
              seconds={seconds}
              lines={LIVE_LINES}
              bands={stepBands(r)}
              width={width}
            />
            <Phases runs={runs} />
          </>
        )}
      </section>
      <section id="timeline" class="timeline">
        <h2>Timeline</h2>
        <TimelineView timeline={r.timeline} width={width} />
        <TimelineLegend />
      </section>
      <div class="grid2">
        <section>
          <h2>Prechecks</h2>
          <Prechecks r={r} />
        </section>
        <section>
          <h2>History</h2>
          <History r={r} />
        </section>
      </div>
    </>
  );
}

function App() {
  const state = useFeed();
  const keys = Object.keys(state.upgrades).sort();
  const [chosen, choose] = useState<string | undefined>();
  const open = keys.filter(
    (k) => !['Completed', 'Failed', 'Cancelled', 'Expired'].includes(state.upgrades[k]!.upgrade.phase),
  );
  const key = chosen && state.upgrades[chosen] ? chosen : (open[0] ?? keys[keys.length - 1]);
  return (
    <>
      <header>
        <h1>Baton</h1>
        <nav class="upgrades">
          {keys.map((k) => (
            <button key={k} class={k === key ? 'selected' : ''} onClick={() => choose(k)}>
              {k} · {state.upgrades[k]!.upgrade.phase}
            </button>
          ))}
        </nav>
        <span class="conn" id="connection">
          {state.connected ? 'live' : 'reconnecting'}
        </span>
      </header>
      <main>
        {key ? (
          <Upgrade upgradeKey={key} r={state.upgrades[key]!} lines={state.probe[key] ?? []} />
        ) : (
          <p class="muted">No upgrade yet: start one with `baton apply`.</p>
        )}
      </main>
    </>
  );
}

render(<App />, document.body);
