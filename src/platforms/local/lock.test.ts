import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { systemClock } from '../../core/clock.js';
import { LOCK_FILE, type LockAttempt, type LockHolder, tryLock, withClusterLock } from './lock.js';
import type { ProcessIdentity } from './process.js';
import { identify, spawnDetached, stopProcess } from './process.js';

const dir = await mkdtemp(join(tmpdir(), 'baton-lock-'));
const started: ProcessIdentity[] = [];
after(async () => {
  for (const id of started) await stopProcess(id, { timeoutMs: 100, clock: systemClock });
  await rm(dir, { recursive: true, force: true });
});

test('holders never overlap and the lock file is gone afterwards', async () => {
  let inside = 0;
  let most = 0;
  const work = async () => {
    inside++;
    most = Math.max(most, inside);
    await systemClock.sleep(20);
    inside--;
  };
  await Promise.all([1, 2, 3, 4].map(() => withClusterLock(dir, systemClock, work)));
  assert.equal(most, 1);
  await assert.rejects(stat(join(dir, LOCK_FILE)), /ENOENT/);
});

test('a lock left by a dead process is broken at once', async () => {
  const me = await identify(process.pid);
  assert.ok(me);
  await writeFile(join(dir, LOCK_FILE), JSON.stringify({ ...me, startTicks: me.startTicks + 1 }));
  assert.equal(await withClusterLock(dir, systemClock, async () => 'ran', 1_000), 'ran');
});

test('an empty lock file (its writer killed while creating it) is taken over at once, no draft left', async () => {
  await writeFile(join(dir, LOCK_FILE), '');
  // A timeout shorter than any wait: the lock must be taken over, not waited for.
  assert.equal(await withClusterLock(dir, systemClock, async () => 'ran', 100), 'ran');
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.startsWith(LOCK_FILE)),
    [],
  );
});

test('a lock held by a live process makes others wait, then fail naming the holder', async () => {
  const holder = await spawnDetached({
    command: process.execPath,
    args: ['-e', 'setInterval(() => {}, 1000)'],
    env: {},
    logFile: join(dir, 'holder.log'),
  });
  started.push(holder);
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(holder));
  await assert.rejects(
    withClusterLock(dir, systemClock, async () => 'ran', 200),
    (e: Error & { code?: string }) => e.code === 'cluster-locked' && e.message.includes(String(holder.pid)),
  );
  await stopProcess(holder, { timeoutMs: 2_000, clock: systemClock });
  assert.equal(await withClusterLock(dir, systemClock, async () => 'ran', 1_000), 'ran');
});

/** A fresh directory for one test's lock. */
async function lockDir(name: string): Promise<string> {
  const d = join(dir, name);
  await mkdir(d, { recursive: true });
  return d;
}

/** The identity of a process that ran and is gone (spawned, then stopped). */
async function deadHolder(name: string): Promise<LockHolder> {
  const id = await spawnDetached({
    command: process.execPath,
    args: ['-e', 'setInterval(() => {}, 1000)'],
    env: {},
    logFile: join(dir, `${name}.log`),
  });
  await stopProcess(id, { timeoutMs: 2_000, clock: systemClock });
  return { ...id, host: hostname(), token: 'dead' };
}

const held = (a: LockAttempt) => 'release' in a;

test('a stale lock is taken over by exactly one of two racing contenders, every round', async () => {
  const d = await lockDir('race');
  const path = join(d, LOCK_FILE);
  const me = await identify(process.pid);
  assert.ok(me);
  const gone = await deadHolder('race');
  for (let round = 0; round < 150; round++) {
    // Alternate a dead holder and a reused PID (this very PID, another start time).
    const stale = round % 2 === 0 ? gone : { ...me, startTicks: me.startTicks + 1 };
    await writeFile(path, JSON.stringify(stale));
    const [a, b] = await Promise.all([tryLock(path), tryLock(path)]);
    assert.equal([a, b].filter(held).length, 1, `round ${round}: exactly one contender holds the lock`);
    const winner = JSON.parse(await readFile(path, 'utf8')) as LockHolder;
    const loser = (held(a) ? b : a) as { holder: LockHolder | undefined };
    assert.equal(loser.holder?.token, winner.token, `round ${round}: the loser names the winner`);
    await (held(a) ? a : (b as { release: () => Promise<void> })).release();
    assert.deepEqual(await readdir(d), [], `round ${round}: no lock, marker or draft left`);
  }
});

