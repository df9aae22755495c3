/**
 * The platform view of a {@link SimCluster}: list members, replace one, stop one, and the journal.
 * Every call goes through the cluster's fault injector and recorder.
 */
import type {
  Custody,
  HandBackResult,
  JournalStore,
  Platform,
  PortContext,
  ReplaceOptions,
} from '../../core/ports.js';
import type { PlatformMember } from '../../core/types.js';
import type { SimCluster } from './cluster.js';
import { MemoryJournalStore } from './journal.js';

/** Members of a simulated cluster, as a {@link Platform}. */
export class SimPlatform implements Platform {
  readonly name = 'sim';
  readonly journal: JournalStore;
  /** Present when the description gives the members an owner (`owner: true`). */
  readonly custody?: Custody;
  /** With an owner, as on Kubernetes: the owner carries a replacement out. */
  readonly durableActions: boolean;

  /** `journal` defaults to a fresh {@link MemoryJournalStore}; pass one to share it across runners. */
  constructor(
    readonly cluster: SimCluster,
    journal?: JournalStore,
  ) {
    this.journal = journal ?? new MemoryJournalStore();
    this.durableActions = cluster.description.owner;
    if (cluster.description.owner) {
      this.custody = {
        describe: async () => ({
          takeOver: 'hold the members so their owner rolls nothing by itself',
          handBack: 'give the members back to their owner once every one is ready',
        }),
        takeOver: async () => this.cluster.invoke('takeOver', {}, () => this.cluster.takeOver()),
        handBack: async (): Promise<HandBackResult> =>
          this.cluster.invoke('handBack', {}, () => this.cluster.handBack()),
      };
    }
  }

  async listMembers(_ctx: PortContext): Promise<PlatformMember[]> {
    return this.cluster.invoke('listMembers', {}, () => this.cluster.platformMembers());
  }

  async replaceMember(name: string, version: string, opts: ReplaceOptions, _ctx: PortContext): Promise<void> {
    const args: Record<string, unknown> = { version };
    if (opts.settings) args.settings = { ...opts.settings };
    await this.cluster.invoke('replaceMember', { member: name, args }, () => {
      args.restarted = this.cluster.replace(name, version);
    });
  }

  async stopMember(name: string, _ctx: PortContext): Promise<void> {
    await this.cluster.invoke('stopMember', { member: name }, () => {
      this.cluster.stop(name);
    });
  }
}
