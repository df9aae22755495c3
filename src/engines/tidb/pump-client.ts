/**
 * Typed client of a Pump (TiDB Binlog) node's HTTP port (default 8250), as pingcap/tidb-binlog
 * (v8.x) `pump/server.go` routes it: `GET /status` answers every pump's registered state
 * (`PumpStatus`: `{"StatusMap": {nodeID: node.Status}, "CommitTS": ts, "ErrMsg": ""}`, with
 * `node.Status` from `pkg/node/node.go`: `nodeId`, `host`, `state` - `online`, `pausing`,
 * `paused`, `closing`, `offline` -, `maxCommitTS`, `updateTS`), or only `ErrMsg` when PD cannot
 * be reached. A pump registers `online` when it starts and commits `paused` when it stops
 * gracefully; TiDB's pump client writes binlogs only to online pumps.
 *
 * Around a Pump restart TiDB Operator does no more than the StatefulSet's own rolling update once
 * PD, TiKV and TiFlash are done (pingcap/tidb-operator `pkg/manager/member/pump_member_manager.go`:
 * no upgrader), and TiUP none (Pump is not a `RollingUpdateInstance`). Baton additionally waits
 * until the restarted pump is `online` again here.
 */
import { OperationalError } from '../../core/errors.js';
import { DEFAULT_HTTP_TIMEOUT_MS, baseUrl, getJson } from './http.js';

/** One pump as `/status` lists it. */
export interface PumpNode {
  nodeId: string;
  host: string;
  state: string;
  maxCommitTS: number;
}

interface RawStatus {
  StatusMap?: Record<string, { nodeId?: string; host?: string; state?: string; maxCommitTS?: number }>;
  ErrMsg?: string;
}

/** Reads Pump's HTTP API on any pump. */
export class PumpClient {
  constructor(private readonly timeoutMs = DEFAULT_HTTP_TIMEOUT_MS) {}

  /** Every pump registered in PD, as the pump at `endpoint` reads them. */
  async pumps(endpoint: string): Promise<PumpNode[]> {
    const url = `${baseUrl(endpoint)}/status`;
    const raw = await getJson<RawStatus>(url, { timeoutMs: this.timeoutMs });
    if (raw.ErrMsg) throw new OperationalError('pump-status', `${url}: ${raw.ErrMsg}`);
    return Object.entries(raw.StatusMap ?? {}).map(([id, s]) => ({
      nodeId: s.nodeId ?? id,
      host: s.host ?? '',
      state: s.state ?? '',
      maxCommitTS: s.maxCommitTS ?? 0,
    }));
  }
}
