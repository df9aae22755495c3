/**
 * Typed client of TiProxy's API port (default 3080), as pingcap/tiproxy (v1.x)
 * `pkg/server/api/server.go` and `debug.go` serve it: every route passes the `readyState`
 * middleware first (500 `"service not ready"` until the proxy is ready), then `GET
 * /api/debug/health` answers 200 `{"config_checksum": N}` when the proxy serves and 502 while it is
 * closing (its graceful shutdown: `graceful-wait-before-shutdown` keeps it answering 502 so load
 * balancers stop sending connections before it closes them).
 *
 * This is all an operator can ask TiProxy around a restart: TiDB Operator's tiproxy upgrader
 * (pingcap/tidb-operator `pkg/manager/member/tiproxy_upgrader.go`) waits for the upgraded pod to be
 * available (Ready for `tiproxy.pingcap.com/tiproxy-min-ready-seconds`), and TiUP's
 * `TiProxyInstance.PreRestart`/`PostRestart` (pingcap/tiup `pkg/cluster/spec/tiproxy.go`) do
 * nothing: TiProxy drains itself on SIGTERM. Baton additionally requires this health answer.
 */
import { DEFAULT_HTTP_TIMEOUT_MS, baseUrl, messageOf, request } from './http.js';

/** What `/api/debug/health` says. */
export interface TiproxyHealth {
  /** 200: the proxy serves. */
  healthy: boolean;
  /** `serving`, `closing` (502), or the server's message ("service not ready"). */
  detail: string;
}

/** Reads a TiProxy instance's API port. */
export class TiproxyClient {
  constructor(private readonly timeoutMs = DEFAULT_HTTP_TIMEOUT_MS) {}

  /** `GET /api/debug/health` (any answer is a result; no answer rejects with HttpError status 0). */
  async health(endpoint: string): Promise<TiproxyHealth> {
    const answer = await request(`${baseUrl(endpoint)}/api/debug/health`, { timeoutMs: this.timeoutMs });
    if (answer.status === 200) return { healthy: true, detail: 'serving' };
    if (answer.status === 502) return { healthy: false, detail: 'closing (graceful shutdown)' };
    return { healthy: false, detail: `${answer.status}: ${messageOf(answer.text) || '(empty body)'}` };
  }
}
