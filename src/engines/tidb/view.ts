/**
 * One round of reads of a TiDB cluster through its admin APIs, shared by observe, prechecks and
 * the actions: PD's members, health, stores and evict-leader scheduler; each TiKV store's own
 * leader count; each TiFlash store's status; each TiProxy's health; the pumps' registered states;
 * each TiDB server's status and info; each TiCDC capture's status and tables. Reads only, in
 * parallel; anything that does not answer is recorded with why, never thrown.
 *
 * Platform members are matched to what PD knows: PD members by name (TiDB Operator names them
 * after their pods) or client URL; stores by status address, then by host, then by the first DNS
 * label of their address (the pod name). Endpoints without a port get the component's default.
 */
import { describeError } from '../../core/errors.js';
import type { PlatformMember } from '../../core/types.js';
import { hostPort } from './http.js';
import { PdClient, type PdMemberHealth, type PdMembers, type PdStore } from './pd-client.js';
import type { PumpClient, PumpNode } from './pump-client.js';
import type { TicdcClient, TicdcStatus } from './ticdc-client.js';
import type { TidbClient, TidbInfo, TidbStatus } from './tidb-client.js';
import type { TiflashClient } from './tiflash-client.js';
import type { TikvStatusClient } from './tikv-status.js';
import type { TiproxyClient, TiproxyHealth } from './tiproxy-client.js';

/** Default admin port of each component (status ports for TiKV, TiFlash and TiDB). */
export const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  pd: 2379,
  tiproxy: 3080,
  tiflash: 20292,
  tikv: 20180,
  pump: 8250,
  tidb: 10080,
  ticdc: 8300,
};

/** Components whose members are PD stores. */
export const STORE_COMPONENTS = ['tikv', 'tiflash'];

/**
 * Stores whose leaders are evicted through PD before a restart: TiKV only. TiFlash holds raft
 * learners, which never lead (pingcap/tidb-operator `pkg/manager/member/tiflash_upgrader.go` adds
 * no evict-leader scheduler; it waits for the store Up and `store-status` Running).
 */
export const EVICTED_COMPONENTS = ['tikv'];

/** The admin endpoint of a member: its own, with the component's default port when it has none. */
export function adminEndpoint(member: PlatformMember): string | undefined {
  if (!member.endpoint) return undefined;
  const hp = hostPort(member.endpoint);
  if (/:\d+$/.test(hp)) return hp;
  const port = DEFAULT_PORTS[member.component];
  return port ? `${hp}:${port}` : hp;
}

/** The clients a view reads through. */
export interface TidbClients {
  tidb: TidbClient;
  tikv: TikvStatusClient;
  tiflash: TiflashClient;
  tiproxy: TiproxyClient;
  pump: PumpClient;
  ticdc: TicdcClient;
  pdTimeoutMs?: number;
}

/** What one round of reads learned. */
export interface TidbView {
  /** PD endpoints of the platform's PD members. */
  pdEndpoints: string[];
  pd?: { members: PdMembers; health: PdMemberHealth[] };
  pdError?: string;
  stores?: PdStore[];
  storesError?: string;
  /** Stores in PD's evict-leader scheduler; undefined when PD could not say. */
  evictStores?: number[];
  /** PD members that answer a follower-handled ping (they run, quorum or not). */
  pdAlive: Set<string>;
  /** Leader counts read from each TiKV store's own status port. */
  storeLeaders: Map<string, number>;
  /** Each TiFlash store's `/tiflash/store-status` (`Running` when it serves), or why not. */
  tiflashStatus: Map<string, string | { error: string }>;
  /** Each TiProxy's health API answer, or why there was none. */
  tiproxy: Map<string, TiproxyHealth | { error: string }>;
  /** Every pump registered in PD (from the first pump that answers), or why none could say. */
  pumps?: PumpNode[];
  pumpsError?: string;
  tidb: Map<string, { status: TidbStatus; info: TidbInfo } | { error: string }>;
  ticdc: Map<string, { status: TicdcStatus; tables?: number } | { error: string }>;
}

function errorOf(err: unknown): { error: string } {
  return { error: describeError(err) };
}

/** The PD member platform member `m` is, by name or client URL. */
export function pdMemberOf(view: TidbView, m: PlatformMember) {
  const ep = adminEndpoint(m);
  return view.pd?.members.members.find(
    (x) => x.name === m.name || (ep !== undefined && x.clientUrls.some((u) => hostPort(u) === ep)),
  );
}

/** The PD store platform member `m` is, by status address, host, or pod name. */
export function storeOf(view: TidbView, m: PlatformMember): PdStore | undefined {
  const ep = adminEndpoint(m);
  const stores = view.stores ?? [];
  if (ep) {
    const byStatus = stores.find((s) => s.statusAddress === ep);
    if (byStatus) return byStatus;
    const host = ep.replace(/:\d+$/, '');
    const sameHost = stores.filter((s) => s.address.replace(/:\d+$/, '') === host);
    if (sameHost.length === 1) return sameHost[0];
  }
  return stores.find((s) => s.address.split('.')[0]?.replace(/:\d+$/, '') === m.name);
}

