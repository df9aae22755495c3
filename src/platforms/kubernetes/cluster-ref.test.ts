import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { PlatformMember, UpgradeSpec } from '../../core/types.js';
import { tidbRules } from '../../engines/tidb/rules.js';
import { makeSpec } from '../../runner/start.js';
import {
  CRDB_CLUSTER,
  OWNER_PRECHECK,
  PAUSED_BY_ANNOTATION,
  TIDB_CLUSTER,
  WAS_PAUSED_ANNOTATION,
  handOverDecision,
  intentOfResource,
  intentOfSpec,
  knownClusterKind,
  orderTargets,
  ownerVerdict,
  selectClusterStatefulSets,
  unsettled,
  versionFields,
  type ClusterKind,
  type ClusterObject,
  type HandOverIntent,
  type ObservedTarget,
} from './cluster-ref.js';

/** The order the platform is given for a TidbCluster: the `tidb` engine rules'. */
const TIDB_ORDER = tidbRules.components.map((c) => c.name);

const OTHER: ClusterKind = { group: 'example.com', version: 'v1', plural: 'dbclusters', kind: 'DbCluster' };

function sts(
  name: string,
  opts: { labels?: Record<string, string>; owner?: { kind: string; name: string; uid: string } } = {},
): V1StatefulSet {
  return {
    metadata: {
      name,
      labels: opts.labels,
      ownerReferences: opts.owner
        ? [
            {
              apiVersion: 'x/v1',
              kind: opts.owner.kind,
              name: opts.owner.name,
              uid: opts.owner.uid,
              controller: true,
            },
          ]
        : undefined,
    },
  };
}

function obj(
  name: string,
  uid = `uid-${name}`,
  spec: Record<string, unknown> = {},
  annotations?: Record<string, string>,
) {
  return { metadata: { name, uid, annotations }, spec } satisfies ClusterObject;
}

const tidbLabels = (c: string, instance = 'basic') => ({
  'app.kubernetes.io/instance': instance,
  'app.kubernetes.io/component': c,
});

