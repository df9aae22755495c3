/**
 * TiKV's status port (default 20180), where PD does not have what Baton needs at once: the
 * store's own region leader count, read from its Prometheus metrics exactly as TiDB Operator v1
 * reads it (pingcap/tidb-operator `pkg/tikvapi/tikv.go`, GetLeaderCount: `GET /metrics`, metric
 * `tikv_raftstore_region_count` with label `type="leader"`). PD's `leader_count` follows store
 * heartbeats (every 10 s by default) and lags behind an eviction; the store's own gauge does not.
 *
 * The text-format parsing is a dozen lines for one gauge, so no Prometheus parser dependency.
 */
import { OperationalError } from '../../core/errors.js';
import { DEFAULT_HTTP_TIMEOUT_MS, baseUrl, expectOk, request } from './http.js';

/** The gauge TiKV exports its region counts under (`type` = `leader` or `region`). */
export const REGION_COUNT_METRIC = 'tikv_raftstore_region_count';

/**
 * Value of `metric` with label `label="value"` in Prometheus text exposition format, or undefined
 * when no sample matches.
 */
export function sampleValue(text: string, metric: string, label: [string, string]): number | undefined {
  const [key, want] = label;
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric) || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== metric) continue;
    const labels = new Map<string, string>();
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels.set(pair[1] as string, pair[2] as string);
    }
    if (labels.get(key) !== want) continue;
    const value = Number(m[4]);
    if (Number.isFinite(value)) return value;
  }
  return undefined;
}

/** Reads a TiKV store's status port. */
export class TikvStatusClient {
  constructor(private readonly timeoutMs = DEFAULT_HTTP_TIMEOUT_MS) {}

  /** Region leaders the store holds now (`tikv_raftstore_region_count{type="leader"}`). */
  async leaderCount(statusAddress: string): Promise<number> {
    const url = `${baseUrl(statusAddress)}/metrics`;
    const answer = expectOk('GET', url, await request(url, { timeoutMs: this.timeoutMs }));
    const value = sampleValue(answer.text, REGION_COUNT_METRIC, ['type', 'leader']);
    if (value === undefined) {
      throw new OperationalError(
        'tikv-no-leader-metric',
        `${url} has no ${REGION_COUNT_METRIC}{type="leader"} sample`,
      );
    }
    return value;
  }
}
