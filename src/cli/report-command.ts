/**
 * `baton report [UPGRADE] --html FILE | --json [FILE] | --markdown [FILE]`: what an upgrade did,
 * for people (one self-contained HTML file with the timeline and the probe's plots), for tickets
 * (Markdown) and for CI (JSON). Reads the journal and the probe log beside it; changes nothing.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { BadInputError } from '../core/errors.js';
import { readProbeLog } from '../probe/log.js';
import type { ProbeRun } from '../probe/log-format.js';
import { buildReport } from '../report/model.js';
import { findUpgrade, noSimState } from './control.js';
import type { CliIO } from '../wiring/io.js';
import { probeLogFile } from './probe.js';
import { addTargetOptions, withTarget } from './upgrade-commands.js';

interface ReportOpts {
  html?: string;
  json?: string | boolean;
  markdown?: string | boolean;
  probeLog?: string[];
  [key: string]: unknown;
}

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
    .action(async (upgrade: string | undefined, o: ReportOpts) => {
      const formats = [o.html !== undefined, o.json !== undefined, o.markdown !== undefined].filter(Boolean);
      if (formats.length !== 1) {
        throw new BadInputError(
          'report-format',
          'choose one of --html FILE, --json [FILE] or --markdown [FILE]',
        );
      }
      const name = upgrade ?? (o.name as string | undefined);
      await withTarget(o as Parameters<typeof withTarget>[0], io, async (t) => {
        noSimState(t);
        const rec = await findUpgrade(t, name);
        const logs = [probeLogFile(t.platform.journal, rec.spec.name), ...(o.probeLog ?? [])];
        const runs: ProbeRun[] = [];
        for (const file of logs) if (file) runs.push(...(await readProbeLog(file)));
        runs.sort((a, b) => a.startedAt - b.startedAt);
        const report = buildReport(rec, runs);
        const emit = async (file: string | boolean | undefined, text: string) => {
          if (typeof file === 'string') {
            await writeFile(file, text);
            io.stdout.write(`report of ${rec.spec.name} written to ${file}\n`);
          } else io.stdout.write(text);
        };
        if (o.json !== undefined) return emit(o.json, `${JSON.stringify(report, null, 2)}\n`);
        if (o.markdown !== undefined) {
          const { reportMarkdown } = await import('../report/markdown.js');
          return emit(o.markdown, reportMarkdown(report));
        }
        const [{ readUiAssets }, { reportHtml }] = await Promise.all([
          import('../dashboard/assets.js'),
          import('../report/html.js'),
        ]);
        const assets = await readUiAssets();
        return emit(o.html, reportHtml(report, { js: assets.reportJs, css: assets.reportCss }));
      });
    });
}