test('a live holder is taken over by neither of two racing contenders', async () => {
  const d = await lockDir('live');
  const path = join(d, LOCK_FILE);
  const holder = await spawnDetached({
    command: process.execPath,
    args: ['-e', 'setInterval(() => {}, 1000)'],
    env: {},
    logFile: join(dir, 'live-holder.log'),
  });
  started.push(holder);
  const text = JSON.stringify({ ...holder, host: hostname(), token: 'live' });
  await writeFile(path, text);
  for (let round = 0; round < 20; round++) {
    const attempts = await Promise.all([tryLock(path), tryLock(path)]);
    for (const a of attempts) assert.equal('holder' in a ? a.holder?.pid : 'held', holder.pid);
  }
  assert.equal(await readFile(path, 'utf8'), text, 'the lock file is untouched');
  assert.deepEqual(await readdir(d), [LOCK_FILE]);
  await stopProcess(holder, { timeoutMs: 2_000, clock: systemClock });
});

test('a contender that died holding the takeover marker does not block the takeover', async () => {
  const d = await lockDir('marker');
  const path = join(d, LOCK_FILE);
  const gone = await deadHolder('marker');
  const stale = JSON.stringify(gone);
  await writeFile(path, stale);
  // The takeover marker of exactly that content, left by a contender killed mid-takeover.
  const { createHash } = await import('node:crypto');
  const marker = `${path}.takeover-${createHash('sha256').update(stale).digest('hex').slice(0, 16)}`;
  await writeFile(marker, JSON.stringify({ ...gone, token: 'dead-contender' }));
  const a = await tryLock(path);
  assert.ok(held(a), 'taken over');
  assert.deepEqual((await readdir(d)).sort(), [LOCK_FILE]);
  await (a as { release: () => Promise<void> }).release();
});

test('a holder recorded on another host is never taken over from this one, and the error names it', async () => {
  const d = await lockDir('host');
  const gone = await deadHolder('host');
  await writeFile(join(d, LOCK_FILE), JSON.stringify({ ...gone, host: 'elsewhere.example' }));
  await assert.rejects(
    withClusterLock(d, systemClock, async () => 'ran', 100),
    (e: Error & { code?: string }) =>
      e.code === 'cluster-locked' && e.message.includes(`process ${gone.pid} on host elsewhere.example`),
  );
});

test('two processes racing for the same stale locks: exactly one takes each over', async () => {
  const d = await lockDir('processes');
  const gone = await deadHolder('processes');
  const rounds = 25;
  for (let i = 0; i < rounds; i++) {
    await writeFile(join(d, `lock-${i}`), JSON.stringify({ ...gone, token: `dead-${i}` }));
  }
  // Each contender waits for the same instants (a short sleep, then a spin) and tries round i's
  // lock; it stays alive, holding what it won, until the test has both answers.
  const script = `
    import { join } from 'node:path';
    import { tryLock } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'lock.ts')).href)};
    const [dir, rounds, t0] = process.argv.slice(-3);
    const won = [];
    for (let i = 0; i < Number(rounds); i++) {
      const at = Number(t0) + i * 40;
      if (at - Date.now() > 5) await new Promise((r) => setTimeout(r, at - Date.now() - 5));
      while (Date.now() < at);
      won.push('release' in (await tryLock(join(dir, 'lock-' + i))));
    }
    process.stdout.write(JSON.stringify(won) + '\\n');
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
  `;
  const t0 = String(Date.now() + 4_000);
  const contenders = [0, 1].map(() =>
    spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, d, String(rounds), t0], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  try {
    const [a, b] = await Promise.all(
      contenders.map(
        (child) =>
          new Promise<boolean[]>((resolve, reject) => {
            let out = '';
            child.stdout.on('data', (chunk: Buffer) => {
              out += chunk.toString();
              if (out.includes('\n')) resolve(JSON.parse(out) as boolean[]);
            });
            child.once('exit', (code) => reject(new Error(`contender exited with ${code} before answering`)));
          }),
      ),
    );
    for (let i = 0; i < rounds; i++) {
      assert.equal(
        Number(a![i]) + Number(b![i]),
        1,
        `round ${i}: exactly one process took the stale lock over`,
      );
    }
    assert.deepEqual(
      (await readdir(d)).sort(),
      Array.from({ length: rounds }, (_, i) => `lock-${i}`).sort(),
      'no marker or draft left',
    );
  } finally {
    for (const child of contenders) {
      child.stdin.end();
      if (child.exitCode === null) await once(child, 'exit');
    }
  }
});
