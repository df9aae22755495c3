/**
 * What a node's drain does with each pod (kubectl's drain filters), the drain simulation over
 * PodDisruptionBudgets, the node label selectors of a nodes target and the drain record a node
 * carries: pure functions over the objects read from the API server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import {
  NODE_ANNOTATIONS,
  drainOptions,
  matchesSelector,
  readDrainRecord,
  type DrainOptions,
} from '../../src/api/nodes.js';
import {
  MIRROR_ANNOTATION,
  blockingBudgets,
  budgetsOf,
  planPod,
  selectorMatches,
} from '../../src/engines/kubernetes/pods.js';

const STRICT: DrainOptions = { podsWithoutController: 'refuse', localStorage: 'refuse' };

function pod(
  name: string,
  extra: Partial<V1Pod> & { owner?: string; labels?: Record<string, string> } = {},
): V1Pod {
  const { owner, labels, ...rest } = extra;
  return {
    metadata: {
      name,
      namespace: 'app',
      labels: labels ?? { app: 'web' },
      ...(owner
        ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner, name: 'x', uid: 'u', controller: true }] }
        : {}),
      ...rest.metadata,
    },
    spec: { containers: [{ name: 'c' }], ...rest.spec },
    status: { phase: 'Running', ...rest.status },
  };
}

function pdb(
  name: string,
  allowed: number,
  matchLabels: Record<string, string>,
  ns = 'app',
): V1PodDisruptionBudget {
  return {
    metadata: { name, namespace: ns },
    spec: { selector: { matchLabels } },
    status: { disruptionsAllowed: allowed, currentHealthy: 2, desiredHealthy: 2, expectedPods: 3 },
  };
}

describe('planPod follows kubectl drain filters', () => {
  const table: [string, V1Pod, DrainOptions, string][] = [
    ['a ReplicaSet pod is evicted', pod('a', { owner: 'ReplicaSet' }), STRICT, 'evict'],
    ['a DaemonSet pod stays', pod('b', { owner: 'DaemonSet' }), STRICT, 'skip'],
    [
      'a mirror pod stays',
      pod('c', { metadata: { annotations: { [MIRROR_ANNOTATION]: 'abc' } } }),
      STRICT,
      'skip',
    ],
    [
      'a pod being deleted stays',
      pod('d', { owner: 'ReplicaSet', metadata: { deletionTimestamp: new Date() } }),
      STRICT,
      'skip',
    ],
    ['a finished pod is deleted', pod('e', { status: { phase: 'Succeeded' } }), STRICT, 'delete'],
    [
      'a finished DaemonSet pod is deleted',
      pod('e2', { owner: 'DaemonSet', status: { phase: 'Failed' } }),
      STRICT,
      'delete',
    ],
    ['a bare pod is refused by default', pod('f'), STRICT, 'refuse'],
    ['a bare pod is deleted on request', pod('g'), { ...STRICT, podsWithoutController: 'delete' }, 'delete'],
    [
      'emptyDir data is refused by default',
      pod('h', {
        owner: 'ReplicaSet',
        spec: { containers: [{ name: 'c' }], volumes: [{ name: 'v', emptyDir: {} }] },
      }),
      STRICT,
      'refuse',
    ],
    [
      'emptyDir data is evicted on request',
      pod('i', {
        owner: 'ReplicaSet',
        spec: { containers: [{ name: 'c' }], volumes: [{ name: 'v', emptyDir: {} }] },
      }),
      { ...STRICT, localStorage: 'evict' },
      'evict',
    ],
  ];
  for (const [title, p, opts, action] of table) {
    it(title, () => assert.equal(planPod(p, opts).action, action));
  }
  it('names the drain policy in the reason of a refusal', () => {
    assert.match(planPod(pod('f'), STRICT).reason, /drain\.podsWithoutController: refuse/);
  });
});

describe('PodDisruptionBudgets', () => {
  it('match by namespace and selector, never by an empty selector', () => {
    const p = pod('a', { owner: 'ReplicaSet' });
    const budgets = [
      pdb('web', 1, { app: 'web' }),
      pdb('other-ns', 1, { app: 'web' }, 'elsewhere'),
      pdb('db', 1, { app: 'db' }),
      { metadata: { name: 'empty', namespace: 'app' }, spec: { selector: {} } },
    ];
    assert.deepEqual(
      budgetsOf(p, budgets).map((b) => b.metadata?.name),
      ['web'],
    );
  });
  it('matchExpressions follow the label selector operators', () => {
    const labels = { app: 'web', tier: 'front' };
    const sel = (operator: string, values?: string[]) => ({
      matchExpressions: [{ key: 'tier', operator, values }],
    });
    assert.equal(selectorMatches(sel('In', ['front', 'back']), labels), true);
    assert.equal(selectorMatches(sel('In', ['back']), labels), false);
    assert.equal(selectorMatches(sel('NotIn', ['back']), labels), true);
    assert.equal(selectorMatches(sel('NotIn', ['front']), labels), false);
    assert.equal(selectorMatches(sel('Exists'), labels), true);
    assert.equal(selectorMatches(sel('DoesNotExist'), labels), false);
    assert.equal(selectorMatches(sel('Bogus'), labels), false);
    assert.equal(selectorMatches(undefined, labels), false);
  });
  it('the drain simulation names each budget allowing no disruption with the pods behind it', () => {
    const plans = [
      planPod(pod('web-1', { owner: 'ReplicaSet' }), STRICT),
      planPod(pod('web-2', { owner: 'ReplicaSet' }), STRICT),
      planPod(pod('db-0', { owner: 'StatefulSet', labels: { app: 'db' } }), STRICT),
      planPod(pod('ds', { owner: 'DaemonSet', labels: { app: 'web' } }), STRICT),
    ];
    const out = blockingBudgets(plans, [pdb('web', 0, { app: 'web' }), pdb('db', 1, { app: 'db' })]);
    assert.deepEqual(out, [{ budget: 'app/web', allowed: 0, pods: ['app/web-1', 'app/web-2'] }]);
  });
});

describe('node selectors of a nodes target', () => {
  const labels = { pool: 'gpu', zone: 'a', 'node-role.kubernetes.io/control-plane': '' };
  const table: [string, boolean][] = [
    ['pool=gpu', true],
    ['pool==gpu', true],
    ['pool!=gpu', false],
    ['pool=cpu', false],
    ['node-role.kubernetes.io/control-plane', true],
    ['!node-role.kubernetes.io/control-plane', false],
    ['!missing', true],
    ['pool=gpu, zone=a', true],
    ['pool=gpu,zone=b', false],
    ['missing!=x', true],
  ];
  for (const [selector, want] of table) {
    it(`${selector} -> ${want}`, () => assert.equal(matchesSelector(labels, selector), want));
  }
  it('defaults of the drain options refuse what an eviction cannot move', () => {
    assert.deepEqual(drainOptions({ actuator: { type: 'replace' } }), STRICT);
  });
});

describe('drain record', () => {
  it('round-trips and ignores junk', () => {
    const rec = { upgrade: 'ns/u', workloads: ['app/Deployment/web'], databases: ['db/etcd/etcd-0'] };
    assert.deepEqual(readDrainRecord({ [NODE_ANNOTATIONS.drained]: JSON.stringify(rec) }), rec);
    assert.equal(readDrainRecord({ [NODE_ANNOTATIONS.drained]: '{' }), undefined);
    assert.equal(readDrainRecord({ [NODE_ANNOTATIONS.drained]: '{"workloads":[]}' }), undefined);
    assert.deepEqual(
      readDrainRecord({ [NODE_ANNOTATIONS.drained]: '{"upgrade":"a/b","workloads":[1,"x"]}' }),
      {
        upgrade: 'a/b',
        workloads: ['x'],
        databases: [],
      },
    );
    assert.equal(readDrainRecord(undefined), undefined);
    const before = { upgrade: 'a/b', workloads: ['x', 'y'], databases: [], unavailableBefore: { x: 2 } };
    assert.deepEqual(readDrainRecord({ [NODE_ANNOTATIONS.drained]: JSON.stringify(before) }), before);
    assert.deepEqual(
      readDrainRecord({
        [NODE_ANNOTATIONS.drained]: JSON.stringify({
          ...before,
          unavailableBefore: { x: -1, y: 'z', w: 1.5 },
        }),
      }),
      { upgrade: 'a/b', workloads: ['x', 'y'], databases: [] },
    );
  });
});
