/**
 * Typed client of PD's HTTP API (`/pd/api/v1`), for PD v7.5, v8.1 and v8.5 (the routes, bodies and
 * fields used here are the same in all three). Followed, in tikv/pd at v8.5.x:
 * - `server/api/router.go`: every route and method used below;
 * - `server/api/member.go`: `GET /members` (pdpb.GetMembersResponse: `members[]`, `leader`,
 *   `etcd_leader`, each with `name`, `member_id`, `client_urls`, `binary_version`), `GET /leader`,
 *   `POST /leader/transfer/{next_leader}` (ResignEtcdLeader: 500 "no valid pd to transfer etcd
 *   leader" for an unknown name);
 * - `server/api/health.go`: `GET /health` -> `[{name, member_id, client_urls, health}]`;
 * - `pkg/response/store.go`: `GET /stores` -> `{count, stores: [{store: {id, address, version,
 *   status_address, state_name, ...}, status: {leader_count, region_count, start_ts,
 *   last_heartbeat_ts, ...}}]}` (`state_name` Disconnected/Down derived from the last heartbeat);
 * - `server/api/scheduler.go`: `GET /schedulers` (names), `POST /schedulers` with `{"name":
 *   "evict-leader-scheduler", "store_id": N}` (adds the store to the existing scheduler when there
 *   is one), `DELETE /schedulers/evict-leader-scheduler-N` (redirected to the scheduler's config
 *   handler: 404 when the store is not in it);
 * - `pkg/schedule/schedulers/evict_leader.go`: `GET /scheduler-config/evict-leader-scheduler/list`
 *   -> `{"store-id-ranges": {"N": [...]}, "batch": 3}`;
 * - `server/api/config.go`: `GET /config/cluster-version` -> `"8.5.0"`;
 * - `server/api/region.go`: `GET /regions/check/down-peer` -> `{count, regions}`;
 * - `pkg/utils/apiutil/serverapi/middleware.go`: a follower proxies every call to the leader and
 *   answers 503 "no leader" while there is none.
 *
 * Member IDs are uint64 and exceed JavaScript's safe integers: members are always named, never
 * identified by ID here.
 */
import { OperationalError } from '../../core/errors.js';
import { DEFAULT_HTTP_TIMEOUT_MS, HttpError, baseUrl, expectOk, parseJson, request } from './http.js';

/** The evict-leader scheduler's name in PD (one scheduler holding every evicted store). */
export const EVICT_LEADER_SCHEDULER = 'evict-leader-scheduler';

/** One PD member as `GET /members` lists it. */
export interface PdMember {
  name: string;
  clientUrls: string[];
  peerUrls: string[];
  /** `v8.5.0` as the member reports it; absent before it registered its version. */
  binaryVersion?: string;
}

/** `GET /members`: every member and who leads. */
export interface PdMembers {
  members: PdMember[];
  /** Name of the PD leader; undefined while there is none. */
  leader?: string;
  /** Name of the etcd (raft) leader. */
  etcdLeader?: string;
}

/** One entry of `GET /health`. */
export interface PdMemberHealth {
  name: string;
  clientUrls: string[];
  health: boolean;
}

/** PD's state names of a store (`state_name`). */
export type PdStoreState =
  'Up' | 'Disconnected' | 'Down' | 'Offline' | 'Tombstone' | 'Preparing' | 'Serving' | 'Removing' | 'Removed';

/** One store (TiKV or TiFlash) as `GET /stores` reports it. */
export interface PdStore {
  id: number;
  address: string;
  statusAddress?: string;
  /** `8.5.0` as the store registered it (no `v`). */
  version: string;
  stateName: PdStoreState | string;
  leaderCount: number;
  regionCount: number;
  /** Labels, e.g. `engine: tiflash` for TiFlash stores. */
  labels: Record<string, string>;
  startTs?: string;
  lastHeartbeatTs?: string;
}

interface RawMember {
  name?: string;
  client_urls?: string[];
  peer_urls?: string[];
  binary_version?: string;
}

