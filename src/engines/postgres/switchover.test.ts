import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineMemberState, MemberView, Snapshot } from '../../core/types.js';
import { parseConninfo } from './conninfo.js';
import type { Platform } from '../../core/ports.js';
import { PostgresEngine } from './engine.js';
import {
  chooseSwitchoverTarget,
  conninfoFor,
  PLATFORM_CANNOT_STOP,
  switchoverBlocked,
} from './switchover.js';

function view(i: number, engine?: EngineMemberState): MemberView {
  return {
    name: `pg-${i}`,
    component: 'postgres',
    ordinal: i,
    version: '17.5',
    ready: true,
    running: true,
    endpoint: `127.0.0.1:${5430 + i}`,
    ...(engine ? { engine } : {}),
  };
}
const replica = (lag: number, healthy = true): EngineMemberState => ({
  role: 'replica',
  healthy,
  caughtUp: healthy,
  lag,
});
const primary: EngineMemberState = { role: 'primary', healthy: true, caughtUp: true, lag: 0 };

function snap(members: MemberView[]): Snapshot {
  return { observedAt: 0, members, health: { healthy: true, detail: '' } };
}

describe('switchover target', () => {
  const members = [
    view(0, primary),
    view(1, replica(500)),
    view(2, replica(20)),
    view(3, replica(0, false)),
    view(4),
  ];
  const s = snap(members);

  it('takes the preferred member when it is a healthy streaming standby', () => {
    assert.equal(chooseSwitchoverTarget(members[0]!, members[1], s)?.name, 'pg-1');
  });

  it('otherwise takes the least lagging healthy standby, never an unhealthy or unreachable one', () => {
    assert.equal(chooseSwitchoverTarget(members[0]!, undefined, s)?.name, 'pg-2');
    assert.equal(chooseSwitchoverTarget(members[0]!, members[3], s)?.name, 'pg-2');
    assert.equal(chooseSwitchoverTarget(members[0]!, members[4], s)?.name, 'pg-2');
    assert.equal(
      chooseSwitchoverTarget(members[0]!, undefined, snap([members[0]!, members[3]!, members[4]!])),
      undefined,
    );
  });

  it('writes a primary_conninfo naming the standby for pg_stat_replication', () => {
    assert.deepEqual(parseConninfo(conninfoFor(members[2]!, 'pg-0', 'postgres')), {
      host: '127.0.0.1',
      port: '5432',
      user: 'postgres',
      application_name: 'pg-0',
      connect_timeout: '5',
    });
  });
});

describe('a hand-over where the platform cannot stop a member', () => {
  const members = [view(0, primary), view(1, replica(0)), view(2, replica(10))];
  const s = snap(members);
  const pods = { name: 'kubernetes' } as Platform;
  const processes = { name: 'local', stopMember: () => Promise.resolve() } as unknown as Platform;
  const engine = new PostgresEngine();

  it('is blocked for a primary with standbys (platform-cannot-stop), never where members can stop', () => {
    assert.equal(switchoverBlocked(members[0]!, pods)?.code, PLATFORM_CANNOT_STOP);
    assert.match(switchoverBlocked(members[0]!, pods)?.message ?? '', /pg-0 is the primary/);
    assert.equal(switchoverBlocked(members[0]!, processes), undefined);
    assert.equal(engine.handOverBlocked(members[0]!, s, pods)?.code, PLATFORM_CANNOT_STOP);
    assert.equal(engine.handOverBlocked(members[0]!, s, processes), undefined);
  });

  it('is not blocked for a standby, a member not reached, or a sole primary (nothing to hand over)', () => {
    assert.equal(engine.handOverBlocked(members[1]!, s, pods), undefined);
    assert.equal(engine.handOverBlocked(view(3), snap([...members, view(3)]), pods), undefined);
    assert.equal(engine.handOverBlocked(members[0]!, snap([members[0]!]), pods), undefined);
  });
});
