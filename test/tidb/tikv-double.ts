/**
 * A TiKV store's status port for the double, as tikv/tikv (release-8.5) `components/server/src/
 * status_server/mod.rs` serves it: `GET /metrics` (Prometheus text; the raftstore gauge
 * `tikv_raftstore_region_count` with `type="leader"` and `type="region"`, the sample TiDB Operator
 * reads) and `GET /status` (200, empty). The counts come from the shared model.
 */
import { NOT_FOUND, RestartableHttp } from './http-server.js';
import type { ClusterModel } from './model.js';

/** The status server of store `storeId`. */
export function tikvStatusServer(model: ClusterModel, storeId: number): RestartableHttp {
  return new RestartableHttp((req) => {
    if (req.method === 'GET' && req.path === '/status') return { status: 200, text: '' };
    if (req.method === 'GET' && req.path === '/metrics') {
      const leaders = model.leaderCount(storeId);
      const regions = model.regionCount(storeId);
      return {
        status: 200,
        text: [
          '# HELP tikv_raftstore_region_count Number of regions collected in region_collection_worker',
          '# TYPE tikv_raftstore_region_count gauge',
          `tikv_raftstore_region_count{type="leader"} ${leaders}`,
          `tikv_raftstore_region_count{type="region"} ${regions}`,
          '',
        ].join('\n'),
      };
    }
    return NOT_FOUND;
  });
}
