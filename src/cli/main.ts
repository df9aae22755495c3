/**
 * `baton <verb>`: parse input, build the target, call the core, render output. Exit codes: 0 success,
 * 1 operational failure, 2 bad input (one line on stderr naming the problem and the fix, nothing
 * written to any cluster or journal).
 */
import type { Command } from 'commander';
import { registerOperatorCommand } from '../operator/command.js';
import type { CliIO } from '../wiring/io.js';
import { baseProgram, refuseBlankValues, runProgram } from '../wiring/process.js';
import { registerClusterCommands } from './cluster-commands.js';
import { registerDashboardCommand } from './dashboard-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerManifestsCommand } from './manifests-command.js';
import { registerReportCommand } from './report-command.js';
import { registerUpgradeCommands } from './upgrade-commands.js';

/** The version `baton --version` prints. */
export const VERSION = '0.1.0';

/** Build the command tree; actions write through `io` and set `state.code`. */
export function buildProgram(io: CliIO, state: { code: number }): Command {
  const program = baseProgram(
    'baton',
    'Safe rolling upgrades of stateful clusters: plan, precheck, move leadership, prove health.',
    io,
  );
  registerUpgradeCommands(program, io, state);
  registerClusterCommands(program, io, state);
  registerDemoCommand(program, io, state);
  registerOperatorCommand(program, io, state);
  registerManifestsCommand(program, io, state);
  registerReportCommand(program, io);
  registerDashboardCommand(program, io);
  return refuseBlankValues(program);
}

/** Run the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], partialIo?: Partial<CliIO>): Promise<number> {
  // Not commander's .version(): a program-level --version would swallow `cluster create
  // --version 17.5` wherever it appears on the command line.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    (partialIo?.stdout ?? process.stdout).write(`${VERSION}\n`);
    return 0;
  }
  return runProgram(buildProgram, argv, partialIo);
}
