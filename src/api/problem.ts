import type { ServerResponse } from 'node:http';
import { ChimeError, type ChimeErrorCode } from '../agent/errors.js';

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** An error answered as application/problem+json (RFC 9457). */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly errors: readonly FieldError[] = [],
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(detail);
  }
}

/** One table from error code to HTTP status. */
const STATUS_BY_CODE: Record<ChimeErrorCode, number> = {
  NOT_LEADER: 503,
  NO_LEADER: 503,
  PROPOSALS_FULL: 429,
  PROPOSAL_DROPPED: 503,
  LEADERSHIP_LOST: 503,
  TIMEOUT: 504,
  TRANSFER_IN_PROGRESS: 503,
  CONF_CHANGE_PENDING: 409,
  CONF_CHANGE_INVALID: 409,
  READS_FULL: 429,
  SHUTTING_DOWN: 503,
  INVALID_REQUEST: 400,
  NOT_FOUND: 404,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
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

export function problemFrom(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  if (error instanceof ChimeError) {
    const status = STATUS_BY_CODE[error.code];
    const retry = status === 503 || status === 429 ? 1 : null;
    return new HttpProblem(status, error.code, TITLES[status] ?? 'Error', error.message, [], retry);
  }
  return new HttpProblem(500, 'INTERNAL', 'Internal Server Error', error instanceof Error ? error.message : String(error));
}

export function problem(status: number, code: string, detail: string, errors: readonly FieldError[] = []): HttpProblem {
  return new HttpProblem(status, code, TITLES[status] ?? 'Error', detail, errors);
}

/** A 503 or 429 the client should retry: it carries Retry-After. */
export function retryLater(status: 503 | 429, code: string, detail: string): HttpProblem {
  return new HttpProblem(status, code, TITLES[status] ?? 'Error', detail, [], 1);
}

export function sendProblem(res: ServerResponse, p: HttpProblem): void {
  const body: Record<string, unknown> = { type: `https://chime.dev/problems/${p.code.toLowerCase().replace(/_/g, '-')}`, title: p.title, status: p.status, detail: p.detail, code: p.code };
  if (p.errors.length > 0) body['errors'] = p.errors;
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (p.retryAfterSeconds !== null) headers['retry-after'] = String(p.retryAfterSeconds);
  res.writeHead(p.status, headers);
  res.end(JSON.stringify(body));
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
