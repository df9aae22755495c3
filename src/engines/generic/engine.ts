/**
 * The `generic` engine: everything it knows comes from the platform. A member is healthy and
 * caught up exactly when its pod is Ready; there is no leadership to move, so drain is a no-op.
 */
import type { DrainResult, Engine, EngineObservation } from '../../core/ports.js';
import type { EngineMemberState, PlatformMember, PrecheckResult, Snapshot } from '../../core/types.js';
import { genericRules } from './rules.js';

/** Engine for workloads without an admin API Baton speaks (pod readiness is the health gate). */
export class GenericEngine implements Engine {
  readonly name = 'generic';
  readonly rules = genericRules;

  /** Role `none`, healthy = caught up = ready, lag 0; the cluster is healthy when every member is ready. */
  async observe(members: PlatformMember[]): Promise<EngineObservation> {
    const states: Record<string, EngineMemberState> = {};
    for (const m of members) {
      states[m.name] = {
        role: 'none',
        healthy: m.ready,
        caughtUp: m.ready,
        lag: 0,
        detail: m.ready ? 'ready' : (m.detail ?? (m.running ? 'not ready' : 'not running')),
      };
    }
    const unready = members.filter((m) => !m.ready).map((m) => m.name);
    return {
      members: states,
      health: {
        healthy: members.length > 0 && unready.length === 0,
        detail:
          members.length === 0
            ? 'no members'
            : unready.length === 0
              ? `all ${members.length} members ready`
              : `${unready.length} of ${members.length} members not ready: ${unready.join(', ')}`,
        facts: { members: members.length, ready: members.length - unready.length },
      },
    };
  }

  /** `all-pods-ready` and `no-pod-failing`, from the platform facts in the snapshot. */
  async prechecks(snapshot: Snapshot): Promise<PrecheckResult[]> {
    const unready = snapshot.members.filter((m) => !m.ready);
    const failing = snapshot.members.filter((m) => m.failed);
    const names = (ms: PlatformMember[]) =>
      ms.map((m) => (m.detail ? `${m.name} (${m.detail})` : m.name)).join(', ');
    return [
      {
        name: 'all-pods-ready',
        ok: snapshot.members.length > 0 && unready.length === 0,
        reason:
          snapshot.members.length === 0
            ? 'no member pods found'
            : unready.length === 0
              ? `all ${snapshot.members.length} pods ready`
              : `not ready: ${names(unready)}`,
      },
      {
        name: 'no-pod-failing',
        ok: failing.length === 0,
        reason: failing.length === 0 ? 'no pod is failing' : `failing: ${names(failing)}`,
      },
    ];
  }

  /** Nothing to move: a generic member holds no leadership. */
  async drain(member: PlatformMember): Promise<DrainResult> {
    return { message: `${member.name} holds no leadership: nothing to drain` };
  }
}