describe('cluster references: which StatefulSets, in which order', () => {
  it('knownClusterKind: TidbCluster and CrdbCluster with or without apiVersion; another group is not them', () => {
    assert.equal(knownClusterKind({ kind: 'TidbCluster', name: 'a' }), TIDB_CLUSTER);
    assert.deepEqual(
      knownClusterKind({ kind: 'TidbCluster', name: 'a', apiVersion: 'pingcap.com/v1beta1' }),
      {
        ...TIDB_CLUSTER,
        version: 'v1beta1',
      },
    );
    assert.equal(knownClusterKind({ kind: 'CrdbCluster', name: 'a' }), CRDB_CLUSTER);
    assert.equal(knownClusterKind({ kind: 'TidbCluster', name: 'a', apiVersion: 'other.io/v1' }), undefined);
    assert.equal(knownClusterKind({ kind: 'DbCluster', name: 'a' }), undefined);
  });

  it('TidbCluster: by instance+component label (or <name>-<component>), in the order the rules give; other instances left out', () => {
    const all = [
      sts('basic-tidb', { labels: tidbLabels('tidb') }),
      sts('basic-ticdc', { labels: tidbLabels('ticdc') }),
      sts('basic-tikv', { labels: tidbLabels('tikv') }),
      sts('basic-pump', { labels: tidbLabels('pump') }),
      sts('basic-tiproxy'),
      sts('basic-tiflash', { labels: tidbLabels('tiflash') }),
      sts('basic-pd'),
      sts('other-pd', { labels: tidbLabels('pd', 'other') }),
      sts('basic-extra', { labels: { 'app.kubernetes.io/instance': 'basic' } }),
    ];
    const { targets, statefulSets } = selectClusterStatefulSets(TIDB_CLUSTER, obj('basic'), all, TIDB_ORDER);
    // Issue 12's order: PD -> TiProxy -> TiFlash -> TiKV -> Pump -> TiDB -> TiCDC.
    assert.deepEqual(
      targets.map((t) => `${t.component}:${t.name}`),
      [
        'pd:basic-pd',
        'tiproxy:basic-tiproxy',
        'tiflash:basic-tiflash',
        'tikv:basic-tikv',
        'pump:basic-pump',
        'tidb:basic-tidb',
        'ticdc:basic-ticdc',
      ],
    );
    assert.deepEqual(
      statefulSets.map((s) => s.metadata!.name),
      targets.map((t) => t.name),
    );
    // The platform keeps no list of its own: with no order given, a name suffix means nothing
    // and labelled components go by name.
    const bare = selectClusterStatefulSets(TIDB_CLUSTER, obj('basic'), all, []);
    assert.deepEqual(
      bare.targets.map((t) => t.name),
      ['basic-pump', 'basic-ticdc', 'basic-tidb', 'basic-tiflash', 'basic-tikv'],
    );
    assert.equal(TIDB_CLUSTER.engine, 'tidb');
  });

  it('CrdbCluster: the StatefulSet named like it, as the cockroachdb component', () => {
    const { targets } = selectClusterStatefulSets(
      CRDB_CLUSTER,
      obj('crdb'),
      [sts('crdb-other'), sts('crdb')],
      [],
    );
    assert.deepEqual(targets, [{ name: 'crdb', component: 'cockroachdb' }]);
  });

  it('other kinds: controlled StatefulSets first, else labelled ones; components from labels, in the engine order', () => {
    const owner = { kind: 'DbCluster', name: 'main', uid: 'uid-main' };
    const all = [
      sts('main-b', { owner, labels: { 'app.kubernetes.io/component': 'storage' } }),
      sts('main-a', { owner, labels: { 'baton.dev/component': 'meta', 'app.kubernetes.io/component': 'x' } }),
      sts('main-c', { owner }),
      sts('main-labelled', { labels: { 'app.kubernetes.io/instance': 'main' } }),
    ];
    const { targets } = selectClusterStatefulSets(OTHER, obj('main'), all, ['meta', 'storage']);
    assert.deepEqual(
      targets.map((t) => `${t.component}:${t.name}`),
      ['meta:main-a', 'storage:main-b', 'main-c:main-c'],
    );
    const labelled = selectClusterStatefulSets(OTHER, obj('main', 'uid-none'), all, []);
    assert.deepEqual(labelled.targets, [{ name: 'main-labelled', component: 'main-labelled' }]);
  });

  it('orderTargets: known components in order, unknown ones after by name, then by StatefulSet name', () => {
    const out = orderTargets(
      [
        { name: 'z', component: 'zeta' },
        { name: 'b', component: 'tikv' },
        { name: 'a', component: 'tikv' },
        { name: 'c', component: 'alpha' },
        { name: 'd', component: 'pd' },
      ],
      ['pd', 'tikv'],
    );
    assert.deepEqual(
      out.map((t) => t.name),
      ['d', 'a', 'b', 'c', 'z'],
    );
  });
});

describe('cluster references: ownership verdict', () => {
  const tc = obj('basic');
  const mine = { kind: 'TidbCluster', name: 'basic', uid: 'uid-basic' };
  const resolved = (kind: ClusterKind, o: ClusterObject, list: V1StatefulSet[]) => ({
    kind,
    object: o,
    statefulSets: list,
    targets: list.map((s) => ({ name: s.metadata!.name!, component: s.metadata!.name! })),
  });

  it('a TidbCluster that controls its StatefulSets passes: Baton pauses it', () => {
    const v = ownerVerdict(resolved(TIDB_CLUSTER, tc, [sts('basic-pd', { owner: mine })]), 'up');
    assert.equal(v.name, OWNER_PRECHECK);
    assert.equal(v.ok, true);
    assert.match(v.reason, /^TidbCluster basic reconciles basic-pd: Baton pauses it/);
  });

  it('no controller at all passes; one Baton cannot pause, or another object, fails with one line', () => {
    assert.equal(ownerVerdict(resolved(OTHER, obj('main'), [sts('main-0')]), 'up').ok, true);
    const crdb = ownerVerdict(
      resolved(CRDB_CLUSTER, obj('crdb'), [
        sts('crdb', { owner: { kind: 'CrdbCluster', name: 'crdb', uid: 'uid-crdb' } }),
      ]),
      'up',
    );
    assert.equal(crdb.ok, false);
    assert.match(
      crdb.reason,
      /^statefulset crdb is reconciled by CrdbCluster crdb \(x\/v1\), which Baton cannot pause/,
    );
    assert.doesNotMatch(crdb.reason, /\n/);
    const foreign = ownerVerdict(
      resolved(TIDB_CLUSTER, tc, [sts('basic-pd', { owner: { kind: 'Helm', name: 'rel', uid: 'u-h' } })]),
      'up',
    );
    assert.equal(foreign.ok, false);
    assert.match(foreign.reason, /reconciled by Helm rel \(x\/v1\), not by TidbCluster basic/);
  });

  it('a TidbCluster another Upgrade holds fails; the same Upgrade holding it passes', () => {
    const held = obj('basic', 'uid-basic', {}, { [PAUSED_BY_ANNOTATION]: 'first' });
    const list = [sts('basic-pd', { owner: mine })];
    assert.match(
      ownerVerdict(resolved(TIDB_CLUSTER, held, list), 'second').reason,
      /^TidbCluster basic is held paused by Upgrade first/,
    );
    assert.equal(ownerVerdict(resolved(TIDB_CLUSTER, held, list), 'first').ok, true);
  });
});

