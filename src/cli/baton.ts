/**
 * The `baton` executable: runs the CLI with the process's arguments and exits with its code. Compiled
 * to `dist/cli/baton.js`, which `bin/baton.js` runs; the tests run this source through tsx.
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
