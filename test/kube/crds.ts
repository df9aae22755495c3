/**
 * Cluster-scoped objects the Kubernetes tests share on the one control plane of a run: Baton's
 * Upgrade CRD, installed once (server-side apply, so parallel test files may all ask) and waited
 * on until the apiserver serves it.
 */
import { upgradeCrd } from '../../src/api/upgrade.js';
import { PATCH, RestError, type Rest } from './rest.js';

interface Crd {
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * Server-side apply `crd` (field manager `baton-tests`, conflicts forced) and wait until it is
 * Established and its resource answers a list.
 */
export async function applyCrd(rest: Rest, crd: Record<string, unknown>, timeoutMs = 60_000): Promise<void> {
  const name = (crd.metadata as { name: string }).name;
  const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
  const body = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', ...crd };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await rest.call('PATCH', `${path}?fieldManager=baton-tests&force=true`, body, PATCH.apply);
      break;
    } catch (err) {
      // Two files applying at once may meet an update conflict; apply again.
      if (!(err instanceof RestError && err.code === 409) || Date.now() > deadline) throw err;
    }
  }
  const spec = crd.spec as {
    group: string;
    names: { plural: string };
    versions: { name: string; served: boolean }[];
  };
  const version = spec.versions.find((v) => v.served)!.name;
  for (;;) {
    const got = await rest.get<Crd>(path);
    const established = got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    if (established) {
      try {
        await rest.get(`/apis/${spec.group}/${version}/${spec.names.plural}?limit=1`);
        return;
      } catch {
        // discovery has not caught up yet
      }
    }
    if (Date.now() > deadline) throw new Error(`CRD ${name} not established after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Baton's Upgrade CRD as the code renders it, applied and established. */
export function ensureUpgradeCrd(rest: Rest): Promise<void> {
  return applyCrd(rest, upgradeCrd());
}