function observed(
  component: string,
  versions: string[],
  opts: { ready?: boolean; partition?: number; behind?: number[]; stale?: boolean } = {},
): ObservedTarget {
  const name = `basic-${component}`;
  const set: V1StatefulSet = {
    metadata: { name, generation: opts.stale ? 3 : 2 },
    spec: {
      replicas: versions.length,
      selector: { matchLabels: { app: name } },
      template: {},
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: opts.partition ?? 0 } },
    },
    status: { observedGeneration: 2, updateRevision: 'rev-new', replicas: versions.length },
  };
  const pods = new Map<string, V1Pod>();
  const members: PlatformMember[] = versions.map((v, i) => {
    pods.set(`${name}-${i}`, {
      metadata: {
        name: `${name}-${i}`,
        labels: { 'controller-revision-hash': opts.behind?.includes(i) ? 'rev-old' : 'rev-new' },
      },
    });
    return {
      name: `${name}-${i}`,
      component,
      ordinal: i,
      version: v,
      ready: opts.ready ?? true,
      running: true,
    };
  });
  return { component, sts: set, pods, members };
}

function upgrade(spec: Partial<HandOverIntent>): HandOverIntent {
  return { version: 'v7.5.0', cancel: false, rollback: false, ...spec };
}

describe('cluster references: handing a TidbCluster back', () => {
  const held = (spec: Record<string, unknown>, wasPaused = false) =>
    obj('basic', 'uid-basic', spec, {
      [PAUSED_BY_ANNOTATION]: 'up',
      ...(wasPaused ? { [WAS_PAUSED_ANNOTATION]: 'true' } : {}),
    });

  it('unsettled: a stale controller, an unready member, a pod above the partition at an old revision', () => {
    assert.match(unsettled(observed('pd', ['a'], { stale: true }))!, /has not seen its latest template/);
    assert.match(
      unsettled(observed('pd', ['a', 'a'], { ready: false }))!,
      /basic-pd-0, basic-pd-1 not ready/,
    );
    assert.match(
      unsettled(observed('pd', ['a', 'a'], { behind: [1] }))!,
      /basic-pd-1 not yet at the update revision/,
    );
    assert.equal(unsettled(observed('pd', ['a', 'a'], { behind: [0], partition: 1 })), undefined);
  });

  it('forward: not before every component runs its target; then spec.version (and overrides already set)', () => {
    const tc = held({ version: 'v7.1.0', tikv: { version: 'v7.1.0' } });
    const partway = handOverDecision(upgrade({}), tc, [
      observed('pd', ['v7.5.0']),
      observed('tikv', ['v7.1.0']),
    ]);
    assert.deepEqual(partway, { ready: false, reason: 'tikv runs v7.1.0, not yet v7.5.0' });
    const done = handOverDecision(upgrade({}), tc, [
      observed('pd', ['v7.5.0']),
      observed('tikv', ['v7.5.0']),
    ]);
    assert.equal(done.ready, true);
    assert.deepEqual(done.ready && done.spec, {
      version: 'v7.5.0',
      tikv: { version: 'v7.5.0' },
      paused: false,
    });
    assert.match(
      done.ready ? done.message : '',
      /with spec\.version=v7\.5\.0, spec\.tikv\.version=v7\.5\.0, spec\.paused=false/,
    );
  });

  it('forward with componentVersions: spec.<component>.version where it differs; a user pause is kept', () => {
    const d = handOverDecision(
      upgrade({ version: 'v7.5.0', componentVersions: { pd: 'v7.5.1' } }),
      held({ version: 'v7.1.0' }, true),
      [observed('pd', ['v7.5.1']), observed('tidb', ['v7.5.0'])],
    );
    assert.deepEqual(d.ready && d.spec, { version: 'v7.5.0', pd: { version: 'v7.5.1' }, paused: true });
  });

  it('forward: TiProxy (its own release line) keeps what it runs, pinned in spec.tiproxy.version', () => {
    const own = tidbRules.components.filter((c) => c.ownVersion !== undefined).map((c) => c.name);
    assert.deepEqual(own, ['tiproxy']);
    const d = handOverDecision(
      { ...upgrade({ version: 'v8.5.0' }), ownVersion: own },
      held({ version: 'v8.1.1' }),
      [observed('pd', ['v8.5.0']), observed('tiproxy', ['v1.2.0']), observed('tidb', ['v8.5.0'])],
    );
    assert.deepEqual(d.ready && d.spec, { version: 'v8.5.0', tiproxy: { version: 'v1.2.0' }, paused: false });
    // Given a version of its own, TiProxy must run it before the hand-over.
    const given = {
      ...upgrade({ version: 'v8.5.0', componentVersions: { tiproxy: 'v1.3.2' } }),
      ownVersion: own,
    };
    assert.deepEqual(
      handOverDecision(given, held({ version: 'v8.1.1' }), [
        observed('pd', ['v8.5.0']),
        observed('tiproxy', ['v1.2.0']),
      ]),
      { ready: false, reason: 'tiproxy runs v1.2.0, not yet v1.3.2' },
    );
    // intentOfSpec carries the list the platform reads from the engine's rules.
    assert.deepEqual(
      intentOfSpec(makeSpec({ cluster: 'c', engine: 'tidb', version: 'v8.5.0' }), own).ownVersion,
      ['tiproxy'],
    );
  });

  it('rollback: over only when every component is back at the version the TidbCluster still records', () => {
    const tc = held({ version: 'v7.1.0' });
    const r = upgrade({ rollback: true });
    assert.equal(
      handOverDecision(r, tc, [observed('pd', ['v7.5.0']), observed('tikv', ['v7.1.0'])]).ready,
      false,
    );
    const back = handOverDecision(r, tc, [observed('pd', ['v7.1.0']), observed('tikv', ['v7.1.0'])]);
    assert.deepEqual(back.ready && back.spec, { paused: false });
  });

  it('cancel: the versions components then run; a component left on two versions stays paused with the reason', () => {
    const tc = held({ version: 'v7.1.0' });
    const c = upgrade({ cancel: true });
    const boundary = handOverDecision(c, tc, [
      observed('pd', ['v7.5.0', 'v7.5.0']),
      observed('tikv', ['v7.1.0']),
    ]);
    assert.deepEqual(boundary.ready && boundary.spec, { pd: { version: 'v7.5.0' }, paused: false });
    const mixed = handOverDecision(c, tc, [observed('pd', ['v7.1.0', 'v7.5.0'])]);
    assert.equal(mixed.ready, false);
    assert.match(mixed.ready ? '' : mixed.reason, /^pd runs v7\.1\.0 and v7\.5\.0: basic stays paused/);
  });

  it('the intent comes from a resource spec or from the journal spec alike', () => {
    const want = { version: 'v2', componentVersions: { pd: 'v3' }, cancel: true, rollback: false };
    assert.deepEqual(
      intentOfResource({
        target: { cluster: { kind: 'TidbCluster', name: 'b' } },
        engine: 'generic',
        version: 'v2',
        componentVersions: { pd: 'v3' },
        cancel: true,
      }),
      want,
    );
    assert.deepEqual(
      intentOfSpec({
        version: 'v2',
        components: [{ name: 'pd', version: 'v3' }, { name: 'tikv' }],
        cancel: true,
        rollback: false,
      } as UpgradeSpec),
      want,
    );
  });

  it('versionFields: only what differs', () => {
    assert.deepEqual(versionFields({ version: 'a' }, { pd: 'a' }, 'a'), {});
    assert.deepEqual(versionFields({ version: 'a', pd: { version: 'b' } }, { pd: 'c', tikv: 'c' }, 'c'), {
      version: 'c',
      pd: { version: 'c' },
    });
    assert.deepEqual(versionFields({ version: 'a' }, { pd: 'b', tikv: 'a' }, undefined), {
      pd: { version: 'b' },
    });
  });
});
