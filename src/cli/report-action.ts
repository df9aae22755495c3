/**
 * What `baton report` does, loaded by report-command.ts only when it runs.
 */
import { writeFile } from 'node:fs/promises';
import { BadInputError } from '../core/errors.js';
import { readProbeLog } from '../probe/log.js';
import type { ProbeRun } from '../probe/log-format.js';
import { buildReport } from '../report/model.js';
import { findUpgrade, noSimState } from './control.js';
import type { CliIO } from '../wiring/io.js';
import { probeLogFile } from './probe.js';
import { withTarget } from './upgrade-actions.js';

/** The options of `baton report`, as commander gives them. */
export interface ReportOpts {
  html?: string;
  json?: string | boolean;
  markdown?: string | boolean;
  probeLog?: string[];
  [key: string]: unknown;
}

/** `baton report [upgrade]`: build the report of the upgrade and write it in the chosen format. */
export async function runReport(upgrade: string | undefined, o: ReportOpts, io: CliIO): Promise<void> {
  const formats = [o.html !== undefined, o.json !== undefined, o.markdown !== undefined].filter(Boolean);
  if (formats.length !== 1) {
    throw new BadInputError('report-format', 'choose one of --html FILE, --json [FILE] or --markdown [FILE]');
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
}
