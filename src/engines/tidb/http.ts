/**
 * The one HTTP helper of the TiDB clients (PD, TiDB status port, TiKV status port, TiCDC): a
 * bounded request through Node's fetch, the body read as text, errors as {@link HttpError} with
 * the status and the server's own message, so a refusal ("no valid pd to transfer etcd leader")
 * reaches status and events verbatim.
 */
import { OperationalError, describeError } from '../../core/errors.js';

/** Default bound of one admin call. */
export const DEFAULT_HTTP_TIMEOUT_MS = 3_000;

/** An HTTP answer outside 2xx, or no answer at all (`status` 0). */
export class HttpError extends OperationalError {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly body: string,
    message: string,
  ) {
    super(status === 0 ? 'http-unreachable' : 'http-status', message);
  }
}

/** `http://host:port` for `host:port`; a URL with a scheme is kept (without a trailing slash). */
export function baseUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return /^https?:\/\//.test(trimmed) ? trimmed : `http://${trimmed}`;
}

/** `host:port` of an endpoint or URL. */
export function hostPort(endpoint: string): string {
  return endpoint.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
}

/** Options of one request. */
export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What came back: status and raw text. */
export interface HttpAnswer {
  status: number;
  text: string;
}

/**
 * One request to `url`. Resolves for any HTTP status (the caller decides what a 404 means);
 * rejects with {@link HttpError} status 0 when nothing answered within the timeout.
 */
export async function request(url: string, opts: RequestOptions = {}): Promise<HttpAnswer> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  try {
    const res = await fetch(url, { method: opts.method ?? 'GET', headers, body, signal });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    throw new HttpError(url, 0, '', `${opts.method ?? 'GET'} ${url}: ${describeError(err)}`);
  }
}

/** The server's message in a body: a JSON string is unquoted, anything else trimmed to one line. */
export function messageOf(text: string): string {
  const t = text.trim();
  try {
    const v: unknown = JSON.parse(t);
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object' && 'message' in v && typeof v.message === 'string') return v.message;
    if (v && typeof v === 'object' && 'error_msg' in v && typeof v.error_msg === 'string') return v.error_msg;
  } catch {
    // not JSON: plain text (http.Error)
  }
  return t.split('\n')[0] ?? '';
}

/** Throws {@link HttpError} unless `answer` is 2xx. */
export function expectOk(method: string, url: string, answer: HttpAnswer): HttpAnswer {
  if (answer.status >= 200 && answer.status < 300) return answer;
  throw new HttpError(
    url,
    answer.status,
    answer.text,
    `${method} ${url} answered ${answer.status}: ${messageOf(answer.text) || '(empty body)'}`,
  );
}

/** Parses a JSON body, naming the URL when it is not JSON. */
export function parseJson<T>(url: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new OperationalError('http-bad-json', `${url} did not answer JSON: ${text.slice(0, 120)}`);
  }
}

/** GET `url` and parse the JSON answer; HttpError for anything but 2xx. */
export async function getJson<T>(url: string, opts: RequestOptions = {}): Promise<T> {
  const answer = expectOk('GET', url, await request(url, { ...opts, method: 'GET' }));
  return parseJson<T>(url, answer.text);
}
