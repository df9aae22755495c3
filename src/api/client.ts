/**
 * The Kubernetes API's answers as Baton reads them, for every caller of `@kubernetes/client-node`
 * (the platform and the node engine): the patch content types, the HTTP status of a failed call
 * and the message of its Status body.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describeError } from '../core/errors.js';

/** Request options that send a body as a JSON merge patch (RFC 7386). */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Request options that send a body as a JSON patch (RFC 6902), whose `test` operations are preconditions. */
export const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** HTTP status of a client-node ApiException, or undefined for other errors (network, bugs). */
export function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

/** The `message` of the Status body of a failed call, falling back to the error's first line. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  try {
    const parsed = typeof body === 'string' ? (JSON.parse(body) as unknown) : body;
    const msg = (parsed as { message?: unknown } | null)?.message;
    if (typeof msg === 'string' && msg) return msg;
  } catch {
    // Not JSON: fall through to the error text.
  }
  return describeError(err);
}
