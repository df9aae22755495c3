/**
 * Build step of the web front end (`npm run build`): bundles the dashboard page and the report page
 * (Preact + uPlot, from `src/dashboard/ui/`) with esbuild into one directory of static files:
 * `dashboard.html`, `dashboard.js`, `dashboard.css`, `report.js`, `report.css`. Nothing is loaded
 * from a CDN: the server serves these files and the report inlines them. esbuild is a build-time
 * (dev) dependency; the running product only reads the files.
 *
 * Usage: `node --import tsx src/dashboard/bundle.ts OUT_DIR`.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const UI = join(dirname(fileURLToPath(import.meta.url)), 'ui');

/** The dashboard's HTML shell; its script connects to the server's event stream. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Baton dashboard</title>
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
<script src="/assets/dashboard.js"></script>
</body>
</html>
`;

/**
 * Bundles the front end into `outDir` (created or replaced as a whole: the files are built in a
 * sibling directory and renamed into place, so a concurrent reader never sees half a build).
 */
export async function bundleUi(outDir: string): Promise<void> {
  const { build } = await import('esbuild');
  const target = resolve(outDir);
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    await build({
      entryPoints: { dashboard: join(UI, 'app.tsx'), report: join(UI, 'report.tsx') },
      outdir: tmp,
      bundle: true,
      minify: true,
      format: 'iife',
      target: ['chrome110', 'firefox110', 'safari16'],
      jsx: 'automatic',
      jsxImportSource: 'preact',
      tsconfig: join(UI, 'tsconfig.json'),
      logLevel: 'warning',
      legalComments: 'none',
    });
    await writeFile(join(tmp, 'dashboard.html'), DASHBOARD_HTML);
    await rm(target, { recursive: true, force: true });
    await mkdir(dirname(target), { recursive: true });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: bundle.ts OUT_DIR\n');
    process.exitCode = 2;
  } else {
    bundleUi(out).catch((err: unknown) => {
      process.stderr.write(`bundling the front end failed: ${String(err)}\n`);
      process.exitCode = 1;
    });
  }
}
