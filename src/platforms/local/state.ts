/**
 * The local cluster state file, `<stateDir>/clusters/<name>/cluster.json`: the layout (ports, data
 * dirs, logs) chosen at creation and, per member, the version label it runs, the identity of the
 * process Baton started for it, and any replacement in progress. Written atomically (temp file,
 * fsync, rename, fsync of the directory) so a crash at any instant leaves the old or the new file.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { OperationalError } from '../../core/errors.js';
import { readTextIfExists, writeFileAtomic } from './journal.js';

const identitySchema = z.object({ pid: z.number().int(), startTicks: z.number(), bootId: z.string() });

const memberSchema = z.object({
  name: z.string(),
  ordinal: z.number().int(),
  host: z.string(),
  ports: z.record(z.string(), z.number().int()),
  dataDir: z.string(),
  logFile: z.string(),
  version: z.string(),
  process: identitySchema.optional(),
  command: z.string().optional(),
  args: z.array(z.string()).optional(),
  runAsUser: z.string().optional(),
  settings: z.record(z.string(), z.string()),
  desired: z.enum(['running', 'stopped']),
  intent: z.object({ version: z.string(), since: z.number() }).optional(),
  /**
   * A process being spawned: written before the spawn, replaced by `process` right after it. A
   * Baton killed in between leaves this, and its successor finds the process through `pidFile`.
   */
  launching: z
    .object({
      version: z.string(),
      command: z.string(),
      args: z.array(z.string()),
      runAsUser: z.string().optional(),
      settings: z.record(z.string(), z.string()),
      pidFile: z.string(),
      since: z.number(),
    })
    .optional(),
  startedAt: z.number().optional(),
  lastStop: z.object({ at: z.number(), killed: z.boolean(), reason: z.string() }).optional(),
});

const clusterSchema = z.object({
  schema: z.literal(1),
  name: z.string(),
  engine: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
  /** Version label -> binary path registered at creation. */
  registeredBinaries: z.record(z.string(), z.string()).optional(),
  members: z.array(memberSchema),
});

/**
 * One member as recorded: its layout plus what runs there. `version` is the label of the process
 * in `process` (or, while stopped, the label it last ran and will start on again).
 */
export type MemberRecord = z.infer<typeof memberSchema>;

/** The whole state file. */
export type ClusterState = z.infer<typeof clusterSchema>;

/** Name of the state file inside a cluster directory. */
export const STATE_FILE = 'cluster.json';

/** Directory holding every cluster of a state directory. */
export function clustersDir(stateDir: string): string {
  return join(stateDir, 'clusters');
}

/** Directory of one cluster. */
export function clusterDir(stateDir: string, name: string): string {
  return join(clustersDir(stateDir), name);
}

/** Parse and validate state file text; OperationalError naming the file when it is malformed. */
export function parseClusterState(text: string, path: string): ClusterState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new OperationalError('state-corrupt', `cluster state ${path} is not valid JSON: ${String(err)}`);
  }
  const parsed = clusterSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OperationalError(
      'state-corrupt',
      `cluster state ${path} is malformed at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Read a cluster's state file, or undefined when the cluster does not exist. */
export async function readClusterState(dir: string): Promise<ClusterState | undefined> {
  const path = join(dir, STATE_FILE);
  const text = await readTextIfExists(path);
  return text === undefined ? undefined : parseClusterState(text, path);
}

/** Write a cluster's state file atomically. */
export async function writeClusterState(dir: string, state: ClusterState): Promise<void> {
  await writeFileAtomic(join(dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
}

/** Names of every cluster directory under the state directory that holds a state file, sorted. */
export async function listClusterNames(stateDir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(clustersDir(stateDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const names: string[] = [];
  for (const e of entries.sort()) {
    try {
      await readFile(join(clustersDir(stateDir), e, STATE_FILE));
      names.push(e);
    } catch {
      // a directory without a state file is a cluster being created or deleted
    }
  }
  return names;
}

/** Every port recorded by any cluster under the state directory (so none is handed out twice). */
export async function recordedPorts(stateDir: string): Promise<Set<number>> {
  const ports = new Set<number>();
  for (const name of await listClusterNames(stateDir)) {
    const state = await readClusterState(clusterDir(stateDir, name)).catch(() => undefined);
    for (const m of state?.members ?? []) for (const p of Object.values(m.ports)) ports.add(p);
  }
  return ports;
}
