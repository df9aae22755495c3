/**
 * `baton dashboard [--port 8080] [--address 127.0.0.1]`: a live page of the upgrades Baton knows on
 * a platform (the local state directory's journals, or the Upgrade objects of a Kubernetes
 * namespace), with Pause / Resume / Cancel doing what `baton pause|resume|cancel` do: the same
 * control functions, the same refusals, and (local) the same foreground drive after a resume or
 * cancel when no other baton drives the upgrade, here in the dashboard's process.
 */
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { BadInputError } from '../core/errors.js';
import { checked, parseCount, parseNamespace, parsePlatform } from '../wiring/args.js';
import type { CliIO } from '../wiring/io.js';

/** Register `baton dashboard`. */
export function registerDashboardCommand(program: Command, io: CliIO): void {
  program
    .command('dashboard')
    .description('serve a live page of the upgrades on this platform, with pause, resume and cancel')
    .option(
      '--port <port>',
      'port to listen on (0: any free port)',
      checked((v) => parseCount('--port', v, 0, 65535)),
      '8080',
    )
    .option(
      '--address <ip>',
      'address to listen on; anything but 127.0.0.1 exposes it to the network',
      checked((v) => {
        if (!isIP(v)) {
          throw new BadInputError('bad-address', `--address ${v}: an IP address, e.g. 127.0.0.1 or ::1`);
        }
      }),
      '127.0.0.1',
    )
    .option(
      '--platform <name>',
      'local (journals under --state-dir) or kubernetes (Upgrade objects)',
      checked(parsePlatform),
      'local',
    )
    .option('--state-dir <dir>', 'local: state directory (default .baton in the working directory)')
    .option(
      '-n, --namespace <ns>',
      'kubernetes: namespace of the Upgrade objects',
      checked((v) => parseNamespace('--namespace', v)),
    )
    .option('--kubeconfig <file>', 'kubernetes: kubeconfig file')
    .option('--context <name>', 'kubernetes: kubeconfig context')
    .option(
      '--refresh <ms>',
      're-read everything at least this often, in milliseconds',
      checked((v) => parseCount('--refresh', v, 100, 600_000)),
      '1000',
    )
    .action(async (o) => (await import('./dashboard-action.js')).runDashboard(o, io));
}
