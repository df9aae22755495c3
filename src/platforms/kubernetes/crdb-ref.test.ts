import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { CRDB_CLUSTER, OWNER_PRECHECK, PAUSED_BY_ANNOTATION, type ClusterObject } from './cluster-ref.js';
import { acknowledged, CRDB_VERSION_CHECKED, crdbOwnerVerdict, crdbRefusal } from './crdb-ref.js';

const crdb = (spec: Record<string, unknown>, annotations?: Record<string, string>, status?: object) =>
  ({
    metadata: { name: 'db', uid: 'uid-db', ...(annotations ? { annotations } : {}) },
    spec,
    ...(status ? { status } : {}),
  }) as ClusterObject;

const owned = (uid: string, kind = 'CrdbCluster'): V1StatefulSet => ({
  metadata: {
    name: 'db',
    ownerReferences: [
      { apiVersion: 'crdb.cockroachlabs.com/v1alpha1', kind, name: 'db', uid, controller: true },
    ],
  },
});

const resolved = (object: ClusterObject, sts: V1StatefulSet[]) => ({
  kind: CRDB_CLUSTER,
  object,
  targets: [{ name: 'db', component: 'cockroachdb' }],
  statefulSets: sts,
});

describe('CrdbCluster custody', () => {
  it('the owner precheck: its own StatefulSet passes with the custody line; another owner, cockroachDBVersion or another holder blocks', () => {
    const ok = crdbOwnerVerdict(
      resolved(crdb({ image: { name: 'cockroachdb/cockroach:v24.1.3' } }), [owned('uid-db')]),
      'up',
    );
    assert.equal(ok.name, OWNER_PRECHECK);
    assert.equal(ok.ok, true);
    assert.match(ok.reason, /^CrdbCluster db reconciles db and has no pause: Baton takes custody/);

    const foreign = crdbOwnerVerdict(resolved(crdb({}), [owned('uid-other', 'Other')]), 'up');
    assert.equal(foreign.ok, false);
    assert.match(foreign.reason, /^statefulset db is reconciled by Other db .*, not by CrdbCluster db/);

    const byVersion = crdbOwnerVerdict(
      resolved(crdb({ cockroachDBVersion: 'v24.1.3' }), [owned('uid-db')]),
      'up',
    );
    assert.equal(byVersion.ok, false);
    assert.equal(byVersion.reason, crdbRefusal(crdb({ cockroachDBVersion: 'v24.1.3' })));
    assert.match(byVersion.reason, /sets spec\.cockroachDBVersion \(v24\.1\.3\).*set spec\.image\.name/);

    const held = crdb({}, { [PAUSED_BY_ANNOTATION]: 'first' });
    assert.match(
      crdbOwnerVerdict(resolved(held, [owned('uid-db')]), 'second').reason,
      /held by Upgrade first/,
    );
    assert.equal(crdbOwnerVerdict(resolved(held, [owned('uid-db')]), 'first').ok, true);
  });

  it('the operator has acknowledged an image once its status names it or its version check is no longer True', () => {
    const image = 'cockroachdb/cockroach:v24.1.3';
    const status = (crdbcontainerimage: string, checked: string) => ({
      crdbcontainerimage,
      conditions: [{ type: CRDB_VERSION_CHECKED, status: checked }],
    });
    assert.equal(
      acknowledged(crdb({}, undefined, status('cockroachdb/cockroach:v23.2.5', 'True')), image),
      false,
    );
    assert.equal(
      acknowledged(crdb({}, undefined, status('cockroachdb/cockroach:v23.2.5', 'False')), image),
      true,
    );
    assert.equal(acknowledged(crdb({}, undefined, status(image, 'True')), image), true);
    assert.equal(acknowledged(crdb({}), image), false, 'no status: no operator has looked');
  });
});
