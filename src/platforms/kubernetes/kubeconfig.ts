/**
 * Loading a kubeconfig the way kubectl does: `--kubeconfig`, else `KUBECONFIG` (first existing file
 * of the list), else in-cluster service-account credentials, else `~/.kube/config`; then
 * `--context`. Problems a user can fix are one-line BadInputErrors.
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { BadInputError } from '../../core/errors.js';

/** Where the service-account token lives inside a pod. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Options of {@link loadKubeConfig}. */
export interface KubeConfigOptions {
  /** `--kubeconfig FILE`: used as is; a missing file is bad input. */
  kubeconfig?: string;
  /** `--context NAME`: must exist in the loaded config. */
  context?: string;
  /** The environment (`KUBECONFIG`, `KUBERNETES_SERVICE_HOST`, `HOME`). */
  env: NodeJS.ProcessEnv;
}

/**
 * Load a KubeConfig. Throws BadInputError `kubeconfig-missing` for a named file that does not
 * exist, `kubeconfig-invalid` for one that does not parse, `unknown-context` for a context it does
 * not define, and `no-kubeconfig` when there is nothing to load at all.
 */
export function loadKubeConfig(opts: KubeConfigOptions): KubeConfig {
  const kc = new KubeConfig();
  const fromFile = (file: string, flag: string) => {
    if (!existsSync(file)) {
      throw new BadInputError(
        'kubeconfig-missing',
        `${flag} ${file}: no such file; pass an existing kubeconfig (or drop the flag to use ~/.kube/config)`,
      );
    }
    try {
      kc.loadFromString(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new BadInputError(
        'kubeconfig-invalid',
        `${flag} ${file}: not a valid kubeconfig (${(err as Error).message.split('\n')[0]})`,
      );
    }
    if (kc.getContexts().length === 0) {
      throw new BadInputError(
        'kubeconfig-invalid',
        `${flag} ${file}: not a valid kubeconfig (it defines no context); check the file`,
      );
    }
  };
  const envList = (opts.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = opts.env.HOME ?? opts.env.USERPROFILE;
  const defaultFile = home ? join(home, '.kube', 'config') : undefined;
  if (opts.kubeconfig) fromFile(opts.kubeconfig, '--kubeconfig');
  else if (envList.length > 0) {
    const file = envList.find((f) => existsSync(f));
    if (!file) {
      throw new BadInputError(
        'kubeconfig-missing',
        `KUBECONFIG=${opts.env.KUBECONFIG}: none of these files exists; fix the variable or pass --kubeconfig`,
      );
    }
    fromFile(file, 'KUBECONFIG');
  } else if (opts.env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
  } else if (defaultFile && existsSync(defaultFile)) {
    fromFile(defaultFile, 'kubeconfig');
  } else {
    throw new BadInputError(
      'no-kubeconfig',
      'no kubeconfig found: pass --kubeconfig FILE, set KUBECONFIG, or run inside a cluster',
    );
  }
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      throw new BadInputError(
        'unknown-context',
        `--context ${opts.context}: not in the kubeconfig (contexts: ${kc
          .getContexts()
          .map((c) => c.name)
          .join(', ')})`,
      );
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new BadInputError(
      'no-context',
      `the kubeconfig has no current context with a cluster: pass --context NAME (contexts: ${kc
        .getContexts()
        .map((c) => c.name)
        .join(', ')})`,
    );
  }
  return kc;
}

/** The namespace of the kubeconfig's current context, or `default`. */
export function contextNamespace(kc: KubeConfig): string {
  const current = kc.getContextObject(kc.getCurrentContext());
  return current?.namespace || 'default';
}
