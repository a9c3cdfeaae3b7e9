import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isFields } from './answers.js';
import { OperationError } from './usage.js';

/** Who the CLI is and whom it trusts: the bearer token it sends, the CA it verifies https servers with. */
export interface ClientCredentials {
  readonly token: string | null;
  /** PEM of --ca / CHIME_CA; null: the system's trust store. */
  readonly ca: string | null;
}

let defaults: ClientCredentials = { token: null, ca: null };

/** Sets the credentials every later request of this process uses unless it passes its own (main does, once). */
export function configureClient(credentials: ClientCredentials): void {
  defaults = credentials;
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  readonly contentType: string;
  /** The body as it came (a backup is binary). */
  readonly raw: Buffer;
}

/** One request to `target` over HTTP or, for https://, TLS verified against `ca` when given (never unverified). */
function sendRequest(target: URL, options: RequestOptions, credentials: ClientCredentials, onAnswer: (res: IncomingMessage) => void): ClientRequest {
  return target.protocol === 'https:'
    ? httpsRequest({ ...options, ...(credentials.ca === null ? {} : { ca: credentials.ca }), servername: isIpLiteral(target.hostname) ? undefined : target.hostname }, onAnswer)
    : httpRequest(options, onAnswer);
}

/**
 * A small JSON-over-HTTP(S) client with a deadline; used by the CLI and by tests. An https://
 * URL is spoken over TLS (verified against `ca` when given, never unverified); the token
 * goes in the Authorization header, never in the URL.
 */
