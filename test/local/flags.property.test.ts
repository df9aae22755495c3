/**
 * Every flag is checked, whatever the cluster's state (issue 10 part 7): for every option that takes
 * a value, of every command, generated malformed values exit 2 with one line on stderr, nothing on
 * stdout, and change nothing - not the cluster's state file, not its journal. The base command line
 * names the version the cluster already runs (`--to 3.4.23`), the case that used to short-circuit to
 * "nothing to do" before the rest was validated. The option list is read from the CLI itself, so a
 * new flag without a malformed-value family here fails the coverage test.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Command } from 'commander';
import fc from 'fast-check';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { buildProgram } from '../../src/cli/main.js';
import { createLocalCluster, installed, runCli, tempStateDir } from './helpers.js';

const CLUSTER = 'flags';
let stateDir = '';
let running = '';
let cleanup: () => Promise<void> = async () => {};

const BLANK = ['', ' '];
const NUMBER = [...BLANK, 'x', '-1', '1.5', '1e99', '0x10', '99999999999'];
const DURATION = [...BLANK, 'x', '-1s', '5y', 's', '1 minute', '0.5.1s'];
const POSITIVE_DURATION = [...DURATION, '0s', '0'];
const VERSION = [...BLANK, 'banana', '1..2', 'v', '3.4.x'];
const PAIR = [...BLANK, 'a', '=b', 'a=', '='];

/** Malformed values by long flag name. Free-text flags (paths, names) have only blank values. */
const MALFORMED: Readonly<Record<string, readonly string[]>> = {
  '--platform': [...BLANK, 'mars', 'LOCAL'],
  '--state-dir': BLANK,
  '--cluster': BLANK,
  '--engine': BLANK,
  '--members': NUMBER,
  '--from': VERSION,
  '--file': BLANK,
  '--seed': NUMBER,
  '--binary': PAIR,
  '--namespace': [...BLANK, 'Not_A_Name'],
  '--kubeconfig': BLANK,
  '--context': BLANK,
  '--statefulset': BLANK,
  '--cluster-ref': BLANK,
  '--cluster-api-version': BLANK,
  '--endpoint': BLANK,
  '--name': BLANK,
  '--output': [...BLANK, 'xml', 'JSON', 'wide-ish'],
  '--to': VERSION,
  '--component-version': [...PAIR, 'etcd=banana'],
  '--batch': [...BLANK, 'serial:3', 'fixed', 'fixed:0', 'percent:101', 'exponential:0', 'sometimes'],
  '--max-unavailable': [...NUMBER, '0'],
  '--soak': DURATION,
  '--drain-timeout': POSITIVE_DURATION,
  '--drain-timeout-policy': [...BLANK, 'maybe', 'PAUSE'],
  '--ready-timeout': POSITIVE_DURATION,
  '--ready-timeout-policy': [...BLANK, 'maybe'],
  '--force': BLANK,
  '--finalize': [...BLANK, 'never'],
  '--paused-expiry': POSITIVE_DURATION,
  '--max-error-rate': [...BLANK, '2', '-0.1', '150%', 'x'],
  '--max-gap': DURATION,
  '--max-write-gap': DURATION,
  '--max-p99': DURATION,
  '--probe-rate': [...BLANK, 'x', '0', '-1', '1e99'],
  '--probe-workers': [...NUMBER, '0'],
  '--probe-read-ratio': [...BLANK, '2', '-0.1', '150%', 'x'],
  '--probe-baseline': DURATION,
  '--html': BLANK,
  '--json': BLANK,
  '--markdown': BLANK,
  '--probe-log': BLANK,
  '--address': [...BLANK, 'localhost:8080', '300.1.1.1', 'x'],
  '--refresh': [...NUMBER, '99'],
  '--report': BLANK,
  '--version': VERSION,
  '--image': [...BLANK, 'has space'],
  '--out-dir': BLANK,
  '--port': [...NUMBER, '65536'],
  '--host': BLANK,
  '--identity': BLANK,
  '--lease-name': BLANK,
  '--lease-namespace': [...BLANK, 'Not_A_Name'],
  '--workers': [...NUMBER, '0', '65'],
  '--control-plane-selector': [...BLANK, 'a b', 'x=1=2'],
  '--pool': [...BLANK, 'a', '=b', 'A=x', 'control-plane=x', 'a=b c'],
  '--via': VERSION,
  '--actuator': [...BLANK, 'ssh', 'JOB'],
  '--job-image': BLANK,
  '--job-command': BLANK,
  '--job-env': [...BLANK, 'a', '=b', '1A=x'],
  '--job-namespace': [...BLANK, 'Not_A_Name'],
  '--replace-image': BLANK,
  '--replace-command': BLANK,
  '--grace-period': NUMBER,
  '--credentials-secret': [...BLANK, 'Not_A_Name'],
};

