import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../core/clock.js';
import { nullLogger } from '../../core/logger.js';
import { engineRules } from '../../engines/registry.js';
import { parseSimClusterYaml } from './description.js';
import { createSimWorld } from './world.js';
import { engineRegistry } from '../../engines/registry.js';

const dir = join(import.meta.dirname, 'examples');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('example cluster files', () => {
  it('cover every non-local engine', () => {
    assert.deepEqual(files.sort(), [
      'cockroachdb.yaml',
      'kubernetes.yaml',
      'redis-enterprise.yaml',
      'sim.yaml',
      'tidb.yaml',
    ]);
  });

  for (const file of files) {
    it(`${file} parses, builds a world and answers its prechecks`, async () => {
      const description = parseSimClusterYaml(readFileSync(join(dir, file), 'utf8'), engineRegistry, file);
      const clock = new FakeClock();
      const w = createSimWorld(description, { clock });
      const ctx = { clock, logger: nullLogger };
      const members = await w.platform.listMembers(ctx);
      assert.equal(
        members.length,
        description.components.reduce((n, c) => n + c.members.length, 0),
      );
      const members2 = members.map((m) => {
        const engine = w.cluster.engineState(m.name);
        return engine ? { ...m, engine } : m;
      });
      const results = await w.engine.prechecks(
        { observedAt: clock.now(), members: members2, health: w.cluster.health() },
        undefined as never,
        ctx,
      );
      assert.deepEqual(
        results.map((r) => r.name),
        engineRules(description.engine).prechecks.map((p) => p.name),
      );
      const failing = results.filter((r) => !r.ok).map((r) => r.name);
      const expected: Record<string, string[]> = {
        'sim.yaml': ['replication-caught-up'],
        'kubernetes.yaml': ['drain-simulation'],
      };
      assert.deepEqual(failing, expected[file] ?? []);
    });
  }
});
