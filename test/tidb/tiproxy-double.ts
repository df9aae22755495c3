/**
 * A TiProxy instance's API port (default 3080) for the double, as pingcap/tiproxy (v1.x)
 * `pkg/server/api/server.go` and `debug.go` serve it: every route first passes the `readyState`
 * middleware (500 `"service not ready"` until the proxy is ready), then `GET /api/debug/health`
 * answers 200 `{"config_checksum": N}` (502 while the proxy is closing: graceful shutdown, so load
 * balancers stop sending connections). Unknown routes: gin's 404.
 */
import { NOT_FOUND, RestartableHttp, json } from './http-server.js';
import type { ClusterModel, ProxyState } from './model.js';

/** The API server of TiProxy `name`. */
export function tiproxyServer(model: ClusterModel, name: string): RestartableHttp {
  const self = () => model.proxies.find((p) => p.name === name) as ProxyState;
  return new RestartableHttp((req) => {
    if (model.now() < self().readyAt) return json(500, 'service not ready');
    if (req.method === 'GET' && req.path === '/api/debug/health')
      return json(200, { config_checksum: 3_141_592_653 });
    return NOT_FOUND;
  });
}
