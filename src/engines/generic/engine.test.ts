import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PlatformMember } from '../../core/types.js';
import { engineRules } from '../registry.js';
import { parseVersion } from '../../core/version.js';
import { GenericEngine } from './engine.js';

const m = (name: string, ready: boolean, extra: Partial<PlatformMember> = {}): PlatformMember => ({
  name,
  component: 'web',
  ordinal: Number(name.split('-')[1]),
  version: '1.0.0',
  ready,
  running: true,
  ...extra,
});

test('generic engine: readiness is health, no roles, prechecks name the pods', async () => {
  const e = new GenericEngine();
  assert.equal(engineRules('generic'), e.rules);
  const obs = await e.observe([m('web-0', true), m('web-1', false, { detail: 'Pending, not Ready' })]);
  assert.deepEqual(obs.members['web-0'], {
    role: 'none',
    healthy: true,
    caughtUp: true,
    lag: 0,
    detail: 'ready',
  });
  assert.equal(obs.members['web-1']!.healthy, false);
  assert.equal(obs.health.healthy, false);
  assert.match(obs.health.detail, /1 of 2 members not ready: web-1/);

  const snapshot = {
    observedAt: 0,
    members: [m('web-0', true), m('web-1', false, { failed: true, detail: 'db: ImagePullBackOff' })],
    health: obs.health,
  };
  const checks = await e.prechecks(snapshot);
  assert.deepEqual(
    checks.map((c) => [c.name, c.ok]),
    [
      ['all-pods-ready', false],
      ['no-pod-failing', false],
    ],
  );
  assert.match(checks[1]!.reason, /web-1 \(db: ImagePullBackOff\)/);
  const ok = await e.prechecks({ ...snapshot, members: [m('web-0', true)] });
  assert.ok(ok.every((c) => c.ok));
  assert.match((await e.drain(m('web-0', true))).message, /nothing to drain/);
});

test('generic rules: any version change in one pass, downgrades included', () => {
  const r = engineRules('generic').versions;
  assert.deepEqual(r.direct(parseVersion('1.0.0'), parseVersion('9.0.0')), { ok: true });
  assert.deepEqual(r.direct(parseVersion('2.0.0'), parseVersion('1.0.0')), { ok: true });
  assert.deepEqual(r.allowDowngrade(parseVersion('2.0.0'), parseVersion('1.0.0')), { ok: true });
});
