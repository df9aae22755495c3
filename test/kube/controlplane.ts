/**
 * A real Kubernetes control plane for tests and benchmarks, the way kubebuilder's envtest runs
 * one for Go operators: etcd, kube-apiserver, kube-controller-manager and kube-scheduler, built
 * from the Go module proxy by `scripts/build-controlplane.sh`, started on free ports of 127.0.0.1
 * in a temporary directory and stopped with nothing left behind. Only the kubelet is simulated
 * (`fake-kubelet.ts`).
 *
 * - kube-apiserver: secure port only, a serving certificate it generates itself into the
 *   directory (its self-signed CA is what every kubeconfig trusts), service-account signing keys
 *   generated here, static bearer tokens for the admin, the controller manager, the scheduler and
 *   the fake kubelets, authorization `Node,RBAC`, the default admission plugins plus
 *   PodNodeSelector and PodTolerationRestriction (which keep each test's pods on that test's own
 *   nodes, see `test-cluster.ts`).
 * - kube-controller-manager: every default controller (statefulset, replicaset, deployment, job,
 *   daemonset, disruption, garbage collector, namespace, serviceaccount and its tokens,
 *   endpointslice, node lifecycle, pod GC, ...), each with its own service account
 *   (`--use-service-account-credentials`), so RBAC applies to them as in a cluster.
 * - kube-scheduler: the default profile.
 *
 * Flags follow what kubeadm's static pod manifests and envtest pass
 * (kubernetes/cmd/kubeadm/app/phases/controlplane/manifests.go,
 * controller-runtime/pkg/internal/testing/controlplane/apiserver.go).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as stringifyYaml } from 'yaml';
import { pickFreePorts } from '../../src/platforms/local/ports.js';
import { tailFile } from '../../src/platforms/local/process.js';
import { controlPlaneBinaries, type ControlPlaneBinaries } from './binaries.js';

/** How to reach a running control plane; what a test process needs (serialisable). */
export interface ControlPlaneInfo {
  /** `https://127.0.0.1:<port>` of kube-apiserver. */
  server: string;
  /** PEM bundle that verifies the apiserver's serving certificate. */
  caFile: string;
  /** The apiserver's serving certificate and key (the fault proxy presents them too). */
  certFile: string;
  keyFile: string;
  /** Bearer token of `baton:admin` (group system:masters). */
  adminToken: string;
  /** Bearer token of `baton:fake-kubelet` (group system:masters): the simulated kubelets. */
  kubeletToken: string;
  /** Admin kubeconfig file. */
  kubeconfig: string;
  /** `gitVersion` the apiserver reports, e.g. `v1.37.2`. */
  kubernetesVersion: string;
  /** Programs it runs (helm included, for the chart tests). */
  binaries: ControlPlaneBinaries;
}

/** A running control plane started by {@link startControlPlane}. */
export interface ControlPlane {
  readonly info: ControlPlaneInfo;
  /** Milliseconds from the first spawn until every component was healthy. */
  readonly startMs: number;
  /** Stop every process (SIGTERM, then SIGKILL after 5 s) and remove the directory. */
  stop(): Promise<void>;
  /** SIGKILL every process and remove the directory, synchronously (for a process `exit` hook). */
  kill(): void;
  /** The process ID of a running component (`kube-apiserver`, `etcd`...), for benchmarks that read its CPU time. */
  pid(component: string): number | undefined;
  /**
   * Let this process exit while the components run (a test file's own control plane: its `exit`
   * hook then kills them).
   */
  unref(): void;
}

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Programs to run (default: {@link controlPlaneBinaries}). */
  binaries?: ControlPlaneBinaries;
  /** Keep the directory (logs) after stop, for debugging (default false). */
  keepDir?: boolean;
  /** Bound on the whole start (default 120 s: the machine may be busy). */
  timeoutMs?: number;
}

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  exited: boolean;
}

const ADMIN = 'baton:admin';

