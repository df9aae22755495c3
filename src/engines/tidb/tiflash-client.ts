/**
 * Typed client of a TiFlash store's proxy status port (default 20292, the `status_address` the
 * store registers in PD), as pingcap/tiflash (release-8.5)
 * `dbms/src/Storages/KVStore/FFI/ProxyFFIStatusService.cpp` serves it: `GET /tiflash/store-status`
 * answers the store's status name as plain text (`Idle`, `Ready`, `Running`, `Stopping`,
 * `Terminated`). TiDB Operator's tiflash upgrader (pingcap/tidb-operator
 * `pkg/manager/member/tiflash_upgrader.go`, TiFlash v5.1.2 and later; client
 * `pkg/tiflashapi/tiflash.go`) moves on from an upgraded TiFlash pod only when its store is Up in
 * PD and this answers `Running`.
 */
import { DEFAULT_HTTP_TIMEOUT_MS, baseUrl, expectOk, request } from './http.js';

/** TiFlash's store status names. */
export type TiflashStoreStatus = 'Idle' | 'Ready' | 'Running' | 'Stopping' | 'Terminated' | string;

/** Reads a TiFlash store's proxy status port. */
export class TiflashClient {
  constructor(private readonly timeoutMs = DEFAULT_HTTP_TIMEOUT_MS) {}

  /** `GET /tiflash/store-status`: `Running` once the store serves. */
  async storeStatus(statusAddress: string): Promise<TiflashStoreStatus> {
    const url = `${baseUrl(statusAddress)}/tiflash/store-status`;
    const answer = expectOk('GET', url, await request(url, { timeoutMs: this.timeoutMs }));
    return answer.text.trim();
  }
}
