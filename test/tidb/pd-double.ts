/**
 * PD's HTTP API for one PD member of the double, route by route as tikv/pd v8.5.x registers and
 * answers them:
 * - `server/api/router.go`: the routes and methods (anything else: gorilla/mux's 404);
 * - `pkg/utils/apiutil/serverapi/middleware.go` (redirector): a follower serves a call only with
 *   `PD-Allow-follower-handle`, otherwise the leader answers it (here: the shared model), and with
 *   no leader the follower answers 503 "no leader";
 * - `server/api/member.go`: GetMembers (pdpb.GetMembersResponse with uint64 ids), GetLeader (null
 *   without a leader), TransferLeader (ResignEtcdLeader: 500 "no valid pd to transfer etcd leader"
 *   for an unknown name, else 200 "The transfer command is submitted.");
 * - `server/api/health.go` (`[{name, member_id, client_urls, health}]`);
 * - `pkg/response/store.go` (StoresInfo, `state_name` Up/Disconnected/Down from heartbeats);
 * - `server/api/scheduler.go` (CreateScheduler: 400 "missing scheduler name" / "unknown scheduler"
 *   / "missing store id", an existing evict-leader scheduler gets the store added with "The
 *   scheduler has been applied to the store."; DeleteScheduler: `evict-leader-scheduler-N` goes to
 *   the scheduler config's delete handler, whose status and `null` body are returned);
 * - `pkg/schedule/schedulers/evict_leader.go` (list: `{"store-id-ranges", "batch"}`; delete: 404
 *   ErrScheduleConfigNotExist for a store not in it, the scheduler removed with its last store);
 * - `server/api/config.go` (cluster-version), `server/api/region.go` (down-peer regions).
 * Without a quorum a member's etcd cannot answer member lists (linearizable): 500.
 */
import { compareVersions } from '../../src/core/version.js';
import { NOT_FOUND, RestartableHttp, httpError, json, readJson, type DoubleRequest } from './http-server.js';
import type { ClusterModel, PdMemberState } from './model.js';

const API = '/pd/api/v1';
const EVICT = 'evict-leader-scheduler';
const KNOWN_SCHEDULERS = new Set([
  'balance-leader-scheduler',
  'balance-region-scheduler',
  'balance-hot-region-scheduler',
  'evict-slow-store-scheduler',
  'evict-leader-scheduler',
  'grant-leader-scheduler',
  'shuffle-leader-scheduler',
  'shuffle-region-scheduler',
]);
const CLUSTER_ID = '7212345678901234567';

/** uint64 member id, as PD derives it; larger than JavaScript's safe integers on purpose. */
function memberId(m: PdMemberState): string {
  return `1${String(m.ordinal).padStart(2, '0')}12345678901234567`;
}

function memberJson(m: PdMemberState): Record<string, unknown> {
  return {
    name: m.name,
    member_id: `@@${memberId(m)}@@`,
    peer_urls: [`http://127.0.0.1:${m.port + 1}`],
    client_urls: [`http://127.0.0.1:${m.port}`],
    deploy_path: '/pd',
    binary_version: m.version,
    git_hash: 'double',
  };
}

/** JSON text with `"@@123@@"` placeholders turned into bare uint64 numbers. */
function withBigInts(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/"@@(\d+)@@"/g, '$1');
}

/** The HTTP server of PD member `name`. */
export function pdServer(model: ClusterModel, name: string): RestartableHttp {
  const self = () => model.pd.find((m) => m.name === name) as PdMemberState;
  return new RestartableHttp((req) => route(model, self(), req));
}

function route(model: ClusterModel, self: PdMemberState, req: DoubleRequest) {
  const { method, path } = req;
  if (!path.startsWith(API)) return path === '/health' || path === '/ping' ? json(200, null) : NOT_FOUND;
  const p = path.slice(API.length);
  if (method === 'GET' && p === '/ping') return json(200, null);
  if (method === 'GET' && p === '/version') return json(200, { version: self.version });
  const followerHandle = req.headers['pd-allow-follower-handle'] !== undefined;
  if (!model.pdQuorum()) return httpError(500, 'etcdserver: request timed out');
  if (model.pdLeader !== self.name && !followerHandle && model.pdLeader === undefined) {
    return httpError(503, 'no leader');
  }
  if (method === 'GET' && p === '/members') return members(model);
  if (method === 'GET' && p === '/health') return health(model);
  if (model.pdLeader === undefined) return httpError(503, 'no leader');
  if (method === 'GET' && p === '/leader') {
    const leader = model.pd.find((m) => m.name === model.pdLeader);
    return { status: 200, raw: withBigInts(leader ? memberJson(leader) : null) };
  }
  const transfer = /^\/leader\/transfer\/([^/]+)$/.exec(p);
  if (method === 'POST' && transfer) {
    const target = model.pd.find((m) => m.name === decodeURIComponent(transfer[1] as string));
    if (!target || target.name === model.pdLeader) return json(500, 'no valid pd to transfer etcd leader');
    model.requestPdTransfer(target.name);
    return json(200, 'The transfer command is submitted.');
  }
  if (method === 'GET' && p === '/stores') return stores(model);
  if (method === 'GET' && p === '/schedulers') return json(200, [...model.schedulers].sort());
  if (method === 'POST' && p === '/schedulers') return createScheduler(model, req.body);
  const del = /^\/schedulers\/([^/]+)$/.exec(p);
  if (method === 'DELETE' && del) return deleteScheduler(model, decodeURIComponent(del[1] as string));
  if (method === 'GET' && p === `/scheduler-config/${EVICT}/list`) {
    if (!model.schedulers.has(EVICT))
      return httpError(404, '[PD:scheduler:ErrSchedulerNotFound]scheduler not found');
    const ranges = Object.fromEntries(
      [...model.evictStores].map((id) => [String(id), [{ 'start-key': '', 'end-key': '' }]]),
    );
    return json(200, { 'store-id-ranges': ranges, batch: model.timing.evictBatch });
  }
  if (method === 'GET' && p === '/config/cluster-version') return json(200, currentClusterVersion(model));
  if (method === 'GET' && p === '/regions/check/down-peer') {
    const regions = model.downPeerRegions();
    return json(200, { count: regions.length, regions: regions.map((r) => ({ id: r.id })) });
  }
  return NOT_FOUND;
}

