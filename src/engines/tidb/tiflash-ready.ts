/**
 * TiDB Operator's `tidb.pingcap.com/tiflash-min-ready-seconds`: an annotation on the TidbCluster
 * (pingcap/tidb-operator `pkg/manager/member/tiflash_upgrader.go`, `annoKeyTiFlashMinReadySeconds`)
 * that the tiflash upgrader reads with `strconv.Atoi` (a value that is not an integer is logged and
 * counts as 0) and passes to `podutil.IsPodAvailable`: an upgraded TiFlash pod lets the next one go
 * only once it has been Ready for that many seconds, besides its store being Up and its
 * `store-status` `Running`.
 *
 * Baton holds an upgraded TiFlash member (one that runs the upgrade's target version; TiDB
 * Operator checks the pods at the update revision only) unhealthy until it has served (pod Ready,
 * store Up at the member's version, `Running`) for that long without a break, counted on the
 * injected clock from the first observation that saw it serve. Baton does not read the pod's Ready
 * transition time, so its count starts up to one observation interval later than TiDB Operator's:
 * it waits at least as long. A Baton restart starts the count again (it waits longer, never
 * shorter); before this process has seen the upgrade's spec, every serving member is held.
 */
import type { EngineObservation } from '../../core/ports.js';
import type { PlatformMember } from '../../core/types.js';
import { atVersion } from '../../core/version.js';

/** TiDB Operator's annotation (on the TidbCluster). */
export const TIFLASH_MIN_READY_ANNOTATION = 'tidb.pingcap.com/tiflash-min-ready-seconds';

/**
 * The annotation's value as TiDB Operator reads it: an integer (Go's `strconv.Atoi`: optional sign,
 * decimal digits) or, for anything else, 0 with a warning naming the value. Negative values wait
 * for nothing more than readiness, as `IsPodAvailable` does.
 */
export function parseMinReadySeconds(value: string | undefined): { seconds: number; warning?: string } {
  if (value === undefined) return { seconds: 0 };
  if (!/^[+-]?\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    return {
      seconds: 0,
      warning: `TidbCluster annotation ${TIFLASH_MIN_READY_ANNOTATION}="${value}" should be an integer: ignored (0), as TiDB Operator does`,
    };
  return { seconds: Math.max(0, Number(value)) };
}

/** When each TiFlash member began serving on its current version, and the hold that follows. */
export class TiflashAvailability {
  /** `name@version` -> first time seen serving without a break since. */
  private readonly since = new Map<string, number>();

  /**
   * Hold back in `seen` every TiFlash member at `target` (every one when `target` is unknown) that
   * serves but has not served for `minReadySeconds` yet (healthy and caught up turn false, the
   * detail says for how long it has). A member seen not serving starts its count again.
   */
  hold(
    seen: EngineObservation,
    members: PlatformMember[],
    opts: { now: number; minReadySeconds: number; target: string | undefined },
  ): void {
    const { now, minReadySeconds, target } = opts;
    for (const m of members) {
      if (m.component !== 'tiflash') continue;
      if (target !== undefined && !atVersion(m.version, target)) continue;
      const key = `${m.name}@${m.version}`;
      const state = seen.members[m.name];
      if (!state?.healthy || !m.ready) {
        this.since.delete(key);
        continue;
      }
      const since = this.since.get(key) ?? now;
      this.since.set(key, since);
      const servedMs = now - since;
      if (minReadySeconds <= 0 || servedMs >= minReadySeconds * 1000) continue;
      state.healthy = false;
      state.caughtUp = false;
      state.detail = `${state.detail ?? ''}; serving for ${Math.floor(servedMs / 1000)}s of ${TIFLASH_MIN_READY_ANNOTATION}=${minReadySeconds}`;
    }
  }
}
