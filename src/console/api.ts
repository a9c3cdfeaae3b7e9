// The console's one way to the API: the node that served the page (same origin), the token
// from this tab's sessionStorage as a Bearer header (never a cookie, never in a URL), and
// problem+json turned into an ApiError with its field errors.
import { isRecord, type Reader } from './decode.js';
import type { FieldError } from './spec-form.js';

export type { Page } from './decode.js';

const TOKEN_KEY = 'chime.token';
/** How long one API call may take before the console gives up on it (long enough for a 3 s leader wait and a forward). */
const REQUEST_TIMEOUT_MS = 15_000;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: readonly FieldError[],
  ) {
    super(detail);
  }

  /** The route does not exist on this server: an endpoint of the contract not implemented (yet) by this node's version. */
  get unavailable(): boolean {
    return (this.status === 404 && this.code === 'ROUTE_NOT_FOUND') || (this.status === 405 && this.code === 'METHOD_NOT_ALLOWED');
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value: string | null): void {
  if (value === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

/** Told when the server refuses the token (401): the session has ended (revoked or expired). */
let onUnauthorized: (error: ApiError) => void = () => {};
export function whenUnauthorized(handler: (error: ApiError) => void): void {
  onUnauthorized = handler;
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  /** A token to try instead of the session's (the login form). `''` sends none. */
  readonly token?: string;
  /** Leave a 401 to the caller instead of ending the session. */
  readonly quiet401?: boolean;
}

function headersFor(options: RequestOptions): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const t = options.token ?? token();
  if (t !== null && t !== '') headers['authorization'] = `Bearer ${t}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  return headers;
}

async function problemOf(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = await res.json();
    if (isRecord(parsed)) body = parsed;
  } catch {
    // Not JSON (a proxy's page, a cut connection): the status says enough.
  }
  const errors = Array.isArray(body['errors'])
    ? body['errors'].flatMap((e): FieldError[] => (isRecord(e) && typeof e['path'] === 'string' && typeof e['message'] === 'string' ? [{ path: e['path'], message: e['message'] }] : []))
    : [];
  const detail = typeof body['detail'] === 'string' ? body['detail'] : `${res.status} ${res.statusText}`;
  return new ApiError(res.status, typeof body['code'] === 'string' ? body['code'] : `HTTP_${res.status}`, detail, errors);
}

function withTimeout(signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  return signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
}

/** One API call; resolves the JSON body unchecked (undefined for 204), rejects with ApiError. */
export async function request(method: string, path: string, options: RequestOptions = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: headersFor(options),
      body: options.body === undefined ? null : JSON.stringify(options.body),
      signal: withTimeout(options.signal),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (error) {
    if (options.signal?.aborted === true) throw error;
    throw new ApiError(0, 'UNREACHABLE', `the node that served this page did not answer (${error instanceof Error ? error.message : String(error)})`, []);
  }
  if (!res.ok) {
    const problem = await problemOf(res);
    if (res.status === 401 && options.quiet401 !== true) onUnauthorized(problem);
    throw problem;
  }
  if (res.status === 204) return undefined;
  const body: unknown = await res.json();
  return body;
}

/** A read, its answer checked into T by `read` (decode.ts). */
export const get = async <T>(path: string, read: Reader<T>, options: RequestOptions = {}): Promise<T> => read(await request('GET', path, options), 'answer');
export const post = (path: string, body?: unknown, options: RequestOptions = {}): Promise<unknown> => request('POST', path, { ...options, body: body ?? {} });

/** A path with its query: empty values are left out. */
export function withQuery(path: string, query: Readonly<Record<string, string | number | null | undefined | readonly string[]>>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === null || v === undefined || v === '') continue;
    if (Array.isArray(v)) for (const item of v) params.append(k, item);
    else params.set(k, String(v));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

export const enc = encodeURIComponent;

/** What a run output answer said of itself: the stored files, or the run record's tail (and why). */
export interface StreamedOutput {
  readonly tail: boolean;
  readonly note: string | null;
}

/**
 * Streams a text body (the run output endpoint) chunk by chunk until it ends or `signal`
 * aborts. Rejects with ApiError when the answer is not a 2xx.
 */
export async function streamText(path: string, onChunk: (text: string) => void, signal: AbortSignal): Promise<StreamedOutput> {
  const res = await fetch(path, { headers: { ...headersFor({}), accept: 'text/plain' }, signal, credentials: 'omit', cache: 'no-store' });
  if (!res.ok) throw await problemOf(res);
  const answer: StreamedOutput = { tail: res.headers.get('chime-output-source') === 'tail', note: res.headers.get('chime-output-note') };
  if (res.body === null) return answer;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return answer;
    onChunk(value);
  }
}