function members(model: ClusterModel) {
  const leader = model.pd.find((m) => m.name === model.pdLeader);
  return {
    status: 200,
    raw: withBigInts({
      header: { cluster_id: `@@${CLUSTER_ID}@@` },
      members: model.pd.map(memberJson),
      ...(leader ? { leader: memberJson(leader), etcd_leader: memberJson(leader) } : {}),
    }),
  };
}

function health(model: ClusterModel) {
  return {
    status: 200,
    raw: withBigInts(
      model.pd.map((m) => ({
        name: m.name,
        member_id: `@@${memberId(m)}@@`,
        client_urls: [`http://127.0.0.1:${m.port}`],
        health: m.up,
      })),
    ),
  };
}

function stores(model: ClusterModel) {
  const list = model.stores.map((s) => ({
    store: {
      id: s.id,
      address: `127.0.0.1:${s.port}`,
      // TiFlash registers with the label engine=tiflash and its version with the `v`.
      ...(s.engine === 'tiflash' ? { labels: [{ key: 'engine', value: 'tiflash' }] } : {}),
      version: s.engine === 'tiflash' ? s.version : s.version.replace(/^v/, ''),
      peer_address: `127.0.0.1:${s.port}`,
      status_address: `127.0.0.1:${s.statusPort}`,
      git_hash: 'double',
      start_timestamp: Math.floor(s.startTs / 1000),
      deploy_path: '/tikv',
      last_heartbeat: s.lastHeartbeat * 1_000_000,
      state_name: model.storeStateName(s),
    },
    status: {
      capacity: '100GiB',
      available: '90GiB',
      used_size: '1GiB',
      leader_count: model.leaderCount(s.id),
      leader_weight: 1,
      leader_score: model.leaderCount(s.id),
      leader_size: model.leaderCount(s.id),
      region_count: model.regionCount(s.id),
      region_weight: 1,
      start_ts: new Date(s.startTs).toISOString(),
      last_heartbeat_ts: new Date(s.lastHeartbeat).toISOString(),
    },
  }));
  return json(200, { count: list.length, stores: list });
}

function createScheduler(model: ClusterModel, body: string) {
  const parsed = readJson(body);
  if (!parsed.ok) return parsed.response;
  const input = (parsed.value ?? {}) as Record<string, unknown>;
  if (typeof input.name !== 'string') return json(400, 'missing scheduler name');
  if (!KNOWN_SCHEDULERS.has(input.name)) return json(400, 'unknown scheduler');
  if (input.name !== EVICT) {
    if (model.schedulers.has(input.name))
      return json(500, `[PD:scheduler:ErrSchedulerExisted]scheduler existed`);
    model.schedulers.add(input.name);
    return json(200, 'The scheduler is created.');
  }
  if (typeof input.store_id !== 'number') return json(400, 'missing store id');
  const id = input.store_id;
  if (!model.store(id)) return json(500, `[PD:core:ErrStoreNotFound]store id ${id} not found`);
  model.counters.evictAdds[id] = (model.counters.evictAdds[id] ?? 0) + 1;
  const existed = model.schedulers.has(EVICT);
  model.schedulers.add(EVICT);
  model.evictStores.add(id);
  return json(200, existed ? 'The scheduler has been applied to the store.' : 'The scheduler is created.');
}

function deleteScheduler(model: ClusterModel, name: string) {
  if (name.startsWith(`${EVICT}-`)) {
    const id = Number(name.slice(EVICT.length + 1));
    if (!model.schedulers.has(EVICT))
      return json(404, '[PD:scheduler:ErrSchedulerNotFound]scheduler not found');
    if (!model.evictStores.has(id)) return json(404, null);
    model.evictStores.delete(id);
    model.counters.evictRemovals[id] = (model.counters.evictRemovals[id] ?? 0) + 1;
    if (model.evictStores.size === 0) model.schedulers.delete(EVICT);
    return json(200, null);
  }
  if (!model.schedulers.has(name)) return json(404, '[PD:scheduler:ErrSchedulerNotFound]scheduler not found');
  model.schedulers.delete(name);
  if (name === EVICT) model.evictStores.clear();
  return json(200, 'The scheduler is removed.');
}

/** PD raises the cluster version once every TiKV store runs a newer one (never lowers it). */
function currentClusterVersion(model: ClusterModel): string {
  const versions = model.tikvStores().map((s) => s.version.replace(/^v/, ''));
  if (versions.length === 0) return model.clusterVersion;
  const lowest = versions.sort((a, b) => compareVersions(a, b))[0] as string;
  if (compareVersions(lowest, model.clusterVersion) > 0) model.clusterVersion = lowest;
  return model.clusterVersion;
}
