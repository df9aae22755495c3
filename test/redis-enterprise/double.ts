/**
 * A running Redis Enterprise double: {@link RecDoubleCluster} behind its REST server on
 * 127.0.0.1, plus a Platform over it for end-to-end runs without Kubernetes. The platform has the
 * three kinds of member the seed names: the operator (its Deployment: replaced = new image, then
 * Available after `restartMs`), the REC pods `rec-<i>` (replaced = the node stops, then starts on
 * the new software after `restartMs`), and one member per database (replaced = what the operator
 * does when a REDB's `redisVersion` changes: `POST /v1/bdbs/{uid}/upgrade`).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Platform, PortContext, ReplaceOptions } from '../../src/core/ports.js';
import type { PlatformMember } from '../../src/core/types.js';
import { MemoryJournalStore } from '../../src/platforms/sim/journal.js';
import { RecDoubleCluster, type RecDoubleOptions } from './cluster.js';
import { createRecApiServer } from './server.js';

export const REC_USER = 'admin@example.com';
export const REC_PASSWORD = 'rec-password';

export class RecDouble {
  private constructor(
    readonly cluster: RecDoubleCluster,
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(opts: RecDoubleOptions): Promise<RecDouble> {
    const cluster = new RecDoubleCluster(opts);
    const server = createRecApiServer(cluster, REC_USER, REC_PASSWORD);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cluster.start();
    const { port } = server.address() as AddressInfo;
    return new RecDouble(cluster, server, `http://127.0.0.1:${port}`);
  }

  async close(): Promise<void> {
    this.cluster.stop();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** What the platform saw when it stopped a REC pod (for tests). */
export interface PodStop {
  member: string;
  primaries: number;
  wasMaster: boolean;
}

export class RecPlatform implements Platform {
  readonly name = 'rec-double';
  readonly journal = new MemoryJournalStore();
  readonly replaced: { member: string; version: string; at: number }[] = [];
  readonly stops: PodStop[] = [];
  operatorVersion: string;
  private operatorReadyAt = 0;
  private readonly restarting = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly double: RecDouble,
    operatorVersion: string,
    private readonly restartMs = 80,
  ) {
    this.operatorVersion = operatorVersion;
  }

  private later(fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, this.restartMs);
    this.timers.add(t);
  }

  async listMembers(_ctx: PortContext): Promise<PlatformMember[]> {
    const c = this.double.cluster;
    const now = Date.now();
    const members: PlatformMember[] = [
      {
        name: 'redis-enterprise-operator',
        component: 'operator',
        ordinal: 0,
        version: this.operatorVersion,
        ready: now >= this.operatorReadyAt,
        running: true,
      },
    ];
    for (const n of c.nodes) {
      const name = n.hostname;
      const starting = this.restarting.get(name);
      members.push({
        name,
        component: 'rec',
        ordinal: n.uid - 1,
        version: starting ?? n.softwareVersion,
        ready: n.up && !starting,
        running: n.up || starting !== undefined,
        endpoint: `${n.addr}:9443`,
        ...(starting ? { detail: 'ContainerCreating' } : {}),
      });
    }
    c.bdbs.forEach((b, i) => {
      const upgrading = [...c.actions.values()].find(
        (a) =>
          a.name === 'upgrade_bdb' &&
          a.object_name === `bdb:${b.uid}` &&
          a.status !== 'completed' &&
          a.status !== 'failed',
      );
      members.push({
        name: b.name,
        component: 'redb',
        ordinal: i,
        version: upgrading ? (this.pendingRedis.get(b.name) ?? b.redisVersion) : b.redisVersion,
        ready: !upgrading,
        running: true,
      });
    });
    return members;
  }

  private readonly pendingRedis = new Map<string, string>();

  async replaceMember(
    name: string,
    version: string,
    _opts: ReplaceOptions,
    _ctx: PortContext,
  ): Promise<void> {
    const c = this.double.cluster;
    if (name === 'redis-enterprise-operator') {
      if (this.operatorVersion === version) return;
      this.replaced.push({ member: name, version, at: Date.now() });
      this.operatorVersion = version;
      this.operatorReadyAt = Date.now() + this.restartMs;
      return;
    }
    const node = c.nodes.find((n) => n.hostname === name);
    if (node) {
      if ((node.softwareVersion === version && node.up) || this.restarting.get(name) === version) return;
      this.replaced.push({ member: name, version, at: Date.now() });
      this.stops.push({
        member: name,
        primaries: c.shards.filter((s) => s.nodeUid === node.uid && s.role === 'master').length,
        wasMaster: c.masterNode === node.uid,
      });
      this.restarting.set(name, version);
      c.stopNode(node.uid);
      this.later(() => {
        c.startNode(node.uid, version);
        this.restarting.delete(name);
      });
      return;
    }
    const bdb = c.bdbs.find((b) => b.name === name);
    if (!bdb) throw new Error(`no member ${name}`);
    if (bdb.redisVersion === version || this.pendingRedis.get(name) === version) return;
    this.replaced.push({ member: name, version, at: Date.now() });
    this.pendingRedis.set(name, version);
    c.upgrade(bdb.uid, version);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
