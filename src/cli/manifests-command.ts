/**
 * `baton manifests`: the install manifests (CRD, namespace, RBAC, ServiceAccount, Deployment) as
 * multi-document YAML on stdout, or written as the files of `deploy/` with `--out-dir`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { BadInputError } from '../core/errors.js';
import { DEFAULT_IMAGE, DEFAULT_NAMESPACE } from '../operator/defaults.js';
import { checked, parseNamespace } from '../wiring/args.js';
import type { CliIO } from '../wiring/io.js';

/** Register `baton manifests [--namespace NS] [--image IMAGE] [--out-dir DIR]`. */
export function registerManifestsCommand(program: Command, io: CliIO, _state: { code: number }): void {
  program
    .command('manifests')
    .description('print the install manifests of the operator (CRD, RBAC, ServiceAccount, Deployment)')
    .option(
      '-n, --namespace <namespace>',
      'namespace of the operator',
      checked((v) => parseNamespace('--namespace', v)),
      DEFAULT_NAMESPACE,
    )
    .option('--image <image>', 'operator image', DEFAULT_IMAGE)
    .option('--out-dir <dir>', 'write one file per kind plus kustomization.yaml into this directory')
    .action(async (o: { namespace: string; image: string; outDir?: string }) => {
      if (!o.image.trim() || /\s/.test(o.image)) {
        throw new BadInputError('bad-image', `--image "${o.image}" is not an image reference`);
      }
      const { fileText, kustomizationYaml, manifestsYaml, renderManifests } =
        await import('../operator/manifests.js');
      const opts = { namespace: o.namespace, image: o.image };
      if (!o.outDir) {
        io.stdout.write(manifestsYaml(opts));
        return;
      }
      await mkdir(o.outDir, { recursive: true });
      for (const f of renderManifests(opts)) await writeFile(join(o.outDir, f.file), fileText(f));
      await writeFile(join(o.outDir, 'kustomization.yaml'), kustomizationYaml());
      io.stdout.write(`wrote ${renderManifests(opts).length + 1} files to ${o.outDir}\n`);
    });
}
