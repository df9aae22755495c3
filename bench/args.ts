/**
 * The command line of the local benchmarks (`bench:local`, `bench:probe`), in one place: engine
 * names as positional arguments (none: every engine), `--runs N`, and the numeric flags a
 * benchmark declares. Anything else, or a flag without a valid value, is a BadInputError naming
 * it, which the benchmark prints as one line and exits 2 for.
 */
import { BadInputError } from '../src/core/errors.js';

/** A numeric flag a benchmark accepts. */
export interface BenchFlag {
  /** `--rate`, `--workers`, ... */
  name: string;
  /** Whole numbers only. */
  integer?: boolean;
  /** 0 is a value too (it turns something off). */
  zero?: boolean;
}

/** What {@link parseBenchArgs} read. */
export interface BenchArgs {
  /** The engines asked for, in order; every engine of the benchmark when none was named. */
  engines: string[];
  /** `--runs`, or the benchmark's default. */
  runs: number;
  /** The value of every declared flag that was given. */
  values: Record<string, number>;
}

/**
 * Reads `argv` of a benchmark over `engines` whose runs default to `defaultRuns` and that also
 * accepts `flags` (each a positive number, or 0 where the flag allows it). BadInputError for an unknown engine or flag, a flag
 * given without a value, or a value that is not a positive number (a whole one where required).
 */
export function parseBenchArgs(
  argv: readonly string[],
  opts: { engines: readonly string[]; defaultRuns: number; flags?: readonly BenchFlag[] },
): BenchArgs {
  const flags = new Map<string, BenchFlag>([
    ['--runs', { name: '--runs', integer: true }],
    ...(opts.flags ?? []).map((f): [string, BenchFlag] => [f.name, f]),
  ]);
  const engines: string[] = [];
  const values: Record<string, number> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      if (!opts.engines.includes(arg)) {
        throw new BadInputError(
          'bench-args',
          `unknown engine "${arg}": this benchmark runs ${opts.engines.join(', ')}`,
        );
      }
      engines.push(arg);
      continue;
    }
    const flag = flags.get(arg);
    if (!flag) {
      throw new BadInputError('bench-args', `unknown flag ${arg}: use ${[...flags.keys()].join(', ')}`);
    }
    const text = argv[++i];
    const value = Number(text);
    if (
      text === undefined ||
      text.trim() === '' ||
      !Number.isFinite(value) ||
      value < 0 ||
      (value === 0 && !flag.zero) ||
      (flag.integer && !Number.isInteger(value))
    ) {
      const kind = `${flag.zero ? 'non-negative' : 'positive'} ${flag.integer ? 'whole number' : 'number'}`;
      throw new BadInputError('bench-args', `${arg} needs a ${kind}, got ${text ?? 'nothing'}`);
    }
    values[flag.name] = value;
  }
  return {
    engines: engines.length > 0 ? engines : [...opts.engines],
    runs: values['--runs'] ?? opts.defaultRuns,
    values,
  };
}

/** Runs a benchmark's main: bad input is one line and exit 2, any other failure exit 1. */
export function runBench(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof BadInputError ? 2 : 1;
  });
}
