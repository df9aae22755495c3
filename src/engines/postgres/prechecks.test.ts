import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineMemberState, MemberView, Snapshot } from '../../core/types.js';
import { postgresPrechecks } from './prechecks.js';

const MiB = 1024 * 1024;

function view(name: string, engine: EngineMemberState | undefined, ready = true): MemberView {
  return {
    name,
    component: 'postgres',
    ordinal: Number(name.slice(-1)),
    version: '17.5',
    ready,
    running: ready,
    endpoint: `127.0.0.1:${5430 + Number(name.slice(-1))}`,
    ...(engine ? { engine } : {}),
  };
}

const P: EngineMemberState = { role: 'primary', healthy: true, caughtUp: true, lag: 0 };
const S = (lag = 0, healthy = true): EngineMemberState => ({
  role: 'replica',
  healthy,
  caughtUp: healthy && lag <= MiB,
  lag,
  detail: healthy ? 'streaming' : 'receiver waiting from 127.0.0.1:5430',
});

function snap(members: MemberView[]): Snapshot {
  return { observedAt: 0, members, health: { healthy: true, detail: '' } };
}

function verdicts(s: Snapshot): Record<string, { ok: boolean; reason: string }> {
  return Object.fromEntries(postgresPrechecks(s, MiB).map((r) => [r.name, { ok: r.ok, reason: r.reason }]));
}

describe('postgresPrechecks', () => {
  it('passes a healthy cluster, naming the primary and standbys', () => {
    const r = verdicts(snap([view('pg-0', P), view('pg-1', S(10)), view('pg-2', S())]));
    for (const [name, v] of Object.entries(r)) assert.equal(v.ok, true, `${name}: ${v.reason}`);
    assert.equal(r['primary-unique']?.reason, 'pg-0 is the only primary and accepts writes');
    assert.equal(r['standbys-streaming']?.reason, 'pg-1, pg-2 stream from pg-0');
  });

  it('fails with the stopped standby named', () => {
    const r = verdicts(snap([view('pg-0', P), view('pg-1', S()), view('pg-2', undefined, false)]));
    assert.deepEqual(r['all-members-up'], {
      ok: false,
      reason: 'pg-2 is down or not answering SQL; start it before upgrading',
    });
    assert.equal(r['primary-unique']?.ok, true);
    assert.equal(r['standbys-streaming']?.ok, false);
    assert.match(r['standbys-streaming']?.reason ?? '', /pg-2: not reachable/);
    assert.equal(r['replication-lag-under-threshold']?.ok, false);
  });

  it('fails when a standby is not streaming or lags beyond the threshold', () => {
    const r = verdicts(snap([view('pg-0', P), view('pg-1', S(0, false)), view('pg-2', S(5 * MiB))]));
    assert.equal(r['all-members-up']?.ok, true);
    assert.equal(r['standbys-streaming']?.ok, false);
    assert.match(r['standbys-streaming']?.reason ?? '', /pg-1: receiver waiting/);
    assert.equal(r['replication-lag-under-threshold']?.ok, false);
    assert.match(
      r['replication-lag-under-threshold']?.reason ?? '',
      /pg-1 is not streaming.*pg-2 is 5242880 bytes behind \(threshold 1048576\)/,
    );
  });

  it('fails primary-unique with no primary, two primaries, or a read-only primary', () => {
    assert.match(
      verdicts(snap([view('pg-0', S()), view('pg-1', S())]))['primary-unique']?.reason ?? '',
      /no member is a primary/,
    );
    assert.match(
      verdicts(snap([view('pg-0', P), view('pg-1', P)]))['primary-unique']?.reason ?? '',
      /split brain/,
    );
    const ro = verdicts(snap([view('pg-0', { ...P, healthy: false, detail: 'primary, rejects writes: x' })]));
    assert.equal(ro['primary-unique']?.ok, false);
    assert.match(ro['primary-unique']?.reason ?? '', /does not accept writes/);
  });

  it('passes a single-member cluster', () => {
    const r = verdicts(snap([view('pg-0', P)]));
    assert.deepEqual(
      Object.values(r).map((v) => v.ok),
      [true, true, true, true],
    );
    assert.equal(r['standbys-streaming']?.reason, 'no standbys (single-member cluster)');
  });
});
