/**
 * Runs one control plane for a whole test run (scripts/run-tests.mjs starts it): writes its
 * {@link ControlPlaneInfo} as JSON to the file named by the first argument, prints
 * `controlplane ready in <ms> ms` on stdout, and stops everything when stdin ends (the parent
 * exited or closed it) or on SIGTERM/SIGINT.
 */
import { writeFile } from 'node:fs/promises';
import { startControlPlane } from './controlplane.js';

const out = process.argv[2];
if (!out) {
  console.error('usage: controlplane-main.ts <info.json>');
  process.exit(2);
}
try {
  const cp = await startControlPlane({ keepDir: process.env.BATON_CONTROLPLANE_KEEP === '1' });
  await writeFile(out, JSON.stringify(cp.info, null, 2));
  console.log(`controlplane ready in ${cp.startMs} ms (${cp.info.kubernetesVersion} at ${cp.info.server})`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void cp.stop().then(() => process.exit(0));
  };
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  console.error(`controlplane: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
