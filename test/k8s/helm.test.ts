/**
 * The Helm chart (deploy/helm/baton) with the real `helm` (built with the control plane): lint,
 * golden `helm template` renders, the same objects as `baton manifests`, and an install into the
 * real control plane whose operator -- its pods run by the fake kubelet as real processes of the
 * operator program, with the chart's ServiceAccount -- upgrades a StatefulSet.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { renderManifests } from '../../src/operator/manifests.js';
import { controlPlaneBinaries } from '../kube/binaries.js';
import { OperatorPods } from '../kube/operator-pods.js';
import { waitFor } from '../kube/helpers.js';
import { ensureUpgradeCrd } from '../kube/crds.js';
import { createTestCluster } from '../kube/test-cluster.js';
import {
  createSettled,
  createUpgrade,
  podImages,
  statefulSet,
  waitPhase,
  type Env,
} from './operator-fixtures.js';
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';

const run = promisify(execFile);
const CHART = fileURLToPath(new URL('../../deploy/helm/baton', import.meta.url));
const GOLDEN = fileURLToPath(new URL('./golden', import.meta.url));
const DEPLOY = fileURLToPath(new URL('../../deploy', import.meta.url));

type Doc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
};

/** Run helm with its own config, cache and data directories (nothing in the user's home). */
async function helm(args: string[]): Promise<string> {
  const { helm } = await controlPlaneBinaries();
  const home = await mkdtemp(join(tmpdir(), 'baton-helm-'));
  try {
    const { stdout } = await run(helm, args, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        HELM_CACHE_HOME: join(home, 'cache'),
        HELM_CONFIG_HOME: join(home, 'config'),
        HELM_DATA_HOME: join(home, 'data'),
      },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

function docs(text: string): Doc[] {
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as Doc | null)
    .filter((d): d is Doc => d !== null);
}

/** Compare with a committed file; `UPDATE_GOLDEN=1` rewrites it instead. */
async function golden(file: string, actual: string): Promise<void> {
  const path = join(GOLDEN, file);
  if (process.env.UPDATE_GOLDEN === '1') await writeFile(path, actual);
  assert.equal(
    actual,
    await readFile(path, 'utf8'),
    `${path} differs: rerun with UPDATE_GOLDEN=1 and review the diff`,
  );
}

const HELM_LABELS = [
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
  'app.kubernetes.io/managed-by',
  'helm.sh/chart',
];

/** A rendered object without what only Helm adds (its labels, in metadata, selectors and templates). */
function withoutHelmLabels(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutHelmLabels);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([k]) => !HELM_LABELS.includes(k))
        .map(([k, x]) => [k, withoutHelmLabels(x)]),
    );
  }
  return v;
}

