import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  REDIS_ENTERPRISE_K8S_MATRIX,
  REDIS_ENTERPRISE_SERIES,
  redisEnterpriseCompatibility,
  redisEnterpriseRules,
} from './rules.js';
import { compareVersions, parseVersion } from '../../core/version.js';
import { findCompatiblePath, findVersionPath, parseVersionRange } from '../../plan/path.js';
import { kubernetesRules } from '../kubernetes/rules.js';

const v = parseVersion;
const { versions } = redisEnterpriseRules;

describe('redis-enterprise rules', () => {
  const directCases: [string, string, boolean, RegExp?][] = [
    ['7.4.2-2', '7.4.6-2', true],
    ['7.4.6-2', '7.4.6-6', true],
    ['7.2.4-12', '7.4.6-2', true],
    ['7.4.6-2', '7.8.2-6', true],
    ['7.8.4-8', '7.22.0-7', true],
    ['7.2.4-12', '7.8.2-6', false, /one release series at a time: 7\.2 -> 7\.8 must go through 7\.4/],
    ['6.2.18-3', '7.4.6-2', false, /must go through 6\.4/],
    ['7.4.6-6', '7.4.6-2', false, /does not support downgrades/],
    ['7.4.6-2', '7.3.0-1', false, /does not support downgrades/],
    ['7.4.6-2', '7.9.0-1', false, /7\.9 is not a known release series/],
  ];
  for (const [from, to, ok, reason] of directCases) {
    it(`direct ${from} -> ${to} is ${ok ? 'allowed' : 'refused'}`, () => {
      const verdict = versions.direct(v(from), v(to));
      assert.equal(verdict.ok, ok);
      if (!verdict.ok && reason) assert.match(verdict.reason, reason);
    });
  }

  it('never allows a downgrade', () => {
    assert.equal(versions.allowDowngrade(v('7.4.6-6'), v('7.4.6-2')).ok, false);
  });

  it('orders stages operator -> cluster -> databases', () => {
    assert.deepEqual(
      redisEnterpriseRules.components.map((c) => [c.name, c.stage, c.topology, c.quorum, c.prerequisites]),
      [
        ['operator', 'operator', 'stateless', false, []],
        ['rec', 'cluster', 'sharded', true, ['operator']],
        ['redb', 'databases', 'sharded', false, ['rec']],
      ],
    );
  });

  it('notes the release notes of each series passed through, and the Kubernetes window of each hop', () => {
    const series78 = versions.notes?.(v('7.8')) ?? [];
    assert.match(series78[0] ?? '', /7\.8 release notes/);
    assert.match(series78[1] ?? '', /^operator 7\.8\.4-8 supports Kubernetes 1\.28-1\.31/);
    assert.deepEqual(versions.notes?.(v('7.8.2-6')), [
      "operator 7.8.2-6 supports Kubernetes 1.28-1.31: the cluster's Kubernetes must stay within it while the operator runs this version",
    ]);
  });

  it('exports a compatibility matrix with overlapping Kubernetes windows between adjacent series', () => {
    for (let i = 0; i < REDIS_ENTERPRISE_K8S_MATRIX.length; i++) {
      const row = REDIS_ENTERPRISE_K8S_MATRIX[i]!;
      assert.ok(REDIS_ENTERPRISE_SERIES.includes(row.operator));
      assert.ok(compareVersions(row.kubernetes.min, row.kubernetes.max) < 0);
      const next = REDIS_ENTERPRISE_K8S_MATRIX[i + 1];
      // Without overlap no path could ever cross from one series to the next.
      if (next) assert.ok(compareVersions(next.kubernetes.min, row.kubernetes.max) <= 0, row.operator);
    }
    const constraints = redisEnterpriseCompatibility();
    assert.deepEqual(
      constraints.find((c) => c.versions === '7.4'),
      { track: 'operator', versions: '7.4', requires: { track: 'kubernetes', min: '1.26', max: '1.30' } },
    );
  });

  it('plans the operator series by series', () => {
    assert.deepEqual(
      findVersionPath(redisEnterpriseRules, '6.4.2-8', '7.8.2-6').map((h) => h.to),
      ['7.2', '7.4', '7.8.2-6'],
    );
  });

  it('moves operator and Kubernetes in a compatible order (7.2 on 1.25 -> 7.8 on 1.31)', () => {
    const steps = findCompatiblePath(
      [
        { name: 'operator', from: '7.2.4-12', to: '7.8.2-6', rules: redisEnterpriseRules.versions },
        { name: 'kubernetes', from: '1.25.6', to: '1.31.1', rules: kubernetesRules.versions },
      ],
      redisEnterpriseCompatibility(),
    );
    assert.equal(steps.filter((s) => s.track === 'operator').length, 2);
    assert.equal(steps.filter((s) => s.track === 'kubernetes').length, 6);
    // Replay the steps and check every combination against the matrix ourselves.
    const at = { operator: '7.2.4-12', kubernetes: '1.25.6' };
    const supported = () => {
      const row = REDIS_ENTERPRISE_K8S_MATRIX.find((r) => parseVersionRange(r.operator)(v(at.operator)));
      assert.ok(row, at.operator);
      return parseVersionRange(`>=${row.kubernetes.min} <=${row.kubernetes.max}`)(v(at.kubernetes));
    };
    assert.ok(supported());
    for (const s of steps) {
      assert.equal(at[s.track as 'operator' | 'kubernetes'], s.from);
      at[s.track as 'operator' | 'kubernetes'] = s.to;
      assert.ok(supported(), `${at.operator} on Kubernetes ${at.kubernetes}`);
    }
    assert.deepEqual(at, { operator: '7.8.2-6', kubernetes: '1.31.1' });
  });
});
