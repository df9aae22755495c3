import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import type { UpgradeResource } from '../api/upgrade.js';
import { BadInputError } from '../core/errors.js';
import { POD_ENGINES, createPodEngine, engineForUpgrade } from './kubernetes.js';

function upgrade(spec: Partial<UpgradeResource['spec']>): UpgradeResource {
  return {
    apiVersion: 'baton.dev/v1alpha1',
    kind: 'Upgrade',
    metadata: { name: 'u', namespace: 'db' },
    spec: { target: { statefulSet: 'etcd' }, engine: 'generic', version: '1', ...spec },
  };
}

/** A kubeconfig whose server refuses connections: any Secret read fails loudly. */
function unreachable(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

test('createPodEngine builds every pod engine by name, with or without credentials', async () => {
  for (const name of POD_ENGINES) {
    for (const credentials of [undefined, { username: 'admin', password: 'pw' }, { password: 'pw' }]) {
      const engine = await createPodEngine(name, credentials, 'spec.engine');
      assert.equal(engine.name, name);
      await engine.close?.();
    }
  }
});

test('an engine that cannot be driven on pods is one line naming the field and the usable engines', async () => {
  await assert.rejects(
    createPodEngine('kubernetes', undefined, 'spec.engine'),
    (err: unknown) =>
      err instanceof BadInputError &&
      err.code === 'engine-unavailable' &&
      err.message ===
        'spec.engine: engine "kubernetes" cannot be driven on Kubernetes (its admin API has no adapter here); use one of generic, etcd, redis, postgres, tidb, cockroachdb, redis-enterprise',
  );
  await assert.rejects(
    createPodEngine('sim', undefined, '--engine'),
    /^BadInputError: --engine sim cannot be driven on Kubernetes .*use one of generic, etcd, redis, postgres, tidb, cockroachdb, redis-enterprise$/,
  );
});

test('engineForUpgrade reads the Secret only for an engine that uses credentials', async () => {
  const kc = unreachable();
  const secret = { credentialsSecret: { name: 'creds' } };
  const generic = await engineForUpgrade(kc, upgrade({ engine: 'generic', ...secret }), 'spec.engine');
  assert.equal(generic.name, 'generic');
  const noSecret = await engineForUpgrade(kc, upgrade({ engine: 'etcd' }), 'spec.engine');
  assert.equal(noSecret.name, 'etcd');
  await noSecret.close?.();
  await assert.rejects(
    engineForUpgrade(kc, upgrade({ engine: 'oracle', ...secret }), 'spec.engine'),
    /spec\.engine: engine "oracle"/,
    'the name is checked before the Secret is read',
  );
  await assert.rejects(
    engineForUpgrade(kc, upgrade({ engine: 'redis', ...secret }), 'spec.engine'),
    /read secret db\/creds/,
    'a named Secret is read for an engine with credentials',
  );
  const named = await engineForUpgrade(kc, upgrade({ engine: 'generic' }), '--engine', 'etcd');
  assert.equal(named.name, 'etcd', 'an explicit name wins over spec.engine');
  await named.close?.();
});
