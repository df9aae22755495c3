/**
 * The built front end (see `bundle.ts`): where it is and its files. `BATON_UI_DIR` points at
 * another build (the tests bundle into a directory of their own); otherwise it is `dist/ui` of
 * the package.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperationalError } from '../core/errors.js';

/** The files of the front end, as text. */
export interface UiAssets {
  dashboardHtml: string;
  dashboardJs: string;
  dashboardCss: string;
  reportJs: string;
  reportCss: string;
}

/** Directory of the built front end. */
export function uiDir(env: Record<string, string | undefined> = process.env): string {
  if (env.BATON_UI_DIR) return resolve(env.BATON_UI_DIR);
  // src/dashboard/assets.ts and dist/dashboard/assets.js are both two levels below the package.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'ui');
}

/** Reads the built front end; OperationalError `ui-not-built` when it is missing. */
export async function readUiAssets(dir = uiDir()): Promise<UiAssets> {
  const read = (file: string) => readFile(join(dir, file), 'utf8');
  try {
    const [dashboardHtml, dashboardJs, dashboardCss, reportJs, reportCss] = await Promise.all([
      read('dashboard.html'),
      read('dashboard.js'),
      read('dashboard.css'),
      read('report.js'),
      read('report.css'),
    ]);
    return { dashboardHtml, dashboardJs, dashboardCss, reportJs, reportCss };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new OperationalError(
      'ui-not-built',
      `the web front end is not built in ${dir}: run \`npm run build\` (or set BATON_UI_DIR to a build)`,
    );
  }
}
