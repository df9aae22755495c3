/**
 * Observation: one snapshot of a cluster from the platform (where members run) merged with the
 * engine (what the database thinks of them). The only way the runner learns about the world.
 */
import type { Engine, Platform, PortContext } from '../core/ports.js';
import type { Snapshot } from '../core/types.js';

/** List members through the platform, then ask the engine about them; merge by member name. */
export async function observe(platform: Platform, engine: Engine, ctx: PortContext): Promise<Snapshot> {
  const members = await platform.listMembers(ctx);
  const seen = await engine.observe(members, ctx);
  return {
    observedAt: ctx.clock.now(),
    members: members
      .map((m) => {
        const e = seen.members[m.name];
        return e ? { ...m, engine: e } : { ...m };
      })
      .sort((a, b) => a.component.localeCompare(b.component) || a.ordinal - b.ordinal),
    health: seen.health,
  };
}
