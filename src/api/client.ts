/**
 * The Kubernetes API's answers as Baton reads them, for every caller of `@kubernetes/client-node`
 * (the platform and the node engine): the patch content types, the HTTP status of a failed call,
 * the message of its Status body, and which failures mean "not there" or "lost to a concurrent write".
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

/** True when the call failed with 404 Not Found. */
export function isNotFound(err: unknown): boolean {
  return httpStatus(err) === 404;
}

/** True when the call failed with 409 Conflict (stale resourceVersion or already exists). */
export function isConflict(err: unknown): boolean {
  return httpStatus(err) === 409;
}

/**
 * The whole message kube-apiserver gives for a JSON patch it could not apply (a failed `test`
 * operation): a generic 422 Invalid with no field causes
 * (k8s.io/apiserver/pkg/endpoints/handlers/patch.go -> apimachinery NewGenericServerResponse).
 */
const JSON_PATCH_NOT_APPLIED = 'the server rejected our request due to an error in our request';

/**
 * True when a write lost to a concurrent change: 409 Conflict (stale resourceVersion), or 422 from
 * a JSON patch whose `test` operation failed. kube-apiserver reports the latter with its generic
 * 422 message only; other servers name the path ("testing value PATH failed"). A validation error
 * (422 naming a field) is not one.
 */
export function isPreconditionFailed(err: unknown): boolean {
  if (isConflict(err)) return true;
  if (httpStatus(err) !== 422) return false;
  const message = apiMessage(err);
  return message === JSON_PATCH_NOT_APPLIED || /testing value \S+ failed/i.test(message);
}
