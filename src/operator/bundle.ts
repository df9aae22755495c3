/**
 * Build step of the operator image's program (`npm run build`, after tsc): bundles the compiled
 * entry point (`dist/operator/entrypoint.js`) and the modules it loads into one file,
 * {@link OPERATOR_ENTRYPOINT} (`dist/baton-operator.js`), which the Deployment and the image run.
 *
 * Why: V8 keeps the source text of every loaded module for as long as the process lives (it
 * compiles functions lazily from it). Loaded module by module, the operator's code and its
 * dependencies (@kubernetes/client-node's thousand generated files with their doc comments above
 * all) held 35 MB of the operator's 96 MB old generation before it had read a single object; the
 * bundle, without whitespace and comments but with its names (stack traces stay readable), holds
 * 18 MB. With the image's jemalloc, that room is what let the operator run a batch's actions 64 at
 * a time within its 200 MB at 1,000 nodes (docs/engines/kubernetes-nodes.md, "Benchmark").
 *
 * Left outside the bundle, loaded from node_modules as before: packages that read files next to
 * their own code when they load (etcd3's and gRPC's .proto files) and the gRPC runtime they share
 * with Baton's CockroachDB drain client, so that there is one copy of it.
 *
 * Usage: `node --import tsx src/operator/bundle.ts` (from the repository's root, after tsc).
 */
import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OPERATOR_ENTRYPOINT } from './manifests.js';

/** Packages loaded from node_modules at run time instead of bundled (see the module comment). */
export const OPERATOR_EXTERNALS: readonly string[] = [
  'etcd3',
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  'pg-native',
];

/**
 * Bundles `entry` (the compiled entry point) into `outFile`, built beside it and renamed into
 * place so that a running reader never sees half a file.
 */
export async function bundleOperator(
  entry = 'dist/operator/entrypoint.js',
  outFile = OPERATOR_ENTRYPOINT,
): Promise<void> {
  const { build } = await import('esbuild');
  const target = resolve(outFile);
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  try {
    await build({
      entryPoints: [resolve(entry)],
      outfile: tmp,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      minifyWhitespace: true,
      minifySyntax: true,
      keepNames: true,
      external: [...OPERATOR_EXTERNALS],
      // CommonJS dependencies inside an ES module bundle still call require().
      banner: {
        js: "import { createRequire as __batonRequire } from 'node:module';\nconst require = __batonRequire(import.meta.url);",
      },
      logLevel: 'warning',
      legalComments: 'none',
    });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  bundleOperator().catch((err: unknown) => {
    process.stderr.write(`bundling the operator failed: ${String(err)}\n`);
    process.exitCode = 1;
  });
}