interface RawStores {
  count?: number;
  stores?: {
    store?: {
      id?: number;
      address?: string;
      status_address?: string;
      version?: string;
      state_name?: string;
      labels?: { key: string; value: string }[];
    };
    status?: { leader_count?: number; region_count?: number; start_ts?: string; last_heartbeat_ts?: string };
  }[];
}

/** Options of {@link PdClient}. */
export interface PdClientOptions {
  /** PD client endpoints (`host:port` or URLs); calls go to the first that answers. */
  endpoints: string[];
  timeoutMs?: number;
}

const API = '/pd/api/v1';

/**
 * Lets a follower answer from its own view instead of proxying to the leader (the middleware's
 * `PD-Allow-follower-handle`), so members and health stay readable while PD has no leader.
 */
const FOLLOWER_HANDLE = { 'PD-Allow-follower-handle': 'true' };

/** PD's HTTP API through any reachable member (followers proxy to the leader). */
export class PdClient {
  private readonly endpoints: string[];
  private readonly timeoutMs: number;
  /** The endpoint that answered last; tried first next time. */
  private preferred = 0;

  constructor(opts: PdClientOptions) {
    if (opts.endpoints.length === 0) {
      throw new OperationalError(
        'pd-no-endpoints',
        'no PD endpoint to talk to: the cluster lists no PD member',
      );
    }
    this.endpoints = opts.endpoints.map(baseUrl);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  }

