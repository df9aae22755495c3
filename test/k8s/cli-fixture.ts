/** `baton <verb> --platform kubernetes` in-process against a test's cluster, for CLI tests. */
import type { TestContext } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { OutStream } from '../../src/wiring/io.js';
import { nullLogger } from '../../src/core/logger.js';
import type { TestCluster } from '../kube/test-cluster.js';
import { fastClock } from './platform-fixture.js';

/** What one CLI run printed and its exit code. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

function capture(): OutStream & { text: () => string } {
  let buf = '';
  return { write: (s) => void (buf += s), isTTY: false, text: () => buf };
}

/**
 * A kubeconfig file for `server` (through its fault proxy; removed when `t` ends) and a function
 * running `baton <verb> --platform kubernetes --kubeconfig FILE -n <test namespace> <args>` on the
 * fast clock.
 */
export async function kubeCli(
  t: Pick<TestContext, 'after'>,
  server: TestCluster,
): Promise<(verb: string, ...args: string[]) => Promise<CliRun>> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-kube-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  await server.writeKubeconfig(kubeconfig);
  return async (verb, ...args) => {
    const stdout = capture();
    const stderr = capture();
    const code = await main(
      [verb, '--platform', 'kubernetes', '--kubeconfig', kubeconfig, '-n', server.namespace, ...args],
      {
        stdout,
        stderr,
        env: {},
        clock: fastClock,
        logger: nullLogger,
      },
    );
    return { code, out: stdout.text(), err: stderr.text() };
  };
}
