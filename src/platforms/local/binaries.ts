/**
 * Helpers adapters share to find binaries per version: `which`, the version a binary reports, and
 * the `+build` metadata rule (a label such as `3.4.23+r2` runs the `3.4.23` release binaries; the
 * label itself is what the platform records as the member's version).
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { BadInputError } from '../../core/errors.js';
import { runCommand } from './process.js';

/** Absolute path of an executable found on `PATH` (or given as an absolute path), or undefined. */
export async function which(
  name: string,
  path = process.env.PATH ?? '/usr/bin:/bin',
): Promise<string | undefined> {
  const candidates = isAbsolute(name)
    ? [name]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, name));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}

/**
 * Run `binary args` (default `--version`) and return the first `MAJOR.MINOR[.PATCH]` number in its
 * output, e.g. `3.4.23` from "etcd Version: 3.4.23". Undefined when it cannot run or prints none.
 */
export async function readBinaryVersion(
  binary: string,
  args: string[] = ['--version'],
  env?: Record<string, string>,
): Promise<string | undefined> {
  try {
    const res = await runCommand(binary, args, { timeoutMs: 10_000, ...(env ? { env } : {}) });
    const m = /(\d+\.\d+(?:\.\d+)?)/.exec(res.stdout + '\n' + res.stderr);
    return m?.[1];
  } catch {
    return undefined;
  }
}

/** The release part of a version label: `3.4.23+r2` -> `3.4.23`, `v3.5.9` -> `3.5.9`. */
export function releaseOf(label: string): string {
  return label.replace(/^v/, '').replace(/\+.*$/, '');
}

/**
 * Resolve a version label to a binary path among `installed` (release -> path). A label matches
 * its exact entry first (a registered `3.4.23+r2`), then its release. BadInputError listing the
 * installed versions otherwise.
 */
export function pickBinary(engine: string, label: string, installed: Record<string, string>): string {
  const exact = installed[label.replace(/^v/, '')];
  if (exact) return exact;
  const release = installed[releaseOf(label)];
  if (release) return release;
  const known = Object.keys(installed).sort();
  throw new BadInputError(
    'version-not-installed',
    `${engine} ${label} is not installed on this machine (installed: ${known.join(', ') || 'none'}); register one with --binary ${releaseOf(label)}=/path/to/binary`,
  );
}
