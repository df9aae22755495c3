/**
 * `baton dashboard` and `baton report` used as a person would, in Debian's headless Chromium,
 * during and after a real local upgrade of a 3-member etcd cluster driven by `baton apply --probe`
 * in its own process: the page shows the members change state, one at a time in the order the runner takes them; Pause pauses the
 * upgrade (the journal agrees); Resume completes it (the dashboard drives it, as `baton resume`
 * would); then the HTML report of that upgrade draws its timeline and plots without console errors.
 * Screenshots are kept in `artifacts/`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Readable } from 'node:stream';
import {
  createLocalCluster,
  installed,
  runCli,
  runCliExpect,
  spawnBaton,
  statusJson,
  tempStateDir,
} from '../local/helpers.js';
import { artifacts, buildUi, haveChromium, openBrowser, type BrowserPage } from './chromium.js';

// CI installs Chromium and etcd (scripts/setup-tests.sh): there a missing one fails the test.
const skip = process.env.CI
  ? false
  : !haveChromium()
    ? 'chromium is not installed (apt-get install chromium)'
    : !installed('etcd')
      ? 'etcd is not installed'
      : false;

/** Resolves with the first line of `stream` matching `re`. */
function lineMatching(stream: Readable, re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(
      () => reject(new Error(`no line matching ${re} within ${timeoutMs} ms:\n${buf}`)),
      timeoutMs,
    );
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

/** Every (member, state) the page showed, in the order it showed them (recorded in the page). */
const RECORD_STATES = `(() => {
  window.__seen = [];
  const note = () => {
    for (const tr of document.querySelectorAll('tr[data-member]')) {
      const m = tr.getAttribute('data-member'), s = tr.getAttribute('data-state');
      const last = [...window.__seen].reverse().find((x) => x[0] === m);
      if (!last || last[1] !== s) window.__seen.push([m, s]);
    }
  };
  new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true });
  note();
})()`;

describe('baton dashboard and baton report in Chromium during a real upgrade', { skip }, () => {
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  let browser: BrowserPage;

  before(async () => {
    state = await tempStateDir('dashboard');
    await buildUi();
    await createLocalCluster(state.dir, 'dash', 'etcd', 3);
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    await state?.cleanup();
  });

  it(
    'shows states in order, pauses (journal agrees), resumes to completion',
    { timeout: 400_000 },
    async (t) => {
      const started = Date.now();
      const dash = spawnBaton(t, ['dashboard', '--port', '0', '--state-dir', state.dir, '--refresh', '500']);
      const [, url] = await lineMatching(dash.child.stdout, /open (http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/);
      const { page, errors } = browser;
      await page.goto(url!);
      await page.waitForSelector('#connection:text("live")');
      await page.evaluate(RECORD_STATES);

      const apply = spawnBaton(t, [
        'apply',
        '--state-dir',
        state.dir,
        '--to',
        '3.4.23+r1',
        '--probe',
        '--probe-rate',
        '100',
        '--probe-baseline',
        '1s',
        // A soak after each batch: the pause lands before the next batch however fast the members
        // restart (each member is verified in the decision that sees it on the target). It counts
        // from the member's readiness, so it is long enough for the page to show the member and
        // the click's write to land on a loaded machine (CI runs the control plane's tests beside
        // this one).
        '--soak',
        '10s',
      ]);
      let applyOut = '';
      apply.child.stdout.on('data', (d: Buffer) => (applyOut += d.toString()));
      apply.child.stderr.on('data', (d: Buffer) => (applyOut += d.toString()));

      // The first member in plan order starts; press Pause while the others still wait (its
      // replacement can last 100 ms here, so the page's own record of what it showed is what is
      // waited on, not a selector that must catch the row in that state; the soak holds the rest).
      await page
        .waitForFunction("window.__seen.some(([, s]) => s === 'replacing' || s === 'draining')", undefined, {
          timeout: 120_000,
        })
        .catch(async (err: unknown) => {
          const seen = await page.evaluate('JSON.stringify(window.__seen)').catch(() => '?');
          throw new Error(`${String(err)}\nthe page showed ${String(seen)}\nbaton apply said:\n${applyOut}`);
        });
      await page.click('#pause-button');
      await page.waitForSelector('.controls .message:text("pause requested")');
      await page.waitForSelector('.phase[data-phase="Paused"]', { timeout: 120_000 });
      await apply.exited;
      assert.equal(apply.child.exitCode, 0, applyOut);
      const paused = await statusJson(state.dir);
      assert.equal(paused.status.phase, 'Paused', 'the journal agrees with the page');
      assert.equal(paused.spec.paused, true);
      const pending = Object.values(paused.status.members).filter((m) => m.state === 'pending').length;
      assert.ok(
        pending >= 1 && pending <= 2,
        `members left to do after the pause: ${pending} ${JSON.stringify(Object.entries(paused.status.members).map(([n, m]) => [n, m.state]))}\n${applyOut}`,
      );
      await page.waitForFunction("Number(document.querySelector('.chart')?.getAttribute('data-points')) > 0");

      // Resume: the dashboard drives the rest, as `baton resume` would.
      await page.click('#resume-button');
      await page.waitForSelector('.controls .message:text("this dashboard drives it")');
      await page.waitForSelector('.phase[data-phase="Completed"]', { timeout: 240_000 });
      const done = await statusJson(state.dir);
      assert.equal(done.status.phase, 'Completed');
      await page.waitForFunction(
        `document.querySelectorAll('tr[data-member][data-state="done"]').length === 3`,
      );

      const seen = (await page.evaluate('window.__seen')) as [string, string][];
      // The order the runner took them in (it orders live: most lagging first, leader last).
      const order = [
        ...new Set(seen.filter(([, s]) => s === 'replacing' || s === 'draining').map(([m]) => m)),
      ];
      assert.equal(order.length, 3, JSON.stringify(seen));
      const firstAt = (member: string, state: string) =>
        seen.findIndex(([m, s]) => m === member && s === state);
      for (const member of order) {
        const states = seen.filter(([m]) => m === member).map(([, s]) => s);
        assert.equal(states.at(-1), 'done', `${member}: ${states.join(' -> ')}`);
        assert.ok(states.includes('replacing'), `${member} was seen replacing: ${states.join(' -> ')}`);
        assert.ok(firstAt(member, 'replacing') < firstAt(member, 'done'));
      }
      for (let i = 1; i < order.length; i++) {
        assert.ok(
          firstAt(order[i - 1]!, 'done') < firstAt(order[i]!, 'replacing'),
          `one member at a time: ${order[i - 1]} was done before ${order[i]} started: ${JSON.stringify(seen)}`,
        );
      }
      const gated = seen.some(([, s]) => s === 'gated');
      assert.ok(gated, `the next member was shown gated by the pause: ${JSON.stringify(seen)}`);
      assert.deepEqual(errors, []);
      // What the page's buttons send, refused as `baton cancel` refuses it, in the same words.
      const cli = await runCli(['cancel', '--state-dir', state.dir]);
      assert.equal(cli.code, 2, cli.stdout + cli.stderr);
      const refused = (await page.evaluate(`(async () => {
        const token = new URLSearchParams(location.hash.slice(1)).get('token');
        const res = await fetch('/api/control', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
          body: JSON.stringify({ key: 'dash/${done.spec.name}', verb: 'cancel' }),
        });
        return { status: res.status, body: await res.json() };
      })()`)) as { status: number; body: { error: string } };
      assert.equal(refused.status, 409);
      assert.match(refused.body.error, /is Completed: there is nothing to cancel/);
      assert.ok(cli.stderr.includes(refused.body.error), `CLI: ${cli.stderr}`);
      // The browser logs the refused request, the only error it saw.
      assert.deepEqual(errors.splice(0), [
        'Failed to load resource: the server responded with a status of 409 (Conflict)',
      ]);
      await page.screenshot({ path: join(await artifacts(), 'dashboard.png'), fullPage: true });
      // Leave the page (closing its event stream) before the dashboard process is ended.
      await page.goto('about:blank');
      t.diagnostic(`dashboard test ran ${((Date.now() - started) / 1000).toFixed(1)} s`);
    },
  );

  it(
    'renders the report of that upgrade: timeline and probe plots drawn, no console error',
    { timeout: 120_000 },
    async () => {
      const out = join(await artifacts(), 'report.html');
      await runCliExpect(['report', '--state-dir', state.dir, '--html', out]);
      const { page, errors } = browser;
      await page.goto(`file://${out}`);
      await page.waitForSelector('.uplot canvas');
      assert.equal(await page.locator('#timeline .row').count(), 3);
      assert.ok((await page.locator('#timeline rect.bar').count()) >= 3, 'a bar per member step');
      assert.ok((await page.locator('#timeline rect.pause').count()) >= 1, 'the pause is shaded');
      assert.equal(await page.locator('#probe .uplot').count(), 3, 'throughput, latency and gap plots');
      assert.ok((await page.locator('#probe .phases tr').count()) >= 4, 'per-phase figures');
      assert.equal(await page.locator('#members tr[data-state="done"]').count(), 3);
      assert.ok((await page.locator('#prechecks tr').count()) >= 1);
      assert.deepEqual(errors, []);
      await page.screenshot({ path: join(await artifacts(), 'report.png'), fullPage: true });
    },
  );
});
