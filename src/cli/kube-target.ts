/**
 * The Kubernetes target of the CLI.
 */
import { OperationalError } from '../core/errors.js';
import type { CliIO } from './io.js';
import type { Target } from './targets.js';

/** Build the Kubernetes target from flags. */
export async function kubernetesTarget(_o: Record<string, unknown>, _io: CliIO): Promise<Target> {
  throw new OperationalError(
    'kubernetes-not-available',
    '--platform kubernetes is not available in this build yet: use --platform local or --platform sim',
  );
}
