import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { engineRules, knownEngines } from './registry.js';
import { BadInputError } from '../core/errors.js';
import { parseVersion } from '../core/version.js';

describe('engine registry', () => {
  it('knows the pure-rule engines and the sim engine', () => {
    for (const name of ['cockroachdb', 'tidb', 'kubernetes-nodes', 'redis-enterprise', 'sim']) {
      assert.ok(knownEngines().includes(name), name);
      assert.equal(engineRules(name).name, name);
    }
    assert.deepEqual(knownEngines(), [...knownEngines()].sort());
  });

  it('rejects an unknown engine naming the known ones', () => {
    assert.throws(
      () => engineRules('mongodb'),
      (err: unknown) =>
        err instanceof BadInputError &&
        err.code === 'unknown-engine' &&
        err.message.includes('mongodb') &&
        err.message.includes(`use one of ${knownEngines().join(', ')}`),
    );
  });

  it('sim: one raft component, forward only, no finalization', () => {
    const rules = engineRules('sim');
    assert.deepEqual(
      rules.components.map((c) => [c.name, c.topology, c.quorum]),
      [['db', 'raft', true]],
    );
    assert.equal(rules.versions.direct(parseVersion('1.0.0'), parseVersion('9.3.1')).ok, true);
    assert.equal(rules.versions.direct(parseVersion('2.0.0'), parseVersion('1.0.0')).ok, false);
    assert.equal(rules.versions.allowDowngrade(parseVersion('2.0.0'), parseVersion('1.0.0')).ok, false);
    assert.equal(rules.finalization, undefined);
  });

  it('every engine has unique component names whose prerequisites exist', () => {
    for (const name of knownEngines()) {
      const names = engineRules(name).components.map((c) => c.name);
      assert.equal(new Set(names).size, names.length, name);
      for (const c of engineRules(name).components) {
        for (const p of c.prerequisites)
          assert.ok(names.indexOf(p) >= 0 && names.indexOf(p) < names.indexOf(c.name));
      }
    }
  });
});
