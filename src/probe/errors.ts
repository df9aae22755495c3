/**
 * Kinds of probe errors: a short, stable name for why an attempt failed (`timeout`, `refused`,
 * `no-primary`, ...), so a run can report "errors by kind" instead of hundreds of distinct
 * messages. Clients name the errors of their own database ({@link ProbeClient.errorKind});
 * everything else falls back to {@link genericErrorKind}.
 */
import { BatonError } from '../core/errors.js';
import type { ProbeClient } from './types.js';

/** Kind of an operation that never got a worker before its retry deadline (open loop overload). */
export const NOT_SENT = 'not-sent';
/** Kind of a read of an acknowledged id that returned nothing or another value. */
export const MISMATCH = 'mismatch';

/** Node's socket error codes and the kind each one is reported as. */
const ERRNO_KINDS: Record<string, string> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  ETIMEDOUT: 'timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
};

/** The probe's own error codes (see the clients and the workload) and their kinds. */
const PROBE_CODE_KINDS: Record<string, string> = {
  'probe-timeout': 'timeout',
  'probe-no-primary': 'no-primary',
  'probe-no-endpoints': 'no-endpoints',
  'probe-not-connected': 'not-connected',
};

/**
 * The kind of an error no client classified: the probe's own codes, Node's socket error codes
 * (also when wrapped as `cause` or inside an AggregateError), and `other` for anything else.
 */
export function genericErrorKind(err: unknown): string {
  if (err instanceof BatonError && PROBE_CODE_KINDS[err.code]) return PROBE_CODE_KINDS[err.code]!;
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && ERRNO_KINDS[code]) return ERRNO_KINDS[code]!;
    queue.push((e as { cause?: unknown }).cause);
    if (e instanceof AggregateError) queue.push(...e.errors);
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/timed? ?out|timeout/i.test(message)) return 'timeout';
  if (/connection refused|ECONNREFUSED/i.test(message)) return 'refused';
  if (/connection (terminated|closed|ended)|socket hang up|closed unexpectedly/i.test(message))
    return 'reset';
  return 'other';
}

/** The kind of `err` as `client` names it, else the generic kind. */
export function errorKindOf(client: ProbeClient, err: unknown): string {
  return client.errorKind?.(err) ?? genericErrorKind(err);
}
