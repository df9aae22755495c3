/**
 * Baton's own manifests on the test control plane: `kubectl apply -k deploy/` with the real
 * kubectl (built beside the control plane), as a user installs the operator, and tokens of the
 * operator's ServiceAccount from the TokenRequest API, so operator tests run with exactly the RBAC
 * that deploy/ grants.
 *
 * deploy/ also holds the operator's Deployment: its pods stay Pending, because every fake node
 * carries its test's NoSchedule taint; nothing in the tests needs them.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ControlPlaneInfo } from './controlplane.js';
import type { Rest } from './rest.js';

/** Namespace and ServiceAccount deploy/ creates for the operator. */
export const OPERATOR_NAMESPACE = 'baton-system';
export const OPERATOR_SERVICE_ACCOUNT = 'baton-operator';

const DEPLOY_DIR = fileURLToPath(new URL('../../deploy', import.meta.url));

/** Run the control plane's kubectl with the admin kubeconfig; resolves with stdout. */
export async function kubectl(cp: ControlPlaneInfo, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    cp.binaries.kubectl,
    ['--kubeconfig', cp.kubeconfig, ...args],
    {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return stdout;
}

let applied: Promise<void> | undefined;

/**
 * `kubectl apply -k deploy/`, once per process; files running at once may both apply (apply is
 * idempotent), and a conflict between them is applied again.
 */
export function applyDeploy(cp: ControlPlaneInfo): Promise<void> {
  applied ??= (async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        await kubectl(cp, ['apply', '-k', DEPLOY_DIR]);
        await kubectl(cp, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/upgrades.baton.dev']);
        return;
      } catch (err) {
        if (attempt >= 4) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  })();
  return applied;
}

/** A bound token of the operator's ServiceAccount (TokenRequest, valid for an hour). */
export async function serviceAccountToken(
  admin: Rest,
  namespace = OPERATOR_NAMESPACE,
  name = OPERATOR_SERVICE_ACCOUNT,
): Promise<string> {
  const tr = await admin.post<{ status: { token: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  );
  return tr.status.token;
}
