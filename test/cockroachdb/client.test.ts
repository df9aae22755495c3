/**
 * The CockroachDB admin client against the test double: every call Baton makes, over real
 * pgwire (pg), HTTP(S) (node:http/https) and gRPC (grpc-js), insecure, with a password, and over
 * TLS with client certificates made by openssl (certs.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CockroachAdminClient, defaultAddresses } from '../../src/engines/cockroachdb/client.js';
import { parseClusterVersion, versionOfBuildTag } from '../../src/engines/cockroachdb/cluster-version.js';
import { parsePrometheusText } from '../../src/engines/cockroachdb/http.js';
import { type CockroachCerts, makeCockroachCerts } from './certs.js';
import { CockroachDouble } from './double.js';

describe('CockroachDB version strings', () => {
  it('parses finalized and upgrading cluster versions', () => {
    assert.deepEqual(parseClusterVersion('24.1'), { raw: '24.1', major: '24.1' });
    assert.deepEqual(parseClusterVersion('23.2-upgrading-to-24.1-step-022'), {
      raw: '23.2-upgrading-to-24.1-step-022',
      major: '23.2',
      upgradingTo: '24.1',
    });
    assert.throws(() => parseClusterVersion('v24'), /not a CockroachDB cluster version/);
    assert.equal(versionOfBuildTag('v24.1.3'), '24.1.3');
    assert.equal(versionOfBuildTag('v24.2.0-beta.1'), '24.2.0-beta.1');
    assert.equal(versionOfBuildTag('dev'), undefined);
  });

  it('defaults: SQL and RPC on 26257, HTTP on 8080 of the same host', () => {
    assert.deepEqual(defaultAddresses('crdb-0.crdb.ns'), {
      sql: 'crdb-0.crdb.ns:26257',
      rpc: 'crdb-0.crdb.ns:26257',
      http: 'crdb-0.crdb.ns:8080',
    });
    assert.deepEqual(defaultAddresses('10.0.0.1:26000', 8081).http, '10.0.0.1:8081');
  });

  it('named addresses: sql and http given, rpc defaulting to sql; a malformed list is refused', () => {
    assert.deepEqual(defaultAddresses('sql=127.0.0.1:40001,http=127.0.0.1:40002'), {
      sql: '127.0.0.1:40001',
      rpc: '127.0.0.1:40001',
      http: '127.0.0.1:40002',
    });
    assert.deepEqual(defaultAddresses('http=h:2,rpc=h:3,sql=h:1'), { sql: 'h:1', http: 'h:2', rpc: 'h:3' });
    for (const bad of ['sql=h:1', 'sql=h:1,http=h:2,http=h:3', 'sql=h:1,http=h', 'pg=h:1,http=h:2']) {
      assert.throws(() => defaultAddresses(bad), /name each address once, sql=HOST:PORT,http=HOST:PORT/);
    }
  });

  it('sums Prometheus samples over label sets and skips comments', () => {
    const m = parsePrometheusText(
      '# HELP x\nranges_underreplicated{store="1"} 2\nranges_underreplicated{store="2"} 3\nreplicas 7\n',
    );
    assert.equal(m.get('ranges_underreplicated'), 5);
    assert.equal(m.get('replicas'), 7);
  });
});

describe('CockroachAdminClient against the double', () => {
  let double: CockroachDouble;
  const client = new CockroachAdminClient();
  before(async () => {
    // A restarted node stays "not healthy" for 1.5 s (its first liveness heartbeat), long enough
    // for the readiness call after the restart below to see it even on a loaded machine.
    double = await CockroachDouble.start({ nodes: 3, version: '23.2.5', ranges: 12, startupMs: 1500 });
  });
  after(async () => {
    await client.close();
    await double.close();
  });

  it('reads readiness, gauges, details and the node list', async () => {
    const a = double.addresses(2);
    assert.deepEqual(await client.readiness(a), { ready: true });
    const details = await client.details(a);
    assert.deepEqual(details, { nodeId: 2, buildTag: 'v23.2.5' });
    const nodes = await client.nodes(a);
    assert.deepEqual(
      nodes.map((n) => [n.nodeId, n.buildTag, n.liveness]),
      [
        [1, 'v23.2.5', 'LIVE'],
        [2, 'v23.2.5', 'LIVE'],
        [3, 'v23.2.5', 'LIVE'],
      ],
    );
    let leases = 0;
    for (const id of [1, 2, 3]) {
      const v = await client.vars(double.addresses(id));
      assert.equal(v.underReplicated, 0);
      assert.equal(v.unavailable, 0);
      assert.equal(v.replicas, 12);
      leases += v.leaseholders;
    }
    assert.equal(leases, 12);
  });

  it('reads and sets the cluster version settings through SQL, with the real validation', async () => {
    const a = double.addresses(1);
    assert.equal(await client.clusterVersion(a), '23.2');
    assert.equal(await client.preserveDowngrade(a), '');
    await assert.rejects(
      client.setPreserveDowngrade(a, '23.1'),
      /cannot set cluster\.preserve_downgrade_option to 23\.1 \(cluster version is 23\.2\)/,
    );
    await client.setPreserveDowngrade(a, '23.2');
    assert.equal(await client.preserveDowngrade(double.addresses(3)), '23.2');
    await client.resetPreserveDowngrade(a);
    assert.equal(await client.preserveDowngrade(a), '');
    assert.ok(
      double.cluster.statements.includes("SET CLUSTER SETTING cluster.preserve_downgrade_option = '23.2'"),
    );
  });

  it('drains a node over gRPC: leases leave, readiness and SQL refuse, a restart clears it', async () => {
    const a = double.addresses(3);
    const first = await client.drain(a);
    assert.equal(first.draining, true);
    assert.ok(first.remaining > 0, 'leases were held when the drain started');
    const again = await client.drain(a);
    assert.equal(again.remaining, 0, 'a second call finds nothing left');
    assert.equal((await client.vars(a)).leaseholders, 0);
    assert.deepEqual(await client.readiness(a), { ready: false, reason: 'node is shutting down' });
    await assert.rejects(client.clusterVersion(a), /server is not accepting clients/);
    assert.equal((await client.nodes(double.addresses(1))).find((n) => n.nodeId === 3)?.liveness, 'DRAINING');
    await double.stopNode(3);
    await assert.rejects(client.readiness(a), /did not answer/);
    assert.ok(await double.startNode(3, '23.2.5'));
    assert.deepEqual(await client.readiness(a), { ready: false, reason: 'node is not healthy' });
  });
});

describe('CockroachAdminClient on a secure double', () => {
  it('logs in to the DB Console API and authenticates SQL with the password', async () => {
    const double = await CockroachDouble.start({ nodes: 1, version: '24.1.3', password: 's3cret' });
    const good = new CockroachAdminClient({ username: 'root', password: 's3cret' });
    const bad = new CockroachAdminClient({ username: 'root', password: 'wrong' });
    const anonymous = new CockroachAdminClient();
    try {
      const a = double.addresses(1);
      assert.equal((await good.nodes(a)).length, 1);
      assert.equal(await good.clusterVersion(a), '24.1');
      await assert.rejects(bad.nodes(a), /refused the login of "root"/);
      await assert.rejects(bad.clusterVersion(a), /password authentication failed/);
      await assert.rejects(anonymous.nodes(a), /HTTP 401/);
    } finally {
      for (const c of [good, bad, anonymous]) await c.close();
      await double.close();
    }
  });
});

describe('CockroachAdminClient on a double serving TLS (a cluster started with --certs-dir)', () => {
  let double: CockroachDouble;
  let certs: CockroachCerts;
  before(async () => {
    certs = await makeCockroachCerts();
    double = await CockroachDouble.start({
      nodes: 3,
      version: '23.2.5',
      ranges: 12,
      tls: { ca: certs.ca, cert: certs.nodeCert, key: certs.nodeKey },
    });
  });
  after(() => double.close());

  it('with the client certificate alone: SQL authenticated by it, HTTPS with a session made through SQL, Drain over gRPC with TLS', async () => {
    const client = new CockroachAdminClient({
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    });
    try {
      const a = double.addresses(2);
      assert.deepEqual(await client.readiness(a), { ready: true });
      assert.equal(await client.clusterVersion(a), '23.2');
      // No password: the DB Console session is a system.web_sessions row, as `cockroach
      // auth-session login` makes it.
      assert.deepEqual(
        (await client.nodes(a)).map((n) => n.liveness),
        ['LIVE', 'LIVE', 'LIVE'],
      );
      assert.equal((await client.details(a)).nodeId, 2);
      assert.equal(double.cluster.webSessions.size, 1, 'one session for node 2, reused');
      assert.equal([...double.cluster.webSessions.values()][0]!.username, 'root');
      assert.ok(double.cluster.statements.some((s) => s.startsWith('INSERT INTO system.web_sessions')));
      await client.setPreserveDowngrade(a, '23.2');
      assert.equal(double.cluster.preserveDowngrade, '23.2');
      await client.resetPreserveDowngrade(a);
      const drained = await client.drain(double.addresses(3));
      assert.equal(drained.draining, true);
      assert.ok(double.cluster.node(3).draining);
    } finally {
      await client.close();
    }
  });

  it('refuses what a secure node refuses: no client certificate, a certificate of another CA, plain HTTP, an unknown CA', async () => {
    const a = double.addresses(1);
    const caOnly = new CockroachAdminClient({ tls: { ca: certs.ca }, timeoutMs: 2000, drainTimeoutMs: 2000 });
    const stranger = new CockroachAdminClient({
      tls: { ca: certs.ca, cert: certs.strangerCert, key: certs.strangerKey },
      timeoutMs: 2000,
      drainTimeoutMs: 2000,
    });
    const plain = new CockroachAdminClient({ timeoutMs: 2000 });
    const wrongCa = new CockroachAdminClient({
      tls: { ca: certs.strangerCert, cert: certs.clientCert, key: certs.clientKey },
      timeoutMs: 2000,
    });
    try {
      // The server's certificate is verified, so HTTPS works with the CA alone (health needs no login).
      assert.deepEqual(await caOnly.readiness(a), { ready: true });
      await assert.rejects(caOnly.clusterVersion(a), /CockroachDB SQL at/);
      await assert.rejects(caOnly.drain(a), /drain of the CockroachDB node at .* failed/);
      await assert.rejects(caOnly.nodes(a), /HTTP 401/);
      await assert.rejects(stranger.clusterVersion(a), /CockroachDB SQL at/);
      await assert.rejects(stranger.drain(a), /drain of the CockroachDB node at .* failed/);
      await assert.rejects(plain.readiness(a), /did not answer/);
      await assert.rejects(wrongCa.readiness(a), /did not answer .*certificate/);
      assert.equal(double.cluster.node(1).draining, false, 'no refused Drain drained the node');
    } finally {
      for (const c of [caOnly, stranger, plain, wrongCa]) await c.close();
    }
  });
});
