/**
 * How a front end runs as a process: its {@link CliIO} taken from the process (streams,
 * environment, system clock, a JSON logger under `--debug`, an abort signal on SIGINT/SIGTERM), its
 * commander program parsed, and every error turned into one line on stderr and an exit code: 0
 * success, 1 operational failure, 2 bad input. Shared by `baton` (cli/main.ts) and the operator
 * image's entry point (operator/entrypoint.ts).
 */
import { Command, CommanderError, Option } from 'commander';
import { systemClock } from '../core/clock.js';
import { BadInputError, BatonError, describeError } from '../core/errors.js';
import { jsonLogger, nullLogger } from '../core/logger.js';
import { type CliIO, outStream } from './io.js';

/** Builds the command tree; actions write through `io` and set `state.code`. */
export type ProgramBuilder = (io: CliIO, state: { code: number }) => Command;

/**
 * A program named `name` whose output goes through `io`, which throws instead of exiting and has the
 * global `--debug` option; front ends add their commands to it.
 */
export function baseProgram(name: string, description: string, io: CliIO): Command {
  return new Command()
    .name(name)
    .description(description)
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => {},
    })
    .addOption(new Option('--debug', 'log decisions as JSON lines on stderr'));
}

/**
 * Make every option that takes a value, in `program` and all its subcommands, refuse a blank value
 * (`--state-dir ''`) as bad input before its own parser (if any) sees it. Call after every command is
 * registered.
 */
export function refuseBlankValues(program: Command): Command {
  for (const cmd of [program, ...program.commands.flatMap((c) => [c, ...c.commands])]) {
    for (const opt of cmd.options) {
      if (!opt.required && !opt.optional) continue;
      const parse = opt.parseArg;
      opt.argParser((value: string, previous: unknown) => {
        if (!value.trim()) {
          throw new BadInputError('blank-value', `${opt.long ?? opt.short} needs a value: got "${value}"`);
        }
        return parse ? parse(value, previous) : value;
      });
    }
  }
  return program;
}

/**
 * Run the program `build` makes with `argv` (without node and script) and return the exit code.
 * `partialIo` replaces parts of the process's io (tests run commands in-process with it; signal
 * handlers are installed only without it).
 */
export async function runProgram(
  build: ProgramBuilder,
  argv: string[],
  partialIo?: Partial<CliIO>,
): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted'));
  if (!partialIo) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const debug = argv.includes('--debug');
  const stderr = partialIo?.stderr ?? outStream(process.stderr);
  const io: CliIO = {
    stdout: partialIo?.stdout ?? outStream(process.stdout),
    stderr,
    env: partialIo?.env ?? process.env,
    clock: partialIo?.clock ?? systemClock,
    logger: partialIo?.logger ?? (debug ? jsonLogger((l) => stderr.write(l), { debug: true }) : nullLogger),
    signal: partialIo?.signal ?? controller.signal,
  };
  const state = { code: 0 };
  try {
    await build(io, state).parseAsync(argv, { from: 'user' });
    return state.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)
        return 0;
      io.stderr.write(`error: ${err.message.replace(/^error: /, '').split('\n')[0]}\n`);
      return 2;
    }
    if (err instanceof BatonError) {
      io.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    if (controller.signal.aborted) {
      io.stderr.write(
        'interrupted: the journal holds every step so far; run the same command again to continue\n',
      );
      return 1;
    }
    io.stderr.write(`error: ${describeError(err)}\n`);
    if (debug && err instanceof Error && err.stack) io.stderr.write(err.stack + '\n');
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
