/**
 * The engine view of a {@link SimCluster}: roles, lag and health as the simulated database reports
 * them, leadership moves, prechecks, hooks and finalization. It simulates whichever engine the
 * cluster describes (its rules come from the registry); hooks and finalization of CockroachDB and
 * TiDB change simulated cluster state the way the real ones change the database.
 */
import { OperationalError } from '../../core/errors.js';
import type {
  DrainResult,
  Engine,
  EngineActionContext,
  EngineObservation,
  PortContext,
  ReplaceOptions,
} from '../../core/ports.js';
import type {
  EngineMemberState,
  MemberView,
  PlatformMember,
  PrecheckResult,
  Snapshot,
  UpgradeSpec,
} from '../../core/types.js';
import type { SimCluster } from './cluster.js';
import { compareVersions, parseVersion, series } from '../../core/version.js';
import type { EngineRules } from '../../core/rules.js';
import { evaluatePrecheck } from './prechecks.js';

/** Setting CockroachDB keeps at the old major until finalization. */
export const PRESERVE_DOWNGRADE = 'cluster.preserve_downgrade_option';

/** The simulated database of a {@link SimCluster}, as an {@link Engine}. */
export class SimEngine implements Engine {
  readonly name: string;
  readonly rules: EngineRules;

  constructor(readonly cluster: SimCluster) {
    this.rules = cluster.rules;
    this.name = cluster.rules.name;
  }

  async observe(members: PlatformMember[], _ctx: PortContext): Promise<EngineObservation> {
    return this.cluster.invoke('observe', {}, () => {
      const states: Record<string, EngineMemberState> = {};
      for (const m of members) {
        const state = this.cluster.engineState(m.name);
        if (state) states[m.name] = state;
      }
      return { members: states, health: this.cluster.health() };
    });
  }

  async prechecks(snapshot: Snapshot, _spec: UpgradeSpec, _ctx: PortContext): Promise<PrecheckResult[]> {
    return this.cluster.invoke('prechecks', {}, () =>
      this.rules.prechecks.map((p) =>
        evaluatePrecheck(p.name, snapshot, this.rules, this.cluster.description.precheckFailures),
      ),
    );
  }

  async drain(
    member: MemberView,
    target: MemberView | undefined,
    _snapshot: Snapshot,
    _ctx: EngineActionContext,
  ): Promise<DrainResult> {
    const args: Record<string, unknown> = {};
    if (target) args.target = target.name;
    return this.cluster.invoke('drain', { member: member.name, args }, () =>
      this.cluster.drain(member.name, target?.name),
    );
  }

  async replaceOptions(member: MemberView, _snapshot: Snapshot, _ctx: PortContext): Promise<ReplaceOptions> {
    return this.cluster.invoke('replaceOptions', { member: member.name }, () => {
      const primary = this.cluster.leaderOf(member.component);
      const topology = this.rules.components.find((c) => c.name === member.component)?.topology;
      return topology === 'replication' && primary !== undefined && primary !== member.name
        ? { settings: { primary } }
        : {};
    });
  }

  async restore(member: MemberView, _snapshot: Snapshot, _ctx: PortContext): Promise<void> {
    await this.cluster.invoke('restore', { member: member.name }, () => {
      this.cluster.restore(member.name);
    });
  }

  async hook(
    name: string,
    component: string | undefined,
    snapshot: Snapshot,
    ctx: EngineActionContext,
  ): Promise<string> {
    const args: Record<string, unknown> = { name };
    if (component !== undefined) args.component = component;
    return this.cluster.invoke('hook', { args }, () => {
      if (!this.rules.hooks.includes(name)) {
        throw new OperationalError(
          'unknown-hook',
          `${this.rules.name} has no hook "${name}" (hooks: ${this.rules.hooks.join(', ') || 'none'})`,
        );
      }
      const message = this.runHook(name, component, snapshot, ctx.spec);
      this.cluster.recorder.hook({
        at: ctx.clock.now(),
        name,
        ...(component !== undefined ? { component } : {}),
        message,
      });
      return message;
    });
  }

  async finalize(snapshot: Snapshot, ctx: PortContext): Promise<string> {
    return this.cluster.invoke('finalize', {}, () => {
      let message = `${this.rules.name}: upgrade finalized`;
      if (this.rules.name === 'cockroachdb') {
        message = this.cluster.settings.has(PRESERVE_DOWNGRADE)
          ? `RESET CLUSTER SETTING ${PRESERVE_DOWNGRADE}`
          : `${PRESERVE_DOWNGRADE} already reset: nothing to finalize`;
        this.cluster.settings.delete(PRESERVE_DOWNGRADE);
      }
      const newest = snapshot.members.map((m) => m.version).sort((a, b) => compareVersions(b, a))[0];
      if (newest !== undefined) this.cluster.finalize(newest);
      else this.cluster.finalized = true;
      this.cluster.recorder.finalization({ at: ctx.clock.now(), name: 'finalize', message });
      return message;
    });
  }

  private runHook(
    name: string,
    component: string | undefined,
    snapshot: Snapshot,
    spec: UpgradeSpec,
  ): string {
    if (this.rules.name === 'cockroachdb' && name === 'beforeUpgrade') {
      const oldest = snapshot.members.map((m) => m.version).sort((a, b) => compareVersions(a, b))[0];
      if (oldest === undefined) return 'no members: nothing to preserve';
      const from = series(parseVersion(oldest));
      if (from === series(parseVersion(spec.version)))
        return `patch upgrade within ${from}: ${PRESERVE_DOWNGRADE} not needed`;
      this.cluster.settings.set(PRESERVE_DOWNGRADE, from);
      return `SET CLUSTER SETTING ${PRESERVE_DOWNGRADE} = '${from}'`;
    }
    if (this.rules.name === 'tidb') {
      if (name === 'beforeComponent' && component === 'tidb') {
        this.cluster.ddlPaused = true;
        return 'paused DDL for the TiDB tier (POST /upgrade/start)';
      }
      if (name === 'afterComponent' && component === 'tidb') {
        this.cluster.ddlPaused = false;
        return 'resumed DDL (POST /upgrade/finish)';
      }
      if (name === 'afterUpgrade') {
        const swept = this.cluster.restoreAll();
        return swept.length > 0
          ? `removed leftover evict-leader schedulers of ${swept.join(', ')}`
          : 'no leftover evict-leader scheduler';
      }
      return `${name}${component ? ` ${component}` : ''}: nothing to do`;
    }
    return `${name}${component ? ` ${component}` : ''} done`;
  }
}
