import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kubernetesNodesRules, kubernetesRules } from './rules.js';
import { parseVersion } from '../../core/version.js';
import { findVersionPath } from '../../plan/path.js';

const v = parseVersion;
const { versions } = kubernetesRules;

describe('kubernetes rules', () => {
  const directCases: [string, string, boolean, RegExp?][] = [
    ['1.30.4', '1.31.1', true],
    ['v1.30.4', 'v1.30.9', true],
    ['1.30.1-aliyun.1', '1.31.1-aliyun.1', true],
    ['1.30.5-gke.1014001', '1.31.2-gke.1000', true],
    ['1.30.4', '1.32.0', false, /one minor version at a time: 1\.30 -> 1\.32 must go through 1\.31/],
    ['1.31.1', '1.30.4', false, /cannot be downgraded/],
    ['1.30.9', '1.30.4', false, /cannot be downgraded/],
  ];
  for (const [from, to, ok, reason] of directCases) {
    it(`direct ${from} -> ${to} is ${ok ? 'allowed' : 'refused'}`, () => {
      const verdict = versions.direct(v(from), v(to));
      assert.equal(verdict.ok, ok);
      if (!verdict.ok && reason) assert.match(verdict.reason, reason);
    });
  }

  it('never allows a downgrade', () => {
    assert.equal(versions.allowDowngrade(v('1.31.1'), v('1.30.4')).ok, false);
    assert.equal(versions.allowDowngrade(v('1.30.9'), v('1.30.4')).ok, false);
  });

  it('offers every minor as an intermediate hop, and notes per minor', () => {
    const releases = versions.releases ?? [];
    assert.ok(releases.includes('1.31') && releases.includes('1.32'));
    assert.match(versions.notes?.(v('1.31'))?.[0] ?? '', /Urgent Upgrade Notes.*1\.31.*CHANGELOG-1\.31\.md/);
    assert.deepEqual(versions.notes?.(v('1.31.2')), []);
  });

  it('upgrades the control plane (quorum, one node at a time) before the pools', () => {
    assert.deepEqual(
      kubernetesRules.components.map((c) => [
        c.name,
        c.stage,
        c.topology,
        c.quorum,
        c.prerequisites,
        c.batch,
      ]),
      [
        ['control-plane', 'control-plane', 'raft', true, [], { kind: 'serial' }],
        ['workers', 'nodes', 'stateless', false, ['control-plane'], undefined],
      ],
    );
    assert.deepEqual(kubernetesRules.defaultComponent, {
      topology: 'stateless',
      stage: 'nodes',
      prerequisites: ['control-plane'],
      quorum: false,
      versionSkew: { follows: 'control-plane', maxMinorsBehind: 3 },
    });
    assert.deepEqual(
      kubernetesRules.prechecks.map((p) => p.name),
      [
        'nodes-ready',
        'pool-can-lose-batch',
        'drain-simulation',
        'pods-drain-policy',
        'databases-hand-over',
        'version-skew',
      ],
    );
  });

  it("says where it stands in ACK's words", () => {
    assert.equal(kubernetesRules.describeProgress?.('control-plane', 2, 1, 3), 'control plane node 2 of 3');
    assert.equal(kubernetesRules.describeProgress?.('workers', 38, 37, 200), 'workers 37 of 200');
    assert.equal(kubernetesRules.describeProgress?.('gpu', 1, 0, 4), 'gpu 0 of 4');
  });

  it('takes concrete intermediate releases when given (--via)', () => {
    const rules = kubernetesNodesRules(['v1.36.4']);
    assert.deepEqual(
      findVersionPath(rules, 'v1.35.2', 'v1.37.2').map((h) => [h.from, h.to]),
      [
        ['v1.35.2', 'v1.36.4'],
        ['v1.36.4', 'v1.37.2'],
      ],
    );
    assert.throws(
      () => findVersionPath(kubernetesNodesRules([]), 'v1.35.2', 'v1.37.2'),
      /one minor version at a time: 1\.35 -> 1\.37 must go through 1\.36/,
    );
  });

  it('plans 1.28 -> 1.31 one minor at a time', () => {
    assert.deepEqual(
      findVersionPath(kubernetesRules, '1.28.3', '1.31.2').map((h) => [h.from, h.to]),
      [
        ['1.28.3', '1.29'],
        ['1.29', '1.30'],
        ['1.30', '1.31.2'],
      ],
    );
  });
});
