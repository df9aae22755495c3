import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLUSTER_SLOTS,
  formatSlots,
  isFailing,
  isSlotOwner,
  parseClusterNodes,
  parseInfo,
  parseReplicaLinks,
  parseServerVersion,
  slotCount,
  splitSlots,
} from './parse.js';

const NODES = `07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,hostname4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,hostname2 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383 [16383->-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 slave,fail 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 disconnected
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 7000
`;

describe('parseClusterNodes', () => {
  const nodes = parseClusterNodes(NODES);

  it('reads every line with id, address, bus port, flags and primary', () => {
    assert.equal(nodes.length, 5);
    const replica = nodes[0]!;
    assert.equal(replica.id, '07c37dfeb235213a872192d90877d0cd55635b91');
    assert.equal(replica.address, '127.0.0.1:30004');
    assert.equal(replica.busPort, 31004);
    assert.deepEqual(replica.flags, ['slave']);
    assert.equal(replica.masterId, 'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca');
    assert.equal(replica.configEpoch, 4);
    assert.equal(replica.slots.length, 0);
  });

  it('reads slot ranges and single slots, and skips migration markers', () => {
    assert.deepEqual(nodes[2]!.slots, [{ start: 10923, end: 16383 }]);
    const me = nodes.find((n) => n.flags.includes('myself'))!;
    assert.deepEqual(me.slots, [
      { start: 0, end: 5460 },
      { start: 7000, end: 7000 },
    ]);
    assert.equal(me.masterId, undefined);
    assert.equal(slotCount(me.slots), 5462);
    assert.equal(formatSlots(me.slots), '0-5460 7000');
  });

  it('classifies failing nodes and slot owners', () => {
    assert.equal(isFailing(nodes[3]!), true);
    assert.equal(nodes[3]!.linkState, 'disconnected');
    assert.equal(isFailing(nodes[1]!), false);
    assert.equal(isSlotOwner(nodes[1]!), true);
    assert.equal(isSlotOwner(nodes[0]!), false);
  });

  it('rejects a line with missing fields', () => {
    assert.throws(() => parseClusterNodes('abc 127.0.0.1:1@2 master -'), /unexpected CLUSTER NODES line/);
  });
});

describe('parseInfo and parseReplicaLinks', () => {
  const info = parseInfo(
    '# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=127.0.0.1,port=30004,state=online,offset=1500,lag=0\r\nslave1:ip=127.0.0.1,port=30005,state=wait_bgsave,offset=0,lag=3\r\nmaster_repl_offset:1520\r\n',
  );

  it('reads key:value lines and skips section headers', () => {
    assert.equal(info.role, 'master');
    assert.equal(info.master_repl_offset, '1520');
    assert.equal(
      Object.keys(info).some((k) => k.startsWith('#')),
      false,
    );
  });

  it('reads every replica line of a primary', () => {
    assert.deepEqual(parseReplicaLinks(info), [
      { address: '127.0.0.1:30004', state: 'online', offset: 1500, lag: 0 },
      { address: '127.0.0.1:30005', state: 'wait_bgsave', offset: 0, lag: 3 },
    ]);
  });
});

describe('parseServerVersion', () => {
  it('reads v= from redis-server --version', () => {
    assert.equal(
      parseServerVersion(
        'Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0',
      ),
      '7.0.15',
    );
    assert.equal(parseServerVersion('something else'), undefined);
  });
});

describe('splitSlots', () => {
  it('splits 16384 slots as redis-cli does for 3 primaries', () => {
    assert.deepEqual(splitSlots(3), [
      { start: 0, end: 5460 },
      { start: 5461, end: 10922 },
      { start: 10923, end: 16383 },
    ]);
  });

  for (const parts of [3, 4, 5, 7]) {
    it(`covers every slot exactly once with ${parts} primaries`, () => {
      const ranges = splitSlots(parts);
      assert.equal(slotCount(ranges), CLUSTER_SLOTS);
      ranges.forEach((r, i) => i > 0 && assert.equal(r.start, ranges[i - 1]!.end + 1));
    });
  }
});
