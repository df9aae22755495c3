/**
 * Entry point of the operator image: the compiled CLI, so `node dist/operator/entrypoint.js
 * operator --port 8080` runs `baton operator` without tsx. Exits with the CLI's exit code.
 */
import { main } from '../cli/main.js';

process.exitCode = await main(process.argv.slice(2));
