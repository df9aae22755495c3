/**
 * A TiFlash store's proxy status port (default 20292, the `status_address` it registers in PD) for
 * the double, as pingcap/tiflash (release-8.5) `dbms/src/Storages/KVStore/FFI/ProxyFFIStatusService.cpp`
 * serves it through TiFlash's raft proxy: `GET /tiflash/store-status` answers the store's status
 * name as plain text (`Idle`, `Ready`, `Running`, `Stopping`, `Terminated`; TiDB Operator's
 * tiflash upgrader waits for `Running`, pingcap/tidb-operator `pkg/tiflashapi/tiflash.go`), and the
 * proxy's own `GET /status` answers 200. Anything else 404.
 */
import { NOT_FOUND, RestartableHttp } from './http-server.js';
import type { ClusterModel, StoreState } from './model.js';

/** The proxy status server of TiFlash store `storeId`. */
export function tiflashStatusServer(model: ClusterModel, storeId: number): RestartableHttp {
  const self = () => model.store(storeId) as StoreState;
  return new RestartableHttp((req) => {
    if (req.method === 'GET' && req.path === '/status') return { status: 200, text: '' };
    if (req.method === 'GET' && req.path === '/tiflash/store-status')
      return { status: 200, text: model.tiflashStatus(self()) };
    return NOT_FOUND;
  });
}