/** A PD client over every PD member's endpoint (followers proxy to the leader). */
export function pdClientFor(members: PlatformMember[], timeoutMs?: number): PdClient | undefined {
  const endpoints = members
    .filter((m) => m.component === 'pd')
    .map(adminEndpoint)
    .filter((e): e is string => e !== undefined);
  if (endpoints.length === 0) return undefined;
  return new PdClient({ endpoints, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
}

async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  try {
    return { ok: true, value: await p };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

/** Every pump's registered state, from the first running pump that answers. */
async function readPumps(pumps: PlatformMember[], client: PumpClient, view: TidbView): Promise<void> {
  if (pumps.length === 0) return;
  for (const m of pumps) {
    const all = await settle(client.pumps(adminEndpoint(m) as string));
    if (all.ok) {
      view.pumps = all.value;
      return;
    }
    view.pumpsError = all.error;
  }
}

/** The pump platform member `m` is, by its host (`host:port`) or its node ID's host name. */
export function pumpOf(view: TidbView, m: PlatformMember): PumpNode | undefined {
  const ep = adminEndpoint(m);
  return view.pumps?.find(
    (p) => (ep !== undefined && p.host === ep) || p.nodeId.split(':')[0]?.split('.')[0] === m.name,
  );
}

/** Read everything once. Never throws. */
export async function lookAt(members: PlatformMember[], clients: TidbClients): Promise<TidbView> {
  const pd = pdClientFor(members, clients.pdTimeoutMs);
  const view: TidbView = {
    pdEndpoints: members
      .filter((m) => m.component === 'pd')
      .map(adminEndpoint)
      .filter((e): e is string => e !== undefined),
    pdAlive: new Set(),
    storeLeaders: new Map(),
    tiflashStatus: new Map(),
    tiproxy: new Map(),
    tidb: new Map(),
    ticdc: new Map(),
  };
  const running = (c: string) => members.filter((m) => m.component === c && m.running && m.endpoint);
  const [pdMembers, health, stores, evict] = await Promise.all([
    pd ? settle(pd.members()) : Promise.resolve({ ok: false as const, error: 'no PD member listed' }),
    pd ? settle(pd.health()) : Promise.resolve({ ok: false as const, error: 'no PD member listed' }),
    pd ? settle(pd.stores()) : Promise.resolve({ ok: false as const, error: 'no PD member listed' }),
    pd
      ? settle(pd.evictLeaderStores())
      : Promise.resolve({ ok: false as const, error: 'no PD member listed' }),
  ]);
  if (pdMembers.ok && health.ok) view.pd = { members: pdMembers.value, health: health.value };
  else view.pdError = pdMembers.ok ? (health.ok ? '' : health.error) : pdMembers.error;
  if (stores.ok) view.stores = stores.value;
  else view.storesError = stores.error;
  if (evict.ok) view.evictStores = evict.value;
  await Promise.all([
    ...running('pd').map(async (m) => {
      const one = new PdClient({
        endpoints: [adminEndpoint(m) as string],
        timeoutMs: clients.pdTimeoutMs ?? 2000,
      });
      if ((await settle(one.ping())).ok) view.pdAlive.add(m.name);
    }),
    ...running('tikv').map(async (m) => {
      const n = await settle(clients.tikv.leaderCount(adminEndpoint(m) as string));
      if (n.ok) view.storeLeaders.set(m.name, n.value);
    }),
    ...running('tiflash').map(async (m) => {
      const s = await settle(clients.tiflash.storeStatus(adminEndpoint(m) as string));
      view.tiflashStatus.set(m.name, s.ok ? s.value : { error: s.error });
    }),
    ...running('tiproxy').map(async (m) => {
      const h = await settle(clients.tiproxy.health(adminEndpoint(m) as string));
      view.tiproxy.set(m.name, h.ok ? h.value : { error: h.error });
    }),
    readPumps(running('pump'), clients.pump, view),
    ...running('tidb').map(async (m) => {
      const ep = adminEndpoint(m) as string;
      try {
        const [status, info] = await Promise.all([clients.tidb.status(ep), clients.tidb.info(ep)]);
        view.tidb.set(m.name, { status, info });
      } catch (err) {
        view.tidb.set(m.name, errorOf(err));
      }
    }),
    ...running('ticdc').map(async (m) => {
      const ep = adminEndpoint(m) as string;
      try {
        const status = await clients.ticdc.status(ep);
        const tables = await settle(clients.ticdc.tablesOf(ep, status.id));
        view.ticdc.set(m.name, { status, ...(tables.ok ? { tables: tables.value } : {}) });
      } catch (err) {
        view.ticdc.set(m.name, errorOf(err));
      }
    }),
  ]);
  return view;
}
