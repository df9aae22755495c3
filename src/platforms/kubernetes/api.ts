/**
 * Small helpers around `@kubernetes/client-node` calls: reading the HTTP status of a failed call,
 * retrying transient failures (5xx, 429, network errors) with a bounded back-off on the injected
 * clock, and the merge-patch content type.
 */
import type { Clock } from '../../core/clock.js';
import { OperationalError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

export {
  MERGE_PATCH,
  JSON_PATCH,
  httpStatus,
  apiMessage,
  isConflict,
  isNotFound,
  isPreconditionFailed,
} from '../../api/client.js';
import { apiMessage, httpStatus } from '../../api/client.js';

/** True for failures worth retrying: 5xx, 429, and errors without an HTTP status (connection reset). */
export function isTransient(err: unknown): boolean {
  const code = httpStatus(err);
  if (code === undefined) return !(err instanceof TypeError) && !(err instanceof RangeError);
  return code >= 500 || code === 429;
}

/** How transient failures are retried. */
export interface RetryPolicy {
  /** Attempts in all, including the first (default 6). */
  attempts: number;
  /** First back-off in ms, doubled after each failure (default 50). */
  baseMs: number;
  /** Longest back-off in ms (default 2000). */
  maxMs: number;
}

/** Default retry policy: 6 attempts, 50 ms doubling to at most 2 s (about 1.5 s in all). */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseMs: 50, maxMs: 2000 };

/**
 * Run `fn`, retrying transient failures per `policy` with back-off on `clock`. The last transient
 * failure is rethrown as an OperationalError `kubernetes-unavailable` naming `what`; other failures
 * (4xx) are rethrown unchanged.
 */
export async function withRetry<T>(
  what: string,
  fn: () => Promise<T>,
  deps: { clock: Clock; logger: Logger; signal?: AbortSignal; policy?: RetryPolicy },
): Promise<T> {
  const policy = deps.policy ?? DEFAULT_RETRY;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err)) throw err;
      if (attempt >= policy.attempts) {
        throw new OperationalError(
          'kubernetes-unavailable',
          `${what}: the Kubernetes API failed ${attempt} times (last: ${httpStatus(err) ?? 'no response'} ${apiMessage(err)})`,
          { cause: err },
        );
      }
      const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      deps.logger.debug('retrying Kubernetes API call', {
        what,
        attempt,
        status: httpStatus(err),
        error: apiMessage(err),
      });
      await deps.clock.sleep(delay, deps.signal);
    }
  }
}
