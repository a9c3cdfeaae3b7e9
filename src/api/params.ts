// Request parameters shared by the routes: ids from the path, paging, reads' consistency.
import { ChimeError, isChimeError } from '../errors/index.js';
import { isValidJobId } from '../statemachine/index.js';
import type { ReadBarrier } from './services.js';
import type { RequestContext } from './server.js';

const RUN_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const LIMIT_MAX = 1000;
/** How long a linearizable read waits for a leader to appear before answering 503. */
const READ_LEADER_WAIT_MS = 3000;
const READ_LEADER_POLL_MS = 20;

export function jobIdParam(ctx: RequestContext): string {
  const id = ctx.params['id'] ?? '';
  if (isValidJobId(id)) return id;
  throw new ChimeError('INVALID_JOB_ID', `job id "${ctx.params['id']?.slice(0, 140) ?? ''}" must match [A-Za-z0-9._-]{1,128}`, { errors: [{ path: 'id', message: 'must match [A-Za-z0-9._-]{1,128}' }] });
}

export function runIdParam(ctx: RequestContext): string {
  const id = ctx.params['runId'] ?? '';
  if (!RUN_ID.test(id)) throw new ChimeError('INVALID_RUN_ID', 'run id must match [A-Za-z0-9._:-]{1,128}', { errors: [{ path: 'runId', message: 'invalid run id' }] });
  return id;
}

/** `limit` (1..1000) and `cursor` of a list request. */
export function pageParams(ctx: RequestContext): { limit?: number; cursor?: string } {
  const out: { limit?: number; cursor?: string } = {};
  const limit = ctx.url.searchParams.get('limit');
  if (limit !== null) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > LIMIT_MAX) throw new ChimeError('INVALID_REQUEST', `limit must be a whole number from 1 to ${LIMIT_MAX}`, { errors: [{ path: 'limit', message: `expected 1..${LIMIT_MAX}` }] });
    out.limit = n;
  }
  const cursor = ctx.url.searchParams.get('cursor');
  if (cursor !== null && cursor !== '') out.cursor = cursor;
  return out;
}

/**
 * Reads are linearizable unless the client asks for `?stale=true`. Right after a restart or
 * during an election no leader is known yet; like a write, the read waits a bounded time
 * for one instead of failing at once.
 */
export async function readBarrier(barrier: ReadBarrier, ctx: RequestContext): Promise<void> {
  const stale = ctx.url.searchParams.get('stale');
  if (stale === 'true' || stale === '1') return;
  const untilMs = performance.now() + READ_LEADER_WAIT_MS;
  for (;;) {
    try {
      await barrier.read();
      return;
    } catch (error) {
      if (!isChimeError(error, 'NO_LEADER', 'NOT_LEADER') || performance.now() >= untilMs) throw error;
      await new Promise((r) => setTimeout(r, READ_LEADER_POLL_MS));
    }
  }
}

/** The fields of a JSON object body; unknown fields are refused with their paths. */
export function objectBody(body: unknown, allowed: readonly string[]): Map<string, unknown> {
  if (body === undefined || body === null) return new Map();
  if (typeof body !== 'object' || Array.isArray(body)) throw new ChimeError('INVALID_REQUEST', 'the body must be a JSON object', { errors: [{ path: '', message: 'expected an object' }] });
  const fields = new Map(Object.entries(body));
  const unknown = [...fields.keys()].filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new ChimeError('INVALID_REQUEST', 'the body has unknown fields', { errors: unknown.map((k) => ({ path: k, message: 'unknown field' })) });
  return fields;
}
