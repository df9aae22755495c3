import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { GROUP, PLURAL, VERSION, upgradeCrd, type UpgradeResource } from '../../src/api/upgrade.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { Operator, type OperatorOptions } from '../../src/operator/operator.js';
import type { FakeApiServer } from '../kube/fake-apiserver.js';
import { waitFor, withFakeApiServer } from '../kube/helpers.js';

const NS = 'default';

function sts(
  name: string,
  replicas: number,
  opts: { onDelete?: boolean; image?: string; labels?: Record<string, string>; partition?: number } = {},
): V1StatefulSet {
  return {
    metadata: { name, labels: opts.labels },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      podManagementPolicy: 'Parallel',
      updateStrategy: opts.onDelete
        ? { type: 'OnDelete' }
        : { type: 'RollingUpdate', rollingUpdate: { partition: opts.partition ?? 0 } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'db', image: opts.image ?? 'example/db:1.0.0' }] },
      },
    },
  };
}

async function setup(t: { after: (fn: () => unknown) => void }, readinessDelayMs = 20) {
  const server = await withFakeApiServer(t, { readinessDelayMs, podTerminationMs: 5 });
  const kc = server.kubeConfig();
  await kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: upgradeCrd() as never });
  return {
    server,
    kc,
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
  };
}

async function settled(apps: AppsV1Api, name: string, want: number): Promise<void> {
  await waitFor(`statefulset ${name} ready`, async () => {
    const s = await apps.readNamespacedStatefulSet({ namespace: NS, name });
    return s.status?.readyReplicas === want && s.status.updatedReplicas === want;
  });
}

function operator(
  t: { after: (fn: () => unknown) => void },
  server: FakeApiServer,
  extra: Partial<OperatorOptions> = {},
): Operator {
  const op = new Operator({
    kc: server.kubeConfig(),
    namespace: NS,
    identity: 'op-a',
    clock: systemClock,
    logger: nullLogger,
    registry: new Registry(),
    leaseDurationMs: 1500,
    retryPeriodMs: 100,
    ...extra,
  });
  t.after(() => op.kill());
  return op;
}

async function getUpgrade(custom: CustomObjectsApi, name: string): Promise<UpgradeResource> {
  return (await custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NS,
    plural: PLURAL,
    name,
  })) as UpgradeResource;
}

async function createUpgrade(
  custom: CustomObjectsApi,
  name: string,
  spec: Record<string, unknown>,
): Promise<void> {
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NS,
    plural: PLURAL,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'Upgrade', metadata: { name }, spec },
  });
}

async function phaseOf(custom: CustomObjectsApi, name: string, want: string[]): Promise<UpgradeResource> {
  return waitFor(
    `upgrade ${name} to reach ${want.join('/')}`,
    async () => {
      const u = await getUpgrade(custom, name);
      return want.includes(u.status?.phase ?? '') ? u : undefined;
    },
    30_000,
    20,
  );
}

describe('operator', () => {
  it('drives an Upgrade resource to Completed and serves /healthz /readyz /metrics', async (t) => {
    const { server, apps, core, custom } = await setup(t);
    await apps.createNamespacedStatefulSet({ namespace: NS, body: sts('web', 3) });
    await settled(apps, 'web', 3);
    const op = operator(t, server, { port: 0, host: '127.0.0.1' });
    await op.start();
    await createUpgrade(custom, 'web-up', { target: { statefulSet: 'web' }, version: '1.1.0' });
    const done = await phaseOf(custom, 'web-up', ['Completed', 'Failed', 'Paused']);
    assert.equal(done.status?.phase, 'Completed', done.status?.reason);
    assert.equal(done.status?.progressText, '3/3');
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' });
    for (const p of pods.items) assert.equal(p.spec?.containers[0]?.image, 'example/db:1.1.0');
    const base = `http://127.0.0.1:${op.port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.match(await ready.text(), /leader/);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /baton_reconciles_total\{result="ok"\} [1-9]/);
    assert.match(metrics, /baton_leader 1/);
    assert.match(metrics, /baton_upgrades\{phase="Completed"\} 1/);
    assert.match(metrics, /baton_step_duration_seconds_count\{step="replace",ok="true"\} 3/);
    await op.stop();
    assert.equal((await fetch(`${base}/healthz`).catch(() => undefined))?.status, undefined);
  });
});
