/** The command line shared by `npm run bench:local` and `npm run bench:probe`. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadInputError } from '../../src/core/errors.js';
import { parseBenchArgs } from '../../bench/args.js';

const ENGINES = ['etcd', 'postgres', 'redis'];
const PROBE = {
  engines: ENGINES,
  defaultRuns: 1,
  flags: [{ name: '--rate' }, { name: '--workers', integer: true }],
};

test('engines, runs and declared flags in any order; defaults for what is absent', () => {
  assert.deepEqual(parseBenchArgs([], PROBE), { engines: ENGINES, runs: 1, values: {} });
  assert.deepEqual(
    parseBenchArgs(['--rate', '300', 'etcd', '--runs', '3', 'redis', '--workers', '64'], PROBE),
    {
      engines: ['etcd', 'redis'],
      runs: 3,
      values: { '--rate': 300, '--runs': 3, '--workers': 64 },
    },
  );
  assert.equal(parseBenchArgs(['postgres'], { engines: ENGINES, defaultRuns: 3 }).runs, 3);
});

test('an unknown engine or flag, a missing value or a bad number is one clear BadInputError', () => {
  const cases: [string[], RegExp][] = [
    [['tikv'], /unknown engine "tikv": this benchmark runs etcd, postgres, redis/],
    [['--rate', '300'], /unknown flag --rate: use --runs/],
    [['--runs'], /--runs needs a positive whole number, got nothing/],
    [['--runs', '0'], /--runs needs a positive whole number, got 0/],
    [['--runs', '1.5'], /--runs needs a positive whole number, got 1\.5/],
    [['--runs', 'etcd'], /--runs needs a positive whole number, got etcd/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parseBenchArgs(argv, { engines: ENGINES, defaultRuns: 3 }),
      (e: unknown) => e instanceof BadInputError && message.test(e.message),
      argv.join(' '),
    );
  }
  assert.equal(parseBenchArgs(['--rate', '2.5'], PROBE).values['--rate'], 2.5);
  assert.throws(() => parseBenchArgs(['--rate', '0'], PROBE), /--rate needs a positive number, got 0/);
  const warm = { engines: ENGINES, defaultRuns: 1, flags: [{ name: '--warmup', zero: true }] };
  assert.equal(parseBenchArgs(['--warmup', '0'], warm).values['--warmup'], 0, '0 turns it off');
  assert.throws(() => parseBenchArgs(['--warmup', '-1'], warm), /--warmup needs a non-negative number/);
  assert.throws(() => parseBenchArgs(['--warmup', ''], warm), /--warmup needs a non-negative number/);
  assert.throws(() => parseBenchArgs(['--workers', '1.5'], PROBE), BadInputError);
});
