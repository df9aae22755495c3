/**
 * `baton report [UPGRADE] --html FILE | --json [FILE] | --markdown [FILE]`: what an upgrade did,
 * for people (one self-contained HTML file with the timeline and the probe's plots), for tickets
 * (Markdown) and for CI (JSON). Reads the journal and the probe log beside it; changes nothing.
 */
import type { Command } from 'commander';
import type { CliIO } from '../wiring/io.js';
import { addTargetOptions } from './upgrade-commands.js';

/** Register `baton report`. */
export function registerReportCommand(program: Command, io: CliIO): void {
  addTargetOptions(
    program
      .command('report [upgrade]')
      .description('write what an upgrade did: HTML with timeline and probe plots, Markdown or JSON'),
  )
    .option('--html <file>', 'one self-contained HTML file (opens without a network)')
    .option('--json [file]', 'the report as JSON (stdout without a file)')
    .option('--markdown [file]', 'the report as Markdown (stdout without a file)')
    .option(
      '--probe-log <file>',
      'also read this probe log (repeatable; the one beside a local journal is always read)',
      (v: string, prev: string[] = []) => [...prev, v],
      [],
    )
    .action(async (upgrade: string | undefined, o) =>
      (await import('./report-action.js')).runReport(upgrade, o, io),
    );
}
