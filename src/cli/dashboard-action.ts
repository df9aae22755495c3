/**
 * What `baton dashboard` does, loaded by dashboard-command.ts only when it runs: serve the page of
 * the upgrades on a platform until the process is told to stop.
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BadInputError, describeError } from '../core/errors.js';
import { readUiAssets } from '../dashboard/assets.js';
import { type SourcedUpgrade, UpgradeFeed, type UpgradeSource } from '../dashboard/feed.js';
import { type DashboardVerb, startDashboard } from '../dashboard/server.js';
import { clustersDir } from '../platforms/local/state.js';
import { FileJournalStore } from '../platforms/local/journal.js';
import { defaultStateDir, parseCount, parsePlatform } from '../wiring/args.js';
import { requestControl } from './control.js';
import { driveWithProbe } from './drive-probe.js';
import type { CliIO } from '../wiring/io.js';
import { PROBE_LOG_FILE } from './probe.js';
import { openTarget } from './upgrade-actions.js';

/** The options of `baton dashboard`, as commander gives them. */
export interface DashboardOpts {
  port: string;
  address: string;
  platform?: string;
  stateDir?: string;
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  refresh: string;
}

async function dirsIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Every upgrade of every cluster of a local state directory, keyed `cluster/upgrade`. */
export function localSource(stateDir: string): UpgradeSource {
  const clusters = clustersDir(stateDir);
  const journalDir = (cluster: string) => join(clusters, cluster, 'upgrades');
  return {
    async list() {
      const out: SourcedUpgrade[] = [];
      for (const cluster of await dirsIn(clusters)) {
        const journal = new FileJournalStore(journalDir(cluster));
        for (const record of await journal.list().catch(() => [])) {
          out.push({
            key: `${cluster}/${record.spec.name}`,
            record,
            probeLog: join(journal.dir, record.spec.name, PROBE_LOG_FILE),
          });
        }
      }
      return out;
    },
    async watchDirs() {
      const dirs = [stateDir, clusters];
      for (const cluster of await dirsIn(clusters)) {
        dirs.push(journalDir(cluster));
        for (const upgrade of await dirsIn(journalDir(cluster)))
          dirs.push(join(journalDir(cluster), upgrade));
      }
      return dirs;
    },
  };
}

/** The Upgrade objects of a namespace, keyed `namespace/upgrade`, read through the API with the user's credentials. */
async function kubernetesSource(
  o: DashboardOpts,
  io: CliIO,
): Promise<{ source: UpgradeSource; namespace: string }> {
  const [{ loadKubeConfig, contextNamespace }, { UpgradeResourceJournal }] = await Promise.all([
    import('../platforms/kubernetes/kubeconfig.js'),
    import('../platforms/kubernetes/journal.js'),
  ]);
  const kc = loadKubeConfig({ kubeconfig: o.kubeconfig, context: o.context, env: io.env });
  const namespace = o.namespace ?? contextNamespace(kc);
  const journal = new UpgradeResourceJournal({ kc, namespace, clock: io.clock, logger: io.logger });
  return {
    namespace,
    source: {
      list: async () =>
        (await journal.list()).map((record) => ({ key: `${namespace}/${record.spec.name}`, record })),
    },
  };
}

/** A quiet IO for drives the dashboard runs in the background. */
function backgroundIo(io: CliIO): CliIO {
  const silent = { write: () => {}, isTTY: false };
  return { ...io, stdout: silent, stderr: io.stderr };
}

/** `baton dashboard`: serve the page until `io.signal` aborts. */
export async function runDashboard(o: DashboardOpts, io: CliIO): Promise<void> {
  const port = parseCount('--port', o.port, 0, 65535);
  const intervalMs = parseCount('--refresh', o.refresh, 100, 600_000);
  const platform = parsePlatform(o.platform);
  if (platform === 'sim') {
    throw new BadInputError(
      'dashboard-platform',
      'the sim platform keeps no upgrades: use --platform local or kubernetes',
    );
  }
  const stateDir = o.stateDir ?? defaultStateDir();
  const kube = platform === 'kubernetes' ? await kubernetesSource(o, io) : undefined;
  const source = kube?.source ?? localSource(stateDir);
  const assets = await readUiAssets();
  const drives = new Set<Promise<unknown>>();
  const control = async (key: string, verb: DashboardVerb): Promise<string> => {
    const cut = key.indexOf('/');
    const [scope, name] = [key.slice(0, cut), key.slice(cut + 1)];
    if (cut < 0 || !name) throw new BadInputError('dashboard-key', `no upgrade "${key}"`);
    const flags: Record<string, unknown> =
      platform === 'kubernetes'
        ? { platform, namespace: scope, kubeconfig: o.kubeconfig, context: o.context, name }
        : { platform, stateDir, cluster: scope, name };
    const t = await openTarget(flags, io);
    let keep = false;
    try {
      const r = await requestControl(t, verb, name);
      let message = `upgrade ${r.spec.name}: ${verb} requested`;
      if (r.driverPid !== undefined) message += `; the running baton (pid ${r.driverPid}) carries it out`;
      if (r.drive) {
        keep = true;
        message += '; this dashboard drives it';
        const drive = driveWithProbe(t, r.spec.name, backgroundIo(io), { quiet: true })
          .catch((err: unknown) => io.stderr.write(`drive of ${key} stopped: ${describeError(err)}\n`))
          .finally(() => {
            drives.delete(drive);
            return t.close();
          });
        drives.add(drive);
      }
      return message;
    } finally {
      if (!keep) await t.close();
    }
  };
  const feed = new UpgradeFeed(source, { logger: io.logger, intervalMs });
  await feed.start();
  const token = randomBytes(18).toString('base64url');
  const dashboard = await startDashboard({
    host: o.address,
    port,
    token,
    feed,
    control,
    assets,
    logger: io.logger,
  });
  const where = kube ? `namespace ${kube.namespace}` : `state directory ${stateDir}`;
  io.stdout.write(`Baton dashboard for the upgrades in ${where}\n`);
  io.stdout.write(`  open ${dashboard.url}\n`);
  io.stdout.write(`  (controls need the token in that address; stop with Ctrl-C)\n`);
  try {
    await new Promise<void>((resolve) => {
      if (!io.signal || io.signal.aborted) return resolve();
      io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    feed.stop();
    await dashboard.close();
    await Promise.allSettled([...drives]);
  }
}
