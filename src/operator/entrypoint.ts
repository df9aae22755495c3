/**
 * Entry point of the operator image: `node dist/baton-operator.js operator --port 8080` (this module
 * compiled, then bundled with what it loads by src/operator/bundle.ts) runs
 * the operator command alone (the same command as `baton operator`), compiled, without the CLI's
 * other commands. Exits with the command's exit code.
 */
import { baseProgram, refuseBlankValues, runProgram } from '../wiring/process.js';
import { registerOperatorCommand } from './command.js';

process.exitCode = await runProgram((io, state) => {
  const program = baseProgram('baton', 'The Baton operator.', io);
  registerOperatorCommand(program, io, state);
  return refuseBlankValues(program);
}, process.argv.slice(2));
