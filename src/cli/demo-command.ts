/** `baton demo`'s options; the demo itself is in demo.ts, loaded only when it runs. */
import type { Command } from 'commander';
import type { CliIO } from '../wiring/io.js';

/** Register `baton demo` (what it does is loaded from demo.ts when it runs). */
export function registerDemoCommand(program: Command, io: CliIO, state: { code: number }): void {
  program
    .command('demo')
    .description('create a real cluster, upgrade it under a client workload, report, clean up')
    .option('--engine <name>', 'postgres, etcd or redis', 'postgres')
    .option('--report <file>', 'write the report as JSON')
    .option('--keep', 'keep the cluster afterwards')
    .option('--state-dir <dir>', 'state directory (default: a new temporary directory)')
    .action(async (o) => (await import('./demo.js')).runDemo(o, io, state));
}
