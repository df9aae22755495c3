/**
 * How the local platform runs one engine's processes. Each engine that can run on one machine
 * provides a {@link LocalEngineAdapter} in `wiring/local/<name>.ts`; the platform owns process
 * lifecycle (spawn, graceful stop, state file, ports, logs) and asks the adapter only what is
 * specific to the database: binaries per version, data initialisation, command line, readiness.
 */
import type { PortContext } from '../../core/ports.js';

/** One member's place on this machine. Recorded in the cluster state file and reused on restart. */
export interface LocalMemberLayout {
  name: string;
  ordinal: number;
  /** Always 127.0.0.1. */
  host: string;
  /** Named ports chosen free at creation, e.g. `{ client: 23791, peer: 23801 }`. */
  ports: Record<string, number>;
  dataDir: string;
  logFile: string;
}

/** A cluster's layout as the adapter sees it. */
export interface LocalClusterLayout {
  name: string;
  engine: string;
  /** Directory of this cluster under the state directory. */
  dir: string;
  members: LocalMemberLayout[];
}

/** Binaries of one version. */
export interface BinarySet {
  /** The version label this set serves (may carry `+build` metadata). */
  version: string;
  /** Executable paths by role, e.g. `{ server: '/usr/bin/etcd' }` or `{ postgres, initdb, pg_ctl }`. */
  paths: Record<string, string>;
  /** Extra environment (e.g. LD_LIBRARY_PATH for the npm PostgreSQL build). */
  env?: Record<string, string>;
}

/** What to spawn. */
export interface LaunchSpec {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Run as this unprivileged user when Baton runs as root (PostgreSQL refuses root). */
  runAsUser?: string;
}

/** Everything an adapter call may need about where it is. */
export interface AdapterContext extends PortContext {
  cluster: LocalClusterLayout;
  /** Version label -> binary path registered by the user (`--binary VERSION=PATH`). */
  registeredBinaries: Record<string, string>;
}

/** Engine-specific knowledge the local platform needs. */
export interface LocalEngineAdapter {
  engine: string;
  /** Port names each member needs, e.g. ['client', 'peer']. */
  portNames: string[];
  /** Port name of the member's admin/client endpoint (PlatformMember.endpoint). */
  endpointPort: string;
  /**
   * `sequential`: start member 0, wait until it answers, then the next (PostgreSQL clones standbys
   * from the running primary). `parallel`: start all, then wait (etcd needs a quorum to answer).
   */
  startOrder: 'sequential' | 'parallel';
  /** Versions installed on this machine (npm packages, system binaries, registered ones). */
  installedVersions(ctx: Pick<AdapterContext, 'registeredBinaries'>): Promise<string[]>;
  /**
   * Binaries for a version label. A label with `+build` metadata uses the release's binaries (a
   * configuration-only rolling restart). Throws BadInputError listing installed versions.
   */
  binaries(version: string, ctx: Pick<AdapterContext, 'registeredBinaries'>): Promise<BinarySet>;
  /** Prepare a new member's data directory at creation (initdb, clone a standby...). */
  initMember(member: LocalMemberLayout, version: string, ctx: AdapterContext): Promise<void>;
  /**
   * The command line that runs `member` on `version`. `settings` are engine settings from
   * ReplaceOptions (e.g. which primary to follow); the adapter may write config files here.
   */
  launch(
    member: LocalMemberLayout,
    version: string,
    settings: Record<string, string>,
    ctx: AdapterContext,
  ): Promise<LaunchSpec>;
  /** After every member is up at creation: form the cluster (Redis CLUSTER MEET/ADDSLOTS/REPLICATE). */
  bootstrap?(ctx: AdapterContext): Promise<void>;
  /** The member's process answers its own protocol (not: is caught up). Must not throw. */
  ping(member: LocalMemberLayout, ctx: AdapterContext): Promise<boolean>;
  /** Signal for a graceful stop; default SIGTERM (PostgreSQL: SIGINT, fast shutdown). */
  stopSignal?: NodeJS.Signals;
}
