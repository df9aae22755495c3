import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/upgrade.js';
import { nullLogger } from '../../src/core/logger.js';
import { main } from '../../src/cli/main.js';
import type { OutStream } from '../../src/wiring/io.js';
import { UpgradeResourceJournal } from '../../src/platforms/kubernetes/journal.js';
import { createSettled, eventsOf, fastClock, startCluster, statefulSet } from './platform-fixture.js';

function capture(): OutStream & { text: () => string } {
  let buf = '';
  return { write: (s) => void (buf += s), isTTY: false, text: () => buf };
}

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = capture();
  const stderr = capture();
  const code = await main(argv, { stdout, stderr, env, clock: fastClock, logger: nullLogger });
  return { code, out: stdout.text(), err: stderr.text() };
}

/** A fake cluster and a kubeconfig file pointing at it (both gone when `t` ends). */
async function cliCluster(t: TestContext) {
  const cluster = await startCluster(t);
  const dir = await mkdtemp(join(tmpdir(), 'baton-kube-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'kubeconfig');
  await cluster.server.writeKubeconfig(file);
  return { ...cluster, file };
}

describe('baton --platform kubernetes', () => {
  it('apply upgrades a StatefulSet end to end through the Upgrade resource; status and history read it back', async (t) => {
    const { server, kc, apps, file, ns: NS } = await cliCluster(t);
    await createSettled(server, statefulSet('db', 3));

    const k = ['--platform', 'kubernetes', '--kubeconfig', file, '-n', NS];
    const plan = await run(['plan', ...k, '--statefulset', 'db', '--to', '1.1.0']);
    assert.equal(plan.code, 0, plan.err);
    assert.ok(plan.out.indexOf('db-2') < plan.out.indexOf('db-0'), plan.out);
    const check = await run(['check', ...k, '--statefulset', 'db', '--to', '1.1.0']);
    assert.equal(check.code, 0, check.err);
    assert.match(check.out, /all-pods-ready/);
    const r = await run(['apply', ...k, '--statefulset', 'db', '--to', '1.1.0']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /Completed/);

    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    assert.equal(sts.spec!.template!.spec!.containers[0]!.image, 'registry.local:5000/db:1.1.0');
    const journal = new UpgradeResourceJournal({ kc, namespace: NS });
    const res = await journal.getResource('db-upgrade');
    assert.equal(res!.spec.target.statefulSet, 'db');
    assert.equal(res!.spec.version, '1.1.0');
    assert.equal(res!.status!.phase, 'Completed');
    assert.equal(res!.status!.progressText, '3/3');

    const evs = await eventsOf(server, 'Upgrade', 'db-upgrade');
    assert.ok(evs.some((e) => e.reason === 'PhaseChanged' && /upgrade complete/.test(e.message!)));
    const onPod = await eventsOf(server, 'Pod', 'db-0');
    assert.ok(onPod.some((e) => e.reason === 'Step' && /db-0: replacing with 1\.1\.0/.test(e.message!)));
    assert.ok(onPod.some((e) => e.reason === 'PartitionLowered'));
    const steps = evs.filter((e) => e.reason === 'Step').map((e) => e.message);
    assert.equal(new Set(steps).size, steps.length, 'each history entry is one Event');

    const st = await run(['status', ...k]);
    assert.equal(st.code, 0, st.err);
    assert.match(st.out, /Completed/);
    const hist = await run(['history', ...k, '--name', 'db-upgrade']);
    assert.equal(hist.code, 0, hist.err);
    assert.match(hist.out, /db-0/);

    // The same name again after it ended: the old resource is replaced by a new upgrade.
    const again = await run(['apply', ...k, '--statefulset', 'db', '--to', '1.2.0']);
    assert.equal(again.code, 0, again.err + again.out);
    const second = await journal.getResource('db-upgrade');
    assert.equal(second!.spec.version, '1.2.0');
    assert.notEqual(second!.metadata.uid, res!.metadata.uid);
    assert.equal(second!.status!.phase, 'Completed');
  });

  it('apply --detach only creates the resource; pause and cancel patch its spec', async (t) => {
    const { server, kc, apps, file, ns: NS } = await cliCluster(t);
    await createSettled(server, statefulSet('web', 2));
    server.resetRequests();

    const r = await run(
      [
        'apply',
        '--platform',
        'kubernetes',
        '--statefulset',
        'front=web',
        '--to',
        '2.0.0',
        '--name',
        'u1',
        '--detach',
      ],
      {
        KUBECONFIG: file,
      },
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(server.requests().byVerbResource['patch statefulsets'] ?? 0, 0, 'nothing rolled');
    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'web' });
    assert.equal(sts.spec!.template!.spec!.containers[0]!.image, 'registry.local:5000/db:1.0.0');
    const journal = new UpgradeResourceJournal({ kc, namespace: NS });
    const rec = await journal.get('u1');
    assert.equal(rec!.status.phase, 'Pending');
    assert.deepEqual(rec!.spec.components, undefined);
    assert.deepEqual((await journal.getResource('u1'))!.spec.target.statefulSets, [
      { name: 'web', component: 'front' },
    ]);

    const p = await run(['pause', '--platform', 'kubernetes'], { KUBECONFIG: file });
    assert.equal(p.code, 0, p.err);
    const paused = await journal.getResource('u1');
    assert.equal(paused!.spec.paused, true);
    assert.equal(paused!.metadata.generation, 2);
    const c = await run(['cancel', '--platform', 'kubernetes', '--name', 'u1'], { KUBECONFIG: file });
    assert.equal(c.code, 0, c.err);
    assert.equal((await journal.getResource('u1'))!.spec.cancel, true);
  });

  it('apply plans and drives an Upgrade created with kubectl that nothing has planned yet', async (t) => {
    const { server, kc, apps, file, ns: NS } = await cliCluster(t);
    await createSettled(server, statefulSet('db', 3));
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: PLURAL,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Upgrade',
        metadata: { name: 'by-hand' },
        spec: { target: { statefulSet: 'db' }, version: '1.1.0' },
      },
    });
    const k = ['--platform', 'kubernetes', '--kubeconfig', file, '-n', NS, '--name', 'by-hand'];
    const other = await run(['apply', ...k, '--statefulset', 'db', '--to', '1.2.0']);
    assert.equal(other.code, 2, other.out);
    assert.match(other.err, /with target 1\.1\.0: continue it with --to 1\.1\.0/);
    const r = await run(['apply', ...k, '--statefulset', 'db', '--to', '1.1.0']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.doesNotMatch(r.out, /continuing it/);
    assert.match(r.out, /Completed/);
    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    assert.equal(sts.spec!.template!.spec!.containers[0]!.image, 'registry.local:5000/db:1.1.0');
    const res = await new UpgradeResourceJournal({ kc, namespace: NS }).getResource('by-hand');
    assert.equal(res!.status!.phase, 'Completed');
    assert.equal(res!.status!.progressText, '3/3');
  });

  it('bad input is one line and exit 2: missing kubeconfig, unknown context, unknown StatefulSet', async (t) => {
    const { server, file, ns: NS } = await cliCluster(t);

    const missing = await run([
      'plan',
      '--platform',
      'kubernetes',
      '--kubeconfig',
      join(dirname(file), 'nope'),
      '--statefulset',
      'db',
      '--to',
      '1.1.0',
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /^error: --kubeconfig .*nope: no such file/);
    assert.equal(missing.err.trim().split('\n').length, 1);

    const ctx = await run([
      'plan',
      '--platform',
      'kubernetes',
      '--kubeconfig',
      file,
      '--context',
      'prod',
      '--statefulset',
      'db',
      '--to',
      '1.1.0',
    ]);
    assert.equal(ctx.code, 2);
    assert.match(ctx.err, /--context prod: not in the kubeconfig/);

    server.resetRequests();
    const sts = await run([
      'apply',
      '--platform',
      'kubernetes',
      '--kubeconfig',
      file,
      '--statefulset',
      'ghost',
      '--to',
      '1.1.0',
    ]);
    assert.equal(sts.code, 2, sts.err);
    assert.match(sts.err, new RegExp(`statefulset ${NS}/ghost not found`));
    const writes = server
      .requests()
      .entries.filter((e) => !['get', 'list', 'watch', 'nonresource'].includes(e.verb));
    assert.deepEqual(writes, [], 'nothing written');

    const bad = await run([
      'plan',
      '--platform',
      'kubernetes',
      '--kubeconfig',
      file,
      '--statefulset',
      'Bad_Name',
      '--to',
      '1.1.0',
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /not a StatefulSet name/);
  });
});
