/**
 * One fake-kubelet process of `bench:nodes`: registers its share of the benchmark's nodes on the
 * real control plane, runs their pods, and acts their side of a node upgrade
 * (test/nodes/fake-nodes.ts), so that 1,000 nodes' watches and leases do not share an event loop
 * with the benchmark's fault proxy (which every request of the operator goes through). Reads its
 * settings as JSON from argv[2]; prints `ready` once its nodes are registered; on SIGTERM removes
 * its nodes and exits.
 */
import type { ControlPlaneInfo } from '../test/kube/controlplane.js';
import { FakeKubelet, type FakeNodeSpec } from '../test/kube/fake-kubelet.js';
import { Rest } from '../test/kube/rest.js';
import { kubeConfigFor } from '../test/kube/test-cluster.js';
import { startNodeSide } from '../test/nodes/fake-nodes.js';

/** What the benchmark tells one kubelet process. */
export interface KubeletProcessSettings {
  controlPlane: ControlPlaneInfo;
  namespace: string;
  nodes: FakeNodeSpec[];
  readinessDelayMs: number;
  podTerminationMs: number;
  jobRunMs: number;
  restartMs: number;
}

const settings = JSON.parse(process.argv[2] ?? '{}') as KubeletProcessSettings;
const cp = settings.controlPlane;
const kubelet = new FakeKubelet(
  kubeConfigFor({ server: cp.server, caFile: cp.caFile, token: cp.kubeletToken }),
  { readinessDelayMs: settings.readinessDelayMs, podTerminationMs: settings.podTerminationMs },
);
const rest = new Rest(kubeConfigFor({ server: cp.server, caFile: cp.caFile, token: cp.adminToken }));
let closing = false;
const close = async (code: number) => {
  if (closing) return;
  closing = true;
  side?.stop();
  await kubelet.close().catch(() => undefined);
  process.exit(code);
};
process.once('SIGTERM', () => void close(0));
process.once('SIGINT', () => void close(0));

let side: ReturnType<typeof startNodeSide> | undefined;
try {
  // A few at a time: each registration waits for the node lifecycle controller's Ready.
  for (let i = 0; i < settings.nodes.length; i += 25)
    await Promise.all(settings.nodes.slice(i, i + 25).map((n) => kubelet.addNode(n)));
  side = startNodeSide(
    { rest, kubelet, namespace: settings.namespace },
    { jobNamespace: settings.namespace, jobRunMs: settings.jobRunMs, restartMs: settings.restartMs },
  );
  process.stdout.write('ready\n');
} catch (err) {
  process.stderr.write(`kubelet process: ${String(err)}\n`);
  await close(1);
}
