import { ChimeError } from '../errors/index.js';
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, NODE_ID_PATTERN, QUEUE_PRIORITIES, RUN_STATUSES, TRIGGERS, isValidJobId, type ListOptions, type Page, type QueuedManualFire, type Rejected, type RunRecord, type RunStatus, type Trigger } from '../statemachine/index.js';
import { jobIdParam, objectBody, pageParams, readBarrier, runIdParam } from './params.js';
import { sendJson } from './problem.js';
import type { JobService, ReadBarrier, RunNowRequest, RunService } from './services.js';
import type { Route } from './server.js';
import { runView, waitingRunView } from './views.js';
import { parseWait, WAIT_MS_MAX } from './wait.js';
import { isOneOf } from '../guards/index.js';

const KEY_CHARS_MAX = 256;

function manualInput(body: unknown): RunNowRequest {
  const fields = objectBody(body, ['payload', 'key', 'priority']);
  const payload = fields.get('payload');
  const key = fields.get('key');
  const priority = fields.get('priority');
  const errors = [];
  if (priority !== undefined && !isOneOf(QUEUE_PRIORITIES, priority)) errors.push({ path: 'priority', message: 'must be "high", "normal" or "low"' });
  if (payload !== undefined && typeof payload !== 'string') errors.push({ path: 'payload', message: 'must be a string' });
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > KEY_CHARS_MAX)) errors.push({ path: 'key', message: `must be a string of 1 to ${KEY_CHARS_MAX} characters` });
  if (errors.length > 0) throw new ChimeError('INVALID_REQUEST', 'the run request is invalid', { errors });
  return { payload: typeof payload === 'string' ? payload : null, key: typeof key === 'string' ? key : null, priority: isOneOf(QUEUE_PRIORITIES, priority) ? priority : null };
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `since`/`until`: an ISO-8601 time, or a duration (`90s`, `15m`, `1h`, `7d`) back from now. */
export function parseInstant(name: string, text: string, nowMs: number): number {
  const m = /^(\d{1,7})(ms|s|m|h|d)$/.exec(text);
  const unitMs = m === null ? undefined : DURATION_UNITS_MS[m[2] ?? ''];
  if (m !== null && unitMs !== undefined) return nowMs - Number(m[1]) * unitMs;
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) throw new ChimeError('INVALID_REQUEST', `${name} must be an ISO-8601 time or a duration back from now such as 1h`, { errors: [{ path: name, message: 'expected an ISO-8601 time or a duration like 30m, 1h, 7d' }] });
  return at;
}

function oneOf<T extends string>(name: string, text: string | null, choices: readonly T[]): T | null {
  if (text === null || text === '') return null;
  const found = choices.find((c) => c === text);
  if (found === undefined) throw new ChimeError('INVALID_REQUEST', `${name} must be one of ${choices.join(', ')}`, { errors: [{ path: name, message: `expected ${choices.join('|')}` }] });
  return found;
}

function searchQuery(q: URLSearchParams, nowMs: number): SearchQuery {
  const job = q.get('job');
  if (job !== null && job !== '' && !isValidJobId(job)) throw new ChimeError('INVALID_JOB_ID', 'job must match [A-Za-z0-9._-]{1,128}', { errors: [{ path: 'job', message: 'must match [A-Za-z0-9._-]{1,128}' }] });
  const node = q.get('node');
  if (node !== null && node !== '' && !NODE_ID_PATTERN.test(node)) throw new ChimeError('INVALID_REQUEST', 'node must be a node id', { errors: [{ path: 'node', message: 'must match [a-z0-9][a-z0-9-]{0,31}' }] });
  const since = q.get('since');
  const until = q.get('until');
  return {
    jobId: job === null || job === '' ? null : job,
    status: oneOf('status', q.get('status'), RUN_STATUSES),
    trigger: oneOf('trigger', q.get('trigger'), TRIGGERS),
    node: node === null || node === '' ? null : node,
    sinceMs: since === null || since === '' ? null : parseInstant('since', since, nowMs),
    untilMs: until === null || until === '' ? null : parseInstant('until', until, nowMs),
  };
}

type SearchQuery = {
  readonly jobId: string | null;
  readonly status: RunStatus | null;
  readonly trigger: Trigger | null;
  readonly node: string | null;
  readonly sinceMs: number | null;
  readonly untilMs: number | null;
};

/**
 * One page of a run list whose first page starts with the manual runs waiting for a free slot
 * that `match` (they have no record, so no place in the cursor's order; at most limit − 1 of
 * them); the records fill the rest of the page.
 */