/** Start etcd, kube-apiserver, kube-controller-manager and kube-scheduler; resolve once healthy. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const bins = opts.binaries ?? (await controlPlaneBinaries());
  const dir = await mkdtemp(join(tmpdir(), 'baton-controlplane-'));
  const procs: Proc[] = [];
  const reaper = startReaper(dir, opts.keepDir ?? false);
  const track = (p: Proc) => {
    procs.push(p);
    reaper.watch(p);
  };
  const stop = async () => {
    await Promise.all(procs.reverse().map(stopProc));
    if (!opts.keepDir) await rm(dir, { recursive: true, force: true });
    reaper.release();
  };
  const kill = () => {
    for (const p of procs) if (!p.exited) p.child.kill('SIGKILL');
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    reaper.release();
  };
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 120_000);
  try {
    // A port found free may be taken before the component binds it (other sessions start
    // servers too); a start that fails on a taken port is retried on fresh ports.
    for (let attempt = 1; ; attempt++) {
      try {
        const info = await startOnce(bins, dir, procs, track, deadline);
        const pid = (component: string) => procs.find((p) => p.name === component && !p.exited)?.child.pid;
        const unref = () => procs.forEach((p) => p.child.unref());
        return { info, startMs: Date.now() - started, stop, kill, pid, unref };
      } catch (err) {
        const taken = await portTaken(procs);
        await Promise.all(procs.splice(0).map(stopProc));
        if (!taken || attempt >= 3) throw err;
        await rm(join(dir, 'etcd'), { recursive: true, force: true });
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startOnce(
  bins: ControlPlaneBinaries,
  dir: string,
  procs: Proc[],
  track: (p: Proc) => void,
  deadline: number,
): Promise<ControlPlaneInfo> {
  const [etcdPort, peerPort, apiPort, kcmPort, schedPort] = await pickFreePorts(5, { random: Math.random });
  const pki = join(dir, 'pki');
  await mkdir(pki, { recursive: true });
  const tokens = {
    admin: randomToken(),
    kcm: randomToken(),
    scheduler: randomToken(),
    kubelet: randomToken(),
  };
  // Static tokens: token,user,uid,"groups" (k8s.io/apiserver/pkg/authentication/token/tokenfile).
  await writeFile(
    join(dir, 'tokens.csv'),
    [
      `${tokens.admin},${ADMIN},baton-admin,"system:masters"`,
      `${tokens.kcm},system:kube-controller-manager,kube-controller-manager`,
      `${tokens.scheduler},system:kube-scheduler,kube-scheduler`,
      `${tokens.kubelet},baton:fake-kubelet,fake-kubelet,"system:masters"`,
    ].join('\n') + '\n',
    { mode: 0o600 },
  );
  const sa = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  await writeFile(join(pki, 'sa.key'), sa.privateKey, { mode: 0o600 });
  await writeFile(join(pki, 'sa.pub'), sa.publicKey);

  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  track(
    await spawnLogged('etcd', bins.etcd, dir, [
      '--name=controlplane',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=controlplane=http://127.0.0.1:${peerPort}`,
      // Test data only: fsync would make every write wait for a shared disk.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]),
  );
  await waitHealthy(procs, deadline, 'etcd', async () => {
    const r = await fetch(`${etcdUrl}/health`);
    return r.ok && ((await r.json()) as { health?: string }).health === 'true';
  });

  const server = `https://127.0.0.1:${apiPort}`;
  track(
    await spawnLogged('kube-apiserver', bins.apiserver, dir, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // A loopback address cannot back the `kubernetes` Service's endpoints; nothing here needs them.
      '--endpoint-reconciler-type=none',
      `--secure-port=${apiPort}`,
      `--cert-dir=${pki}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      '--allow-privileged=true',
      '--profiling=false',
      '--v=0',
    ]),
  );
  const certFile = join(pki, 'apiserver.crt');
  const keyFile = join(pki, 'apiserver.key');
  const caFile = join(pki, 'ca.crt');
  let version = '';
  await waitHealthy(procs, deadline, 'kube-apiserver', async () => {
    if (!existsSync(certFile)) return false;
    if (!existsSync(caFile)) {
      // The generated file holds the serving certificate followed by the CA that signed it
      // (k8s.io/client-go/util/cert GenerateSelfSignedCertKeyWithFixtures); trust the CA alone.
      const blocks = (await readFile(certFile, 'utf8')).match(
        /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g,
      );
      if (!blocks || blocks.length < 2) return false;
      await writeFile(caFile, blocks.at(-1)! + '\n');
    }
    const ca = await readFile(caFile);
    const ready = await httpsGet(`${server}/readyz`, ca, tokens.admin);
    if (ready.status !== 200) return false;
    version = (
      JSON.parse((await httpsGet(`${server}/version`, ca, tokens.admin)).body) as { gitVersion: string }
    ).gitVersion;
    return true;
  });

  const kubeconfig = (user: string, token: string) =>
    writeKubeconfigFile(join(dir, `${user}.kubeconfig`), { server, caFile, token, user });
  const adminConfig = await kubeconfig('admin', tokens.admin);
  const kcmConfig = await kubeconfig('kube-controller-manager', tokens.kcm);
  const schedConfig = await kubeconfig('kube-scheduler', tokens.scheduler);

  track(
    await spawnLogged('kube-controller-manager', bins.controllerManager, dir, [
      `--kubeconfig=${kcmConfig}`,
      `--authentication-kubeconfig=${kcmConfig}`,
      `--authorization-kubeconfig=${kcmConfig}`,
      // No client certificates here: nothing to look up for authentication by them.
      '--authentication-skip-lookup=true',
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      `--cert-dir=${join(dir, 'kcm-certs')}`,
      '--controllers=*',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${join(pki, 'sa.key')}`,
      `--root-ca-file=${caFile}`,
      '--cluster-name=baton-test',
      '--leader-elect=false',
      // Many test namespaces share this control plane; client-side throttling would only slow
      // the controllers down, not make anything more realistic.
      '--kube-api-qps=500',
      '--kube-api-burst=1000',
      '--concurrent-statefulset-syncs=20',
      '--profiling=false',
    ]),
  );
  await writeFile(
    join(dir, 'scheduler.yaml'),
    stringifyYaml({
      apiVersion: 'kubescheduler.config.k8s.io/v1',
      kind: 'KubeSchedulerConfiguration',
      clientConnection: { kubeconfig: schedConfig, qps: 500, burst: 1000 },
      leaderElection: { leaderElect: false },
    }),
  );
  track(
    await spawnLogged('kube-scheduler', bins.scheduler, dir, [
      `--config=${join(dir, 'scheduler.yaml')}`,
      `--authentication-kubeconfig=${schedConfig}`,
      `--authorization-kubeconfig=${schedConfig}`,
      '--authentication-skip-lookup=true',
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      `--cert-dir=${join(dir, 'scheduler-certs')}`,
    ]),
  );
  await Promise.all([
    waitHealthy(procs, deadline, 'kube-controller-manager', async () => {
      return (await httpsGet(`https://127.0.0.1:${kcmPort}/healthz`, undefined)).status === 200;
    }),
    waitHealthy(procs, deadline, 'kube-scheduler', async () => {
      return (await httpsGet(`https://127.0.0.1:${schedPort}/healthz`, undefined)).status === 200;
    }),
  ]);
  // The serviceaccount controller works once namespaces get their `default` ServiceAccount.
  const ca = await readFile(caFile);
  await waitHealthy(procs, deadline, 'the default ServiceAccount', async () => {
    const r = await httpsGet(`${server}/api/v1/namespaces/default/serviceaccounts/default`, ca, tokens.admin);
    return r.status === 200;
  });
  return {
    server,
    caFile,
    certFile,
    keyFile,
    adminToken: tokens.admin,
    kubeletToken: tokens.kubelet,
    kubeconfig: adminConfig,
    kubernetesVersion: version,
    binaries: bins,
  };
}

function randomToken(): string {
  return randomBytes(24).toString('hex');
}

/**
 * Write a kubeconfig with one cluster, user and context; `namespace` becomes the context's
 * namespace. Returns the path.
 */
