/**
 * The PD, TiKV status, TiDB and TiCDC clients against the TiDB cluster double (whose servers follow
 * the real routers and handlers, cited in each double): every call Baton makes, what it answers
 * while things are normal, and what it answers when they are not (no PD leader, an unknown
 * member, a scheduler already gone, an upgrade state already reached).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpError } from '../../src/engines/tidb/http.js';
import { EVICT_LEADER_SCHEDULER, PdClient } from '../../src/engines/tidb/pd-client.js';
import { TicdcClient } from '../../src/engines/tidb/ticdc-client.js';
import { TidbClient } from '../../src/engines/tidb/tidb-client.js';
import { TikvStatusClient } from '../../src/engines/tidb/tikv-status.js';
import { DoubleCluster } from './cluster.js';

let cluster: DoubleCluster;
let pd: PdClient;

before(async () => {
  cluster = await DoubleCluster.create({ version: 'v8.1.0', ticdc: 2, regions: 300 });
  pd = new PdClient({ endpoints: ['pd-0', 'pd-1', 'pd-2'].map((n) => cluster.endpoint(n)) });
});

after(async () => {
  await cluster?.close();
});

describe('PD client', () => {
  it('lists members with the leader, health and binary versions', async () => {
    const members = await pd.members();
    assert.deepEqual(
      members.members.map((m) => m.name),
      ['pd-0', 'pd-1', 'pd-2'],
    );
    assert.equal(members.leader, cluster.model.pdLeader);
    assert.equal(members.members[0]?.binaryVersion, 'v8.1.0');
    assert.match(members.members[0]?.clientUrls[0] ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await pd.leader(), cluster.model.pdLeader);
    assert.deepEqual(
      (await pd.health()).map((h) => [h.name, h.health]),
      [
        ['pd-0', true],
        ['pd-1', true],
        ['pd-2', true],
      ],
    );
  });

  it('reads stores with state, version and leader counts, and the cluster version', async () => {
    const stores = await pd.stores();
    assert.deepEqual(
      stores.map((s) => [s.id, s.stateName, s.version]),
      [
        [1, 'Up', '8.1.0'],
        [2, 'Up', '8.1.0'],
        [3, 'Up', '8.1.0'],
      ],
    );
    assert.equal(
      stores.reduce((n, s) => n + s.leaderCount, 0),
      300,
    );
    assert.match(stores[0]?.statusAddress ?? '', /^127\.0\.0\.1:\d+$/);
    assert.equal(await pd.clusterVersion(), '8.1.0');
    assert.equal(await pd.downPeerRegions(), 0);
  });

  it('transfers leadership to a named member and refuses an unknown one with PD`s message', async () => {
    const target = ['pd-0', 'pd-1', 'pd-2'].find((n) => n !== cluster.model.pdLeader) as string;
    await pd.transferLeader(target);
    await cluster.until(() => cluster.model.pdLeader === target);
    assert.equal(await pd.leader(), target);
    await assert.rejects(pd.transferLeader('pd-9'), (err: unknown) => {
      assert.ok(err instanceof HttpError);
      assert.equal(err.status, 500);
      assert.match(err.message, /no valid pd to transfer etcd leader/);
      return true;
    });
  });

  it('adds a store to the evict-leader scheduler, lists it, and removes it idempotently', async () => {
    await pd.addEvictLeader(2);
    await pd.addEvictLeader(2);
    assert.ok((await pd.schedulers()).includes(EVICT_LEADER_SCHEDULER));
    assert.deepEqual(await pd.evictLeaderStores(), [2]);
    await cluster.until(() => cluster.model.leaderCount(2) === 0);
    const tikv = new TikvStatusClient();
    assert.equal(await tikv.leaderCount(cluster.endpoint('tikv-1')), 0);
    assert.equal(await pd.removeEvictLeader(2), 'removed');
    assert.equal(await pd.removeEvictLeader(2), 'absent');
    assert.deepEqual(await pd.evictLeaderStores(), []);
    assert.ok(!(await pd.schedulers()).includes(EVICT_LEADER_SCHEDULER));
    await cluster.until(() => cluster.model.leaderCount(2) >= 90);
  });

  it('goes on to the next member when the first is down, and answers without a leader only what followers may', async () => {
    const leader = cluster.model.pdLeader as string;
    const first = new PdClient({
      endpoints: [
        cluster.endpoint(leader),
        ...['pd-0', 'pd-1', 'pd-2'].filter((n) => n !== leader).map((n) => cluster.endpoint(n)),
      ],
    });
    // No election while the leaderless answers are asserted: the model notices the stopped leader
    // on its next tick and, with the test pace, would elect another one a few ticks later, which a
    // busy machine can let happen before the second request.
    // Restored even when an assertion fails, so the tests after this one still get a leader.
    const election = cluster.model.timing.pdElectionMs;
    cluster.model.timing.pdElectionMs = 3_600_000;
    try {
      await cluster.stopMember(leader, {
        clock: { now: Date.now, sleep: async () => {} },
        logger: undefined as never,
      });
      await cluster.until(() => cluster.model.pdLeader === undefined);
      assert.equal((await first.members()).members.length, 3);
      await assert.rejects(first.stores(), (err: unknown) => err instanceof HttpError && err.status === 503);
    } finally {
      cluster.model.timing.pdElectionMs = election;
    }
    await cluster.until(() => cluster.model.pdLeader !== undefined);
    assert.equal((await first.stores()).length, 3);
    await cluster.restart(leader);
  });
});

describe('TiDB client', () => {
  const tidb = new TidbClient();

  it('reads status and info, normalising the version', async () => {
    const status = await tidb.status(cluster.endpoint('tidb-0'));
    assert.equal(status.version, 'v8.1.0');
    const info = await tidb.info(cluster.endpoint('tidb-0'));
    assert.equal(info.listeningPort, cluster.model.tidb[0]?.sqlPort);
    assert.equal(info.isOwner, cluster.model.ddlOwner === 'tidb-0');
  });

  it('starts and finishes the upgrading state, idempotently', async () => {
    const ep = cluster.endpoint('tidb-1');
    assert.equal(await tidb.upgradeState(ep), 'normal');
    assert.equal(await tidb.upgradeStart(ep), 'success!');
    assert.match(await tidb.upgradeStart(ep), /duplicated operation/);
    assert.equal(await tidb.upgradeState(ep), 'upgrading');
    assert.equal(await tidb.upgradeFinish(ep), 'success!');
    assert.match(await tidb.upgradeFinish(ep), /already in normal state/);
  });

  it('lists pending DDL jobs and the release version over SQL', async () => {
    const sql = cluster.model.tidb[0]!;
    cluster.model.ddlJobs.push({ id: 7, db: 'shop', table: 'orders', type: 'add index', state: 'running' });
    const jobs = await tidb.ddlJobs('127.0.0.1', sql.sqlPort);
    assert.deepEqual(
      jobs.find((j) => j.id === 7),
      { id: 7, db: 'shop', table: 'orders', type: 'add index', state: 'running' },
    );
    cluster.model.ddlJobs.find((j) => j.id === 7)!.state = 'synced';
    assert.equal(await tidb.sqlVersion('127.0.0.1', sql.sqlPort), 'v8.1.0');
  });

  it('moves the DDL owner away on resign', async () => {
    const owner = cluster.model.ddlOwner as string;
    await tidb.resignDdlOwner(cluster.endpoint(owner));
    assert.notEqual(cluster.model.ddlOwner, owner);
  });
});

describe('TiCDC client', () => {
  const cdc = new TicdcClient();

  it('reads status and captures, resigns the owner, drains a capture to zero tables', async () => {
    const status = await cdc.status(cluster.endpoint('ticdc-0'));
    assert.equal(status.version, 'v8.1.0');
    const captures = await cdc.captures(cluster.endpoint('ticdc-1'));
    assert.equal(captures.length, 2);
    const owner = captures.find((c) => c.isOwner)!;
    const other = captures.find((c) => !c.isOwner)!;
    await assert.rejects(cdc.drainCapture(cluster.endpoint('ticdc-0'), owner.id), /cannot drain the owner/);
    assert.equal(await cdc.tablesOf(cluster.endpoint('ticdc-0'), other.id), 4);
    assert.equal(await cdc.drainCapture(cluster.endpoint('ticdc-0'), other.id), 4);
    await cluster.until(() => cluster.model.captures.find((c) => c.id === other.id)?.tables.length === 0);
    assert.equal(await cdc.tablesOf(cluster.endpoint('ticdc-0'), other.id), 0);
    assert.equal(await cdc.drainCapture(cluster.endpoint('ticdc-0'), other.id), 0);
    await cdc.resignOwner(cluster.endpoint('ticdc-1'));
    assert.ok((await cdc.captures(cluster.endpoint('ticdc-0'))).find((c) => c.id === other.id)?.isOwner);
  });
});
