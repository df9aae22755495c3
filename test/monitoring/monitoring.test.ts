/**
 * deploy/monitoring/ against the real thing: every metric the Grafana dashboard and the
 * PrometheusRule name exists in the /metrics of a running operator (driving a paused Upgrade, so the
 * per-upgrade series are there too), and promtool (Debian's prometheus package) checks the rules and
 * runs their unit tests.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { parse, stringify } from 'yaml';
import { waitFor } from '../kube/helpers.js';
import { ROOT } from '../local/helpers.js';
import {
  createSettled,
  createUpgrade,
  makeOperator,
  setup,
  statefulSet,
  waitPhase,
} from '../k8s/operator-fixtures.js';

const DIR = join(ROOT, 'deploy', 'monitoring');

interface Rules {
  spec: { groups: { name: string; rules: { alert?: string; expr: string }[] }[] };
}

/** Every PromQL expression of the dashboard's panels. */
async function dashboardExprs(): Promise<string[]> {
  const d = JSON.parse(await readFile(join(DIR, 'grafana-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  return d.panels.flatMap((p) => p.targets.map((t) => t.expr));
}

async function rules(): Promise<Rules> {
  return parse(await readFile(join(DIR, 'prometheus-rule.yaml'), 'utf8')) as Rules;
}

/** Metric names in PromQL `exprs`, histogram series folded to their metric. */
function metricNames(exprs: string[]): string[] {
  const names = exprs.flatMap((e) => e.match(/\bbaton_[a-z_]+\b/g) ?? []);
  return [...new Set(names.map((n) => n.replace(/_(bucket|count|sum)$/, '')))].sort();
}

const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

describe('deploy/monitoring', () => {
  it('names only metrics a running operator exports', async (t) => {
    const exprs = [
      ...(await dashboardExprs()),
      ...(await rules()).spec.groups.flatMap((g) => g.rules.map((r) => r.expr)),
    ];
    const wanted = metricNames(exprs);
    assert.ok(wanted.length >= 12, `metrics named: ${wanted.join(', ')}`);

    const env = await setup(t);
    await createSettled(env, statefulSet('web', 3));
    const op = makeOperator(t, env, { port: 0, host: '127.0.0.1', registry: new Registry() });
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    await createUpgrade(env, 'web-up', { target: { statefulSet: 'web' }, version: '1.1.0', paused: true });
    await waitPhase(env, 'web-up', ['Paused']);
    const text = await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text();
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const missing = wanted.filter((n) => !exported.has(n));
    assert.deepEqual(missing, [], `named in deploy/monitoring but not in /metrics: ${missing.join(', ')}`);

    assert.match(
      text,
      /^baton_upgrade_info\{namespace="[^"]+",upgrade="web-up",engine="generic",phase="Paused"\} 1$/m,
    );
    assert.match(text, /^baton_upgrade_paused_timestamp_seconds\{namespace="[^"]+",upgrade="web-up"\} \d+/m);
    const paused = Number(/^baton_upgrade_paused_timestamp_seconds\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
    const expiry = Number(/^baton_upgrade_expiry_timestamp_seconds\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
    assert.equal(expiry - paused, 15 * 86400, 'the default expiry of 15 days');
    assert.match(
      text,
      /^baton_upgrade_timeout_seconds\{namespace="[^"]+",upgrade="web-up",step="ready"\} 600$/m,
    );
    assert.match(text, /^baton_upgrade_members\{namespace="[^"]+",upgrade="web-up",state="pending"\} 3$/m);
    assert.match(text, /^baton_api_lists_total\{resource="upgrades"\} [1-9]/m);
    await op.stop();
  });

  it(
    'has rules promtool accepts, and its alert unit tests pass',
    { skip: promtool ? false : 'promtool is not installed (apt-get install prometheus)' },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'baton-rules-'));
      try {
        await writeFile(join(dir, 'rules.yaml'), stringify({ groups: (await rules()).spec.groups }));
        await copyFile(join(DIR, 'rules.test.yaml'), join(dir, 'rules.test.yaml'));
        const check = execFileSync(promtool!, ['check', 'rules', 'rules.yaml'], {
          cwd: dir,
          encoding: 'utf8',
        });
        assert.match(check, /SUCCESS: 6 rules found/);
        const run = execFileSync(promtool!, ['test', 'rules', 'rules.test.yaml'], {
          cwd: dir,
          encoding: 'utf8',
        });
        assert.match(run, /SUCCESS/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
