/**
 * `baton <verb>`: parse input, build the target, call the core, render output. Exit codes: 0 success,
 * 1 operational failure, 2 bad input (one line on stderr naming the problem and the fix, nothing
 * written to any cluster or journal).
 */
import { Command, CommanderError, Option } from 'commander';
import { systemClock } from '../core/clock.js';
import { BatonError, BadInputError, describeError } from '../core/errors.js';
import { jsonLogger, nullLogger } from '../core/logger.js';
import { registerClusterCommands } from './cluster-commands.js';
import { registerDemoCommand } from './demo.js';
import { registerManifestsCommand } from './manifests-command.js';
import { registerOperatorCommand } from './operator-command.js';
import { type CliIO, outStream } from './io.js';
import { registerUpgradeCommands } from './upgrade-commands.js';

/** The version `baton --version` prints. */
export const VERSION = '0.1.0';

/** Build the command tree; actions write through `io` and set `state.code`. */
export function buildProgram(io: CliIO, state: { code: number }): Command {
  const program = new Command();
  program
    .name('baton')
    .description('Safe rolling upgrades of stateful clusters: plan, precheck, move leadership, prove health.')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => {},
    })
    .addOption(new Option('--debug', 'log decisions as JSON lines on stderr'));
  registerUpgradeCommands(program, io, state);
  registerClusterCommands(program, io, state);
  registerDemoCommand(program, io, state);
  registerOperatorCommand(program, io, state);
  registerManifestsCommand(program, io, state);
  return program;
}

/** Run the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], partialIo?: Partial<CliIO>): Promise<number> {
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
  // Not commander's .version(): a program-level --version would swallow `cluster create
  // --version 17.5` wherever it appears on the command line.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  try {
    await buildProgram(io, state).parseAsync(argv, { from: 'user' });
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

/** Throw a bad-input error (helper for option validation inside actions). */
export function badInput(code: string, message: string): never {
  throw new BadInputError(code, message);
}
