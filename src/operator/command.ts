/**
 * `baton operator`: run the operator in the foreground until SIGINT/SIGTERM, then shut down
 * gracefully (finish the step in flight, release the leader Lease).
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { BadInputError } from '../core/errors.js';
import { jsonLogger } from '../core/logger.js';
import { checked, parseCount, parseNamespace } from '../wiring/args.js';
import type { CliIO } from '../wiring/io.js';

/** A namespace name (an RFC 1123 label). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

interface OperatorOpts {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
  port: string;
  host: string;
  identity?: string;
  leaseName: string;
  leaseNamespace?: string;
  workers: string;
}

/** Register `baton operator [--kubeconfig] [--context] [-n NS] [--port 8080] [--identity]`. */
export function registerOperatorCommand(program: Command, io: CliIO, _state: { code: number }): void {
  program
    .command('operator')
    .description('run the Baton operator: drive Upgrade resources and managed StatefulSets')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .option(
      '-n, --namespace <namespaces>',
      'watch only these namespaces, comma-separated (default: every namespace)',
      checked((v) => {
        const bad = v.split(',').find((n) => !DNS_LABEL.test(n.trim()));
        if (bad !== undefined) {
          throw new BadInputError(
            'bad-namespace',
            `--namespace: "${bad.trim()}" is not a valid namespace name: use lowercase letters, digits and '-', several separated by ','`,
          );
        }
      }),
    )
    .option(
      '--port <port>',
      'port of /healthz, /readyz and /metrics',
      checked((v) => parseCount('--port', v, 0, 65535)),
      '8080',
    )
    .option('--host <address>', 'address the health server binds', '0.0.0.0')
    .option('--identity <id>', 'identity in the leader Lease (default: POD_NAME or host-pid)')
    .option('--lease-name <name>', 'leader election Lease name', 'baton-operator')
    .option(
      '--lease-namespace <namespace>',
      'namespace of the Lease (default: the first of -n, else the context namespace)',
      checked((v) => parseNamespace('--lease-namespace', v)),
    )
    .option(
      '--workers <n>',
      'Upgrades reconciled at once',
      checked((v) => parseCount('--workers', v, 1, 64)),
      '4',
    )
    .action(async (o: OperatorOpts, cmd: Command) => {
      const port = parseCount('--port', o.port, 0, 65535);
      const workers = parseCount('--workers', o.workers, 1, 64);
      const namespaces = o.namespace?.split(',').map((n) => n.trim());
      // The Kubernetes client, metrics and the operator load only when the operator runs.
      const [{ collectDefaultMetrics, Registry }, { Operator }, { contextNamespace, loadKubeConfig }] =
        await Promise.all([
          import('prom-client'),
          import('./operator.js'),
          import('../platforms/kubernetes/kubeconfig.js'),
        ]);
      const kc = loadKubeConfig({ kubeconfig: o.kubeconfig, context: o.context, env: io.env });
      const identity = o.identity ?? io.env.POD_NAME ?? `${hostname()}-${process.pid}`;
      if (!identity.trim()) throw new BadInputError('bad-identity', '--identity must not be empty');
      const debug = !!cmd.optsWithGlobals().debug;
      const logger = jsonLogger((l) => io.stderr.write(l), { debug, now: () => io.clock.now() });
      const registry = new Registry();
      collectDefaultMetrics({ register: registry });
      const op = new Operator({
        kc,
        namespace: namespaces,
        identity,
        clock: io.clock,
        logger,
        registry,
        port,
        host: o.host,
        leaseName: o.leaseName,
        leaseNamespace: o.leaseNamespace ?? namespaces?.[0] ?? contextNamespace(kc),
        workers,
      });
      await op.start();
      await new Promise<void>((resolve) => {
        if (!io.signal || io.signal.aborted) return resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await op.stop();
    });
}
