/**
 * Take-over and hand-back on the real control plane, as the runner's own journalled steps: the
 * Baton process dies right after each of their journal writes (the intent of the take-over, its
 * outcome, the intent of the hand-back, its outcome) and a fresh Runner continues from the Upgrade
 * resource. The roll still ends Completed with every pod replaced once, the StatefulSet frozen
 * before the first pod went and given its strategy back at the end, and observation never wrote.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JournalStore } from '../../src/core/ports.js';
import type { UpgradeStatus } from '../../src/core/types.js';
import { nullLogger } from '../../src/core/logger.js';
import { isProcessCrash, Runner } from '../../src/runner/runner.js';
import { ORIGINAL_STRATEGY_ANNOTATION } from '../../src/platforms/kubernetes/statefulset.js';
import { MERGE_PATCH } from '../../src/platforms/kubernetes/api.js';
import { LABELS } from '../../src/api/upgrade.js';
import {
  createSettled,
  startCluster,
  statefulSet,
  upgradeResource,
  watchUnready,
  wire,
} from './platform-fixture.js';

/** The journal writes the process dies right after, each once, in the order they come. */
const CRASH_AFTER: [string, (s: UpgradeStatus) => boolean][] = [
  [
    'take-over intent',
    (s) => s.custody === undefined && s.progress.step?.startsWith('take the members') === true,
  ],
  ['take-over done', (s) => s.custody === 'held' && Object.values(s.members).every((m) => !m.replaceIssued)],
  [
    'hand-back intent',
    (s) => s.custody === 'held' && s.progress.step?.startsWith('hand the members') === true,
  ],
  ['hand-back done', (s) => s.custody === 'returned'],
];

/** `inner`, dying (a process crash) right after the first write each crash point matches. */
function crashingJournal(inner: JournalStore, crashed: string[]): JournalStore {
  return {
    create: (spec, status) => inner.create(spec, status),
    get: (name) => inner.get(name),
    list: () => inner.list(),
    updateSpec: (name, fn) => inner.updateSpec(name, fn),
    async writeStatus(name, status, revision) {
      const rev = await inner.writeStatus(name, status, revision);
      const point = CRASH_AFTER.find(([what, match]) => !crashed.includes(what) && match(status));
      if (point) {
        crashed.push(point[0]);
        throw Object.assign(new Error(`crash after the ${point[0]} write`), { processCrash: true });
      }
      return rev;
    },
  };
}

/**
 * Roll `db` (3 pods) to 1.1.0 through a runner that dies after each custody write, restarting it
 * each time; checks the end state: Completed, the strategy `db` had before the roll back (for a
 * managed StatefulSet: frozen again, by the runner's hand-back, nothing else), each pod replaced
 * once, frozen before the first pod went and restored after the last.
 */
async function crashBetweenCustodySteps(
  t: Parameters<typeof startCluster>[0],
  opts: { managed?: boolean } = {},
): Promise<void> {
  const { server, ns: NS, apps } = await startCluster(t);
  const managed = opts.managed ? { labels: { [LABELS.managed]: 'true' }, partition: 3 } : {};
  await createSettled(server, statefulSet('db', 3, managed));
  if (opts.managed) {
    // The user's template change: frozen, so the controller restarts nothing by itself.
    await apps.patchNamespacedStatefulSet(
      {
        namespace: NS,
        name: 'db',
        body: {
          spec: {
            template: { spec: { containers: [{ name: 'db', image: 'registry.local:5000/db:1.1.0' }] } },
          },
        },
      },
      MERGE_PATCH,
    );
  }
  const watch = await watchUnready(t, server, 'db', 3);
  const w = await wire(server, upgradeResource('db-up', { version: '1.1.0' }));
  const plan = (await w.journal.get('db-up'))!.status.plan!;
  assert.deepEqual(plan.custody, {
    takeOver: 'freeze statefulset db (partition=3)',
    handBack:
      "restore statefulset db's update strategy once every pod is Ready at the update revision (a cancelled roll stays held)",
  });
  const before = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
  const crashed: string[] = [];
  const platform = w.platform;
  const crashing = {
    name: platform.name,
    listMembers: platform.listMembers.bind(platform),
    replaceMember: platform.replaceMember.bind(platform),
    prechecks: platform.prechecks.bind(platform),
    custody: platform.custody,
    journal: crashingJournal(w.journal, crashed),
  };
  let status: UpgradeStatus | undefined;
  for (let restarts = 0; restarts <= CRASH_AFTER.length; restarts++) {
    const runner = new Runner({
      platform: crashing,
      engine: w.engine,
      clock: w.clock,
      logger: nullLogger,
      name: 'db-up',
    });
    try {
      status = (await runner.run()).status;
      break;
    } catch (err) {
      if (!isProcessCrash(err)) throw err;
    }
  }
  assert.deepEqual(
    crashed,
    CRASH_AFTER.map(([what]) => what),
  );
  assert.equal(status?.phase, 'Completed', status?.reason);

  const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
  assert.deepEqual(sts.spec!.updateStrategy, before.spec!.updateStrategy, 'original strategy back');
  if (opts.managed) assert.equal(sts.spec!.updateStrategy!.rollingUpdate!.partition, 3, 'frozen again');
  assert.equal(sts.metadata!.annotations?.[ORIGINAL_STRATEGY_ANNOTATION], undefined);
  assert.deepEqual(watch.deletions(), ['db-2', 'db-1', 'db-0'], 'each pod replaced once, highest first');

  const steps = status!.history.filter((h) => h.type === 'step').map((h) => h.message);
  const frozen = steps.findIndex((m) => m.startsWith('statefulset db frozen at partition 3 (was {'));
  const restored = steps.findIndex((m) =>
    m.startsWith('statefulset db: roll over, update strategy restored to '),
  );
  assert.ok(frozen >= 0 && restored > frozen, `history:\n${steps.join('\n')}`);
}

describe('KubernetesPlatform custody: crash between the steps', () => {
  it('dies after each take-over and hand-back write; a fresh runner resumes to Completed, each pod replaced once', async (t) => {
    await crashBetweenCustodySteps(t);
  });

  it('a managed StatefulSet frozen before its roll is frozen again by the hand-back alone, crashes between the steps included', async (t) => {
    await crashBetweenCustodySteps(t, { managed: true });
  });

  it('observation never writes: listing the members of a frozen StatefulSet whose pods all run the update revision leaves it as it is', async (t) => {
    const { server, ns: NS, apps } = await startCluster(t);
    await createSettled(server, statefulSet('db', 2));
    const w = await wire(server, upgradeResource('db-up', { version: '1.1.0' }));
    const ctx = { clock: w.clock, logger: nullLogger };
    await w.platform.custody.takeOver((await w.journal.get('db-up'))!.spec, ctx);
    const frozen = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    assert.equal(frozen.spec!.updateStrategy!.rollingUpdate!.partition, 2);
    for (let i = 0; i < 3; i++) await w.platform.listMembers(ctx);
    const after = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    assert.equal(after.metadata!.resourceVersion, frozen.metadata!.resourceVersion, 'no write');
  });
});
