import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { endpointOf, imageTag, membersOf, ordinalOf, podFailure, withTag } from './members.js';

test('imageTag and withTag: registry ports, digests, no tag', () => {
  const cases: [string, string][] = [
    ['db:1.2.3', '1.2.3'],
    ['registry.local:5000/team/db:v8.1.0', 'v8.1.0'],
    ['registry.local:5000/team/db', 'latest'],
    ['db:17.5@sha256:abcd', '17.5'],
    ['db', 'latest'],
  ];
  for (const [image, tag] of cases) assert.equal(imageTag(image), tag, image);
  assert.equal(withTag('registry.local:5000/db:1.0.0', '1.1.0'), 'registry.local:5000/db:1.1.0');
  assert.equal(withTag('registry.local:5000/db', '2'), 'registry.local:5000/db:2');
  assert.equal(withTag('db:1@sha256:abcd', '2'), 'db:2');
});

test('ordinalOf accepts only <sts>-<n> without leading zeros', () => {
  assert.equal(ordinalOf('db', 'db-0'), 0);
  assert.equal(ordinalOf('db', 'db-12'), 12);
  assert.equal(ordinalOf('db', 'db-01'), undefined);
  assert.equal(ordinalOf('db', 'db-web-1'), undefined);
  assert.equal(ordinalOf('db', 'dbx-1'), undefined);
});

const NOW = Date.parse('2026-01-01T00:01:00Z');

function sts(opts: { onDelete?: boolean; partition?: number; replicas?: number } = {}): V1StatefulSet {
  return {
    metadata: { name: 'db' },
    spec: {
      replicas: opts.replicas ?? 3,
      serviceName: 'db-hl',
      selector: { matchLabels: { app: 'db' } },
      updateStrategy: opts.onDelete
        ? { type: 'OnDelete' }
        : { type: 'RollingUpdate', rollingUpdate: { partition: opts.partition ?? 0 } },
      template: {
        spec: {
          containers: [
            { name: 'side', image: 'side:9' },
            { name: 'db', image: 'db:2.0.0' },
          ],
        },
      },
    },
    status: { replicas: 3, updateRevision: 'db-new', currentRevision: 'db-old' },
  };
}

function pod(
  name: string,
  tag: string,
  o: { readySince?: string; terminating?: boolean; waiting?: string; exit?: number; rev?: string } = {},
): V1Pod {
  return {
    metadata: {
      name,
      labels: { 'controller-revision-hash': o.rev ?? 'db-old' },
      ...(o.terminating ? { deletionTimestamp: new Date(NOW) } : {}),
    },
    spec: {
      containers: [
        { name: 'side', image: 'side:9' },
        { name: 'db', image: `db:${tag}` },
      ],
    },
    status: {
      phase: 'Running',
      podIP: '10.0.0.7',
      conditions: [
        {
          type: 'Ready',
          status: o.readySince ? 'True' : 'False',
          lastTransitionTime: new Date(o.readySince ?? '2026-01-01T00:00:00Z'),
        },
      ],
      containerStatuses: [
        {
          name: 'db',
          image: `db:${tag}`,
          imageID: '',
          ready: !!o.readySince,
          restartCount: 0,
          state: o.waiting
            ? { waiting: { reason: o.waiting } }
            : o.exit !== undefined
              ? { terminated: { exitCode: o.exit, reason: 'Error' } }
              : { running: {} },
        },
      ],
    },
  };
}

