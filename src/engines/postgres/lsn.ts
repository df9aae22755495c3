/**
 * WAL positions (LSNs) as PostgreSQL prints them, `16/B374D848`: two hexadecimal 32-bit halves.
 * Compared and subtracted as bigint so positions past 2^53 bytes stay exact.
 */
import { OperationalError } from '../../core/errors.js';

const LSN_RE = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parse `X/Y` into a byte position; throws OperationalError for anything else. */
export function parseLsn(text: string): bigint {
  const m = LSN_RE.exec(text.trim());
  if (!m)
    throw new OperationalError(
      'bad-lsn',
      `cannot parse WAL position "${text}" (expected X/Y in hexadecimal)`,
    );
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Parse a nullable LSN column (NULL when the server has none, e.g. no WAL received yet). */
export function parseLsnOrUndefined(text: string | null | undefined): bigint | undefined {
  return text === null || text === undefined ? undefined : parseLsn(text);
}

/** Format a byte position the way PostgreSQL prints it (`0/3000148`). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Bytes `behind` trails `ahead`, never negative (a standby may briefly report a later position). */
export function lagBytes(ahead: bigint, behind: bigint): number {
  return ahead > behind ? Number(ahead - behind) : 0;
}
