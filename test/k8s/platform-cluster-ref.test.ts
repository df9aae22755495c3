import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CustomObjectsApi, type KubeConfig, type V1StatefulSet } from '@kubernetes/client-node';
import { BadInputError } from '../../src/core/errors.js';
import { nullLogger } from '../../src/core/logger.js';
import type { Engine } from '../../src/core/ports.js';
import type { UpgradeStatus } from '../../src/core/types.js';
import { GenericEngine } from '../../src/engines/generic/engine.js';
import { genericRules } from '../../src/engines/generic/rules.js';
import { tidbRules } from '../../src/engines/tidb/rules.js';
import type { EngineRules } from '../../src/core/rules.js';
import {
  CRDB_CLUSTER,
  OWNER_PRECHECK,
  PAUSED_BY_ANNOTATION,
  TIDB_CLUSTER,
  WAS_PAUSED_ANNOTATION,
  type ClusterKind,
  type ClusterObject,
} from '../../src/platforms/kubernetes/cluster-ref.js';
import { UpgradeResourceJournal } from '../../src/platforms/kubernetes/journal.js';
import { KubernetesPlatform } from '../../src/platforms/kubernetes/statefulset.js';
import { createUpgrade } from '../../src/runner/start.js';
import { Runner } from '../../src/runner/runner.js';
import { applyCrd } from '../kube/crds.js';
import { waitFor } from '../kube/helpers.js';
import { Rest } from '../kube/rest.js';
import type { TestCluster } from '../kube/test-cluster.js';
import {
  createSettled,
  fastClock,
  startCluster,
  statefulSet,
  upgradeResource,
  wire,
} from './platform-fixture.js';
import { engineRegistry } from '../../src/engines/registry.js';

const ctx = { clock: fastClock, logger: nullLogger };
const isBad = (pattern: RegExp) => (err: unknown) =>
  err instanceof BadInputError && pattern.test(err.message);

/**
 * Pod readiness as the health gate (the `generic` engine) with the `tidb` engine's components and
 * their order: the operator cannot build a `tidb` engine yet, so the order is exercised through
 * the rules the runner plans with.
 */
class TidbOrderEngine extends GenericEngine {
  override readonly rules: EngineRules = {
    ...genericRules,
    components: tidbRules.components.map((c) => ({ ...c, topology: 'stateless' as const, quorum: false })),
  };
}

const ETCD_CLUSTER: ClusterKind = {
  group: 'etcd.database.coreos.com',
  version: 'v1beta2',
  plural: 'etcdclusters',
  kind: 'EtcdCluster',
};

/** The namespace of a test's KubeConfig (its current context's). */
function nsOf(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())!.namespace!;
}

