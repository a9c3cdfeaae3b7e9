import { request } from 'node:http';
import { isFields } from './answers.js';
import { OperationError } from './usage.js';

export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  readonly contentType: string;
}

/** A small JSON-over-HTTP client with a deadline; used by the CLI and by tests. */
export function httpJson(method: string, url: string, body?: unknown, timeoutMs = 10_000): Promise<HttpAnswer> {
  const target = new URL(url);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        method,
        path: target.pathname + target.search,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(payload.length) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text === '' ? null : JSON.parse(text);
          } catch {
            // not JSON (metrics): keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text, contentType: String(res.headers['content-type'] ?? '') });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${target.host} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
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
      : error instanceof Error ? error.message : String(error);
  return new OperationError(`cannot reach ${base}: ${why}`);
}

/** Every chime answer is JSON: problem+json for errors. Anything else came from something that is not chime. */
function isChimeAnswer(answer: HttpAnswer): boolean {
  return answer.contentType.startsWith('application/json') || answer.contentType.startsWith('application/problem+json') || (answer.status === 204 && answer.text === '');
}

/**
 * The CLI's call to a node's API: an unreachable node, an answer that is not chime's and an
 * error answer each become an OperationError with one line to print (exit code 1).
 */
export function apiCaller(base: string): (method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<HttpAnswer> {
  return async (method, path, body, timeoutMs) => {
    const answer = await httpJson(method, base + path, body, timeoutMs).catch((error: unknown) => {
      throw unreachable(base, error);
    });
    if (!isChimeAnswer(answer)) throw new OperationError(`${base} answered ${answer.status} ${answer.contentType === '' ? 'without a content type' : `with ${answer.contentType.split(';')[0]}`}: not a chime agent's answer (is --server right?)`);
    if (answer.status === 503 && method === 'GET') throw new OperationError(`${problemLine(answer)}; to read this node's local state anyway, add --stale`);
    if (answer.status >= 400) throw new OperationError(problemLine(answer));
    return answer;
  };
}
