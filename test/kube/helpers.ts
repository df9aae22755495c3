/**
 * Test helpers for the Kubernetes suites: polling until a condition holds, and decoding
 * client-node's ApiException into the Status body.
 */

/**
 * Poll `check` every `intervalMs` until it returns a value other than undefined/false, and return
 * it; throw with `what` after `timeoutMs` (a generous bound for a stuck condition, not a timing
 * assertion).
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  intervalMs = 5,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** The HTTP code and Status body of an error thrown by a client-node API call. */
export function apiStatus(err: unknown): {
  code: number;
  reason?: string;
  message?: string;
  details?: { causes?: { message: string }[] };
} {
  const e = err as { code?: number; body?: unknown };
  if (typeof e.code !== 'number') throw err;
  const body =
    typeof e.body === 'string'
      ? (JSON.parse(e.body) as Record<string, unknown>)
      : ((e.body ?? {}) as Record<string, unknown>);
  return { code: e.code, ...body } as ReturnType<typeof apiStatus>;
}

/** Run `fn`, expect it to fail with a client-node ApiException, and return the decoded Status. */
export async function expectApiError(fn: () => Promise<unknown>): Promise<ReturnType<typeof apiStatus>> {
  try {
    await fn();
  } catch (err) {
    return apiStatus(err);
  }
  throw new Error('expected the call to fail with an API error');
}
