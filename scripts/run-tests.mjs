#!/usr/bin/env node
// `npm test`: sets up what the tests need, then runs every *.test.ts under src/ and test/ with
// node:test through tsx. Node 20's test runner does not expand globs, so the files are listed
// here. Extra arguments narrow the run to paths containing any of them: `npm test -- runner plan`.
//
// 1. scripts/setup-tests.sh installs missing Debian packages (as root) and, when a selected file
//    needs Kubernetes, builds the control plane into its cache (seconds once built).
// 2. One real control plane (test/kube/controlplane-main.ts) is started for the whole run when a
//    selected file needs it; test files find it through BATON_CONTROLPLANE and each test takes
//    its own namespace and fake nodes. It is stopped when the tests end.
import { existsSync, readFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { setTimeout, clearTimeout } from 'node:timers';

const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = ['src', 'test']
  .flatMap((dir) => readdirSync(dir, { recursive: true }).map((f) => join(dir, String(f))))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(2);
}

// A file needs the control plane when it lives with the Kubernetes harness or imports from it.
// A file needs the control plane when it lives under test/kube or test/k8s or imports from there,
// itself or through a fixture beside it (test/nodes/k8s-job.test.ts -> ./k8s-fixture.ts -> ../kube/).
const KUBE_IMPORT = /from '[^']*\/(kube|k8s)\/[^']*'/;
function importsKube(file, seen = new Set()) {
  if (seen.has(file)) return false;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  if (KUBE_IMPORT.test(text)) return true;
  return [...text.matchAll(/from '(\.\/[^']+)\.js'/g)].some((m) => {
    const dep = join(dirname(file), `${m[1]}.ts`);
    return existsSync(dep) && importsKube(dep, seen);
  });
}
const needsKube = files.some(
  (f) => f.startsWith(join('test', 'kube')) || f.startsWith(join('test', 'k8s')) || importsKube(f),
);

const setup = spawnSync('bash', ['scripts/setup-tests.sh', ...(needsKube ? ['--controlplane'] : [])], {
  stdio: 'inherit',
});
if (setup.status !== 0) process.exit(setup.status ?? 1);

let plane;
const env = { ...process.env };
if (needsKube && !process.env.BATON_CONTROLPLANE) {
  plane = await startPlane();
  env.BATON_CONTROLPLANE = plane.info;
}

const concurrency = process.env.BATON_TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...passthrough, ...files],
  { stdio: 'inherit', env },
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', async (code, signal) => {
  if (plane) await plane.stop();
  process.exit(code ?? (signal ? 1 : 0));
});

/** Start test/kube/controlplane-main.ts and wait for its ready line. */
async function startPlane() {
  const dir = mkdtempSync(join(tmpdir(), 'baton-test-run-'));
  const info = join(dir, 'controlplane.json');
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/kube/controlplane-main.ts', info], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const ready = await new Promise((resolve) => {
    const lines = createInterface({ input: proc.stdout });
    lines.on('line', (line) => {
      console.log(line);
      if (line.startsWith('controlplane ready')) resolve(true);
    });
    exited.then(() => resolve(false));
  });
  if (!ready) {
    rmSync(dir, { recursive: true, force: true });
    console.error('the Kubernetes control plane did not start (see above)');
    process.exit(1);
  }
  return {
    info,
    async stop() {
      // Ending its stdin makes it stop every component; SIGKILL by PID if it hangs.
      proc.stdin.end();
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
