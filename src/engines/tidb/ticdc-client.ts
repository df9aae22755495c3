/**
 * Typed client of TiCDC's open API v2 (default port 8300), as pingcap/tiflow (release-8.5)
 * `cdc/api/v2/api.go` routes it: `GET /api/v2/status` (`model.ServerStatus`: `version`,
 * `git_hash`, `id`, `cluster_id`, `pid`, `is_owner`, `liveness`), `GET /api/v2/captures`
 * (`{total, items: [{id, is_owner, address, cluster_id}]}`), `POST /api/v2/owner/resign`
 * (`owner.go`: the owner stops campaigning, another capture becomes owner; answers `{}`) and
 * `POST /api/v2/captures/{id}/drain` (`capture.go`: moves the capture's tables away; 202 with
 * `{"current_table_count": n}`, refused for the owner and when only one capture is alive),
 * `GET /api/v2/processors` (`{items: [{namespace, changefeed_id, capture_id}]}`) and
 * `GET /api/v2/processors/{changefeed}/{capture}` (`processor.go`: `{table_ids: [...]}`). Capture,
 * processor and owner calls are forwarded to the owner by any capture.
 */
import { DEFAULT_HTTP_TIMEOUT_MS, baseUrl, expectOk, getJson, parseJson, request } from './http.js';

/** `GET /api/v2/status` of one capture. */
export interface TicdcStatus {
  version: string;
  id: string;
  isOwner: boolean;
  /** 0 alive, 1 stopping (`model.Liveness`). */
  liveness: number;
}

/** One capture of `GET /api/v2/captures`. */
export interface TicdcCapture {
  id: string;
  isOwner: boolean;
  address: string;
}

/** TiCDC's open API v2 on any capture. */
export class TicdcClient {
  constructor(private readonly timeoutMs = DEFAULT_HTTP_TIMEOUT_MS) {}

  /** The capture's own status. */
  async status(endpoint: string): Promise<TicdcStatus> {
    const raw = await getJson<{ version?: string; id?: string; is_owner?: boolean; liveness?: number }>(
      `${baseUrl(endpoint)}/api/v2/status`,
      { timeoutMs: this.timeoutMs },
    );
    return {
      version: raw.version ?? '',
      id: raw.id ?? '',
      isOwner: raw.is_owner === true,
      liveness: raw.liveness ?? 0,
    };
  }

  /** Every live capture, as the owner sees them. */
  async captures(endpoint: string): Promise<TicdcCapture[]> {
    const raw = await getJson<{ items?: { id?: string; is_owner?: boolean; address?: string }[] }>(
      `${baseUrl(endpoint)}/api/v2/captures`,
      { timeoutMs: this.timeoutMs },
    );
    return (raw.items ?? []).map((c) => ({
      id: c.id ?? '',
      isOwner: c.is_owner === true,
      address: c.address ?? '',
    }));
  }

  /**
   * Tables capture `id` replicates now, over every changefeed (`GET /api/v2/processors` and each
   * processor's `table_ids`): what a drain has left to move.
   */
  async tablesOf(endpoint: string, id: string): Promise<number> {
    const base = baseUrl(endpoint);
    const list = await getJson<{ items?: { changefeed_id?: string; capture_id?: string }[] }>(
      `${base}/api/v2/processors`,
      { timeoutMs: this.timeoutMs },
    );
    let tables = 0;
    for (const p of (list.items ?? []).filter((x) => x.capture_id === id)) {
      const detail = await getJson<{ table_ids?: number[] }>(
        `${base}/api/v2/processors/${encodeURIComponent(p.changefeed_id ?? '')}/${encodeURIComponent(id)}`,
        { timeoutMs: this.timeoutMs },
      );
      tables += detail.table_ids?.length ?? 0;
    }
    return tables;
  }

  /** Make the current owner resign (another capture campaigns and takes over). */
  async resignOwner(endpoint: string): Promise<void> {
    const url = `${baseUrl(endpoint)}/api/v2/owner/resign`;
    expectOk('POST', url, await request(url, { method: 'POST', timeoutMs: this.timeoutMs }));
  }

  /**
   * Ask the owner to move every table away from capture `id`; returns the tables it still holds
   * (0 when drained). Repeat until 0, as TiDB Operator does.
   */
  async drainCapture(endpoint: string, id: string): Promise<number> {
    const url = `${baseUrl(endpoint)}/api/v2/captures/${encodeURIComponent(id)}/drain`;
    const answer = expectOk('POST', url, await request(url, { method: 'POST', timeoutMs: this.timeoutMs }));
    return parseJson<{ current_table_count?: number }>(url, answer.text).current_table_count ?? 0;
  }
}
