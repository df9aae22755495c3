import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPendingDdl, normalizeTidbVersion, supportsSmoothUpgrade } from './tidb-client.js';
import { sampleValue } from './tikv-status.js';

describe('TiDB version strings', () => {
  const cases: [string, string][] = [
    ['8.0.11-TiDB-v8.5.0', 'v8.5.0'],
    ['5.7.25-TiDB-v6.5.2', 'v6.5.2'],
    ['v7.1.2', 'v7.1.2'],
    ['8.5.0', 'v8.5.0'],
    ['8.0.11-TiDB-v8.5.0-alpha-12-g1234', 'v8.5.0-alpha-12-g1234'],
  ];
  for (const [raw, want] of cases)
    it(`${raw} -> ${want}`, () => assert.equal(normalizeTidbVersion(raw), want));

  it('smooth upgrade from v7.1.2 in v7.1 and from v7.4.0 on', () => {
    const yes = ['v7.1.2', 'v7.1.5', 'v7.4.0', 'v7.5.0', 'v8.5.0'];
    const no = ['v6.5.9', 'v7.1.0', 'v7.1.1', 'v7.2.0', 'v7.3.0'];
    assert.deepEqual(
      yes.map(supportsSmoothUpgrade),
      yes.map(() => true),
    );
    assert.deepEqual(
      no.map(supportsSmoothUpgrade),
      no.map(() => false),
    );
  });

  it('pending DDL jobs are those not finished', () => {
    const job = (state: string) => ({ id: 1, db: 'd', table: 't', type: 'add index', state });
    assert.deepEqual(
      ['running', 'queueing', 'paused', 'synced', 'done', 'cancelled', 'rollback done'].map((s) =>
        isPendingDdl(job(s)),
      ),
      [true, true, true, false, false, false, false],
    );
  });
});

describe('Prometheus samples', () => {
  const text = [
    '# HELP tikv_raftstore_region_count Number of regions',
    '# TYPE tikv_raftstore_region_count gauge',
    'tikv_raftstore_region_count{type="leader"} 37',
    'tikv_raftstore_region_count{type="region"} 120',
    'tikv_raftstore_region_count_extra{type="leader"} 99',
  ].join('\n');
  it('reads the sample with the wanted label, ignoring look-alike metric names', () => {
    assert.equal(sampleValue(text, 'tikv_raftstore_region_count', ['type', 'leader']), 37);
    assert.equal(sampleValue(text, 'tikv_raftstore_region_count', ['type', 'region']), 120);
    assert.equal(sampleValue(text, 'tikv_raftstore_region_count', ['type', 'learner']), undefined);
  });
});