function waitingFirst(
  jobs: JobService, options: ListOptions, match: (fire: QueuedManualFire) => boolean, records: (options: ListOptions) => Page<RunRecord> | Rejected,
): { items: Record<string, unknown>[]; nextCursor: string | null } {
  const limit = Math.min(options.limit ?? LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX);
  const waiting = (options.cursor ?? null) === null ? jobs.table().waitingManualFiresWhere(match, limit - 1) : [];
  const page = records({ ...options, limit: limit - waiting.length });
  if (!page.ok) throw new ChimeError(page.code, page.message);
  return { items: [...waiting.map(waitingRunView), ...page.items.map(runView)], nextCursor: page.nextCursor };
}

/** The run endpoints of api.md. Manual runs and kills run on the leader's scheduler. */
export function runRoutes(runs: RunService, jobs: JobService, barrier: ReadBarrier): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/jobs/:id/run',
      permission: 'runs.write',
      write: true,
      handle: async (ctx) => {
        const id = jobIdParam(ctx);
        const input = manualInput(await ctx.body());
        const waitText = ctx.url.searchParams.get('wait');
        const waitMs = waitText === null ? null : parseWait(waitText);
        if (waitText !== null && (waitMs === null || waitMs > WAIT_MS_MAX)) throw new ChimeError('INVALID_REQUEST', 'wait must be a duration like 30s, 2m or 1500ms, at most 15m', { errors: [{ path: 'wait', message: 'invalid duration' }] });
        const job = jobs.table().getJob(id);
        if (job === null) throw new ChimeError('JOB_NOT_FOUND', `job ${id} does not exist`);
        if (input.priority !== null && job.executor.type !== 'queue') {
          throw new ChimeError('INVALID_REQUEST', 'priority applies to runs of queue jobs', { errors: [{ path: 'priority', message: `job ${id} is not a queue job` }] });
        }
        const started = await runs.runNow(id, input, ctx.audit(id));
        if (waitMs === null) return sendJson(ctx.res, 202, started);
        const waited = await runs.awaitRun(started.runId, waitMs);
        if (waited.run === null) {
          const waiting = jobs.table().waitingManualFire(started.runId);
          if (waiting === null) throw new ChimeError('RUN_NOT_FOUND', `run ${started.runId} is no longer recorded`);
          return sendJson(ctx.res, 202, waitingRunView(waiting));
        }
        sendJson(ctx.res, waited.done ? 200 : 202, runView(waited.run));
      },
    },
    {
      method: 'GET',
      path: '/v1/jobs/:id/runs',
      permission: 'runs.read',
      write: false,
      handle: async (ctx) => {
        const id = jobIdParam(ctx);
        const options = pageParams(ctx);
        await readBarrier(barrier, ctx);
        sendJson(ctx.res, 200, waitingFirst(jobs, options, (f) => f.jobId === id, (pageOptions) => jobs.table().listRuns(id, pageOptions)));
      },
    },
    {
      method: 'GET',
      path: '/v1/runs',
      permission: 'runs.read',
      write: false,
      handle: async (ctx) => {
        const query = searchQuery(ctx.url.searchParams, Date.now());
        const options = pageParams(ctx);
        await readBarrier(barrier, ctx);
        // A waiting run is pending, manual, on no node yet, requested at its scheduledAt.
        const matches = (f: QueuedManualFire): boolean => (query.jobId === null || f.jobId === query.jobId) && (query.status === null || query.status === 'pending')
          && (query.trigger === null || query.trigger === 'manual') && query.node === null
          && (query.sinceMs === null || f.scheduledAt >= query.sinceMs) && (query.untilMs === null || f.scheduledAt < query.untilMs);
        sendJson(ctx.res, 200, waitingFirst(jobs, options, matches, (pageOptions) => jobs.table().searchRuns(query, pageOptions)));
      },
    },
    {
      method: 'GET',
      path: '/v1/runs/:runId',
      permission: 'runs.read',
      write: false,
      handle: async (ctx) => {
        const runId = runIdParam(ctx);
        await readBarrier(barrier, ctx);
        const run = jobs.table().getRun(runId);
        if (run !== null) return sendJson(ctx.res, 200, runView(run));
        const waiting = jobs.table().waitingManualFire(runId);
        if (waiting === null) throw new ChimeError('RUN_NOT_FOUND', `run ${runId} does not exist`);
        sendJson(ctx.res, 200, waitingRunView(waiting));
      },
    },
    {
      method: 'POST',
      path: '/v1/runs/:runId/kill',
      permission: 'runs.write',
      write: true,
      handle: async (ctx) => {
        const runId = runIdParam(ctx);
        const run = await runs.kill(runId, ctx.audit(runId));
        sendJson(ctx.res, 202, run === null ? { runId } : runView(run));
      },
    },
  ];
}