export async function writeKubeconfigFile(
  path: string,
  c: { server: string; caFile?: string; caData?: string; token: string; user?: string; namespace?: string },
): Promise<string> {
  const user = c.user ?? 'user';
  const cluster = {
    server: c.server,
    ...(c.caFile ? { 'certificate-authority': c.caFile } : {}),
    ...(c.caData ? { 'certificate-authority-data': Buffer.from(c.caData).toString('base64') } : {}),
  };
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'baton-test', cluster }],
    users: [{ name: user, user: { token: c.token } }],
    contexts: [
      {
        name: 'baton-test',
        context: { cluster: 'baton-test', user, ...(c.namespace ? { namespace: c.namespace } : {}) },
      },
    ],
    'current-context': 'baton-test',
  };
  await writeFile(path, stringifyYaml(doc), { mode: 0o600 });
  return path;
}

async function spawnLogged(name: string, bin: string, dir: string, args: string[]): Promise<Proc> {
  const log = join(dir, `${name}.log`);
  const fh = await open(log, 'a', 0o644);
  try {
    const child = spawn(bin, args, {
      stdio: ['ignore', fh.fd, fh.fd],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    });
    const proc: Proc = { name, child, log, exited: false };
    child.once('exit', () => (proc.exited = true));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new Error(`cannot start ${name} (${bin}): ${err.message}`)));
    });
    return proc;
  } finally {
    await fh.close();
  }
}

