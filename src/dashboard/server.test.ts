/**
 * The dashboard server's contract over real HTTP on 127.0.0.1: the page and its assets, the feed
 * as server-sent events starting with `hello`, requests addressed to another host name refused
 * (DNS rebinding), and a control carried out only with the token, its refusal passed on as 409
 * with the control function's own message. The control function and the feed's source are the
 * edges here; the browser test drives the real ones during a real upgrade.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BadInputError } from '../core/errors.js';
import { nullLogger } from '../core/logger.js';
import type { UiAssets } from './assets.js';
import { UpgradeFeed } from './feed.js';
import { type Dashboard, type DashboardVerb, startDashboard } from './server.js';

const TOKEN = 'secret-token-for-the-test';

const assets: UiAssets = {
  dashboardHtml: '<!doctype html><title>Baton</title><div id="app"></div>',
  dashboardJs: 'console.log("page")',
  dashboardCss: 'body{}',
  reportJs: '',
  reportCss: '',
};

/** A raw request, so that the Host header is what the test says. */
function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          host: `127.0.0.1:${port}`,
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
          // An event stream stays open: its first event is enough.
          if (res.headers['content-type'] === 'text/event-stream' && text.includes('\n\n')) {
            res.destroy();
            resolve({ status: res.statusCode ?? 0, body: text, type: 'text/event-stream' });
          }
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text, type: String(res.headers['content-type']) }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('dashboard server', () => {
  let dashboard: Dashboard;
  let feed: UpgradeFeed;
  const done: [string, DashboardVerb][] = [];

  before(async () => {
    feed = new UpgradeFeed({ list: async () => [] }, { logger: nullLogger, intervalMs: 60_000 });
    await feed.start();
    dashboard = await startDashboard({
      port: 0,
      token: TOKEN,
      feed,
      assets,
      logger: nullLogger,
      control: async (key, verb) => {
        if (key === 'c/ended') {
          throw new BadInputError('upgrade-ended', `upgrade ended is Completed: there is nothing to ${verb}`);
        }
        done.push([key, verb]);
        return `upgrade ${key}: ${verb} requested`;
      },
    });
  });

  after(async () => {
    feed.stop();
    await dashboard.close();
  });

  it('listens on 127.0.0.1 and puts the token in the fragment of the address it prints', () => {
    assert.equal(dashboard.url, `http://127.0.0.1:${dashboard.port}/#token=${TOKEN}`);
  });

  it('serves the page and its bundled assets', async () => {
    const page = await call(dashboard.port, 'GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    assert.equal(page.body, assets.dashboardHtml);
    const js = await call(dashboard.port, 'GET', '/assets/dashboard.js');
    assert.equal(js.body, assets.dashboardJs);
  });

  it('refuses a request addressed to another host name', async () => {
    const r = await call(dashboard.port, 'GET', '/api/upgrades', { host: 'attacker.example:80' });
    assert.equal(r.status, 403);
    assert.match(r.body, /answers requests to 127\.0\.0\.1, not attacker\.example/);
  });

  it('starts the event stream with everything known', async () => {
    const r = await call(dashboard.port, 'GET', '/api/events');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'event: hello\ndata: {"upgrades":{},"probe":{}}\n\n');
  });

  it('carries out a control only with the token', async () => {
    const body = { key: 'c/u', verb: 'pause' };
    const wrong: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }];
    for (const headers of wrong) {
      const r = await call(dashboard.port, 'POST', '/api/control', headers, body);
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.match(r.body, /needs the token printed when the dashboard started/);
    }
    assert.deepEqual(done, []);
    const ok = await call(dashboard.port, 'POST', '/api/control', { authorization: `Bearer ${TOKEN}` }, body);
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { message: 'upgrade c/u: pause requested' });
    assert.deepEqual(done, [['c/u', 'pause']]);
  });

  it('passes a refusal on as 409 with its message, and names a malformed request', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const refused = await call(dashboard.port, 'POST', '/api/control', auth, {
      key: 'c/ended',
      verb: 'cancel',
    });
    assert.equal(refused.status, 409);
    assert.deepEqual(JSON.parse(refused.body), {
      error: 'upgrade ended is Completed: there is nothing to cancel',
    });
    const bad = await call(dashboard.port, 'POST', '/api/control', auth, { key: 'c/u', verb: 'finalize' });
    assert.equal(bad.status, 400);
    assert.match((JSON.parse(bad.body) as { error: string }).error, /"verb": "pause\|resume\|cancel"/);
    assert.deepEqual(done, [['c/u', 'pause']]);
  });
});
