/**
 * A Platform over the CockroachDB test double, for end-to-end runs of the real runner and engine
 * without Kubernetes: member `crdb-<i>` is node `i + 1`; replacing a member stops its process
 * and starts it again on the target binary after `restartMs` (a pod deleted and recreated);
 * `ready` is the pod readiness probe CockroachDB's manifests use (`/health?ready=1`); a binary
 * that refuses the cluster version shows as `failed` with its reason, like a CrashLoopBackOff.
 */
import type { Platform, PortContext, ReplaceOptions } from '../../src/core/ports.js';
import type { PlatformMember } from '../../src/core/types.js';
import { MemoryJournalStore } from '../../src/platforms/sim/journal.js';
import type { CockroachDouble } from './double.js';

/** Releases whose build tag the double reports for a bare major version (`23.2` -> `23.2.0`). */
function binaryOf(version: string): string {
  return /^\d+\.\d+$/.test(version) ? `${version}.0` : version;
}

export class DoublePlatform implements Platform {
  readonly name = 'cockroach-double';
  readonly journal = new MemoryJournalStore();
  /** The version each member's "image" names; differs from the binary only when a test says so. */
  readonly images = new Map<string, string>();
  /** Replacements issued per member, by version (for tests). */
  readonly replaced: { member: string; version: string }[] = [];
  private readonly starting = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly double: CockroachDouble,
    private readonly restartMs = 100,
  ) {
    for (const n of double.cluster.nodes) this.images.set(this.nameOf(n.id), n.binary);
  }

  nameOf(nodeId: number): string {
    return `crdb-${nodeId - 1}`;
  }

  idOf(name: string): number {
    return Number(name.slice('crdb-'.length)) + 1;
  }

  /** The member endpoint the engine gets: the node's SQL address. */
  endpointOf(nodeId: number): string {
    return this.double.addresses(nodeId).sql;
  }

  async listMembers(_ctx: PortContext): Promise<PlatformMember[]> {
    const c = this.double.cluster;
    return c.nodes.map((n, i) => {
      const name = this.nameOf(n.id);
      const running = n.process === 'running' || this.starting.has(name);
      return {
        name,
        component: 'cockroachdb',
        ordinal: i,
        version: this.images.get(name) ?? n.binary,
        ready: n.process === 'running' && c.isLive(n) && !n.draining,
        running,
        endpoint: this.endpointOf(n.id),
        ...(n.process === 'crashed' ? { failed: true, detail: `exited: ${n.crashReason}` } : {}),
        ...(this.starting.has(name) ? { detail: 'ContainerCreating' } : {}),
      };
    });
  }

  async replaceMember(
    name: string,
    version: string,
    _opts: ReplaceOptions,
    _ctx: PortContext,
  ): Promise<void> {
    const id = this.idOf(name);
    const n = this.double.cluster.node(id);
    if (this.images.get(name) === version && (n.process === 'running' || this.starting.has(name))) return;
    this.replaced.push({ member: name, version });
    this.images.set(name, version);
    this.starting.add(name);
    await this.double.stopNode(id);
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.double.startNode(id, binaryOf(version)).finally(() => this.starting.delete(name));
    }, this.restartMs);
    this.timers.add(t);
  }

  /** Cancel pending restarts. */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