/**
 * The watchdog of one control plane (`reaper.mjs`, its own process group so that a signal to the
 * test's group does not take it down): it is told each component's PID and, if the process that
 * started them dies without {@link Reaper.release} (SIGKILL, a test runner's timeout), kills those
 * that are still the programs it was told of and removes the directory.
 */
interface Reaper {
  watch(p: Proc): void;
  release(): void;
}

const REAPER = fileURLToPath(new URL('./reaper.mjs', import.meta.url));

function startReaper(dir: string, keepDir: boolean): Reaper {
  const child = spawn(process.execPath, [REAPER, dir, keepDir ? 'keep' : 'remove'], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  child.unref();
  const pipe = child.stdin as unknown as Socket;
  pipe.on('error', () => undefined);
  pipe.unref();
  let released = false;
  return {
    watch: (p) => {
      if (!released && p.child.pid) pipe.write(`${p.child.pid} ${p.child.spawnfile}\n`);
    },
    release: () => {
      if (released) return;
      released = true;
      pipe.end('release\n');
    },
  };
}

async function stopProc(p: Proc): Promise<void> {
  if (p.exited) return;
  const gone = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}

/** True when a component's log says it could not bind its port. */
async function portTaken(procs: Proc[]): Promise<boolean> {
  for (const p of procs) if (/address already in use/.test(await tailFile(p.log, 50))) return true;
  return false;
}

/**
 * Poll `check` until it holds; fail at `deadline`, or as soon as any started component exits,
 * with the last lines of that component's log.
 */
async function waitHealthy(
  procs: Proc[],
  deadline: number,
  what: string,
  check: () => Promise<boolean>,
): Promise<void> {
  let last = '';
  for (;;) {
    const dead = procs.find((p) => p.exited);
    if (dead) {
      throw new Error(`${dead.name} exited while waiting for ${what}:\n${await tailFile(dead.log, 30)}`);
    }
    try {
      if (await check()) return;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) {
      const logs = await Promise.all(procs.map(async (p) => `--- ${p.name}\n${await tailFile(p.log, 15)}`));
      throw new Error(`control plane: ${what} not healthy in time (${last})\n${logs.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** GET over HTTPS; `ca` undefined skips verification (components' self-signed health ports). */
function httpsGet(
  url: string,
  ca: Buffer | undefined,
  token?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        ...(ca ? { ca } : { rejectUnauthorized: false }),
        headers: token ? { authorization: `Bearer ${token}` } : {},
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
