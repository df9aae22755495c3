import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { BadInputError } from '../../core/errors.js';
import { contextNamespace, loadKubeConfig } from './kubeconfig.js';

const CONFIG = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: { server: 'http://127.0.0.1:1' }
users:
- name: u
  user: { token: t }
contexts:
- name: dev
  context: { cluster: c, user: u, namespace: team-a }
- name: prod
  context: { cluster: c, user: u }
current-context: dev
`;

test('loadKubeConfig: --kubeconfig, KUBECONFIG list, ~/.kube/config, --context, namespaces', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'baton-kc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'config');
  await writeFile(file, CONFIG);

  const kc = loadKubeConfig({ kubeconfig: file, env: {} });
  assert.equal(kc.getCurrentContext(), 'dev');
  assert.equal(contextNamespace(kc), 'team-a');
  const prod = loadKubeConfig({ kubeconfig: file, context: 'prod', env: {} });
  assert.equal(contextNamespace(prod), 'default');
  const fromEnv = loadKubeConfig({ env: { KUBECONFIG: [join(dir, 'missing'), file].join(delimiter) } });
  assert.equal(fromEnv.getCurrentContext(), 'dev');
  await writeFile(join(dir, '.kube-placeholder'), '');
  const home = join(dir, 'home');
  await import('node:fs/promises').then((fs) => fs.mkdir(join(home, '.kube'), { recursive: true }));
  await writeFile(join(home, '.kube', 'config'), CONFIG);
  assert.equal(loadKubeConfig({ env: { HOME: home } }).getCurrentContext(), 'dev');

  const bad = (fn: () => unknown, code: string, pattern: RegExp) =>
    assert.throws(
      fn,
      (e: unknown) =>
        e instanceof BadInputError && e.code === code && pattern.test(e.message) && !e.message.includes('\n'),
    );
  bad(
    () => loadKubeConfig({ kubeconfig: join(dir, 'nope'), env: {} }),
    'kubeconfig-missing',
    /--kubeconfig .*nope: no such file/,
  );
  bad(
    () => loadKubeConfig({ kubeconfig: file, context: 'qa', env: {} }),
    'unknown-context',
    /--context qa: not in the kubeconfig \(contexts: dev, prod\)/,
  );
  bad(() => loadKubeConfig({ env: { KUBECONFIG: join(dir, 'x') } }), 'kubeconfig-missing', /KUBECONFIG=/);
  bad(() => loadKubeConfig({ env: { HOME: join(dir, 'empty') } }), 'no-kubeconfig', /pass --kubeconfig FILE/);
  await writeFile(join(dir, 'garbage'), '::: not yaml [');
  bad(
    () => loadKubeConfig({ kubeconfig: join(dir, 'garbage'), env: {} }),
    'kubeconfig-invalid',
    /not a valid kubeconfig/,
  );
});
