/**
 * A restartable HTTP listener for the doubles: it binds 127.0.0.1 on the same port every time it
 * starts (as a pod keeps its address across restarts), refuses connections while stopped, and
 * answers the way Go servers do (`render.JSON` with indentation, `http.Error` as text/plain).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as a double's router sees it. */
export interface DoubleRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

/** What a route answers. */
export interface DoubleResponse {
  status: number;
  /** JSON value (rendered), or text when `text` is set. */
  json?: unknown;
  text?: string;
  /** Pre-rendered JSON text (for numbers beyond JavaScript's safe integers). */
  raw?: string;
}

/** `render.JSON(w, status, v)`. */
export function json(status: number, value: unknown): DoubleResponse {
  return { status, json: value };
}

/** `http.Error(w, msg, status)`: text/plain, message and a newline. */
export function httpError(status: number, message: string): DoubleResponse {
  return { status, text: `${message}\n` };
}

/** gorilla/mux's answer for an unknown route. */
export const NOT_FOUND = httpError(404, '404 page not found');

export type Router = (req: DoubleRequest) => DoubleResponse | Promise<DoubleResponse>;

/** A listener that can stop and start again on the same port. */
export class RestartableHttp {
  private server: Server | undefined;
  port = 0;

  constructor(private readonly router: Router) {}

  get running(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: this.port, host: '127.0.0.1' }, () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stop listening and cut every open connection (a process that exits). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://double');
    let out: DoubleResponse;
    try {
      out = await this.router({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
    } catch (err) {
      out = httpError(500, err instanceof Error ? err.message : String(err));
    }
    if (out.text !== undefined) {
      res.writeHead(out.status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(out.text);
      return;
    }
    res.writeHead(out.status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(out.raw ?? JSON.stringify(out.json ?? null, null, 2));
  }
}

/** Parse a JSON body as Go's `ReadJSONRespondError` does: 400 with the decoder's message. */
export function readJson(
  body: string,
): { ok: true; value: unknown } | { ok: false; response: DoubleResponse } {
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (err) {
    return { ok: false, response: json(400, err instanceof Error ? err.message : 'bad json') };
  }
}
