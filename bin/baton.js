#!/usr/bin/env node
// Entry point: runs the TypeScript CLI through tsx so `npx baton` works straight after `npm ci`.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
