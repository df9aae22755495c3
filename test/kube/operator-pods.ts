/**
 * A {@link PodRuntime} that runs Baton's operator image for real: the pods of an operator
 * Deployment (deploy/ or the Helm chart) become `node <flags> <bundle> <args>` processes, where the
 * bundle is what the image runs (`dist/baton-operator.js`, src/operator/bundle.ts) built afresh
 * from the sources when the runtime starts (so a stale `dist/` is never what is tested), started
 * the way a kubelet starts a container:
 *
 * - the container's `args`, with `$(VAR)` references expanded from its `env` (values and the
 *   downward API's `metadata.name` / `metadata.namespace`), as the kubelet expands them;
 * - the container's `command` (`node <flags> dist/baton-operator.js`): the same Node flags and
 *   the same bundle (built from the sources beside node_modules, where the modules it leaves out
 *   of the bundle resolve, and removed with the runtime);
 * - the image's environment (jemalloc preloaded: {@link operatorImageEnv}), the container's, and
 *   `KUBECONFIG`: a kubeconfig with a
 *   token of the pod's ServiceAccount (TokenRequest), through the test's fault proxy -- the pod's
 *   identity, as the projected service-account token gives it in a cluster;
 * - the health port (`--port`) moved to a free port of 127.0.0.1 (`--host 127.0.0.1`): pods share
 *   this machine's network, as if each had its own network namespace mapped to a local port;
 * - Ready while `GET /readyz` answers 200; a deleted pod's process gets SIGTERM, then SIGKILL
 *   after its termination grace period (at most 10 s here).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { bundleOperator } from '../../src/operator/bundle.js';
import { OPERATOR_ENTRYPOINT, OPERATOR_IMAGE_ENV } from '../../src/operator/manifests.js';
import { pickFreePorts } from '../../src/platforms/local/ports.js';
import { tailFile } from '../../src/platforms/local/process.js';
import { serviceAccountToken } from './deploy.js';
import type { PodRuntime } from './fake-kubelet.js';
import type { TestCluster } from './test-cluster.js';

const ENTRYPOINT = fileURLToPath(new URL('../../src/operator/entrypoint.ts', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));

interface Running {
  uid: string;
  child: ChildProcess;
  port: number;
  exited: boolean;
  log: string;
}

/** Expand `$(NAME)` in `s` from `vars`; unknown references stay as written (as the kubelet does). */
export function expandVars(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => vars[name] ?? m);
}

/** The container's environment as the kubelet resolves it (literal values and pod fieldRefs). */
export function containerEnv(pod: V1Pod, c: V1Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = expandVars(e.value, env);
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field === 'metadata.name') env[e.name] = pod.metadata!.name!;
    if (field === 'metadata.namespace') env[e.name] = pod.metadata!.namespace!;
  }
  return env;
}

/**
 * The Node flags of an operator container's `command` (`node <flags> <entry point>`); none when it
 * has no command (the image's entrypoint). Anything else is not an operator container.
 */
export function nodeFlags(c: V1Container): string[] {
  const command = c.command ?? [];
  if (command.length === 0) return [];
  const entry = command[command.length - 1]!;
  if (command[0] !== 'node' || entry !== OPERATOR_ENTRYPOINT) {
    throw new Error(
      `container ${c.name}: command ${JSON.stringify(command)} is not node <flags> <entry point>`,
    );
  }
  return command.slice(1, -1);
}

/**
 * The image's environment ({@link OPERATOR_IMAGE_ENV}) on this machine: the image links Debian's
 * libjemalloc2 to /usr/local/lib; here it is where Debian puts it (scripts/setup-tests.sh installs
 * the package).
 */
export function operatorImageEnv(): Record<string, string> {
  const arch = ({ x64: 'x86_64', arm64: 'aarch64' } as Record<string, string>)[process.arch] ?? process.arch;
  const jemalloc = `/usr/lib/${arch}-linux-gnu/libjemalloc.so.2`;
  if (!existsSync(jemalloc)) {
    throw new Error(`${jemalloc} is missing: install Debian's libjemalloc2 (the operator image preloads it)`);
  }
  return { ...OPERATOR_IMAGE_ENV, LD_PRELOAD: jemalloc };
}

/** Runs the operator pods `claims` selects (see the module comment). */
export class OperatorPods implements PodRuntime {
  private readonly running = new Map<string, Running>();
  private closed = false;

