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
  const send = (onAnswer: (res: IncomingMessage) => void): ClientRequest => target.protocol === 'https:'
    ? httpsRequest({ ...options, ...(credentials.ca === null ? {} : { ca: credentials.ca }), servername: isIpLiteral(target.hostname) ? undefined : target.hostname }, onAnswer)
    : httpRequest(options, onAnswer);
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

/**
 * A request to the first of `servers` that answers: a server that cannot be reached, or that
 * answers 503 (it knows no leader right now), is left for the next; the one that answered is
 * tried first from then on. An answer that is not chime's is an error naming the server. Any
 * status comes back; `apiCaller` turns errors into one line.
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
        continue;
      }
      if (!isChimeAnswer(answer)) throw new OperationError(`${base} answered ${answer.status} ${answer.contentType === '' ? 'without a content type' : `with ${answer.contentType.split(';')[0]}`}: not a chime agent's answer (is --server right?)`);
      last = answer;
      if (answer.status === 503 && k < servers.length - 1) continue;
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