test('membersOf: version from the named container, minReadySeconds, missing and terminating pods, rank', () => {
  const pods = new Map<string, V1Pod>([
    ['db-0', pod('db-0', '1.0.0', { readySince: '2026-01-01T00:00:00Z' })],
    ['db-1', pod('db-1', '2.0.0', { readySince: '2026-01-01T00:00:50Z', rev: 'db-new' })],
    ['db-9', pod('db-9', '1.0.0')],
  ]);
  const ms = membersOf(
    {
      sts: sts(),
      component: 'store',
      container: 'db',
      namespace: 'prod',
      port: 2379,
      minReadySeconds: 30,
      now: NOW,
    },
    pods,
  );
  assert.deepEqual(
    ms.map((m) => [m.name, m.component, m.version, m.ready, m.running, m.rollRank, m.failed ?? false]),
    [
      ['db-0', 'store', '1.0.0', true, true, 2, false],
      ['db-1', 'store', '2.0.0', false, true, 1, false],
      ['db-2', 'store', '2.0.0', false, false, 0, false],
    ],
  );
  assert.match(ms[1]!.detail!, /minReadySeconds/);
  assert.equal(ms[2]!.detail, 'pod missing (being recreated)');
  assert.equal(ms[0]!.endpoint, 'db-0.db-hl.prod.svc:2379');

  const frozen = membersOf(
    {
      sts: sts({ partition: 3 }),
      component: 'db',
      container: 'db',
      namespace: 'prod',
      minReadySeconds: 0,
      now: NOW,
      currentRevisionTag: '1.0.0',
    },
    new Map([['db-0', pod('db-0', '1.0.0', { terminating: true })]]),
  );
  assert.equal(frozen[0]!.running, false);
  assert.equal(frozen[0]!.detail, 'Terminating');
  assert.equal(
    frozen[1]!.version,
    '1.0.0',
    'below the partition a missing pod comes back at the current revision',
  );

  const od = membersOf(
    { sts: sts({ onDelete: true }), component: 'db', namespace: 'p', minReadySeconds: 0, now: NOW },
    new Map(),
  );
  assert.ok(od.every((m) => m.rollRank === undefined));
  assert.equal(od[0]!.version, '9', 'default container is the first');
});

test('podFailure: waiting reasons always, a crash only at the update revision', () => {
  assert.match(podFailure(pod('a', '1', { waiting: 'CrashLoopBackOff' }), 'db-new')!, /CrashLoopBackOff/);
  assert.match(podFailure(pod('a', '1', { waiting: 'ErrImagePull' }), undefined)!, /ErrImagePull/);
  assert.equal(podFailure(pod('a', '1', { waiting: 'ContainerCreating' }), 'db-new'), undefined);
  assert.equal(podFailure(pod('a', '1', { exit: 1 }), 'db-new'), undefined, 'old revision');
  assert.match(podFailure(pod('a', '1', { exit: 1, rev: 'db-new' }), 'db-new')!, /exit code 1/);
  assert.equal(podFailure(pod('a', '1', { exit: 0, rev: 'db-new' }), 'db-new'), undefined);
});

test('endpointOf: template placeholders', () => {
  const ctx = {
    sts: sts(),
    component: 'db',
    namespace: 'prod',
    port: 5432,
    endpointTemplate: '{podIP}:{port}/{pod}.{service}.{namespace}',
    minReadySeconds: 0,
    now: NOW,
  };
  assert.equal(endpointOf(ctx, 'db-1', '10.1.2.3'), '10.1.2.3:5432/db-1.db-hl.prod');
  assert.equal(
    endpointOf({ ...ctx, endpointTemplate: undefined, port: undefined, service: 'x' }, 'db-1', undefined),
    'db-1.x.prod.svc',
  );
});

test('endpointOf: a per-pod endpoint wins over the template and DNS; other pods keep theirs', () => {
  const ctx = {
    sts: sts(),
    component: 'db',
    namespace: 'prod',
    port: 2379,
    endpointTemplate: '{pod}.{service}:{port}',
    endpoints: { 'db-0': '127.0.0.1:23790' },
    minReadySeconds: 0,
    now: NOW,
  };
  assert.equal(endpointOf(ctx, 'db-0', '10.1.2.3'), '127.0.0.1:23790');
  assert.equal(endpointOf(ctx, 'db-1', '10.1.2.4'), 'db-1.db-hl:2379');
  assert.equal(
    endpointOf({ ...ctx, endpointTemplate: undefined }, 'db-2', undefined),
    'db-2.db-hl.prod.svc:2379',
  );
  const ms = membersOf(ctx, new Map());
  assert.deepEqual(
    ms.map((m) => m.endpoint),
    ['127.0.0.1:23790', 'db-1.db-hl:2379', 'db-2.db-hl:2379'],
    'a missing pod is reached at its override too',
  );
});
