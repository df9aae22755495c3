/**
 * A small JSON client for the test harness's own calls to the apiserver (the fake kubelet, the
 * per-test set-up): any path, any patch content type, and a list+watch loop that relists after
 * a 410 or a dropped stream, as client-go's reflector does
 * (k8s.io/client-go/tools/cache/reflector.go). The code under test uses @kubernetes/client-node.
 */
import { request, type RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';

/** A failed call: the HTTP code and the apiserver's Status (reason, message). */
export class RestError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Patch content types the apiserver accepts. */
export const PATCH = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

/** Raw calls against the cluster of a KubeConfig's current context. */
export class Rest {
  constructor(readonly kc: KubeConfig) {}

  private async options(
    method: string,
    path: string,
    headers: Record<string, string>,
  ): Promise<RequestOptions> {
    const server = new URL(this.kc.getCurrentCluster()!.server);
    const opts: RequestOptions = {
      method,
      host: server.hostname,
      port: server.port,
      path,
      headers: { accept: 'application/json', ...headers },
    };
    await this.kc.applyToHTTPSOptions(opts);
    return opts;
  }

  /** Send a request and parse the JSON answer; throws {@link RestError} on a non-2xx code. */
  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    // Node sends a DELETE body without framing unless told its length.
    const opts = await this.options(
      method,
      path,
      data === undefined
        ? {}
        : { 'content-type': contentType, 'content-length': String(Buffer.byteLength(data)) },
    );
    return new Promise<T>((resolve, reject) => {
      const req = request(opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('error', reject);
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            parsed = { message: text };
          }
          if (code >= 200 && code < 300) resolve(parsed as T);
          else
            reject(
              new RestError(
                code,
                String(parsed.reason ?? ''),
                `${method} ${path}: ${code} ${String(parsed.message ?? text)}`,
              ),
            );
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  get<T = Record<string, unknown>>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  /** GET that answers undefined for 404. */
  async find<T = Record<string, unknown>>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof RestError && err.code === 404) return undefined;
      throw err;
    }
  }

  post<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  patch<T = Record<string, unknown>>(path: string, body: unknown, type: string = PATCH.merge): Promise<T> {
    return this.call<T>('PATCH', path, body, type);
  }

  /** DELETE that treats 404 as done. */
  async delete(path: string, body?: unknown): Promise<void> {
    try {
      await this.call('DELETE', path, body);
    } catch (err) {
      if (!(err instanceof RestError && err.code === 404)) throw err;
    }
  }

  /**
   * List then watch `path` (a collection) with `query` (selectors), calling `onEvent` for the
   * listed objects (as ADDED) and every change; relists after a 410 or any broken stream, with a
   * short backoff. With `from`, no first list: the watch starts at that resourceVersion.
   * `onEvent` errors are the caller's (they are not caught here). Stops with `stop()`.
   */
  listWatch<T extends { metadata?: { resourceVersion?: string } }>(
    path: string,
    query: Record<string, string>,
    onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T) => void,
    opts: { from?: string } = {},
  ): { stop(): void; synced: Promise<void> } {
    let stopped = false;
    let current: { destroy(): void } | undefined;
    let markSynced: () => void = () => {};
    const synced = new Promise<void>((r) => (markSynced = r));
    const qs = (extra: Record<string, string>) => new URLSearchParams({ ...query, ...extra }).toString();
    const loop = async () => {
      let rv = opts.from ?? '';
      if (rv) markSynced();
      while (!stopped) {
        try {
          if (!rv) {
            const list = await this.get<{ items: T[]; metadata: { resourceVersion: string } }>(
              `${path}?${qs({})}`,
            );
            for (const item of list.items) onEvent('ADDED', item);
            rv = list.metadata.resourceVersion;
            markSynced();
          }
          rv = await this.watchOnce(
            path,
            qs({ watch: 'true', resourceVersion: rv, allowWatchBookmarks: 'true' }),
            rv,
            onEvent,
            (h) => (current = h),
          );
        } catch {
          rv = '';
          if (!stopped) await new Promise((r) => setTimeout(r, 200));
        }
      }
    };
    void loop();
    return {
      synced,
      stop() {
        stopped = true;
        current?.destroy();
      },
    };
  }

  /** One watch stream; resolves with the last resourceVersion seen when it ends, '' after a 410. */
  private async watchOnce<T extends { metadata?: { resourceVersion?: string } }>(
    path: string,
    qs: string,
    rv: string,
    onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T) => void,
    track: (h: { destroy(): void }) => void,
  ): Promise<string> {
    const opts = await this.options('GET', `${path}?${qs}`, {});
    return new Promise<string>((resolve, reject) => {
      let last = rv;
      const req = request(opts, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new RestError(res.statusCode ?? 0, '', `watch ${path}: ${res.statusCode}`));
          return;
        }
        const lines = createInterface({ input: res });
        // readline re-emits its input's errors (a destroyed stream's "aborted"); `close` ends it.
        lines.on('error', () => undefined);
        lines.on('line', (line) => {
          if (!line.trim()) return;
          const ev = JSON.parse(line) as { type: string; object: T & { code?: number } };
          if (ev.type === 'ERROR') {
            last = '';
            req.destroy();
            return;
          }
          last = ev.object.metadata?.resourceVersion ?? last;
          if (ev.type === 'BOOKMARK') return;
          onEvent(ev.type as 'ADDED' | 'MODIFIED' | 'DELETED', ev.object);
        });
        res.on('close', () => resolve(last));
        res.on('error', () => resolve(last));
      });
      track(req);
      req.on('error', (err) => (last === rv ? reject(err) : resolve(last)));
      req.end();
    });
  }
}
