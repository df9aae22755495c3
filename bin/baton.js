#!/usr/bin/env node
// `baton`: runs the compiled CLI (dist/, built by `npm run build`, which `npm ci` and `npm install`
// run through `prepare`). Development runs the sources instead: `node --import tsx src/cli/baton.ts`.
try {
  await import('../dist/cli/baton.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli/baton.js')) throw err;
  process.stderr.write('error: baton is not built: run `npm run build` (npm ci and npm install run it)\n');
  process.exitCode = 1;
}
