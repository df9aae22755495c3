/**
 * `baton operator` from the compiled build (`dist/`) in its own process, as the benchmarks run it:
 * the Node flags of the Deployment's command (or BATON_BENCH_NODE_FLAGS) and the image's environment
 * (jemalloc preloaded; BATON_BENCH_MALLOC=glibc without), a kubeconfig with the ServiceAccount
 * token deploy/ binds, one watched namespace, its own Lease; its peak resident memory is read from
 * /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { OPERATOR_ENTRYPOINT, OPERATOR_NODE_FLAGS } from '../src/operator/manifests.js';
import { OPERATOR_NAMESPACE } from '../test/kube/deploy.js';
import { operatorImageEnv } from '../test/kube/operator-pods.js';
import type { Rest } from '../test/kube/rest.js';
import type { TestCluster } from '../test/kube/test-cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `baton operator` from the compiled build (`dist/`), in its own process, watching one namespace. */
export class OperatorProcess {
  /** How the benchmarks' JSON names the process whose peak RSS they report. */
  static readonly description =
    "the image's program (dist/baton-operator.js) in its own process, with the Node flags of the Deployment command and the image's jemalloc (VmHWM)";

  private constructor(
    private readonly child: ChildProcess,
    private readonly rest: Rest,
    private readonly lease: string,
  ) {}

  static async start(c: TestCluster, kubeconfig: string, log: string): Promise<OperatorProcess> {
    const entry = new URL(`../${OPERATOR_ENTRYPOINT}`, import.meta.url).pathname;
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
    const lease = `baton-bench-${c.namespace}`;
    const child = spawn(
      process.execPath,
      [
        // The Node flags of the Deployment's command; BATON_BENCH_NODE_FLAGS tries others.
        ...(process.env.BATON_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? OPERATOR_NODE_FLAGS),
        entry,
        'operator',
        '--kubeconfig',
        kubeconfig,
        '-n',
        c.namespace,
        '--lease-namespace',
        OPERATOR_NAMESPACE,
        '--lease-name',
        lease,
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--identity',
        'bench',
      ],
      {
        stdio: ['ignore', 'ignore', openSync(log, 'a')],
        // The image's environment (jemalloc); BATON_BENCH_MALLOC=glibc leaves it out to compare.
        env: { ...process.env, ...(process.env.BATON_BENCH_MALLOC === 'glibc' ? {} : operatorImageEnv()) },
      },
    );
    const op = new OperatorProcess(child, c.rest, lease);
    await op.waitLeader();
    return op;
  }

  private async waitLeader(): Promise<void> {
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`operator exited with ${this.child.exitCode}`);
      const lease = await this.rest.find<{ spec?: { holderIdentity?: string } }>(
        `/apis/coordination.k8s.io/v1/namespaces/${OPERATOR_NAMESPACE}/leases/${this.lease}`,
      );
      if (lease?.spec?.holderIdentity === 'bench') return;
      await sleep(20);
    }
  }

  /** Peak resident set of the operator process (bytes). */
  peakRssBytes(): number {
    const text = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(text)?.[1] ?? 0) * 1024;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}
