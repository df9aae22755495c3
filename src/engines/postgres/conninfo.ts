/**
 * libpq connection strings (`primary_conninfo`) and `postgresql.auto.conf` lines: building,
 * quoting and editing them without a server. Pure.
 */
import { BadInputError } from '../../core/errors.js';

/** Quote a libpq conninfo value: bare when safe, otherwise in single quotes with `\` escapes. */
export function quoteConninfoValue(value: string): string {
  if (value !== '' && /^[A-Za-z0-9_.:/@-]+$/.test(value)) return value;
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Build a conninfo string from key/value pairs, in the given order; undefined values are left out. */
export function buildConninfo(params: Record<string, string | number | undefined>): string {
  return Object.entries(params)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${quoteConninfoValue(String(v))}`)
    .join(' ');
}

/** Host and port of an endpoint written `host:port` (IPv6 as `[::1]:5432`). */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(endpoint.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new BadInputError(
      'bad-endpoint',
      `cannot parse PostgreSQL endpoint "${endpoint}": write it as host:port`,
    );
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

/** Quote a value for postgresql.conf / postgresql.auto.conf: single quotes, `'` doubled. */
export function quoteConfValue(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function unquoteConfValue(raw: string): string {
  const v = raw.trim();
  if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) return v.slice(1, -1).replace(/''/g, "'");
  return v;
}

const CONF_LINE = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?\s*(.*?)\s*$/;

/** The value of `key` in a configuration file's text (last assignment wins), or undefined. */
export function readConfSetting(text: string, key: string): string | undefined {
  let found: string | undefined;
  for (const line of text.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    const m = CONF_LINE.exec(line);
    if (m && m[1]?.toLowerCase() === key.toLowerCase()) found = unquoteConfValue(m[2] ?? '');
  }
  return found;
}

/**
 * `text` with every assignment of `key` removed and, when `value` is given, one assignment
 * `key = 'value'` appended, the way ALTER SYSTEM writes postgresql.auto.conf.
 */
export function setConfSetting(text: string, key: string, value: string | undefined): string {
  const lines = text.split('\n').filter((line) => {
    if (/^\s*(#|$)/.test(line)) return true;
    const m = CONF_LINE.exec(line);
    return !(m && m[1]?.toLowerCase() === key.toLowerCase());
  });
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (value !== undefined) lines.push(`${key} = ${quoteConfValue(value)}`);
  return lines.join('\n') + '\n';
}

/**
 * Parse a libpq key/value conninfo (`host=127.0.0.1 port=5432 application_name='a b'`) into its
 * pairs. Values may be bare or single-quoted with `\` escapes; malformed text yields what parsed.
 */
export function parseConninfo(conninfo: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|([^\s']*))/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(conninfo)) !== null) {
    const key = m[1] as string;
    out[key] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return out;
}
