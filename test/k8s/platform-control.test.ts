import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/upgrade.js';
import { nullLogger } from '../../src/core/logger.js';
import { MERGE_PATCH } from '../../src/platforms/kubernetes/api.js';
import { imageTag } from '../../src/platforms/kubernetes/members.js';
import {
  createSettled,
  startCluster,
  statefulSet,
  upgradeResource,
  watchUnready,
  wire,
} from './platform-fixture.js';

async function images(core: CoreV1Api, NS: string, app: string): Promise<Record<string, string>> {
  const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` });
  return Object.fromEntries(
    pods.items.map((p: V1Pod) => [p.metadata!.name!, imageTag(p.spec!.containers[0]!.image!)]),
  );
}

describe('KubernetesPlatform: control through the Upgrade resource', () => {
  it('OnDelete: Baton deletes pods one at a time in its own order (unready first), no roll rank', async (t) => {
    const { server, core, ns: NS } = await startCluster(t);
    await createSettled(server, statefulSet('db', 4, { onDelete: true }));
    // db-1 is unready before the upgrade: Baton's order replaces it first.
    await core.patchNamespacedPod(
      {
        namespace: NS,
        name: 'db-1',
        body: { metadata: { annotations: { 'fake.baton.dev/never-ready': 'true' } } },
      },
      MERGE_PATCH,
    );
    const watch = await watchUnready(t, server, 'db', 4);
    const w = await wire(server, upgradeResource('od', { version: '1.1.0', force: ['all-pods-ready'] }));
    const members = await w.platform.listMembers({ clock: w.clock, logger: nullLogger });
    assert.ok(members.every((m) => m.rollRank === undefined));
    assert.equal(members.find((m) => m.name === 'db-1')!.ready, false);

    const r = await w.runner.run();
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    assert.deepEqual(await images(core, NS, 'db'), {
      'db-0': '1.1.0',
      'db-1': '1.1.0',
      'db-2': '1.1.0',
      'db-3': '1.1.0',
    });
    assert.equal(watch.deletions()[0], 'db-1', 'the unready member goes first');
    assert.equal(new Set(watch.deletions()).size, 4);
    assert.equal(watch.deletions().length, 4, 'each pod deleted exactly once');
    assert.equal(watch.maxUnready(), 1);
    assert.ok(r.status.history.some((h) => h.type === 'force' || /forced/.test(h.message)));

    // The CRD marks status an atomic map: the apiserver's field manager records Baton's status
    // writes as one field, not one per leaf of the journal.
    const raw = (await server
      .kubeConfig({ direct: true })
      .makeApiClient(CustomObjectsApi)
      .getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NS,
        plural: PLURAL,
        name: 'od',
      })) as {
      metadata: { managedFields: { subresource?: string; fieldsV1: unknown }[] };
    };
    const statusFields = raw.metadata.managedFields.filter((f) => f.subresource === 'status');
    assert.ok(statusFields.length > 0, 'Baton wrote status through the status subresource');
    for (const f of statusFields) assert.deepEqual(f.fieldsV1, { 'f:status': {} });
  });

  it('pause stops new members, resume continues, the status conditions follow', async (t) => {
    const { server, core, ns: NS } = await startCluster(t);
    await createSettled(server, statefulSet('db', 5));
    const watch = await watchUnready(t, server, 'db', 5);
    const w = await wire(server, upgradeResource('pr', { version: '1.1.0' }));
    await w.runner.run({ stopWhen: (r) => r.status.progress.done === 2 });
    await w.journal.updateSpec('pr', (s) => ({ ...s, paused: true }));
    const p = await w.runner.run({ stopWhen: (r) => r.status.phase === 'Paused' });
    assert.equal(p.status.phase, 'Paused');

    const res = await w.journal.getResource('pr');
    assert.equal(res!.spec.paused, true);
    assert.equal(res!.metadata.generation, 2);
    const cond = Object.fromEntries(res!.status!.conditions!.map((c) => [c.type, c]));
    assert.equal(cond.Paused!.status, 'True');
    assert.equal(cond.Paused!.reason, 'PausedBySpec');
    assert.equal(cond.Progressing!.status, 'False');
    assert.equal(cond.Ready!.status, 'False');
    const doneWhenPaused = res!.status!.progress!.done;
    assert.equal(res!.status!.progressText, `${doneWhenPaused}/5`);
    assert.ok(doneWhenPaused >= 2 && doneWhenPaused <= 3);

    // Paused: a few more reconciles change nothing on the StatefulSet.
    const before = await images(core, NS, 'db');
    server.resetRequests();
    for (let i = 0; i < 3; i++) await w.runner.reconcile();
    assert.equal(server.requests().byVerbResource['patch statefulsets'] ?? 0, 0);
    assert.equal(server.requests().byVerbResource['delete pods'] ?? 0, 0);
    assert.deepEqual(await images(core, NS, 'db'), before);

    const pausedSince = cond.Paused!.lastTransitionTime;
    await w.journal.updateSpec('pr', (s) => ({ ...s, paused: false }));
    const done = await w.runner.run();
    assert.equal(done.status.phase, 'Completed', done.status.reason);
    const end = await w.journal.getResource('pr');
    const endCond = Object.fromEntries(end!.status!.conditions!.map((c) => [c.type, c]));
    assert.equal(endCond.Paused!.status, 'False');
    assert.notEqual(endCond.Paused!.lastTransitionTime, undefined);
    assert.ok(endCond.Paused!.lastTransitionTime >= pausedSince);
    assert.equal(end!.status!.observedGeneration, 3);
    assert.equal(watch.maxUnready(), 1);
  });

  it('cancel: upgraded pods stay upgraded, no new one starts, the roll stays frozen', async (t) => {
    const { server, core, apps, ns: NS } = await startCluster(t);
    await createSettled(server, statefulSet('db', 4));
    const w = await wire(server, upgradeResource('cx', { version: '1.1.0' }));
    await w.runner.run({ stopWhen: (r) => r.status.progress.done === 1 });
    await w.journal.updateSpec('cx', (s) => ({ ...s, cancel: true }));
    const r = await w.runner.run();
    assert.equal(r.status.phase, 'Cancelled', r.status.reason);
    const imgs = await images(core, NS, 'db');
    const upgraded = Object.entries(imgs)
      .filter(([, v]) => v === '1.1.0')
      .map(([k]) => k)
      .sort();
    assert.ok(upgraded.includes('db-3'));
    assert.ok(!upgraded.includes('db-0'));
    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    assert.ok(
      sts.spec!.updateStrategy!.rollingUpdate!.partition! >= 1,
      'the controller does not finish the roll',
    );
    const res = await w.journal.getResource('cx');
    assert.equal(res!.status!.conditions!.find((c) => c.type === 'Ready')!.reason, 'Cancelled');
  });
});
