import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { BadInputError } from '../../src/core/errors.js';
import { nullLogger } from '../../src/core/logger.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/upgrade.js';
import { UpgradeResourceJournal } from '../../src/platforms/kubernetes/journal.js';
import { KubernetesPlatform } from '../../src/platforms/kubernetes/statefulset.js';
import { createSettled, fastClock, startCluster, statefulSet, upgradeResource } from './platform-fixture.js';
import { engineRegistry } from '../../src/engines/registry.js';

const isBad = (pattern: RegExp) => (err: unknown) =>
  err instanceof BadInputError && pattern.test(err.message);

describe('Upgrade resource specs: bad ones are rejected with the field and nothing is touched', () => {
  it('createResource validates before writing anything', async (t) => {
    const { server, kc, ns: NS } = await startCluster(t);
    const journal = new UpgradeResourceJournal({ kc, namespace: NS });
    server.resetRequests();
    await assert.rejects(
      journal.createResource(
        upgradeResource('x', { version: '1.1.0', strategy: { soak: 'forever' } } as never),
      ),
      isBad(/^spec\.strategy\.soak: a duration like/),
    );
    await assert.rejects(
      journal.createResource(upgradeResource('x', { version: '', target: {} } as never)),
      isBad(/^spec\.version/),
    );
    await assert.rejects(
      journal.createResource(
        upgradeResource('x', {
          version: '1.1.0',
          target: { statefulSet: 'a', statefulSets: [{ name: 'b' }] },
        }),
      ),
      isBad(/^spec\.target: set exactly one of statefulSet, statefulSets, cluster or nodes/),
    );
    assert.equal(server.requests().total, 0);
  });

  it('an invalid resource already stored: get names the field, list skips it, markInvalid records it; no StatefulSet request', async (t) => {
    const { server, kc, ns: NS } = await startCluster(t);
    await createSettled(server, statefulSet('db', 2));
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: PLURAL,
      body: upgradeResource('broken', {
        version: '1.1.0',
        target: { statefulSet: 'db', statefulSets: [{ name: 'db' }] },
      }),
    });
    const journal = new UpgradeResourceJournal({ kc, namespace: NS });
    server.resetRequests();
    await assert.rejects(journal.get('broken'), isBad(/^spec\.target: set exactly one/));
    assert.deepEqual(await journal.list(), []);
    const res = (await journal.getResource('broken'))!;
    await journal.markInvalid(
      res,
      new BadInputError('bad-spec', 'spec.target: set exactly one of statefulSet, statefulSets or cluster'),
    );
    const after = (await journal.getResource('broken'))!;
    assert.equal(after.status!.phase, 'Failed');
    const ready = after.status!.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.status, 'False');
    assert.equal(ready.reason, 'InvalidSpec');
    assert.match(ready.message, /spec\.target/);
    assert.equal(after.status!.observedGeneration, 1);
    const stsRequests = server
      .requests()
      .entries.filter((e) => e.resource.startsWith('statefulsets') || e.resource === 'pods');
    assert.deepEqual(stsRequests, []);
  });

  it('a target that is an engine cluster reference, or a StatefulSet that does not exist, is bad input', async (t) => {
    const { server, kc, ns: NS } = await startCluster(t);
    const journal = new UpgradeResourceJournal({ kc, namespace: NS });
    const ctx = { clock: fastClock, logger: nullLogger };
    const mk = (target: Record<string, unknown>) =>
      new KubernetesPlatform({
        kc,
        engines: engineRegistry,
        namespace: NS,
        upgrade: upgradeResource('u', { version: '1.1.0', target }),
        journal,
        clock: fastClock,
        logger: nullLogger,
      });
    await assert.rejects(
      mk({ cluster: { kind: 'TidbCluster', name: 'basic' } }).listMembers(ctx),
      isBad(/^spec\.target: upgrade u names no StatefulSet/),
    );
    server.resetRequests();
    await assert.rejects(
      mk({ statefulSet: 'ghost' }).listMembers(ctx),
      isBad(new RegExp(`statefulset ${NS}/ghost not found`)),
    );
    await assert.rejects(
      mk({ statefulSet: 'ghost' }).replaceMember('ghost-0', '2.0.0', {}, ctx),
      isBad(/not found/),
    );
    await assert.rejects(
      mk({ statefulSet: 'ghost' }).replaceMember('other-0', '2.0.0', {}, ctx),
      isBad(/not a pod of the upgrade's StatefulSets \(ghost\)/),
    );
    assert.equal(server.requests().byVerb.patch ?? 0, 0);
    assert.equal(server.requests().byVerb.delete ?? 0, 0);
  });
});
