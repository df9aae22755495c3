/**
 * How many members of a database hosted on nodes may be down at once (`membersDownTolerated`, and
 * the node drains' port that hands it to the node engine): a minority only for raft engines (etcd,
 * PD/TiKV, CockroachDB), one at a time for every other database (Redis Cluster, PostgreSQL, Redis
 * Enterprise, a generic StatefulSet, an engine Baton does not know).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { membersDownTolerated } from '../../src/core/rules.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { engineRules } from '../../src/engines/registry.js';
import { PodDatabaseDrains } from '../../src/wiring/node-databases.js';

const cases: { engine: string; replicas: number; tolerates: number }[] = [
  { engine: 'etcd', replicas: 3, tolerates: 1 },
  { engine: 'etcd', replicas: 5, tolerates: 2 },
  { engine: 'etcd', replicas: 7, tolerates: 3 },
  { engine: 'etcd', replicas: 1, tolerates: 1 },
  { engine: 'cockroachdb', replicas: 5, tolerates: 2 },
  { engine: 'tidb', replicas: 5, tolerates: 2 },
  { engine: 'sim', replicas: 5, tolerates: 2 },
  { engine: 'redis', replicas: 6, tolerates: 1 },
  { engine: 'redis', replicas: 9, tolerates: 1 },
  { engine: 'postgres', replicas: 5, tolerates: 1 },
  { engine: 'redis-enterprise', replicas: 5, tolerates: 1 },
  { engine: 'generic', replicas: 5, tolerates: 1 },
];

describe('members of a hosted database that may be down at once', () => {
  for (const c of cases) {
    it(`${c.engine} of ${c.replicas}: ${c.tolerates}`, () => {
      assert.equal(membersDownTolerated(engineRules(c.engine), c.replicas), c.tolerates);
    });
  }

  it('an engine Baton does not know: one', () => {
    assert.equal(membersDownTolerated(undefined, 7), 1);
  });

  it('the node drains hand the same rule to the node engine, unknown engines included', () => {
    const drains = new PodDatabaseDrains({ kc: new KubeConfig(), clock: systemClock, logger: nullLogger });
    for (const c of cases) assert.equal(drains.tolerates(c.engine, c.replicas), c.tolerates, c.engine);
    assert.equal(drains.tolerates('mongodb', 5), 1);
  });
});
