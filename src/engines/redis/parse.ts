/**
 * Parsers for the text replies of Redis's admin commands: `CLUSTER NODES`, `CLUSTER INFO` and
 * `INFO replication`. Pure functions; the formats are those documented for Redis 6.0 to 8.0.
 */

/** Total hash slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

/** An inclusive range of hash slots. */
export interface SlotRange {
  start: number;
  end: number;
}

/** One line of `CLUSTER NODES`, as one node sees the cluster. */
export interface ClusterNodeEntry {
  id: string;
  /** `ip:port` of the client port (the part before `@`). */
  address: string;
  /** Cluster bus port (after `@`), 0 when absent. */
  busPort: number;
  /** `myself`, `master`, `slave`, `fail?`, `fail`, `handshake`, `noaddr`, `nofailover`... */
  flags: string[];
  /** Node id of the primary this node replicates, or undefined for a primary. */
  masterId?: string;
  configEpoch: number;
  /** `connected` or `disconnected`: the cluster-bus link as the observing node sees it. */
  linkState: string;
  /** Slots this node serves as a primary (importing/migrating markers are left out). */
  slots: SlotRange[];
}

/** Number of slots in a list of ranges. */
export function slotCount(ranges: readonly SlotRange[]): number {
  return ranges.reduce((n, r) => n + (r.end - r.start + 1), 0);
}

/** `0-5460 10923` style text for a list of ranges. */
export function formatSlots(ranges: readonly SlotRange[]): string {
  return ranges.map((r) => (r.start === r.end ? `${r.start}` : `${r.start}-${r.end}`)).join(' ');
}

/**
 * Parse the reply of `CLUSTER NODES`. Blank lines are skipped; a line with fewer than the eight
 * fixed fields throws, since it means the reply is not what Redis documents.
 */
export function parseClusterNodes(text: string): ClusterNodeEntry[] {
  const out: ClusterNodeEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    if (fields.length < 8) throw new Error(`unexpected CLUSTER NODES line: "${line}"`);
    const [id, addr, flags, master, , , epoch, link, ...slotFields] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      ...string[],
    ];
    // `ip:port@cport[,hostname]` since Redis 7.0; `ip:port@cport` before.
    const [hostPort = '', busPart = ''] = addr.split(',')[0]!.split('@');
    const slots: SlotRange[] = [];
    for (const s of slotFields) {
      if (s.startsWith('[')) continue;
      const [a, b] = s.split('-');
      const start = Number(a);
      const end = b === undefined ? start : Number(b);
      if (Number.isInteger(start) && Number.isInteger(end)) slots.push({ start, end });
    }
    out.push({
      id,
      address: hostPort,
      busPort: Number(busPart) || 0,
      flags: flags === 'noflags' ? [] : flags.split(','),
      masterId: master === '-' ? undefined : master,
      configEpoch: Number(epoch) || 0,
      linkState: link,
      slots,
    });
  }
  return out;
}

/** Whether a node entry is flagged failing (`fail` or `fail?`) by the observing node. */
export function isFailing(entry: ClusterNodeEntry): boolean {
  return entry.flags.includes('fail') || entry.flags.includes('fail?');
}

/** Whether a node entry is a primary that serves at least one slot. */
export function isSlotOwner(entry: ClusterNodeEntry): boolean {
  return entry.flags.includes('master') && entry.slots.length > 0;
}

/**
 * Parse `key:value` lines as returned by `INFO <section>` and `CLUSTER INFO`. Section headers
 * (`# Replication`) and blank lines are skipped; values stay strings.
 */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** One `slaveN:` line of a primary's `INFO replication`. */
export interface ReplicaLink {
  address: string;
  state: string;
  offset: number;
  lag: number;
}

/** The replicas a primary reports in its `INFO replication` (`slave0:ip=...,port=...,offset=...`). */
export function parseReplicaLinks(info: Record<string, string>): ReplicaLink[] {
  const out: ReplicaLink[] = [];
  for (const [key, value] of Object.entries(info)) {
    if (!/^slave\d+$/.test(key)) continue;
    const kv: Record<string, string> = {};
    for (const part of value.split(',')) {
      const j = part.indexOf('=');
      if (j > 0) kv[part.slice(0, j)] = part.slice(j + 1);
    }
    out.push({
      address: `${kv.ip ?? ''}:${kv.port ?? ''}`,
      state: kv.state ?? '',
      offset: Number(kv.offset ?? 0),
      lag: Number(kv.lag ?? 0),
    });
  }
  return out;
}

/**
 * The first line of `redis-server --version`, e.g.
 * `Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=...`, to `7.0.15`.
 * Returns undefined when the text has no `v=` field.
 */
export function parseServerVersion(text: string): string | undefined {
  const m = /\bv=(\d+\.\d+\.\d+)/.exec(text);
  return m?.[1];
}

/**
 * Split `[0, CLUSTER_SLOTS)` into `parts` contiguous ranges of near-equal size, with the rounding
 * `redis-cli --cluster create` uses (3 primaries: 0-5460, 5461-10922, 10923-16383).
 */
export function splitSlots(parts: number): SlotRange[] {
  const out: SlotRange[] = [];
  const per = CLUSTER_SLOTS / parts;
  let first = 0;
  for (let i = 0; i < parts; i++) {
    const last = i === parts - 1 ? CLUSTER_SLOTS - 1 : Math.max(first, Math.round(per * (i + 1) - 1));
    out.push({ start: first, end: last });
    first = last + 1;
  }
  return out;
}