async function installCrd(kc: KubeConfig, k: ClusterKind): Promise<void> {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${k.group}` },
    spec: {
      group: k.group,
      scope: 'Namespaced',
      names: { kind: k.kind, plural: k.plural, singular: k.kind.toLowerCase(), listKind: `${k.kind}List` },
      versions: [
        {
          name: k.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  };
  await applyCrd(new Rest(kc), crd);
}

async function createObject(
  kc: KubeConfig,
  k: ClusterKind,
  name: string,
  spec: Record<string, unknown>,
  annotations?: Record<string, string>,
): Promise<ClusterObject> {
  return (await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: k.group,
    version: k.version,
    plural: k.plural,
    namespace: nsOf(kc),
    body: {
      apiVersion: `${k.group}/${k.version}`,
      kind: k.kind,
      metadata: { name, ...(annotations ? { annotations } : {}) },
      spec,
    },
  })) as ClusterObject;
}

async function readObject(kc: KubeConfig, k: ClusterKind, name: string): Promise<ClusterObject> {
  return (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: k.group,
    version: k.version,
    plural: k.plural,
    namespace: nsOf(kc),
    name,
  })) as ClusterObject;
}

/** A StatefulSet of a cluster: recommended labels, and a controller ownerReference to `owner`. */
function member(
  name: string,
  replicas: number,
  image: string,
  opts: { instance?: string; component?: string; owner?: { k: ClusterKind; o: ClusterObject } } = {},
): V1StatefulSet {
  const sts = statefulSet(name, replicas, {
    image,
    labels: {
      ...(opts.instance ? { 'app.kubernetes.io/instance': opts.instance } : {}),
      ...(opts.component ? { 'app.kubernetes.io/component': opts.component } : {}),
    },
  });
  if (opts.owner) {
    sts.metadata!.ownerReferences = [
      {
        apiVersion: `${opts.owner.k.group}/${opts.owner.k.version}`,
        kind: opts.owner.k.kind,
        name: opts.owner.o.metadata.name,
        uid: opts.owner.o.metadata.uid!,
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
  }
  return sts;
}

/** A TidbCluster `basic` at v7.1.0 with PD x3, TiKV x3, TiDB x2 it owns (created TiDB first). */
async function tidbCluster(server: TestCluster, kc: KubeConfig): Promise<ClusterObject> {
  await installCrd(kc, TIDB_CLUSTER);
  const tc = await createObject(kc, TIDB_CLUSTER, 'basic', {
    version: 'v7.1.0',
    pd: { replicas: 3 },
    tikv: { replicas: 3 },
    tidb: { replicas: 2 },
  });
  const owner = { k: TIDB_CLUSTER, o: tc };
  for (const [c, n] of [
    ['tidb', 2],
    ['tikv', 3],
    ['pd', 3],
  ] as const) {
    await createSettled(
      server,
      member(`basic-${c}`, n, `pingcap/${c}:v7.1.0`, { instance: 'basic', component: c, owner }),
    );
  }
  return tc;
}

/** Journal, platform and runner for an Upgrade created on the server (as the CLI wires them). */
async function wireCluster(
  server: TestCluster,
  name: string,
  target: Record<string, unknown>,
  opts: { version?: string; engine?: Engine; componentVersions?: Record<string, string> } = {},
) {
  const kc = server.kubeConfig();
  const NS = server.namespace;
  const journal = new UpgradeResourceJournal({ kc, namespace: NS, clock: fastClock });
  const created = await journal.createResource(
    upgradeResource(name, {
      version: opts.version ?? 'v7.5.0',
      target: target as never,
      ...(opts.componentVersions ? { componentVersions: opts.componentVersions } : {}),
    }),
  );
  const platform = new KubernetesPlatform({
    kc,
    engines: engineRegistry,
    namespace: NS,
    upgrade: created,
    journal,
    clock: fastClock,
    logger: nullLogger,
  });
  const engine = opts.engine ?? new TidbOrderEngine();
  const spec = (await journal.get(name))!.spec;
  await createUpgrade(platform, engine, spec, ctx);
  const runner = new Runner({ platform, engine, clock: fastClock, logger: nullLogger, name });
  return { journal, platform, runner };
}

/** The writes (patch, delete, update, create of workloads) the server has seen since the last reset. */
function workloadWrites(server: TestCluster): string[] {
  return server
    .requests()
    .entries.filter(
      (e) =>
        ['patch', 'delete', 'update'].includes(e.verb) &&
        (e.resource.startsWith('statefulsets') ||
          e.resource.startsWith('pods') ||
          e.resource.includes('clusters')),
    )
    .map((e) => `${e.verb} ${e.resource}`);
}

const blockedOnOwner = (s: UpgradeStatus) =>
  s.prechecks.some((p) => p.name === OWNER_PRECHECK && !p.ok) && s.phase === 'Prechecking';

describe('KubernetesPlatform: spec.target.cluster (engine-specific cluster references)', () => {
  it('a TidbCluster: its StatefulSets rolled in TiDB order while TiDB Operator is paused, then handed back with the new version', async (t) => {
    const { server, kc, ns: NS } = await startCluster(t);
    await tidbCluster(server, kc);
    // One global, ordered timeline of pod deletions and TidbCluster states: two watches, their
    // events merged in resourceVersion (etcd revision) order.
    const events = await server.watchEvents(t, [
      `/api/v1/namespaces/${NS}/pods`,
      `/apis/${TIDB_CLUSTER.group}/${TIDB_CLUSTER.version}/namespaces/${NS}/${TIDB_CLUSTER.plural}`,
    ]);
    const timeline = () => {
      const out: string[] = [];
      const deleting = new Set<string>();
      for (const e of events()) {
        const obj = e.object as {
          kind?: string;
          metadata: { uid: string; name: string; deletionTimestamp?: string };
          spec?: { paused?: boolean; version?: string };
        };
        if (e.path.endsWith('/pods')) {
          if (obj.metadata.deletionTimestamp && !deleting.has(obj.metadata.uid)) {
            deleting.add(obj.metadata.uid);
            out.push(`delete ${obj.metadata.name}`);
          }
        } else {
          out.push(`tc paused=${obj.spec?.paused === true} version=${obj.spec?.version}`);
        }
      }
      return out;
    };

    const w = await wireCluster(server, 'tidb-up', { cluster: { kind: 'TidbCluster', name: 'basic' } });
    const members = await w.platform.listMembers(ctx);
    assert.deepEqual(
      [...new Set(members.map((m) => `${m.component}:${m.name.replace(/-\d+$/, '')}`))],
      ['pd:basic-pd', 'tikv:basic-tikv', 'tidb:basic-tidb'],
    );
    const r = await w.runner.run();
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.ok(r.status.prechecks.find((p) => p.name === OWNER_PRECHECK)?.ok);
    assert.match(
      r.status.prechecks.find((p) => p.name === OWNER_PRECHECK)!.reason,
      /TidbCluster basic reconciles basic-pd, basic-tikv, basic-tidb: Baton pauses it/,
    );

    await waitFor('the watches to see the hand-back', () =>
      timeline().includes('tc paused=false version=v7.5.0'),
    );
    const tl = timeline();
    const deletions = tl.filter((l) => l.startsWith('delete '));
    assert.deepEqual(deletions, [
      'delete basic-pd-2',
      'delete basic-pd-1',
      'delete basic-pd-0',
      'delete basic-tikv-2',
      'delete basic-tikv-1',
      'delete basic-tikv-0',
      'delete basic-tidb-1',
      'delete basic-tidb-0',
    ]);
    const firstDelete = tl.indexOf('delete basic-pd-2');
    const lastDelete = tl.indexOf('delete basic-tidb-0');
    const tcStates = (from: number, to: number) => tl.slice(from, to).filter((l) => l.startsWith('tc '));
    assert.deepEqual(tcStates(0, firstDelete), ['tc paused=true version=v7.1.0']);
    assert.deepEqual(tcStates(firstDelete, lastDelete), [], 'TidbCluster untouched while pods are replaced');
    assert.deepEqual(tcStates(lastDelete, tl.length), ['tc paused=false version=v7.5.0']);

    const tc = await readObject(kc, TIDB_CLUSTER, 'basic');
    assert.equal(tc.spec!.paused, false);
    assert.equal(tc.spec!.version, 'v7.5.0');
    assert.equal(tc.metadata.annotations?.[PAUSED_BY_ANNOTATION], undefined);
    for (const m of await w.platform.listMembers(ctx)) assert.equal(m.version, 'v7.5.0', m.name);
  });

  it('per-component versions go to spec.<component>.version; a TidbCluster a user had paused stays paused', async (t) => {
    const { server, kc, ns: NS } = await startCluster(t);
    await tidbCluster(server, kc);
    const api = kc.makeApiClient(CustomObjectsApi);
    await api.patchNamespacedCustomObject({
      ...TIDB_CLUSTER,
      namespace: NS,
      name: 'basic',
      body: [{ op: 'add', path: '/spec/paused', value: true }],
    });
    const w = await wireCluster(
      server,
      'tidb-pd',
      { cluster: { kind: 'TidbCluster', name: 'basic' } },
      {
        version: 'v7.1.0',
        componentVersions: { pd: 'v7.1.1' },
      },
    );
    const r = await w.runner.run();
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    const tc = await readObject(kc, TIDB_CLUSTER, 'basic');
    assert.equal(tc.spec!.version, 'v7.1.0');
    assert.deepEqual(tc.spec!.pd, { replicas: 3, version: 'v7.1.1' });
    assert.equal(tc.spec!.paused, true, 'paused by a user before: stays paused');
    assert.equal(tc.metadata.annotations?.[PAUSED_BY_ANNOTATION], undefined);
    assert.equal(tc.metadata.annotations?.[WAS_PAUSED_ANNOTATION], undefined);
  });

  it('rollback after the first PD pod: every pod back at v7.1.0, then the TidbCluster is un-paused with its version unchanged', async (t) => {
    const { server, kc } = await startCluster(t);
    await tidbCluster(server, kc);
    const w = await wireCluster(server, 'tidb-back', { cluster: { kind: 'TidbCluster', name: 'basic' } });
    await w.runner.run({ stopWhen: (r) => r.status.members['basic-pd-2']?.state === 'done' });
    assert.equal((await readObject(kc, TIDB_CLUSTER, 'basic')).spec!.paused, true);
    await w.journal.updateSpec('tidb-back', (s) => ({ ...s, rollback: true }));
    const r = await w.runner.run();
    assert.ok(['Completed', 'Cancelled'].includes(r.status.phase), r.status.reason);
    for (const m of await w.platform.listMembers(ctx)) assert.equal(m.version, 'v7.1.0', m.name);
    const tc = await readObject(kc, TIDB_CLUSTER, 'basic');
    assert.equal(tc.spec!.paused, false);
    assert.equal(tc.spec!.version, 'v7.1.0');
    assert.equal(tc.metadata.annotations?.[PAUSED_BY_ANNOTATION], undefined);
  });

  it('cancel in the middle of PD: PD is left on two versions, so the TidbCluster stays paused (held by the Upgrade)', async (t) => {
    const { server, kc } = await startCluster(t);
    await tidbCluster(server, kc);
    const w = await wireCluster(server, 'tidb-stop', { cluster: { kind: 'TidbCluster', name: 'basic' } });
    await w.runner.run({ stopWhen: (r) => r.status.members['basic-pd-2']?.state === 'done' });
    await w.journal.updateSpec('tidb-stop', (s) => ({ ...s, cancel: true }));
    const r = await w.runner.run();
    assert.equal(r.status.phase, 'Cancelled', r.status.reason);
    const pd = (await w.platform.listMembers(ctx)).filter((m) => m.component === 'pd');
    assert.deepEqual([...new Set(pd.map((m) => m.version))].sort(), ['v7.1.0', 'v7.5.0']);
    const tc = await readObject(kc, TIDB_CLUSTER, 'basic');
    assert.equal(tc.spec!.paused, true);
    assert.equal(tc.spec!.version, 'v7.1.0');
    assert.equal(tc.metadata.annotations?.[PAUSED_BY_ANNOTATION], 'tidb-stop');
  });

  it('a StatefulSet target makes the requests it made before: no cluster read, no discovery, no precheck request', async (t) => {
    const { server } = await startCluster(t);
    await createSettled(server, statefulSet('db', 3));
    const w = await wire(server, upgradeResource('plain', { version: '1.1.0' }));
    const calls = () =>
      server
        .requests()
        .entries.filter((e) => e.resource !== 'events')
        .map((e) => `${e.verb} ${e.resource}`);
    server.resetRequests();
    await w.platform.listMembers(ctx);
    assert.deepEqual(await w.platform.prechecks(undefined as never, undefined as never, ctx), []);
    assert.deepEqual(calls(), ['get statefulsets', 'list pods']);
    server.resetRequests();
    await w.platform.replaceMember('db-2', '1.1.0', {}, ctx);
    assert.deepEqual(calls(), ['get statefulsets', 'patch statefulsets', 'list pods', 'patch statefulsets']);
  });

  it('a missing TidbCluster, or one without StatefulSets, is bad input naming spec.target.cluster; nothing is touched', async (t) => {
    const { server, kc, ns: NS } = await startCluster(t);
    await installCrd(kc, TIDB_CLUSTER);
    server.resetRequests();
    await assert.rejects(
      wireCluster(server, 'nothing', { cluster: { kind: 'TidbCluster', name: 'ghost' } }),
      isBad(
        new RegExp(
          String.raw`^spec\.target: upgrade nothing names no StatefulSet: TidbCluster ${NS}/ghost \(spec\.target\.cluster\) not found: create it, or fix spec\.target\.cluster`,
        ),
      ),
    );
    await createObject(kc, TIDB_CLUSTER, 'empty', { version: 'v7.1.0' });
    await createSettled(
      server,
      member('other-pd', 1, 'pingcap/pd:v7.1.0', { instance: 'other', component: 'pd' }),
    );
    server.resetRequests();
    await assert.rejects(
      wireCluster(server, 'empty', { cluster: { kind: 'TidbCluster', name: 'empty' } }),
      isBad(
        new RegExp(
          String.raw`TidbCluster ${NS}/empty \(spec\.target\.cluster\) has no StatefulSets \(looked for app\.kubernetes\.io\/instance=empty`,
        ),
      ),
    );
    await assert.rejects(
      wireCluster(server, 'nokind', { cluster: { kind: 'FooCluster', name: 'x' } }),
      isBad(/^spec\.target\.cluster\.apiVersion is required for kind FooCluster/),
    );
    await assert.rejects(
      wireCluster(server, 'nocrd', {
        cluster: { apiVersion: 'foo.example.com/v1', kind: 'FooCluster', name: 'x' },
      }),
      isBad(/serves no kind FooCluster in foo\.example\.com\/v1 \(spec\.target\.cluster\)/),
    );
    assert.deepEqual(workloadWrites(server), []);
  });

  it('ownership conflicts block with one line and touch nothing: a StatefulSet another TidbCluster reconciles, a cluster another Upgrade holds', async (t) => {
    const { server, kc, ns: NS } = await startCluster(t);
    await installCrd(kc, TIDB_CLUSTER);
    const other = await createObject(kc, TIDB_CLUSTER, 'other', { version: 'v7.1.0' });
    const tc = await createObject(kc, TIDB_CLUSTER, 'basic', { version: 'v7.1.0' });
    for (const [c, n] of [
      ['pd', 3],
      ['tikv', 3],
    ] as const) {
      await createSettled(
        server,
        member(`basic-${c}`, n, `pingcap/${c}:v7.1.0`, {
          instance: 'basic',
          component: c,
          owner: { k: TIDB_CLUSTER, o: c === 'tikv' ? other : tc },
        }),
      );
    }
    server.resetRequests();
    const w = await wireCluster(server, 'conflict', { cluster: { kind: 'TidbCluster', name: 'basic' } });
    const r = await w.runner.run({ stopWhen: (x) => blockedOnOwner(x.status) });
    const check = r.status.prechecks.find((p) => p.name === OWNER_PRECHECK)!;
    assert.equal(check.ok, false);
    assert.equal(
      check.reason,
      `statefulset basic-tikv is reconciled by TidbCluster other (pingcap.com/v1alpha1), not by TidbCluster basic, and Baton cannot pause it (it would undo Baton's changes): upgrade it through TidbCluster other, or remove that ownerReference, then retry`,
    );
    assert.deepEqual(workloadWrites(server), []);

    // Another Upgrade holds the cluster paused: blocked too, and the TidbCluster is left as it is.
    const api = kc.makeApiClient(CustomObjectsApi);
    await api.patchNamespacedCustomObject({
      ...TIDB_CLUSTER,
      namespace: NS,
      name: 'other',
      body: [{ op: 'add', path: '/metadata/annotations', value: { [PAUSED_BY_ANNOTATION]: 'first' } }],
    });
    await createSettled(
      server,
      member('other-pd', 1, 'pingcap/pd:v7.1.0', {
        instance: 'other',
        component: 'pd',
        owner: { k: TIDB_CLUSTER, o: other },
      }),
    );
    server.resetRequests();
    const second = await wireCluster(server, 'second', { cluster: { kind: 'TidbCluster', name: 'other' } });
    const r2 = await second.runner.run({ stopWhen: (x) => blockedOnOwner(x.status) });
    assert.match(
      r2.status.prechecks.find((p) => p.name === OWNER_PRECHECK)!.reason,
      /^TidbCluster other is held paused by Upgrade first \(annotation baton\.dev\/paused-by\): let that upgrade finish/,
    );
    assert.deepEqual(workloadWrites(server), []);
  });

  it('a CrdbCluster resolves to its StatefulSet as the one cockroachdb component; one whose image comes from spec.cockroachDBVersion blocks the precheck (Baton cannot know that image)', async (t) => {
    const { server, kc } = await startCluster(t);
    await installCrd(kc, CRDB_CLUSTER);
    const crdb = await createObject(kc, CRDB_CLUSTER, 'cockroachdb', {
      nodes: 3,
      cockroachDBVersion: 'v24.1.3',
    });
    await createSettled(
      server,
      member('cockroachdb', 3, 'cockroachdb/cockroach:v24.1.3', {
        instance: 'cockroachdb',
        component: 'database',
        owner: { k: CRDB_CLUSTER, o: crdb },
      }),
    );
    const w = await wireCluster(
      server,
      'crdb',
      { cluster: { kind: 'CrdbCluster', name: 'cockroachdb' } },
      {
        version: 'v24.1.5',
        engine: new GenericEngine(),
      },
    );
    const members = await w.platform.listMembers(ctx);
    assert.deepEqual(
      members.map((m) => `${m.component}/${m.name}@${m.version}`),
      [
        'cockroachdb/cockroachdb-0@v24.1.3',
        'cockroachdb/cockroachdb-1@v24.1.3',
        'cockroachdb/cockroachdb-2@v24.1.3',
      ],
    );
    server.resetRequests();
    const r = await w.runner.run({ stopWhen: (x) => blockedOnOwner(x.status) });
    assert.equal(
      r.status.prechecks.find((p) => p.name === OWNER_PRECHECK)!.reason,
      `CrdbCluster cockroachdb sets spec.cockroachDBVersion (v24.1.3), which the CockroachDB operator turns into an image from its own environment that Baton cannot see: set spec.image.name to the image it runs instead (and remove spec.cockroachDBVersion), then retry`,
    );
    assert.deepEqual(workloadWrites(server), []);
  });

  it('any other kind: the StatefulSets it controls (else those labelled with its name); an owner Baton cannot pause blocks with the precheck line', async (t) => {
    const { server, kc } = await startCluster(t);
    await installCrd(kc, ETCD_CLUSTER);
    const etcd = await createObject(kc, ETCD_CLUSTER, 'main', { size: 3 });
    await createSettled(
      server,
      member('main-members', 3, 'quay.io/coreos/etcd:v3.5.9', { owner: { k: ETCD_CLUSTER, o: etcd } }),
    );
    await createSettled(
      server,
      member('main-labelled', 1, 'quay.io/coreos/etcd:v3.5.9', { instance: 'main' }),
    );
    const ref = { apiVersion: 'etcd.database.coreos.com/v1beta2', kind: 'EtcdCluster', name: 'main' };
    const w = await wireCluster(
      server,
      'etcd',
      { cluster: ref },
      { version: 'v3.5.10', engine: new GenericEngine() },
    );
    assert.deepEqual(await w.platform.targets(ctx), [{ name: 'main-members', component: 'main-members' }]);
    server.resetRequests();
    const r = await w.runner.run({ stopWhen: (x) => blockedOnOwner(x.status) });
    assert.equal(r.status.phase, 'Prechecking');
    assert.equal(
      r.status.prechecks.find((p) => p.name === OWNER_PRECHECK)!.reason,
      `statefulset main-members is reconciled by EtcdCluster main (etcd.database.coreos.com/v1beta2), which Baton cannot pause (it would undo Baton's changes): upgrade through EtcdCluster main itself, or stop its operator and remove the ownerReference, then retry`,
    );
    assert.deepEqual(workloadWrites(server), []);

    // Without a controller, the labelled StatefulSets are the cluster, and nothing blocks.
    await createObject(kc, ETCD_CLUSTER, 'lone', { size: 1 });
    await createSettled(
      server,
      member('lone-db', 2, 'quay.io/coreos/etcd:v3.5.9', { instance: 'lone', component: 'etcd' }),
    );
    const l = await wireCluster(
      server,
      'lone',
      { cluster: { ...ref, name: 'lone' } },
      {
        version: 'v3.5.10',
        engine: new GenericEngine(),
      },
    );
    const done = await l.runner.run();
    assert.equal(done.status.phase, 'Completed', done.status.reason);
    assert.match(
      done.status.prechecks.find((p) => p.name === OWNER_PRECHECK)!.reason,
      /no other controller reconciles lone-db/,
    );
    for (const m of await l.platform.listMembers(ctx)) assert.equal(m.version, 'v3.5.10');
  });
});