  private constructor(
    private readonly cluster: TestCluster,
    private readonly dir: string,
    private readonly select: (pod: V1Pod) => boolean,
    private readonly program: string,
    /** {@link operatorImageEnv}, read once: every pod gets the same. */
    private readonly imageEnv: Record<string, string>,
  ) {}

  /** A runtime for the pods `select` picks; installed as the test cluster's kubelet runtime. */
  static async start(
    t: { after(fn: () => unknown): void },
    cluster: TestCluster,
    select: (pod: V1Pod) => boolean,
  ): Promise<OperatorPods> {
    const imageEnv = operatorImageEnv(); // before anything is made: a missing jemalloc leaves nothing behind
    const dir = await mkdtemp(join(tmpdir(), 'baton-operator-pods-'));
    await mkdir(join(NODE_MODULES, '.cache'), { recursive: true });
    const programDir = await mkdtemp(join(NODE_MODULES, '.cache', 'baton-operator-pods-'));
    const program = join(programDir, 'baton-operator.mjs');
    const pods = new OperatorPods(cluster, dir, select, program, imageEnv);
    t.after(() => pods.close());
    await bundleOperator(ENTRYPOINT, program);
    cluster.kubelet.settings.runtime = pods;
    return pods;
  }

  claims(pod: V1Pod): boolean {
    return !this.closed && this.select(pod);
  }

  async start(pod: V1Pod): Promise<void> {
    const uid = pod.metadata!.uid!;
    const c = pod.spec!.containers[0]!;
    const env = containerEnv(pod, c);
    const args = (c.args ?? []).map((a) => expandVars(a, env));
    const [port] = await pickFreePorts(1, { random: Math.random });
    const i = args.indexOf('--port');
    if (i >= 0) args[i + 1] = String(port);
    else args.push('--port', String(port));
    args.push('--host', '127.0.0.1');
    const sa = pod.spec!.serviceAccountName ?? 'default';
    const kubeconfig = join(this.dir, `${uid}.kubeconfig`);
    await this.cluster.writeKubeconfig(kubeconfig, {
      token: await serviceAccountToken(this.cluster.rest, pod.metadata!.namespace!, sa),
      namespace: pod.metadata!.namespace!,
    });
    const log = join(this.dir, `${pod.metadata!.name}-${uid}.log`);
    const fh = await open(log, 'a');
    try {
      const child = spawn(process.execPath, [...nodeFlags(c), this.program, ...args], {
        stdio: ['ignore', fh.fd, fh.fd],
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: this.dir,
          ...this.imageEnv,
          ...env,
          KUBECONFIG: kubeconfig,
        },
      });
      const run: Running = { uid, child, port: port!, exited: false, log };
      child.once('exit', () => (run.exited = true));
      this.running.set(uid, run);
      if (this.closed) await this.stop(pod);
    } finally {
      await fh.close();
    }
  }

  async stop(pod: V1Pod): Promise<void> {
    const run = this.running.get(pod.metadata?.uid ?? '');
    if (!run || run.exited) return;
    const gone = new Promise<void>((r) => run.child.once('exit', () => r()));
    run.child.kill('SIGTERM');
    const graceMs = Math.min((pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000, 10_000);
    const timer = setTimeout(() => run.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }

  async ready(pod: V1Pod): Promise<boolean> {
    const run = this.running.get(pod.metadata?.uid ?? '');
    if (!run || run.exited) return false;
    try {
      const r = await fetch(`http://127.0.0.1:${run.port}/readyz`, { signal: AbortSignal.timeout(1000) });
      return r.status === 200;
    } catch {
      return false;
    }
  }

  /** The last lines each operator process wrote (for a failing test's message). */
  async logs(): Promise<string> {
    const out = await Promise.all(
      [...this.running.values()].map(async (r) => `--- ${r.log}\n${await tailFile(r.log, 20)}`),
    );
    return out.join('\n');
  }

  /** Stop every process this runtime started and remove its files. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.running.values()].map(async (r) => {
        if (r.exited) return;
        const gone = new Promise<void>((res) => r.child.once('exit', () => res()));
        r.child.kill('SIGKILL');
        await gone;
      }),
    );
    await rm(this.dir, { recursive: true, force: true });
    await rm(dirname(this.program), { recursive: true, force: true });
  }
}