  /**
   * Send `method path` to the members in turn until one answers at all; a 5xx from a member that
   * cannot serve (no leader yet, not started) also moves on to the next. Returns the first answer
   * that is not such a refusal, else throws the last error.
   */
  private async call(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) {
    // A member that answered "cannot serve" says more than one that did not answer at all.
    let refused: unknown;
    let last: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const k = (this.preferred + i) % this.endpoints.length;
      const url = `${this.endpoints[k]}${API}${path}`;
      try {
        const answer = await request(url, {
          method,
          timeoutMs: this.timeoutMs,
          ...(body !== undefined ? { body } : {}),
          ...(headers ? { headers } : {}),
        });
        if (answer.status === 503) {
          refused = new HttpError(
            url,
            503,
            answer.text,
            `${method} ${url} answered 503: ${answer.text.trim()}`,
          );
          continue;
        }
        this.preferred = k;
        return { url, answer };
      } catch (err) {
        last = err;
      }
    }
    throw refused ?? last;
  }

  private async getJson<T>(path: string, headers?: Record<string, string>): Promise<T> {
    const { url, answer } = await this.call('GET', path, undefined, headers);
    expectOk('GET', url, answer);
    return parseJson<T>(url, answer.text);
  }

  /** Every PD member and the current leader (`GET /members`). */
  async members(): Promise<PdMembers> {
    const raw = await this.getJson<{ members?: RawMember[]; leader?: RawMember; etcd_leader?: RawMember }>(
      '/members',
      FOLLOWER_HANDLE,
    );
    const toMember = (m: RawMember): PdMember => ({
      name: m.name ?? '',
      clientUrls: m.client_urls ?? [],
      peerUrls: m.peer_urls ?? [],
      ...(m.binary_version ? { binaryVersion: m.binary_version } : {}),
    });
    return {
      members: (raw.members ?? []).map(toMember),
      ...(raw.leader?.name ? { leader: raw.leader.name } : {}),
      ...(raw.etcd_leader?.name ? { etcdLeader: raw.etcd_leader.name } : {}),
    };
  }

  /**
   * Whether a member's process answers at all (`GET /ping` handled by the member itself, so it
   * answers without a leader or a quorum). Throws when it does not.
   */
  async ping(): Promise<void> {
    const { url, answer } = await this.call('GET', '/ping', undefined, FOLLOWER_HANDLE);
    expectOk('GET', url, answer);
  }

  /** Name of the PD leader (`GET /leader`), undefined when PD answers `null`. */
  async leader(): Promise<string | undefined> {
    const raw = await this.getJson<RawMember | null>('/leader');
    return raw?.name || undefined;
  }

  /**
   * Ask the leader to hand PD leadership to member `name` (`POST /leader/transfer/{name}`). PD
   * answers once the etcd leadership move is submitted; the new leader campaigns right after.
   */
  async transferLeader(name: string): Promise<void> {
    const { url, answer } = await this.call('POST', `/leader/transfer/${encodeURIComponent(name)}`);
    expectOk('POST', url, answer);
  }

  /** Health of every member (`GET /health`): whether each answers its own ping. */
  async health(): Promise<PdMemberHealth[]> {
    const raw = await this.getJson<{ name?: string; client_urls?: string[]; health?: boolean }[]>(
      '/health',
      FOLLOWER_HANDLE,
    );
    return raw.map((h) => ({
      name: h.name ?? '',
      clientUrls: h.client_urls ?? [],
      health: h.health === true,
    }));
  }

  /** Every store PD knows (`GET /stores`), TiKV and TiFlash alike. */
  async stores(): Promise<PdStore[]> {
    const raw = await this.getJson<RawStores>('/stores');
    return (raw.stores ?? []).map(({ store = {}, status = {} }) => ({
      id: store.id ?? 0,
      address: store.address ?? '',
      ...(store.status_address ? { statusAddress: store.status_address } : {}),
      version: store.version ?? '',
      stateName: store.state_name ?? 'Up',
      leaderCount: status.leader_count ?? 0,
      regionCount: status.region_count ?? 0,
      labels: Object.fromEntries((store.labels ?? []).map((l) => [l.key, l.value])),
      ...(status.start_ts ? { startTs: status.start_ts } : {}),
      ...(status.last_heartbeat_ts ? { lastHeartbeatTs: status.last_heartbeat_ts } : {}),
    }));
  }

  /** Names of the schedulers running (`GET /schedulers`). */
  async schedulers(): Promise<string[]> {
    return this.getJson<string[]>('/schedulers');
  }

  /**
   * Stores the evict-leader scheduler evicts leaders from (its config's `store-id-ranges`); empty
   * when the scheduler does not exist.
   */
  async evictLeaderStores(): Promise<number[]> {
    const { url, answer } = await this.call('GET', `/scheduler-config/${EVICT_LEADER_SCHEDULER}/list`);
    if (answer.status === 404) return [];
    expectOk('GET', url, answer);
    const conf = parseJson<{ 'store-id-ranges'?: Record<string, unknown> }>(url, answer.text);
    return Object.keys(conf['store-id-ranges'] ?? {})
      .map(Number)
      .filter((n) => Number.isInteger(n))
      .sort((a, b) => a - b);
  }

  /** Add store `storeId` to the evict-leader scheduler (creating it when needed). Idempotent. */
  async addEvictLeader(storeId: number): Promise<void> {
    const { url, answer } = await this.call('POST', '/schedulers', {
      name: EVICT_LEADER_SCHEDULER,
      store_id: storeId,
    });
    expectOk('POST', url, answer);
  }

  /**
   * Take store `storeId` out of the evict-leader scheduler (PD removes the scheduler with its last
   * store). `absent` when the store was not in it (404), so a repeated call is harmless.
   */
  async removeEvictLeader(storeId: number): Promise<'removed' | 'absent'> {
    const { url, answer } = await this.call('DELETE', `/schedulers/${EVICT_LEADER_SCHEDULER}-${storeId}`);
    if (answer.status === 404) return 'absent';
    expectOk('DELETE', url, answer);
    return 'removed';
  }

  /** The cluster version PD enforces (`GET /config/cluster-version`), e.g. `8.5.0`. */
  async clusterVersion(): Promise<string> {
    return this.getJson<string>('/config/cluster-version');
  }

  /** Number of regions with a down peer (`GET /regions/check/down-peer`). */
  async downPeerRegions(): Promise<number> {
    const raw = await this.getJson<{ count?: number }>('/regions/check/down-peer');
    return raw.count ?? 0;
  }
}
