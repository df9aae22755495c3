/**
 * Where the control plane's programs are: the cache `scripts/build-controlplane.sh` builds into
 * (it prints the directories for the versions pinned under test/controlplane/ with
 * `--print-dirs`), unless `BATON_CONTROLPLANE_BIN` names one directory holding all six.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Paths of the programs the test control plane runs, and the clients tests run against it. */
export interface ControlPlaneBinaries {
  apiserver: string;
  controllerManager: string;
  scheduler: string;
  kubectl: string;
  etcd: string;
  helm: string;
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The programs for the pinned versions. Rejects with what to run when one is missing, so a
 * test fails with the fix instead of a spawn error.
 */
export async function controlPlaneBinaries(
  env: NodeJS.ProcessEnv = process.env,
): Promise<ControlPlaneBinaries> {
  let dirs: [string, string, string];
  const one = env.BATON_CONTROLPLANE_BIN;
  if (one) {
    dirs = [one, one, one];
  } else {
    const { stdout } = await promisify(execFile)(
      'bash',
      [join(REPO, 'scripts/build-controlplane.sh'), '--print-dirs'],
      {
        env,
      },
    );
    const lines = stdout.trim().split('\n');
    if (lines.length !== 3) throw new Error(`scripts/build-controlplane.sh --print-dirs printed: ${stdout}`);
    dirs = lines as [string, string, string];
  }
  const [k8s, etcd, helm] = dirs;
  const bins: ControlPlaneBinaries = {
    apiserver: join(k8s, 'kube-apiserver'),
    controllerManager: join(k8s, 'kube-controller-manager'),
    scheduler: join(k8s, 'kube-scheduler'),
    kubectl: join(k8s, 'kubectl'),
    etcd: join(etcd, 'etcd'),
    helm: join(helm, 'helm'),
  };
  for (const path of Object.values(bins)) {
    try {
      await access(path, constants.X_OK);
    } catch {
      throw new Error(`${path} is missing: run scripts/build-controlplane.sh (npm test runs it)`);
    }
  }
  return bins;
}
