/**
 * How many members of a database hosted on nodes may be down at once (`membersDownTolerated`, and
 * the node drains' port that hands it to the node engine): a minority for a raft group (etcd, PD)
 * and for stateless servers (TiDB), one at a time for a multi-raft store (TiKV, CockroachDB: a range
 * has three replicas, whatever the number of stores) and for every other database (Redis Cluster,
 * PostgreSQL, Redis Enterprise, a generic StatefulSet, an engine Baton does not know). A StatefulSet
 * that names its component is judged by that component alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { membersDownTolerated } from '../../src/core/rules.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { engineRules } from '../../src/engines/registry.js';
import { PodDatabaseDrains } from '../../src/wiring/node-databases.js';

const cases: { engine: string; component?: string; replicas: number; tolerates: number }[] = [
  { engine: 'etcd', replicas: 3, tolerates: 1 },
  { engine: 'etcd', replicas: 5, tolerates: 2 },
  { engine: 'etcd', replicas: 7, tolerates: 3 },
  { engine: 'etcd', replicas: 1, tolerates: 1 },
  { engine: 'cockroachdb', replicas: 3, tolerates: 1 },
  { engine: 'cockroachdb', replicas: 5, tolerates: 1 },
  { engine: 'cockroachdb', replicas: 9, tolerates: 1 },
  { engine: 'tidb', replicas: 5, tolerates: 1 },
  { engine: 'tidb', component: 'pd', replicas: 5, tolerates: 2 },
  { engine: 'tidb', component: 'tikv', replicas: 5, tolerates: 1 },
  { engine: 'tidb', component: 'tiflash', replicas: 4, tolerates: 1 },
  { engine: 'tidb', component: 'tidb', replicas: 5, tolerates: 2 },
  { engine: 'tidb', component: 'not-a-component', replicas: 5, tolerates: 1 },
  { engine: 'etcd', component: 'etcd-main', replicas: 5, tolerates: 2 },
  { engine: 'sim', replicas: 5, tolerates: 2 },
  { engine: 'redis', replicas: 6, tolerates: 1 },
  { engine: 'redis', replicas: 9, tolerates: 1 },
  { engine: 'postgres', replicas: 5, tolerates: 1 },
  { engine: 'redis-enterprise', replicas: 5, tolerates: 1 },
  { engine: 'generic', replicas: 5, tolerates: 1 },
];

describe('members of a hosted database that may be down at once', () => {
  for (const c of cases) {
    it(`${c.engine}${c.component ? ` (${c.component})` : ''} of ${c.replicas}: ${c.tolerates}`, () => {
      assert.equal(membersDownTolerated(engineRules(c.engine), c.replicas, c.component), c.tolerates);
    });
  }

  it('an engine Baton does not know: one', () => {
    assert.equal(membersDownTolerated(undefined, 7), 1);
  });

  it('the node drains hand the same rule to the node engine, unknown engines included', () => {
    const drains = new PodDatabaseDrains({ kc: new KubeConfig(), clock: systemClock, logger: nullLogger });
    for (const c of cases)
      assert.equal(drains.tolerates(c.engine, c.replicas, c.component), c.tolerates, c.engine);
    assert.equal(drains.tolerates('mongodb', 5), 1);
  });
});