const key = (d: Doc) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`;

describe('Helm chart deploy/helm/baton', () => {
  it('lints clean', async () => {
    const out = await helm(['lint', '--strict', CHART]);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.doesNotMatch(out, /\[(WARNING|ERROR)\]/);
  });

  it('renders the golden manifests, with the defaults and with every value set', async () => {
    await golden(
      'helm-default.yaml',
      await helm(['template', 'baton', CHART, '-n', 'baton-system', '--include-crds']),
    );
    await golden(
      'helm-values.yaml',
      await helm([
        'template',
        'ops',
        CHART,
        '-n',
        'ops',
        '--set',
        'watchNamespaces={db,cache}',
        '--set',
        'serviceMonitor.enabled=true',
        '--set',
        'serviceMonitor.labels.release=prometheus',
        '--set',
        'replicaCount=1',
        '--set',
        'image.tag=0.2.0',
        '--set',
        'image.pullPolicy=Always',
        '--set',
        'metrics.port=9090',
      ]),
    );
  });

  it('refuses bad values with the field named', async () => {
    await assert.rejects(
      helm(['template', 'x', CHART, '--set', 'watchNamespaces={Bad_NS}']),
      /watchNamespaces\/0.*does not match pattern/s,
    );
  });

  it('renders the objects baton manifests prints (the Namespace aside: helm install --create-namespace makes it)', async () => {
    const chart = docs(await helm(['template', 'baton', CHART, '-n', 'baton-system', '--include-crds']));
    const manifests = renderManifests()
      .flatMap((f) => f.docs as unknown as Doc[])
      .filter((d) => d.kind !== 'Namespace');
    assert.deepEqual(chart.map(key).sort(), manifests.map(key).sort());
    const byKey = new Map(chart.map((d) => [key(d), d]));
    for (const m of manifests) assert.deepEqual(withoutHelmLabels(byKey.get(key(m))), m, key(m));
    // The chart's CRD is the one deploy/ applies.
    assert.equal(
      await readFile(join(CHART, 'crds', 'upgrades.baton.dev.yaml'), 'utf8'),
      await readFile(join(DEPLOY, 'crd.yaml'), 'utf8'),
      'deploy/helm/baton/crds/upgrades.baton.dev.yaml differs from deploy/crd.yaml: copy it over',
    );
  });

  it('installs into the real control plane watching two namespaces; its operator, under the chart RBAC, upgrades a StatefulSet in each', async (t) => {
    const server = await createTestCluster({ readinessDelayMs: 50, podTerminationMs: 5 });
    const ns = server.namespace;
    // A second watched namespace: the chart binds its ClusterRole there by a RoleBinding only.
    const other = await server.createNamespace('other');
    const release = `b-${ns}`;
    const dir = await mkdtemp(join(tmpdir(), 'baton-helm-kube-'));
    const kubeconfig = join(dir, 'kubeconfig');
    // One cleanup, in order: uninstall while the namespace exists (the ClusterRole goes too).
    t.after(async () => {
      await helm(['uninstall', release, '--kubeconfig', kubeconfig, '-n', ns, '--wait']).catch(
        () => undefined,
      );
      await server.close();
      await rm(dir, { recursive: true, force: true });
    });
    await ensureUpgradeCrd(server.rest);
    // The fake kubelet runs the chart's operator pods as processes of the operator program.
    const operators = await OperatorPods.start(
      t,
      server,
      (p) => p.metadata?.labels?.['app.kubernetes.io/instance'] === release,
    );
    await server.writeKubeconfig(kubeconfig, { direct: true });
    const out = await helm([
      'install',
      release,
      CHART,
      '--kubeconfig',
      kubeconfig,
      '-n',
      ns,
      '--set',
      `watchNamespaces={${ns},${other}}`,
      '--set',
      'replicaCount=1',
      // Helm 4 applies crds/ server-side; the CRD is already there, applied by another field
      // manager, and .spec.versions is an atomic list: taking it over needs --force-conflicts.
      '--force-conflicts',
      '--wait',
      '--timeout',
      '120s',
    ]);
    assert.match(out, /STATUS: deployed/);

    const kc = server.kubeConfig();
    const envOf = (ns: string) =>
      ({
        server,
        ns,
        kc,
        apps: kc.makeApiClient(AppsV1Api),
        core: kc.makeApiClient(CoreV1Api),
        custom: kc.makeApiClient(CustomObjectsApi),
        operatorKc: kc,
        lease: { name: `${release}-operator`, namespace: ns },
      }) satisfies Env;
    const envs = [envOf(ns), envOf(other)];
    await Promise.all(envs.map((env) => createSettled(env, statefulSet('db', 3))));
    await waitFor(
      "the chart's operator to lead",
      async () =>
        (
          await server.rest.find<{ spec?: { holderIdentity?: string } }>(
            `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${release}-operator`,
          )
        )?.spec?.holderIdentity?.startsWith(`${release}-operator-`),
      60_000,
      100,
    );
    for (const env of envs) {
      await createUpgrade(env, 'db-up', { target: { statefulSet: 'db' }, version: '1.1.0' });
    }
    for (const env of envs) {
      const done = await waitPhase(env, 'db-up', ['Completed', 'Failed', 'Paused']).catch(
        async (err: Error) => {
          throw new Error(`${env.ns}: ${err.message}\n${await operators.logs()}`);
        },
      );
      assert.equal(done.status?.phase, 'Completed', `${env.ns}: ${done.status?.reason}`);
      assert.deepEqual(Object.values(await podImages(env, 'db')), Array(3).fill('example/db:1.1.0'));
    }
  });
});
