import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { REC_OWNER_PRECHECK, recOwnerVerdict } from './redis-enterprise.js';

const sts = (name: string, ownerKind?: string): V1StatefulSet => ({
  metadata: {
    name,
    ...(ownerKind
      ? {
          ownerReferences: [{ apiVersion: 'x/v1', kind: ownerKind, name: 'rec', uid: 'u', controller: true }],
        }
      : {}),
  },
});

describe('rec-owner precheck', () => {
  it('blocks when a member is a pod of a StatefulSet a RedisEnterpriseCluster controls, and only then', () => {
    const members = ['redis-enterprise-operator', 'rec-0', 'rec-1', 'cache'];
    const owned = recOwnerVerdict([sts('rec', 'RedisEnterpriseCluster')], members);
    assert.equal(owned.name, REC_OWNER_PRECHECK);
    assert.equal(owned.ok, false);
    assert.match(
      owned.reason,
      /^statefulset rec \(pods rec-0, rec-1\) is reconciled by RedisEnterpriseCluster rec/,
    );
    assert.match(
      owned.reason,
      /target the REC instead \(spec\.target\.cluster: \{kind: RedisEnterpriseCluster, name: rec\}, or --cluster-ref RedisEnterpriseCluster\/rec\)/,
    );
    const viaRec = recOwnerVerdict([sts('rec', 'RedisEnterpriseCluster')], members, {
      kind: 'RedisEnterpriseCluster',
      name: 'rec',
    });
    assert.equal(viaRec.ok, true, 'the upgrade targets the REC itself');
    assert.equal(recOwnerVerdict([sts('rec')], members).ok, true, 'no controller');
    assert.equal(recOwnerVerdict([sts('rec', 'Other')], members).ok, true, 'another kind');
    assert.equal(
      recOwnerVerdict([sts('other', 'RedisEnterpriseCluster')], members).ok,
      true,
      'a REC StatefulSet whose pods are not members',
    );
    assert.equal(recOwnerVerdict([sts('re', 'RedisEnterpriseCluster')], ['rec-0']).ok, true, 'prefix only');
  });
});
