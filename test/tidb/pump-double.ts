/**
 * A Pump (TiDB Binlog) node's HTTP port (default 8250) for the double, as pingcap/tidb-binlog
 * (v8.x) `pump/server.go` routes it: `GET /status` (`PumpStatus`: every pump's `node.Status` from
 * PD's etcd, keyed by node ID - `{nodeId, host, state, isAlive, score, label, maxCommitTS,
 * updateTS}` from `pkg/node/node.go` - with a fresh TSO as `CommitTS`; when PD cannot answer,
 * `{"ErrMsg": ...}` and nothing else). A started pump registers itself `online`; a gracefully
 * stopped one commits `paused` (`commitStatus`), which is when TiDB's pump client stops sending it
 * binlogs.
 */
import { NOT_FOUND, RestartableHttp, json } from './http-server.js';
import type { ClusterModel } from './model.js';

/** The HTTP server of Pump `name`. */
export function pumpServer(model: ClusterModel): RestartableHttp {
  return new RestartableHttp((req) => {
    if (req.method !== 'GET' || req.path !== '/status') return NOT_FOUND;
    if (!model.pdServing()) return json(200, { ErrMsg: 'context deadline exceeded: fail to get ts from pd' });
    const ts = model.now() * 2 ** 18;
    return json(200, {
      StatusMap: Object.fromEntries(
        model.pumps.map((p) => [
          p.nodeId,
          {
            nodeId: p.nodeId,
            host: `127.0.0.1:${p.port}`,
            state: p.state,
            isAlive: false,
            score: 0,
            label: null,
            maxCommitTS: p.maxCommitTS,
            updateTS: ts,
          },
        ]),
      ),
      CommitTS: ts,
      ErrMsg: '',
    });
  });
}
