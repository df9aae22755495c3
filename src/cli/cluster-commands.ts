/**
 * `baton cluster create|list|delete`: real database clusters as processes on 127.0.0.1 under the
 * state directory (the local platform).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { BadInputError } from '../core/errors.js';
import { collect, defaultStateDir, parseCount, parseOutput, parsePairs } from '../wiring/args.js';
import type { CliIO } from '../wiring/io.js';

/** What the actions use, loaded when one runs (not for `--help` or another command). */
async function load() {
  const [platform, render, engines, targets] = await Promise.all([
    import('../platforms/local/platform.js'),
    import('./render.js'),
    import('../wiring/engines.js'),
    import('../wiring/targets.js'),
  ]);
  return {
    LocalPlatform: platform.LocalPlatform,
    renderData: render.renderData,
    localEngineKit: engines.localEngineKit,
    openLocalCluster: targets.openLocalCluster,
  };
}

interface ClusterOpts {
  engine?: string;
  version?: string;
  members?: string;
  stateDir?: string;
  binary?: string[];
  output?: string;
}

/** Register `baton cluster ...`. */
export function registerClusterCommands(program: Command, io: CliIO, _state: { code: number }): void {
  const cluster = program.command('cluster').description('local clusters of real processes on this machine');

  cluster
    .command('create <name>')
    .description('create and start a cluster')
    .requiredOption('--engine <name>', 'etcd, postgres or redis')
    .option('--version <version>', 'version to run (default: the oldest installed)')
    .option('--members <n>', 'number of members', '3')
    .option('--state-dir <dir>', 'state directory (default .baton in the working directory)')
    .option('--binary <version=path>', 'use this binary for a version label (repeatable)', collect, [])
    .option('-o, --output <format>', 'json or yaml')
    .action(async (name: string, o: ClusterOpts) => {
      const { LocalPlatform, localEngineKit, renderData } = await load();
      const kind = await localEngineKit(o.engine!);
      const members = parseCount('--members', o.members ?? '3', 1, 15);
      const binaries = parsePairs('--binary', o.binary ?? []);
      const installed = await kind.local.installedVersions({ registeredBinaries: binaries });
      const version = o.version ?? installed[0];
      if (!version) {
        throw new BadInputError(
          'no-binaries',
          `no ${o.engine} binaries found: install them or register one with --binary VERSION=PATH`,
        );
      }
      const platform = await LocalPlatform.create({
        stateDir: resolve(o.stateDir ?? defaultStateDir()),
        name,
        adapter: kind.local,
        version,
        members,
        registeredBinaries: binaries,
        ctx: { clock: io.clock, logger: io.logger, signal: io.signal },
      });
      const list = await platform.listMembers({ clock: io.clock, logger: io.logger });
      const format = parseOutput(o.output);
      if (format !== 'text') {
        io.stdout.write(renderData({ name, engine: o.engine, version, members: list }, format));
        return;
      }
      io.stdout.write(`cluster ${name} created: ${o.engine} ${version}, ${list.length} members\n`);
      for (const m of list)
        io.stdout.write(
          `  ${m.name.padEnd(14)} ${m.endpoint ?? ''}  ${m.version}  ${m.ready ? 'ready' : 'not ready'}\n`,
        );
    });

  cluster
    .command('list')
    .description('list clusters under the state directory')
    .option('--state-dir <dir>', 'state directory')
    .option('-o, --output <format>', 'json or yaml')
    .action(async (o: ClusterOpts) => {
      const { LocalPlatform, renderData } = await load();
      const all = await LocalPlatform.list(resolve(o.stateDir ?? defaultStateDir()));
      const format = parseOutput(o.output);
      if (format !== 'text') {
        io.stdout.write(renderData(all, format));
        return;
      }
      if (all.length === 0) io.stdout.write('no clusters\n');
      for (const c of all) {
        const alive = c.members.filter((m) => m.alive).length;
        const versions = [...new Set(c.members.map((m) => m.version))].join(', ');
        io.stdout.write(
          `${c.name.padEnd(20)} ${c.engine.padEnd(9)} ${alive}/${c.members.length} running  ${versions}\n`,
        );
      }
    });

  cluster
    .command('delete <name>')
    .description('stop the cluster processes Baton started and remove their data')
    .option('--state-dir <dir>', 'state directory')
    .action(async (name: string, o: ClusterOpts) => {
      const { openLocalCluster } = await load();
      const platform = await openLocalCluster({
        stateDir: resolve(o.stateDir ?? defaultStateDir()),
        name,
        ctx: { clock: io.clock, logger: io.logger },
      });
      await platform.delete({ clock: io.clock, logger: io.logger });
      io.stdout.write(`cluster ${name} deleted\n`);
    });
}
