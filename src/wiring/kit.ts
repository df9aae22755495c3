/** The shape of an engine's kit: what the composition root builds for one engine (see engines.ts). */
import type { Engine } from '../core/ports.js';
import type { Credentials } from '../platforms/kubernetes/journal.js';
import type { LocalEngineAdapter } from '../platforms/local/adapter.js';

/**
 * The cluster object an Upgrade targets (`spec.target.cluster`, e.g. a TidbCluster), for engines
 * that read settings from it.
 */
export interface TargetCluster {
  /** `TidbCluster`, ... */
  kind: string;
  name: string;
  namespace: string;
  /** Its annotations now (one read of the object per call). */
  annotations(): Promise<Record<string, string>>;
}

/** What the composition root knows about where an engine runs, besides credentials. */
export interface EngineContext {
  cluster?: TargetCluster;
  /** The Kubernetes version the cluster runs (`v1.30.4`, the API server's); undefined when unread. */
  kubernetesVersion?: () => Promise<string | undefined>;
}

/** What the composition root builds for one engine. */
export interface EngineKit {
  /**
   * The engine, talking to each member's admin endpoint; with `credentials` (a Kubernetes Secret's)
   * when given, mapped onto the database's own authentication, and `context.cluster` when the
   * Upgrade targets a cluster object (engines that do not use it ignore it).
   */
  create(credentials?: Credentials, context?: EngineContext): Engine;
  /** The engine takes a client certificate from the credentials Secret (`Credentials.tls`). */
  clientCertificate?: boolean;
  /** How its members run as local processes; present when the kit is listed for `local`. */
  local?: LocalEngineAdapter;
}