export function httpJson(method: string, url: string, body?: unknown, timeoutMs = 10_000, credentials: ClientCredentials = defaults): Promise<HttpAnswer> {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return Promise.reject(new OperationError(`${url}: only http:// and https:// servers are spoken to`));
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(payload.length) };
  if (credentials.token !== null) headers['authorization'] = `Bearer ${credentials.token}`;
  const options: RequestOptions = { host: target.hostname.replace(/^\[|\]$/g, ''), port: target.port, method, path: target.pathname + target.search, headers, timeout: timeoutMs };
  const send = (onAnswer: (res: IncomingMessage) => void): ClientRequest => sendRequest(target, options, credentials, onAnswer);
  return new Promise((resolve, reject) => {
    const req = send(
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = raw.toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text === '' ? null : JSON.parse(text);
          } catch {
            // not JSON (metrics): keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text, contentType: String(res.headers['content-type'] ?? ''), raw });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${target.host} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[');
}

/** One `errors` item of a problem+json answer: `path: message`. */
function fieldErrorLine(item: unknown): string {
  return isFields(item) ? `${String(item['path'])}: ${String(item['message'])}` : String(item);
}

/** The one-line reason of a problem+json answer. */
export function problemLine(answer: HttpAnswer): string {
  const body = isFields(answer.body) ? answer.body : {};
  const errors: unknown = body['errors'];
  const lines = Array.isArray(errors) ? errors.map(fieldErrorLine) : [];
  const detail = typeof body['detail'] === 'string' ? body['detail'] : answer.text.slice(0, 200);
  // Each field error once: when the detail already lists them, it says it all.
  const fields = lines.length > 0 && !lines.every((line) => detail.includes(line)) ? ` (${lines.join('; ')})` : '';
  return `${answer.status} ${detail}${fields}`;
}

/** Why a request got no answer, in words: refused, unknown host, or silence. */
function unreachable(base: string, error: unknown): OperationError {
  const code: unknown = error instanceof Error ? Reflect.get(error, 'code') : undefined;
  const why = code === 'ECONNREFUSED' ? 'connection refused (is a chime agent listening there?)'
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'unknown host'
      : code === 'ECONNRESET' && base.startsWith('http://') ? 'connection reset (is the server https://?)'
      : typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code) ? `the server's certificate is not trusted (${code}); give its CA with --ca FILE or CHIME_CA`
      : error instanceof Error ? error.message : String(error);
  return new OperationError(`cannot reach ${base}: ${why}`);
}

/** Every chime answer is JSON: problem+json for errors. Anything else came from something that is not chime. */
function isChimeAnswer(answer: HttpAnswer): boolean {
  return answer.contentType.startsWith('application/json') || answer.contentType.startsWith('application/octet-stream') || answer.contentType.startsWith('application/problem+json') || (answer.status === 204 && answer.text === '');
}

/** The API's body limit (src/api MAX_BODY_BYTES), as the CLI names it. */
const MAX_BODY_MIB = 1;

export type ApiCall = (method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<HttpAnswer>;

/** 503 codes that say a write may have taken effect: sending it again elsewhere could apply it twice. */
const OUTCOME_UNKNOWN_CODES: readonly string[] = ['OUTCOME_UNKNOWN', 'LEADERSHIP_LOST'];

/** Errors of a connection that never opened: nothing was sent. */
const NOT_SENT_CODES: readonly unknown[] = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'];

function neverSent(error: unknown): boolean {
  return error instanceof Error && NOT_SENT_CODES.includes(Reflect.get(error, 'code'));
}

function outcomeUnknown(answer: HttpAnswer): boolean {
  const body = answer.body;
  return typeof body === 'object' && body !== null && 'code' in body && typeof body.code === 'string' && OUTCOME_UNKNOWN_CODES.includes(body.code);
}

/**
 * A request to the first of `servers` that answers: a server that cannot be reached, or that
 * answers 503 (it knows no leader right now), is left for the next; the one that answered is
 * tried first from then on. A write is sent again only where it cannot have taken effect: a
 * 503 that says its outcome is unknown comes back as it is, and a connection that broke or
 * timed out after the write was sent is an error, not a reason to try the next server. An answer that is not chime's is an error naming the
 * server. Any status comes back; `apiCaller` turns errors into one line.
 */
export function apiSender(servers: readonly string[]): ApiCall {
  let first = 0;
  return async (method, path, body, timeoutMs) => {
    let last: OperationError | HttpAnswer | null = null;
    for (let k = 0; k < servers.length; k++) {
      const i = (first + k) % servers.length;
      const base = servers[i] ?? '';
      let answer: HttpAnswer;
      try {
        answer = await httpJson(method, base + path, body, timeoutMs);
      } catch (error) {
        last = unreachable(base, error);
        if (method !== 'GET' && method !== 'HEAD' && !neverSent(error)) throw last;
        continue;
      }
      if (!isChimeAnswer(answer)) throw new OperationError(`${base} answered ${answer.status} ${answer.contentType === '' ? 'without a content type' : `with ${answer.contentType.split(';')[0]}`}: not a chime agent's answer (is --server right?)`);
      last = answer;
      if (answer.status === 503 && k < servers.length - 1 && !outcomeUnknown(answer)) continue;
      first = i;
      return answer;
    }
    if (last === null || last instanceof OperationError) throw last ?? new OperationError('no server to ask');
    return last;
  };
}

/**
 * The CLI's call to the cluster's API (see apiSender): an unreachable cluster, an answer that
 * is not chime's and an error answer each become an OperationError with one line to print
 * (exit code 1).
 */
export function apiCaller(servers: string | readonly string[]): ApiCall {
  const send = apiSender(typeof servers === 'string' ? [servers] : servers);
  return async (method, path, body, timeoutMs) => {
    const answer = await send(method, path, body, timeoutMs);
    if (answer.status === 503 && method === 'GET') throw new OperationError(`${problemLine(answer)}; to read this node's local state anyway, add --stale`);
    if (answer.status === 413) throw new OperationError(`request too large (limit ${MAX_BODY_MIB} MiB)`);
    if (answer.status === 401) throw new OperationError(`${problemLine(answer)}; give a token with --token, CHIME_TOKEN or (for chime dev) run in its directory`);
    if (answer.status >= 400) throw new OperationError(problemLine(answer));
    return answer;
  };
}

/** A writable the streamed body goes to (process.stdout): `write` false means wait for `drain`. */
export interface ByteSink {
  write(chunk: Uint8Array): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * GETs `path` from the first of `servers` that answers and copies a 200 body to `sink` as it
 * arrives, pausing the response while the sink is full (so a slow terminal holds the node's
 * stream back, not this process's memory). Resolves with the answer's headers; an error
 * answer becomes an OperationError with its one line.
 */
export async function streamGet(servers: readonly string[], path: string, sink: ByteSink): Promise<Readonly<Record<string, string | string[] | undefined>>> {
  let last: OperationError | null = null;
  for (const base of servers) {
    const target = new URL(base + path);
    try {
      return await new Promise((resolve, reject) => {
        const headers: Record<string, string> = defaults.token === null ? {} : { authorization: `Bearer ${defaults.token}` };
        const options: RequestOptions = { host: target.hostname.replace(/^\[|\]$/g, ''), port: target.port, method: 'GET', path: target.pathname + target.search, headers };
        const req = sendRequest(target, options, defaults, (res) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const raw = Buffer.concat(chunks);
              const text = raw.toString('utf8');
              let body: unknown = text;
              try {
                body = JSON.parse(text);
              } catch {
                // not JSON: the line shows the text
              }
              reject(new OperationError(problemLine({ status, body, text, contentType: String(res.headers['content-type'] ?? ''), raw })));
            });
            return;
          }
          res.on('data', (chunk: Buffer) => {
            if (!sink.write(chunk)) {
              res.pause();
              sink.once('drain', () => res.resume());
            }
          });
          res.on('end', () => resolve(res.headers));
          res.on('error', reject);
        });
        req.on('error', (error) => reject(unreachable(base, error)));
        req.end();
      });
    } catch (error) {
      if (error instanceof OperationError && error.message.startsWith('cannot reach')) {
        last = error;
        continue;
      }
      throw error;
    }
  }
  throw last ?? new OperationError('no server to ask');
}
