import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { registerManifestsCommand } from '../../src/cli/manifests-command.js';
import { FakeClock } from '../../src/core/clock.js';
import { BadInputError } from '../../src/core/errors.js';
import { nullLogger } from '../../src/core/logger.js';
import {
  fileText,
  kustomizationYaml,
  OPERATOR_ENTRYPOINT,
  OPERATOR_IMAGE_ENV,
  OPERATOR_NODE_FLAGS,
  renderManifests,
} from '../../src/operator/manifests.js';
import { controlPlaneBinaries } from '../kube/binaries.js';

const run = promisify(execFile);
const deployDir = join(import.meta.dirname, '..', '..', 'deploy');

async function manifests(args: string[]): Promise<string> {
  let out = '';
  const program = new Command().exitOverride();
  const stream = (w: (s: string) => void) => ({ write: w, isTTY: false });
  registerManifestsCommand(
    program,
    {
      stdout: stream((s) => (out += s)),
      stderr: stream(() => {}),
      env: {},
      clock: new FakeClock(),
      logger: nullLogger,
    },
    { code: 0 },
  );
  await program.parseAsync(['manifests', ...args], { from: 'user' });
  return out;
}

type Doc = {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  spec?: Record<string, never>;
};

function docs(text: string): Doc[] {
  return parseAllDocuments(text).map((d) => d.toJSON() as Doc);
}

describe('baton manifests', () => {
  it('matches the files committed under deploy/ (golden)', async () => {
    for (const f of renderManifests()) {
      const committed = await readFile(join(deployDir, f.file), 'utf8');
      assert.equal(committed, fileText(f), `deploy/${f.file} differs: run baton manifests --out-dir deploy`);
    }
    assert.equal(await readFile(join(deployDir, 'kustomization.yaml'), 'utf8'), kustomizationYaml());
    const printed = await manifests([]);
    assert.equal(printed, renderManifests().map(fileText).join('---\n'));
  });

  it("builds an image that runs the Deployment's command: the same Node flags, the bundled program, jemalloc", async () => {
    const dockerfile = await readFile(join(deployDir, '..', 'Dockerfile'), 'utf8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    assert.ok(entrypoint, 'the Dockerfile has no ENTRYPOINT');
    assert.deepEqual(JSON.parse(entrypoint), ['node', ...OPERATOR_NODE_FLAGS, OPERATOR_ENTRYPOINT]);
    for (const [key, value] of Object.entries(OPERATOR_IMAGE_ENV)) {
      assert.match(dockerfile, new RegExp(`^ENV ${key}=${value.replaceAll('.', '\\.')}$`, 'm'));
      if (key === 'LD_PRELOAD')
        assert.ok(dockerfile.includes(`libjemalloc.so.2" ${value} `), `no link at ${value}`);
    }
  });

  it('prints CRD, namespace, least-privilege RBAC, ServiceAccount, a hardened 2-replica Deployment and its metrics Service', async () => {
    const all = docs(await manifests(['--namespace', 'ops', '--image', 'reg.example/baton:9']));
    const kinds = all.map((d) => d.kind).sort();
    assert.deepEqual(kinds, [
      'ClusterRole',
      'ClusterRoleBinding',
      'CustomResourceDefinition',
      'Deployment',
      'Namespace',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    for (const d of all.filter(
      (x) => !['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'Namespace'].includes(x.kind),
    ))
      assert.equal(d.metadata.namespace, 'ops', `${d.kind} lives in the chosen namespace`);
    const rules = [
      ...all.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role').flatMap((d) => d.rules!),
    ];
    const grants = new Set(
      rules.flatMap((r) =>
        r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`))),
      ),
    );
    for (const g of grants) assert.ok(!g.includes('*'), `no wildcard grant (${g})`);
    for (const want of [
      'baton.dev/upgrades:watch',
      'baton.dev/upgrades/status:update',
      'apps/statefulsets:patch',
      '/pods:delete',
      '/pods/eviction:create',
      '/events:create',
      'coordination.k8s.io/leases:update',
      '/secrets:get',
      '/services:get',
      'apps/controllerrevisions:list',
    ])
      assert.ok(grants.has(want), `grants ${want}`);
    for (const refused of [
      '/secrets:list',
      '/secrets:watch',
      '/pods:create',
      'apps/statefulsets:delete',
      'coordination.k8s.io/leases:delete',
    ])
      assert.ok(!grants.has(refused), `does not grant ${refused}`);

    const dep = all.find((d) => d.kind === 'Deployment') as unknown as {
      spec: {
        replicas: number;
        template: {
          spec: {
            serviceAccountName: string;
            securityContext: { runAsNonRoot: boolean };
            containers: {
              image: string;
              args: string[];
              readinessProbe: { httpGet: { path: string } };
              livenessProbe: { httpGet: { path: string } };
              resources: { requests: Record<string, string> };
              securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
            }[];
          };
        };
      };
    };
    assert.equal(dep.spec.replicas, 2);
    const pod = dep.spec.template.spec;
    const c = pod.containers[0]!;
    assert.equal(pod.serviceAccountName, 'baton-operator');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(c.image, 'reg.example/baton:9');
    assert.equal(c.args[0], 'operator');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory);
    const svc = all.find((d) => d.kind === 'Service') as unknown as {
      spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] };
    };
    assert.deepEqual(
      svc.spec.selector,
      (dep.spec as unknown as { selector: { matchLabels: unknown } }).selector.matchLabels,
    );
    assert.deepEqual(
      svc.spec.ports.map((p) => [p.port, p.targetPort]),
      [[8080, 'http']],
    );
  });

  it('rejects a namespace that is not a DNS label with a one-line reason', async () => {
    await assert.rejects(manifests(['--namespace', 'Bad_NS']), (e: unknown) => {
      assert.ok(e instanceof BadInputError);
      assert.match(e.message, /--namespace "Bad_NS" is not a valid namespace name/);
      return true;
    });
  });

  it('writes deploy files with --out-dir', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-manifests-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await manifests(['--out-dir', dir]);
    for (const f of [...renderManifests().map((x) => x.file), 'kustomization.yaml'])
      assert.equal(await readFile(join(dir, f), 'utf8'), await readFile(join(deployDir, f), 'utf8'));
  });

  it('renders with kubectl kustomize deploy/', async () => {
    // The kubectl built with the test control plane (scripts/build-controlplane.sh), v1.37.
    const { kubectl } = await controlPlaneBinaries();
    const { stdout } = await run(kubectl, ['kustomize', deployDir], { timeout: 60_000 });
    const rendered = docs(stdout);
    const expected = renderManifests().flatMap((f) => f.docs as unknown as Doc[]);
    assert.deepEqual(
      rendered.map((d) => `${d.kind}/${d.metadata.name}`).sort(),
      expected.map((d) => `${d.kind}/${d.metadata.name}`).sort(),
    );
  });
});
