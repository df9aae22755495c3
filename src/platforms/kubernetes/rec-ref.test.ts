import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { PlatformMember } from '../../core/types.js';
import {
  OWNER_PRECHECK,
  PAUSED_BY_ANNOTATION,
  REDIS_ENTERPRISE_CLUSTER,
  selectClusterStatefulSets,
  type ClusterObject,
  type ObservedTarget,
} from './cluster-ref.js';
import { recRefVerdict, recRollOver } from './rec-ref.js';

const rec = (annotations?: Record<string, string>, state?: string) =>
  ({
    metadata: { name: 'rec', uid: 'uid-rec', ...(annotations ? { annotations } : {}) },
    spec: { nodes: 3, redisEnterpriseImageSpec: { repository: 'redislabs/redis', versionTag: '7.4.6-22' } },
    ...(state ? { status: { state } } : {}),
  }) as ClusterObject;

const sts = (uid?: string, kind = 'RedisEnterpriseCluster'): V1StatefulSet => ({
  metadata: {
    name: 'rec',
    generation: 2,
    ...(uid
      ? {
          ownerReferences: [{ apiVersion: 'app.redislabs.com/v1', kind, name: 'rec', uid, controller: true }],
        }
      : {}),
  },
  spec: {
    replicas: 2,
    selector: {},
    serviceName: 'rec',
    template: {},
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
  },
  status: { replicas: 2, observedGeneration: 2, updateRevision: 'r2' },
});

const resolved = (object: ClusterObject, s: V1StatefulSet[]) => ({
  kind: REDIS_ENTERPRISE_CLUSTER,
  object,
  targets: [{ name: 'rec', component: 'rec' }],
  statefulSets: s,
});

const member = (ordinal: number, version: string, ready = true): PlatformMember => ({
  name: `rec-${ordinal}`,
  component: 'rec',
  ordinal,
  version,
  ready,
  running: true,
});

const observed = (versions: string[], ready = true): ObservedTarget[] => {
  const s = sts('uid-rec');
  const pods = new Map<string, V1Pod>(
    versions.map((_, i) => [
      `rec-${i}`,
      { metadata: { name: `rec-${i}`, labels: { 'controller-revision-hash': 'r2' } } },
    ]),
  );
  return [{ component: 'rec', sts: s, pods, members: versions.map((v, i) => member(i, v, ready)) }];
};

describe('RedisEnterpriseCluster references', () => {
  it('resolve to the StatefulSet named like the REC, component rec', () => {
    const other: V1StatefulSet = { metadata: { name: 'rec-services' } };
    const picked = selectClusterStatefulSets(REDIS_ENTERPRISE_CLUSTER, rec(), [other, sts('uid-rec')], []);
    assert.deepEqual(picked.targets, [{ name: 'rec', component: 'rec' }]);
  });

  it('the owner precheck: a StatefulSet the REC controls passes; none, another controller, or another Upgrade driving it blocks', () => {
    const ok = recRefVerdict(resolved(rec(), [sts('uid-rec')]), 'up');
    assert.equal(ok.name, OWNER_PRECHECK);
    assert.equal(ok.ok, true);
    assert.match(
      ok.reason,
      /^RedisEnterpriseCluster rec reconciles rec and has no pause: Baton sets its spec\.redisEnterpriseImageSpec\.versionTag once and gates the Redis operator's own roll pod by pod/,
    );
    const none = recRefVerdict(resolved(rec(), [sts()]), 'up');
    assert.equal(none.ok, false);
    assert.match(
      none.reason,
      /^statefulset rec has no controller ownerReference to RedisEnterpriseCluster rec/,
    );
    const foreign = recRefVerdict(resolved(rec(), [sts('uid-x', 'Other')]), 'up');
    assert.equal(foreign.ok, false);
    assert.match(foreign.reason, /is reconciled by Other rec .*, not by RedisEnterpriseCluster rec/);
    const held = rec({ [PAUSED_BY_ANNOTATION]: 'first' });
    assert.match(recRefVerdict(resolved(held, [sts('uid-rec')]), 'second').reason, /driven by Upgrade first/);
    assert.equal(recRefVerdict(resolved(held, [sts('uid-rec')]), 'first').ok, true);
  });

  it('the roll is over only with every pod Ready on one version and the REC Running (or silent)', () => {
    assert.equal(recRollOver(rec(undefined, 'Running'), observed(['7.4.6-22', '7.4.6-22'])).ready, true);
    assert.equal(recRollOver(rec(), observed(['7.4.6-22', '7.4.6-22'])).ready, true, 'no state reported');
    const mixed = recRollOver(rec(undefined, 'Upgrade'), observed(['7.2.4-92', '7.4.6-22']));
    assert.deepEqual(mixed, {
      ready: false,
      reason:
        "rec runs 7.2.4-92 and 7.4.6-22: the Redis operator's roll of RedisEnterpriseCluster rec is not over",
    });
    const upgrading = recRollOver(rec(undefined, 'Upgrade'), observed(['7.4.6-22', '7.4.6-22']));
    assert.equal(upgrading.ready, false);
    const invalid = recRollOver(rec(undefined, 'InvalidUpgrade'), observed(['7.4.6-22', '7.4.6-22']));
    assert.match(
      invalid.ready ? '' : invalid.reason,
      /state InvalidUpgrade, not Running \(an error in the upgrade/,
    );
    const down = recRollOver(rec(undefined, 'Running'), observed(['7.4.6-22', '7.4.6-22'], false));
    assert.equal(down.ready ? '' : down.reason, 'rec-0, rec-1 not ready');
  });
});