/** Every command path (`apply`, `cluster create`) with the long names of its value options. */
function valueFlags(): { path: string[]; flags: string[] }[] {
  const io = {
    stdout: { write() {}, isTTY: false },
    stderr: { write() {}, isTTY: false },
    env: {},
    clock: systemClock,
    logger: nullLogger,
  };
  const out: { path: string[]; flags: string[] }[] = [];
  const walk = (cmd: Command, path: string[]) => {
    const flags = cmd.options.filter((o) => o.required || o.optional).map((o) => o.long!);
    if (cmd.commands.length === 0) out.push({ path, flags });
    for (const sub of cmd.commands) walk(sub, [...path, sub.name()]);
  };
  walk(buildProgram(io, { code: 0 }), []);
  return out;
}

/** Positional arguments and required flags a command needs besides the flag under test. */
function baseArgs(path: string[]): string[] {
  const local = ['--state-dir', stateDir];
  switch (path.join(' ')) {
    case 'plan':
    case 'apply':
      return [...local, '--to', running];
    case 'cluster create':
      return ['other', '--engine', 'etcd', ...local];
    case 'cluster delete':
      return [CLUSTER, ...local];
    case 'cluster list':
    case 'check':
    case 'status':
    case 'history':
    case 'pause':
    case 'resume':
    case 'cancel':
    case 'finalize':
    case 'rollback':
    case 'report':
    case 'dashboard':
      return local;
    default:
      return [];
  }
}

/** A digest of everything Baton keeps about the cluster (its state file and journal), by file. */
async function batonFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const root = join(dir, 'clusters', CLUSTER);
  for (const f of await readdir(root, { recursive: true })) {
    const path = join(root, String(f));
    if (String(f).includes('data') || String(f).endsWith('.log') || !(await stat(path)).isFile()) continue;
    out[String(f)] = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  }
  return out;
}

before(async () => {
  if (!installed('etcd')) return;
  const state = await tempStateDir('flags');
  stateDir = state.dir;
  cleanup = state.cleanup;
  await createLocalCluster(stateDir, CLUSTER, 'etcd', 1);
  const list = JSON.parse((await runCli(['cluster', 'list', '--state-dir', stateDir, '-o', 'json'])).stdout);
  running = list[0].members[0].version;
});
after(() => cleanup());

test('every value option of every command has malformed values to try', () => {
  const missing = valueFlags()
    .flatMap(({ path, flags }) => flags.map((f) => `${path.join(' ')} ${f}`))
    .filter((x) => !(x.split(' ').pop()! in MALFORMED));
  assert.deepEqual(missing, [], 'add a malformed-value family for each new flag to MALFORMED');
});

test('a malformed value of any flag of any command: exit 2, one line, nothing changed', async (t) => {
  if (!installed('etcd')) return t.skip('etcd is not installed');
  const cases = valueFlags().flatMap(({ path, flags }) =>
    flags.filter((f) => f in MALFORMED).map((flag) => ({ path, flag })),
  );
  const before = await batonFiles(stateDir);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...cases).chain(({ path, flag }) =>
        fc.record({
          path: fc.constant(path),
          flag: fc.constant(flag),
          value: fc.constantFrom(...MALFORMED[flag]!),
          last: fc.boolean(),
        }),
      ),
      async ({ path, flag, value, last }) => {
        // The bad flag goes before or after the valid ones: position must not matter.
        const bad = [`${flag}=${value}`];
        const argv = last ? [...path, ...baseArgs(path), ...bad] : [...path, ...bad, ...baseArgs(path)];
        const run = await runCli(argv);
        const lines = run.stderr.split('\n').filter((l) => l !== '');
        assert.equal(run.code, 2, `baton ${argv.join(' ')} exited ${run.code}: ${run.stderr}${run.stdout}`);
        assert.equal(lines.length, 1, `baton ${argv.join(' ')} printed ${lines.length} lines: ${run.stderr}`);
        assert.match(lines[0]!, /^error: /);
        assert.equal(run.stdout, '', `baton ${argv.join(' ')} printed on stdout: ${run.stdout}`);
      },
    ),
    { numRuns: 1000, seed: Number(process.env.BATON_PROPERTY_SEED ?? 10) },
  );
  assert.deepEqual(await batonFiles(stateDir), before, 'the cluster state and journal are unchanged');
});
