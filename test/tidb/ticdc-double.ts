/**
 * TiCDC's open API v2 for one capture of the double, as pingcap/tiflow (release-8.5) routes it in
 * `cdc/api/v2/api.go` (gin: unknown routes 404) and answers it in `status.go`, `capture.go` and
 * `owner.go`: capture and owner calls are forwarded to the owner, so any capture answers them;
 * drain refuses the owner and a cluster with one capture (`ErrSchedulerRequestFailed`), answers
 * 202 `{"current_table_count": n}`; resign answers `{}`.
 */
import { NOT_FOUND, RestartableHttp, json } from './http-server.js';
import type { CaptureState, ClusterModel } from './model.js';

function apiError(message: string, code: string) {
  return json(400, { error_msg: message, error_code: code });
}

/** The API server of capture `name`. */
export function ticdcServer(model: ClusterModel, name: string): RestartableHttp {
  const self = () => model.captures.find((c) => c.name === name) as CaptureState;
  return new RestartableHttp((req) => {
    const me = self();
    if (req.method === 'GET' && req.path === '/api/v2/status') {
      return json(200, {
        version: me.version,
        git_hash: 'double',
        id: me.id,
        cluster_id: 'default',
        pid: process.pid,
        is_owner: model.cdcOwner === me.name,
        liveness: 0,
      });
    }
    if (req.method === 'GET' && req.path === '/api/v2/captures') {
      const alive = model.captures.filter((c) => c.up);
      return json(200, {
        total: alive.length,
        items: alive.map((c) => ({
          id: c.id,
          is_owner: c.name === model.cdcOwner,
          address: `127.0.0.1:${c.port}`,
          cluster_id: 'default',
        })),
      });
    }
    if (req.method === 'POST' && req.path === '/api/v2/owner/resign') {
      const others = model.captures.filter((c) => c.up && c.name !== model.cdcOwner);
      model.counters.ownerResigns += 1;
      if (others.length > 0) model.setCdcOwner((others[0] as CaptureState).name);
      return json(200, {});
    }
    if (req.method === 'GET' && req.path === '/api/v2/processors') {
      const items = model.captures
        .filter((c) => c.up && c.tables.length > 0)
        .map((c) => ({ namespace: 'default', changefeed_id: 'cf-1', capture_id: c.id }));
      return json(200, { total: items.length, items });
    }
    const proc = /^\/api\/v2\/processors\/([^/]+)\/([^/]+)$/.exec(req.path);
    if (req.method === 'GET' && proc) {
      const c = model.captures.find((x) => x.up && x.id === decodeURIComponent(proc[2] as string));
      if (!c) return apiError(`capture not exists: ${proc[2]}`, 'CDC:ErrCaptureNotExist');
      return json(200, { table_ids: [...c.tables] });
    }
    const drain = /^\/api\/v2\/captures\/([^/]+)\/drain$/.exec(req.path);
    if (req.method === 'POST' && drain) {
      const alive = model.captures.filter((c) => c.up);
      if (alive.length <= 1)
        return apiError('scheduler request failed: only one capture alive', 'CDC:ErrSchedulerRequestFailed');
      const target = alive.find((c) => c.id === decodeURIComponent(drain[1] as string));
      if (!target) return apiError(`capture not exists: ${drain[1]}`, 'CDC:ErrCaptureNotExist');
      if (target.name === model.cdcOwner)
        return apiError('scheduler request failed: cannot drain the owner', 'CDC:ErrSchedulerRequestFailed');
      model.counters.captureDrains[target.name] = (model.counters.captureDrains[target.name] ?? 0) + 1;
      return json(202, { current_table_count: model.drainCapture(target.name) });
    }
    return NOT_FOUND;
  });
}
