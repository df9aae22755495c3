/** The shape of an engine's kit: what the composition root builds for one engine (see engines.ts). */
import type { Engine } from '../core/ports.js';
import type { Credentials } from '../platforms/kubernetes/journal.js';
import type { LocalEngineAdapter } from '../platforms/local/adapter.js';

/** What the composition root builds for one engine. */
export interface EngineKit {
  /**
   * The engine, talking to each member's admin endpoint; with `credentials` (a Kubernetes Secret's)
   * when given, mapped onto the database's own authentication.
   */
  create(credentials?: Credentials): Engine;
  /** How its members run as local processes; present when the kit is listed for `local`. */
  local?: LocalEngineAdapter;
}
