// Preloaded (`node --require`) into each `baton` run that bench/cli.ts times: writes the process's
// peak resident set size in KiB (getrusage ru_maxrss, as `process.resourceUsage().maxRSS`) to fd 3
// as it exits, so the benchmark needs no external `time` program.
'use strict';
const { writeSync } = require('node:fs');
process.on('exit', () => {
  try {
    writeSync(3, String(process.resourceUsage().maxRSS));
  } catch {
    // fd 3 is not open: not run by the benchmark.
  }
});
