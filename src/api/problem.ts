// Errors on the wire: application/problem+json (RFC 9457) built from a ChimeError.
import { ChimeError } from '../errors/index.js';
import type { Reply } from './reply.js';
import { STATUS_BY_CODE } from './status-by-code.js';

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Seconds a client should wait before retrying a 503 or 429. */
const RETRY_AFTER_SECONDS = 1;

/** Anything thrown while handling a request, as the ChimeError the client is answered with. */
export function asChimeError(error: unknown): ChimeError {
  if (error instanceof ChimeError) return error;
  return new ChimeError('INTERNAL', error instanceof Error ? error.message : String(error));
}

export function statusOf(error: ChimeError): number {
  return STATUS_BY_CODE[error.code];
}

export function sendProblem(res: Reply, error: ChimeError): void {
  const status = statusOf(error);
  const body: Record<string, unknown> = {
    type: `https://chime.dev/problems/${error.code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail: error.message,
    code: error.code,
  };
  if (error.errors.length > 0) body['errors'] = error.errors;
  if (error.leader !== null) body['leader'] = error.leader;
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (status === 503 || status === 429) headers['retry-after'] = String(RETRY_AFTER_SECONDS);
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

export function sendJson(res: Reply, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
