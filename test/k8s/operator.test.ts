import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { LABELS } from '../../src/api/upgrade.js';
import { controlPlaneBinaries } from '../kube/binaries.js';
import { expectApiError, waitFor } from '../kube/helpers.js';
import {
  createSettled,
  createUpgrade,
  getUpgrade,
  makeOperator,
  metricValue,
  podImages,
  setup,
  statefulSet,
  unreadyTracker,
  waitPhase,
  waitUpgrade,
} from './operator-fixtures.js';

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('operator', () => {
  it('drives an Upgrade resource to Completed and serves /healthz /readyz /metrics', async (t) => {
    const env = await setup(t);
    await createSettled(env, statefulSet('web', 3));
    const registry = new Registry();
    const op = makeOperator(t, env, { port: 0, host: '127.0.0.1', registry });
    await op.start();
    const base = `http://127.0.0.1:${op.port}`;
    await waitFor('leadership', () => op.isLeader());
    await createUpgrade(env, 'web-up', { target: { statefulSet: 'web' }, version: '1.1.0' });
    const done = await waitPhase(env, 'web-up', ['Completed', 'Failed', 'Paused']);
    assert.equal(done.status?.phase, 'Completed', done.status?.reason);
    assert.equal(done.status?.progressText, '3/3');
    assert.deepEqual(Object.values(await podImages(env, 'web')), Array(3).fill('example/db:1.1.0'));

    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.match(await ready.text(), /ok \(leader\)/);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /baton_reconciles_total\{result="ok"\} [1-9]/);
    assert.match(metrics, /baton_leader 1/);
    assert.match(metrics, /baton_upgrades\{phase="Completed"\} 1/);
    assert.match(metrics, /baton_step_duration_seconds_count\{step="replace",ok="true"\} 3/);
    const events = await env.core.listNamespacedEvent({ namespace: env.ns });
    assert.ok(
      events.items.some((e) => e.involvedObject.kind === 'Upgrade' && e.reason === 'PhaseChanged'),
      'events recorded on the Upgrade',
    );
    await op.stop();
    await assert.rejects(fetch(`${base}/healthz`), 'the health server is closed on stop');
  });

  it('drives an Upgrade created by kubectl apply --server-side; kubectl get upg shows its printer columns', async (t) => {
    const env = await setup(t, { readinessDelayMs: 30 });
    await createSettled(env, statefulSet('ssa', 2));
    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    const dir = await mkdtemp(join(tmpdir(), 'baton-op-kubectl-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, 'kubeconfig');
    await env.server.writeKubeconfig(kubeconfig);
    const { kubectl } = await controlPlaneBinaries();
    const k = (args: string[], input?: string) =>
      new Promise<string>((resolve, reject) => {
        const child = execFile(
          kubectl,
          ['--kubeconfig', kubeconfig, '-n', env.ns, ...args],
          { timeout: 60_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
        );
        child.stdin?.end(input ?? '');
      });
    const manifest = [
      'apiVersion: baton.dev/v1alpha1',
      'kind: Upgrade',
      'metadata: {name: ssa-up}',
      'spec: {target: {statefulSet: ssa}, version: "1.1.0"}',
    ].join('\n');
    assert.match(
      await k(['apply', '--server-side', '--field-manager', 'ops-team', '-f', '-'], manifest),
      /upgrade\.baton\.dev\/ssa-up serverside-applied/,
    );
    const done = await waitPhase(env, 'ssa-up', ['Completed', 'Failed', 'Paused']);
    assert.equal(done.status?.phase, 'Completed', done.status?.reason);
    // The applier owns the spec; the operator's status writes did not take it over.
    const managers = (done.metadata as { managedFields?: { manager: string; subresource?: string }[] })
      .managedFields;
    assert.ok(
      managers?.some((m) => m.manager === 'ops-team' && !m.subresource),
      JSON.stringify(managers),
    );
    const table = (await k(['get', 'upg', 'ssa-up'])).trim().split('\n');
    assert.deepEqual(table[0]!.split(/\s+/), ['NAME', 'PHASE', 'PROGRESS', 'STEP', 'AGE']);
    assert.deepEqual(table[1]!.split(/\s+/).slice(0, 3), ['ssa-up', 'Completed', '2/2']);
  });

  it('refuses a malformed Upgrade: by CRD validation where OpenAPI can say it, else InvalidSpec with the reason, nothing touched', async (t) => {
    const env = await setup(t);
    await createSettled(env, statefulSet('bad', 2));
    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    env.server.resetRequests();
    // A duration's format is in the CRD's schema: the real apiserver refuses the object itself.
    const refused = await expectApiError(() =>
      createUpgrade(env, 'bad-soak', {
        target: { statefulSet: 'bad' },
        version: '2.0.0',
        strategy: { soak: 'ten minutes' },
      }),
    );
    assert.equal(refused.code, 422);
    assert.equal(refused.reason, 'Invalid');
    assert.match(refused.message ?? '', /spec\.strategy\.soak: Invalid value: "ten minutes"/);
    // Rules OpenAPI cannot express (exactly one kind of target; a known engine) are Baton's.
    await createUpgrade(env, 'bad-up', {
      target: { statefulSet: 'bad', statefulSets: [{ name: 'bad' }] },
      version: '2.0.0',
    });
    const u = await waitPhase(env, 'bad-up', ['Failed']);
    const ready = u.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'InvalidSpec');
    assert.match(ready!.message, /^spec\.target: set exactly one of/);
    await createUpgrade(env, 'bad-engine', {
      target: { statefulSet: 'bad' },
      engine: 'oracle',
      version: '2.0.0',
    });
    const e = await waitPhase(env, 'bad-engine', ['Failed']);
    assert.match(
      e.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '',
      /spec\.engine: engine "oracle"/,
    );
    const touched = env.server
      .requests()
      .entries.filter(
        (r) =>
          r.resource.startsWith('statefulsets') &&
          r.verb !== 'get' &&
          r.verb !== 'list' &&
          r.verb !== 'watch',
      );
    assert.deepEqual(touched, [], 'no write to any StatefulSet');
    assert.equal(env.server.requests().byVerbResource['delete pods'] ?? 0, 0, 'no pod deleted');

    // Fixing the spec (a new generation) starts the upgrade.
    await env.custom.patchNamespacedCustomObject(
      {
        group: 'baton.dev',
        version: 'v1alpha1',
        namespace: env.ns,
        plural: 'upgrades',
        name: 'bad-up',
        body: { spec: { target: { statefulSets: null } } },
      },
      merge,
    );
    const fixed = await waitPhase(env, 'bad-up', ['Completed', 'Paused']);
    assert.equal(fixed.status?.phase, 'Completed', fixed.status?.reason);
  });

  it('a replica killed mid-upgrade is replaced by another that takes the Lease and finishes', async (t) => {
    const env = await setup(t, { readinessDelayMs: 150 });
    await createSettled(env, statefulSet('db', 4));
    const tracker = await unreadyTracker(t, env, 'db', 4);
    const a = makeOperator(t, env, { identity: 'op-a' });
    await a.start();
    await waitFor('op-a to lead', () => a.isLeader());
    await createUpgrade(env, 'db-up', { target: { statefulSet: 'db' }, version: '1.1.0' });
    await waitUpgrade(env, 'db-up', 'one member done', (u) => (u.status?.progress?.done ?? 0) >= 1);
    await a.kill();
    const mid = await getUpgrade(env, 'db-up');
    assert.notEqual(mid.status?.phase, 'Completed', 'killed before the end');

    const b = makeOperator(t, env, { identity: 'op-b' });
    await b.start();
    const done = await waitPhase(env, 'db-up', ['Completed', 'Failed', 'Paused']);
    assert.equal(done.status?.phase, 'Completed', done.status?.reason);
    for (const [name, m] of Object.entries(done.status!.members!))
      assert.equal(m.replaceCalls, 1, `${name} replaced exactly once across the takeover`);
    assert.deepEqual(Object.values(await podImages(env, 'db')), Array(4).fill('example/db:1.1.0'));
    assert.ok(tracker.maxUnready() <= 1, `at most one pod unready at a time (saw ${tracker.maxUnready()})`);
    const lease = await env.kc.makeApiClient(CoordinationV1Api).readNamespacedLease(env.lease);
    assert.equal(lease.spec?.holderIdentity, 'op-b');
    assert.ok((lease.spec?.leaseTransitions ?? 0) >= 1);
  });

  it('a wake-up that comes while a slow Lease renewal is late is not lost: the upgrade still finishes', async (t) => {
    const env = await setup(t, { readinessDelayMs: 30 });
    await createSettled(env, statefulSet('slow', 6));
    // Every Lease request takes 200 ms: a renewal (read + write) lands 400 ms after it started
    // and the next one 900 ms after, so with a 700 ms lease isLeader() answers false near the
    // end of each cycle while the Lease is never lost (no "stopped leading", no re-enqueue).
    env.server.setLatency({ ms: 200, pathPrefix: '/apis/coordination.k8s.io/' });
    const op = makeOperator(t, env, { leaseDurationMs: 700, retryPeriodMs: 100 });
    await op.start();
    await waitFor('leadership', () => op.isLeader(), 30_000);
    await createUpgrade(env, 'slow-up', { target: { statefulSet: 'slow' }, version: '1.1.0' });
    const done = await waitUpgrade(
      env,
      'slow-up',
      'ended',
      (u) => ['Completed', 'Failed', 'Paused'].includes(u.status?.phase ?? ''),
      90_000,
    );
    assert.equal(done.status?.phase, 'Completed', done.status?.reason);
  });

  it('a gracefully stopped leader releases the Lease and the standby finishes the upgrade', async (t) => {
    const env = await setup(t, { readinessDelayMs: 100 });
    await createSettled(env, statefulSet('kv', 3));
    // A long lease: the standby can only take over this soon because the leader released it.
    const a = makeOperator(t, env, { identity: 'op-a', leaseDurationMs: 60_000, retryPeriodMs: 100 });
    const b = makeOperator(t, env, { identity: 'op-b', leaseDurationMs: 60_000, retryPeriodMs: 100 });
    await a.start();
    await waitFor('op-a to lead', () => a.isLeader());
    await b.start();
    await createUpgrade(env, 'kv-up', { target: { statefulSet: 'kv' }, version: '1.1.0' });
    await waitUpgrade(env, 'kv-up', 'one member done', (u) => (u.status?.progress?.done ?? 0) >= 1);
    await a.stop();
    assert.equal(a.isLeader(), false);
    const done = await waitPhase(env, 'kv-up', ['Completed', 'Failed', 'Paused']);
    assert.equal(done.status?.phase, 'Completed', done.status?.reason);
    assert.ok(b.isLeader());
    for (const m of Object.values(done.status!.members!)) assert.equal(m.replaceCalls, 1);
  });

  it('two replicas running at once: only the Lease holder ever reconciles', async (t) => {
    const env = await setup(t, { readinessDelayMs: 50 });
    await createSettled(env, statefulSet('pair', 3));
    const tracker = await unreadyTracker(t, env, 'pair', 3);
    const ra = new Registry();
    const rb = new Registry();
    const a = makeOperator(t, env, { identity: 'op-a', registry: ra });
    const b = makeOperator(t, env, { identity: 'op-b', registry: rb });
    await Promise.all([a.start(), b.start()]);
    await waitFor('a leader', () => a.isLeader() || b.isLeader());
    await createUpgrade(env, 'pair-up', { target: { statefulSet: 'pair' }, version: '1.1.0' });
    const done = await waitPhase(env, 'pair-up', ['Completed', 'Failed', 'Paused']);
    assert.equal(done.status?.phase, 'Completed', done.status?.reason);
    assert.notEqual(a.isLeader(), b.isLeader(), 'exactly one leader');
    const okA = await metricValue(ra, 'baton_reconciles_total{result="ok"}');
    const okB = await metricValue(rb, 'baton_reconciles_total{result="ok"}');
    assert.ok(okA > 0 !== okB > 0, `one replica reconciled (a: ${okA}, b: ${okB})`);
    assert.equal(await metricValue(a.isLeader() ? rb : ra, 'baton_leader'), 0);
    for (const m of Object.values(done.status!.members!)) assert.equal(m.replaceCalls, 1);
    assert.ok(tracker.maxUnready() <= 1, `at most one pod unready at a time (saw ${tracker.maxUnready()})`);
  });

  it('upgrades a managed StatefulSet after a merge patch of its image', async (t) => {
    const env = await setup(t, { readinessDelayMs: 30 });
    const labels = { [LABELS.managed]: 'true' };
    await createSettled(env, statefulSet('cache', 3, { onDelete: true, labels }));
    const tracker = await unreadyTracker(t, env, 'cache', 3);
    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    await env.apps.patchNamespacedStatefulSet(
      {
        namespace: env.ns,
        name: 'cache',
        body: { spec: { template: { spec: { containers: [{ name: 'db', image: 'example/db:1.2.0' }] } } } },
      },
      merge,
    );
    const list = await waitFor('an Upgrade for the StatefulSet', async () => {
      const r = (await env.custom.listNamespacedCustomObject({
        group: 'baton.dev',
        version: 'v1alpha1',
        namespace: env.ns,
        plural: 'upgrades',
        labelSelector: `${LABELS.statefulSet}=cache`,
      })) as {
        items: {
          metadata: { name: string; ownerReferences?: { kind: string; name: string }[] };
          spec: { version: string; engine: string };
        }[];
      };
      return r.items.length ? r.items : undefined;
    });
    assert.equal(list.length, 1);
    const u = list[0]!;
    const sts = await env.apps.readNamespacedStatefulSet({ namespace: env.ns, name: 'cache' });
    assert.equal(u.metadata.name, `cache-${sts.status!.updateRevision!.slice('cache-'.length)}`);
    assert.deepEqual(
      u.metadata.ownerReferences?.map((o) => `${o.kind}/${o.name}`),
      ['StatefulSet/cache'],
    );
    assert.equal(u.spec.version, '1.2.0');
    assert.equal(u.spec.engine, 'generic');
    const done = await waitPhase(env, u.metadata.name, ['Completed', 'Failed', 'Paused']);
    assert.equal(done.status?.phase, 'Completed', done.status?.reason);
    assert.deepEqual(Object.values(await podImages(env, 'cache')), Array(3).fill('example/db:1.2.0'));
    assert.ok(tracker.maxUnready() <= 1, `one pod at a time (saw ${tracker.maxUnready()})`);
  });

  it("a managed RollingUpdate StatefulSet is frozen again after its roll by the runner's hand-back (the operator never writes it), so the next patch is Baton's too", async (t) => {
    const env = await setup(t, { readinessDelayMs: 30 });
    const labels = { [LABELS.managed]: 'true' };
    await createSettled(env, statefulSet('kv', 3, { labels, partition: 3 }));
    const tracker = await unreadyTracker(t, env, 'kv', 3);
    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    for (const version of ['1.2.0', '1.3.0']) {
      await env.apps.patchNamespacedStatefulSet(
        {
          namespace: env.ns,
          name: 'kv',
          body: {
            spec: { template: { spec: { containers: [{ name: 'db', image: `example/db:${version}` }] } } },
          },
        },
        merge,
      );
      await waitFor(`pods at ${version}`, async () =>
        Object.values(await podImages(env, 'kv')).every((i) => i === `example/db:${version}`),
      );
      const frozen = await waitFor('the roll frozen again', async () => {
        const s = await env.apps.readNamespacedStatefulSet({ namespace: env.ns, name: 'kv' });
        return s.spec?.updateStrategy?.rollingUpdate?.partition === 3 ? s : undefined;
      });
      assert.equal(frozen.status?.currentRevision, frozen.status?.updateRevision);
    }
    // The hand-back (the freeze given back) is the runner's last step before Completed.
    const phases = async () => {
      const r = (await env.custom.listNamespacedCustomObject({
        group: 'baton.dev',
        version: 'v1alpha1',
        namespace: env.ns,
        plural: 'upgrades',
        labelSelector: `${LABELS.statefulSet}=kv`,
      })) as { items: { spec: { version: string }; status?: { phase?: string } }[] };
      return r.items.map((u) => `${u.spec.version} ${u.status?.phase}`).sort();
    };
    await waitFor('both upgrades ended', async () => (await phases()).every((p) => !p.endsWith('Running')));
    assert.deepEqual(await phases(), ['1.2.0 Completed', '1.3.0 Completed']);
    assert.ok(tracker.maxUnready() <= 1, `one pod at a time (saw ${tracker.maxUnready()})`);
  });

  it('follows pause and resume written to the spec (kubectl patch) while it drives the roll', async (t) => {
    const env = await setup(t, { readinessDelayMs: 100 });
    await createSettled(env, statefulSet('pr', 4));
    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    await createUpgrade(env, 'pr-up', { target: { statefulSet: 'pr' }, version: '1.1.0' });
    await waitUpgrade(env, 'pr-up', 'one member done', (u) => (u.status?.progress?.done ?? 0) >= 1);
    const patch = (paused: boolean) =>
      env.custom.patchNamespacedCustomObject(
        {
          group: 'baton.dev',
          version: 'v1alpha1',
          namespace: env.ns,
          plural: 'upgrades',
          name: 'pr-up',
          body: { spec: { paused } },
        },
        merge,
      );
    await patch(true);
    const paused = await waitPhase(env, 'pr-up', ['Paused']);
    assert.ok((paused.status?.progress?.done ?? 0) < 4, 'paused before the end');
    assert.equal(paused.status?.conditions?.find((c) => c.type === 'Paused')?.status, 'True');
    await patch(false);
    const done = await waitPhase(env, 'pr-up', ['Completed', 'Failed']);
    assert.equal(done.status?.phase, 'Completed', done.status?.reason);
    for (const m of Object.values(done.status!.members!)) assert.equal(m.replaceCalls, 1);
  });
});
