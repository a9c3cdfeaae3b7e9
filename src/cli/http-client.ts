import { request } from 'node:http';
import { isFields } from './answers.js';
import { OperationError } from './usage.js';

export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
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
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
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
  const fields = Array.isArray(errors) ? ` (${errors.map(fieldErrorLine).join('; ')})` : '';
  const detail = typeof body['detail'] === 'string' ? body['detail'] : answer.text.slice(0, 200);
  return `${answer.status} ${detail}${fields}`;
}

/**
 * The CLI's call to a node's API: an unreachable node and an error answer both become an
 * OperationError with one line to print (exit code 1).
 */
export function apiCaller(base: string): (method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<HttpAnswer> {
  return async (method, path, body, timeoutMs) => {
    const answer = await httpJson(method, base + path, body, timeoutMs).catch((error: Error) => {
      throw new OperationError(`cannot reach ${base}: ${error.message}`);
    });
    if (answer.status >= 400) throw new OperationError(problemLine(answer));
    return answer;
  };
}
