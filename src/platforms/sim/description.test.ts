import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadInputError } from '../../core/errors.js';
import { FakeClock } from '../../core/clock.js';
import {
  DEFAULT_SIM_TIMINGS,
  parseSimClusterDescription,
  parseSimClusterYaml,
  simDescriptionFromFlags,
} from './description.js';
import { simClusterFromFlags } from './world.js';
import { engineRegistry } from '../../engines/registry.js';

function badInput(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BadInputError, String(err));
    assert.equal(err.code, 'bad-cluster');
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('sim cluster description', () => {
  it('parses YAML with defaults, per-member overrides and faults', () => {
    const d = parseSimClusterYaml(
      `
engine: tidb
version: v7.5.0
seed: 42
timings: { replaceMs: 100 }
components:
  - name: pd
    members:
      - { role: leader }
      - { version: v7.5.1 }
      - { ready: false }
  - name: tikv
    members: 4
faults:
  - { kind: never-ready, member: tikv-3, version: v8.1.0 }
  - { kind: crash, nth: 3 }
  - { kind: api-error, call: drain, probability: 0.5 }
precheckFailures:
  no-ddl-running: "ADD INDEX on t1 is running (job 42)"
`,
      engineRegistry,
    );
    assert.equal(d.engine, 'tidb');
    assert.equal(d.name, 'sim');
    assert.equal(d.seed, 42);
    assert.deepEqual(d.timings, { ...DEFAULT_SIM_TIMINGS, replaceMs: 100 });
    assert.deepEqual(
      d.components.map((c) => [c.name, c.members.map((m) => `${m.name}@${m.version}${m.ready ? '' : '!'}`)]),
      [
        ['pd', ['pd-0@v7.5.0', 'pd-1@v7.5.1', 'pd-2@v7.5.0!']],
        ['tikv', ['tikv-0@v7.5.0', 'tikv-1@v7.5.0', 'tikv-2@v7.5.0', 'tikv-3@v7.5.0']],
      ],
    );
    assert.equal(d.components[0]?.members[0]?.role, 'leader');
    assert.deepEqual(d.faults[1], { kind: 'crash', nth: 3, when: 'after' });
    assert.equal(d.precheckFailures['no-ddl-running'], 'ADD INDEX on t1 is running (job 42)');
  });

  it('defaults components to every engine component with three members', () => {
    const d = parseSimClusterDescription({ engine: 'redis-enterprise', version: '7.4.6-2' }, engineRegistry);
    assert.deepEqual(
      d.components.map((c) => [c.name, c.members.length]),
      [
        ['operator', 3],
        ['rec', 3],
        ['redb', 3],
      ],
    );
  });

  const bad: [string, unknown, RegExp][] = [
    [
      'unknown engine',
      { engine: 'mongo', version: '1.0.0' },
      /engine: unknown engine "mongo": use one of .*cockroachdb/,
    ],
    [
      'missing version',
      { engine: 'sim' },
      /version: expected string, received undefined; write a version like/,
    ],
    ['bad version', { engine: 'sim', version: 'latest' }, /version: cannot parse version "latest"/],
    [
      'bad member version',
      { engine: 'sim', version: '1.0.0', components: [{ name: 'db', members: [{ version: 'x.y' }] }] },
      /components\[0\]\.members\[0\]\.version: cannot parse version "x\.y"/,
    ],
    [
      'members zero',
      { engine: 'sim', version: '1.0.0', components: [{ name: 'db', members: 0 }] },
      /components\[0\]\.members: .*give a member count \(1-500\) or a list of members/,
    ],
    [
      'unknown field',
      { engine: 'sim', version: '1.0.0', replicas: 3 },
      /unknown field "replicas"; remove it or check its spelling/,
    ],
    [
      'unknown component',
      { engine: 'sim', version: '1.0.0', components: [{ name: 'pd', members: 3 }] },
      /components\[0\]\.name: "pd" is not a component of sim; use one of db/,
    ],
    [
      'role of wrong topology',
      { engine: 'sim', version: '1.0.0', components: [{ name: 'db', members: [{ role: 'primary' }] }] },
      /members\[0\]\.role: "primary" is not a role of a raft component; use leader or follower or learner/,
    ],
    [
      'two leaders',
      {
        engine: 'sim',
        version: '1.0.0',
        components: [{ name: 'db', members: [{ role: 'leader' }, { role: 'leader' }] }],
      },
      /db-0 and db-1 are both leader; a raft component has at most one/,
    ],
    [
      'unready leader',
      {
        engine: 'sim',
        version: '1.0.0',
        components: [{ name: 'db', members: [{ role: 'leader', ready: false }] }],
      },
      /a member that is not ready cannot be the leader/,
    ],
    [
      'duplicate names',
      {
        engine: 'sim',
        version: '1.0.0',
        components: [{ name: 'db', members: [{ name: 'a' }, { name: 'a' }] }],
      },
      /members\[1\]\.name: "a" is used twice/,
    ],
    [
      'fault kind',
      { engine: 'sim', version: '1.0.0', faults: [{ kind: 'explode' }] },
      /faults\[0\]\.kind: .*use one of never-ready, drain-timeout, api-error, crash, slow/,
    ],
    [
      'fault member',
      { engine: 'sim', version: '1.0.0', faults: [{ kind: 'slow', member: 'db-9', factor: 2 }] },
      /faults\[0\]\.member: no member named "db-9"/,
    ],
    [
      'api-error needs nth xor probability',
      { engine: 'sim', version: '1.0.0', faults: [{ kind: 'api-error', call: 'observe' }] },
      /faults\[0\]: give exactly one of nth .* or probability/,
    ],
    [
      'api-error call',
      { engine: 'sim', version: '1.0.0', faults: [{ kind: 'api-error', call: 'reboot', nth: 1 }] },
      /faults\[0\]\.call: .*use one of listMembers, replaceMember/,
    ],
    [
      'timings',
      { engine: 'sim', version: '1.0.0', timings: { readyMs: -5 } },
      /timings\.readyMs: .*give milliseconds as a non-negative number/,
    ],
    [
      'precheck failure name',
      { engine: 'sim', version: '1.0.0', precheckFailures: { 'disk-space': 'full' } },
      /precheckFailures\.disk-space: sim has no precheck "disk-space"; use one of all-members-ready/,
    ],
  ];
  for (const [label, input, pattern] of bad) {
    it(`rejects ${label} with one line naming the field`, () => {
      badInput(() => parseSimClusterDescription(input, engineRegistry), pattern);
    });
  }

  it('rejects YAML that does not parse or is not a mapping', () => {
    badInput(
      () => parseSimClusterYaml('engine: [sim\n', engineRegistry, 'c.yaml'),
      /^c\.yaml: not valid YAML/,
    );
    badInput(
      () => parseSimClusterYaml('- 1\n- 2\n', engineRegistry, 'c.yaml'),
      /^c\.yaml: expected a mapping/,
    );
  });

  it('builds a description and a wired world from CLI flags', () => {
    const d = simDescriptionFromFlags(
      { engine: 'kubernetes-nodes', members: 2, from: '1.30.4', seed: 5 },
      engineRegistry,
    );
    assert.deepEqual(
      d.components.map((c) => [c.name, c.members.length]),
      [
        ['control-plane', 2],
        ['workers', 2],
      ],
    );
    assert.equal(d.seed, 5);
    const w = simClusterFromFlags({ engine: 'sim', members: 5, from: '3.5.9' }, engineRegistry, {
      clock: new FakeClock(),
    });
    assert.equal(w.cluster.platformMembers().length, 5);
    assert.equal(w.engine.name, 'sim');
    badInput(
      () => simDescriptionFromFlags({ engine: 'sim', members: 0, from: '1.0.0' }, engineRegistry),
      /--members 0/,
    );
    badInput(
      () => simDescriptionFromFlags({ engine: 'nope', from: '1.0.0' }, engineRegistry),
      /unknown engine "nope"/,
    );
  });
});
