/**
 * `baton dashboard`'s HTTP server (fastify): the page and its bundled assets, the feed as
 * server-sent events (`/api/events`: `hello` once, then `upgrade` and `probe` events), and
 * `POST /api/control` for Pause / Resume / Cancel, which needs the token printed at start.
 *
 * Safe by default: it listens on 127.0.0.1, and while it does it answers only requests addressed
 * to a loopback name (so a web page elsewhere cannot reach it through DNS rebinding); a control
 * needs `Authorization: Bearer <token>`, a header a cross-site form cannot send.
 */
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyReply } from 'fastify';
import { BatonError, describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { UiAssets } from './assets.js';
import type { FeedEvent, UpgradeFeed } from './feed.js';

/** The controls the page offers. */
export const DASHBOARD_VERBS = ['pause', 'resume', 'cancel'] as const;

/** A control the page offers. */
export type DashboardVerb = (typeof DASHBOARD_VERBS)[number];

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Secret a control request must carry. */
  token: string;
  feed: UpgradeFeed;
  /** Carries out `verb` on the upgrade `key`; resolves to what to tell the user, throws a refusal. */
  control(key: string, verb: DashboardVerb): Promise<string>;
  assets: UiAssets;
  logger: Logger;
}

/** A listening dashboard. */
export interface Dashboard {
  port: number;
  /** The page's address with the token in its fragment (never sent to a server). */
  url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const KEEPALIVE_MS = 15_000;

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function sse(reply: FastifyReply, event: string, data: unknown): void {
  reply.raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Starts the dashboard server; the feed must be started by the caller. */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const host = opts.host ?? '127.0.0.1';
  const app = Fastify({ logger: false });
  const loopbackOnly = LOOPBACK.has(host);

  app.addHook('onRequest', async (req, reply) => {
    const hostname = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (loopbackOnly && !LOOPBACK.has(hostname)) {
      await reply.code(403).send({ error: `this dashboard answers requests to 127.0.0.1, not ${hostname}` });
    }
  });

  const asset = (type: string, body: string) => async (_req: unknown, reply: FastifyReply) =>
    reply.header('content-type', type).header('cache-control', 'no-cache').send(body);
  app.get('/', asset('text/html; charset=utf-8', opts.assets.dashboardHtml));
  app.get('/assets/dashboard.js', asset('text/javascript; charset=utf-8', opts.assets.dashboardJs));
  app.get('/assets/dashboard.css', asset('text/css; charset=utf-8', opts.assets.dashboardCss));
  // Browsers ask for an icon; the page has none.
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  app.get('/api/upgrades', async () => opts.feed.state());

  const streams = new Set<FastifyReply>();
  app.get('/api/events', (req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    sse(reply, 'hello', opts.feed.state());
    const unsubscribe = opts.feed.subscribe((e: FeedEvent) => {
      const { type, ...data } = e;
      sse(reply, type, data);
    });
    const keepalive = setInterval(() => reply.raw.write(': keepalive\n\n'), KEEPALIVE_MS);
    streams.add(reply);
    req.raw.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
      streams.delete(reply);
    });
  });

  app.post<{ Body: { key?: unknown; verb?: unknown } }>('/api/control', async (req, reply) => {
    if (!tokenMatches(req.headers.authorization, opts.token)) {
      return reply.code(401).send({ error: 'a control needs the token printed when the dashboard started' });
    }
    const { key, verb } = req.body ?? {};
    if (typeof key !== 'string' || !(DASHBOARD_VERBS as readonly unknown[]).includes(verb)) {
      return reply
        .code(400)
        .send({ error: `send {"key": "<cluster>/<upgrade>", "verb": "pause|resume|cancel"}` });
    }
    try {
      const message = await opts.control(key, verb as DashboardVerb);
      opts.logger.info('dashboard control', { key, verb, message });
      void opts.feed.refresh();
      return { message };
    } catch (err) {
      const refused = err instanceof BatonError && err.kind === 'bad-input';
      opts.logger.warn('dashboard control refused', { key, verb, error: describeError(err) });
      return reply.code(refused ? 409 : 500).send({ error: describeError(err) });
    }
  });

  await app.listen({ host, port: opts.port });
  const port = (app.server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `http://${shown === '0.0.0.0' ? '127.0.0.1' : shown}:${port}/#token=${opts.token}`,
    close: async () => {
      for (const s of streams) s.raw.end();
      streams.clear();
      await app.close();
    },
  };
}
