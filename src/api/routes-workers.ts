// Pull workers (api.md "Pull workers and functions"): claim, heartbeat, complete and fail are
// writes (forwarded to the leader, whose scheduler records each in the log before it
// answers); the function and worker lists are reads of the replicated table.
import { ChimeError, type FieldError } from '../errors/index.js';
import {
  CLAIM_FUNCTIONS_MAX, CLAIM_ITEMS_MAX, ERROR_CHARS_MAX, FUNCTION_NAME_PATTERN, OUTPUT_CHUNK_BYTES_MAX, RESULT_BYTES_MAX, WORKER_ID_PATTERN,
  type ClaimReportKind, type Progress, type RunRecord,
} from '../statemachine/index.js';
import { objectBody, readBarrier, runIdParam } from './params.js';
import { sendJson } from './problem.js';
import type { JobService, ReadBarrier, WorkerService } from './services.js';
import type { Route } from './server.js';
import { runView } from './views.js';

/** api.md: a claim long-polls at most 60 s. */
export const CLAIM_WAIT_MS_MAX = 60_000;
const CLAIM_WAIT_MS_DEFAULT = 30_000;
/** A worker counts for a function when it was seen within this window (api.md). */
export const WORKER_SEEN_WINDOW_MS = 60_000;

const utf8 = new TextEncoder();

function invalid(errors: FieldError[]): never {
  throw new ChimeError('INVALID_REQUEST', 'the request is invalid', { errors });
}

function workerField(fields: Map<string, unknown>, errors: FieldError[]): string {
  const worker = fields.get('worker');
  if (typeof worker === 'string' && WORKER_ID_PATTERN.test(worker)) return worker;
  errors.push({ path: 'worker', message: 'is required: [A-Za-z0-9._:@-]{1,128}' });
  return '';
}

function attemptField(fields: Map<string, unknown>, errors: FieldError[]): number {
  const attempt = fields.get('attempt');
  if (typeof attempt === 'number' && Number.isSafeInteger(attempt) && attempt >= 1 && attempt <= 1000) return attempt;
  errors.push({ path: 'attempt', message: 'is required: the attempt the claim answered' });
  return 0;
}

function boundedText(fields: Map<string, unknown>, name: string, bytesMax: number, errors: FieldError[]): string | null {
  const value = fields.get(name);
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') return errors.push({ path: name, message: 'must be a string' }), null;
  if (utf8.encode(value).length > bytesMax) return errors.push({ path: name, message: `must be at most ${bytesMax} bytes` }), null;
  return value;
}

function progressField(fields: Map<string, unknown>, errors: FieldError[]): Progress | null {
  const value = fields.get('progress');
  if (value === undefined || value === null) return null;
  const count = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (typeof value === 'object' && !Array.isArray(value)) {
    const done: unknown = Reflect.get(value, 'done');
    const total: unknown = Reflect.get(value, 'total');
    if (count(done) && count(total) && Object.keys(value).every((k) => k === 'done' || k === 'total')) return { done, total };
  }
  errors.push({ path: 'progress', message: 'must be {done, total} with whole numbers >= 0' });
  return null;
}

/** What a claim answers per run (api.md). */
export function claimItem(run: RunRecord): Record<string, unknown> {
  return { runId: run.runId, attempt: run.attempt, jobId: run.jobId, function: run.queue?.function ?? null, payload: run.payload ?? '', leaseMs: run.queue?.leaseMs ?? null };
}

export function workerRoutes(workers: WorkerService, jobs: JobService, barrier: ReadBarrier, nowMs: () => number): Route[] {
  const reportRoute = (kind: Exclude<ClaimReportKind, 'expire'>, allowed: readonly string[]): Route => ({
    method: 'POST',
    path: `/v1/runs/:runId/${kind}`,
    permission: 'workers.pull',
    write: true,
    handle: async (ctx) => {
      const runId = runIdParam(ctx);
      const fields = objectBody(await ctx.body(), allowed);
      const errors: FieldError[] = [];
      const worker = workerField(fields, errors);
      const attempt = attemptField(fields, errors);
      const progress = kind === 'fail' ? null : progressField(fields, errors);
      const output = boundedText(fields, 'output', OUTPUT_CHUNK_BYTES_MAX, errors) ?? '';
      const result = kind === 'complete' ? boundedText(fields, 'result', RESULT_BYTES_MAX, errors) : null;
      let error: string | null = null;
      let retry = true;
      if (kind === 'fail') {
        error = boundedText(fields, 'error', ERROR_CHARS_MAX, errors);
        if (error === null && !errors.some((e) => e.path === 'error')) errors.push({ path: 'error', message: 'is required' });
        const r = fields.get('retry');
        if (r !== undefined && typeof r !== 'boolean') errors.push({ path: 'retry', message: 'must be true or false' });
        retry = r !== false;
      }
      if (errors.length > 0) invalid(errors);
      const run = await workers.report({ type: 'claimReport', kind, runId, attempt, worker, at: nowMs(), progress, output, result, error, retry });
      sendJson(ctx.res, 200, kind === 'heartbeat' ? heartbeatView(run) : runView(run));
    },
  });
  return [
    {
      method: 'POST',
      path: '/v1/workers/claim',
      permission: 'workers.pull',
      write: true,
      holdsMsMax: CLAIM_WAIT_MS_MAX,
      handle: async (ctx) => {
        const fields = objectBody(await ctx.body(), ['worker', 'functions', 'max', 'waitMs']);
        const errors: FieldError[] = [];
        const worker = workerField(fields, errors);
        const functions = fields.get('functions');
        const names = Array.isArray(functions) ? functions.filter((f): f is string => typeof f === 'string' && FUNCTION_NAME_PATTERN.test(f)) : [];
        if (!Array.isArray(functions) || names.length !== functions.length || names.length === 0 || names.length > CLAIM_FUNCTIONS_MAX) {
          errors.push({ path: 'functions', message: `must be 1 to ${CLAIM_FUNCTIONS_MAX} function names [A-Za-z0-9._-]{1,128}` });
        }
        const max = fields.get('max') ?? 1;
        if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1 || max > CLAIM_ITEMS_MAX) errors.push({ path: 'max', message: `must be 1 to ${CLAIM_ITEMS_MAX}` });
        const waitMs = fields.get('waitMs') ?? CLAIM_WAIT_MS_DEFAULT;
        if (typeof waitMs !== 'number' || !Number.isSafeInteger(waitMs) || waitMs < 0 || waitMs > CLAIM_WAIT_MS_MAX) errors.push({ path: 'waitMs', message: `must be 0 to ${CLAIM_WAIT_MS_MAX}` });
        if (errors.length > 0 || typeof max !== 'number' || typeof waitMs !== 'number') invalid(errors);
        // A worker that hung up (here, or at the follower that forwarded its claim) takes nothing.
        const runs = await workers.claim({ worker, functions: [...new Set(names)], max, waitMs, signal: ctx.gone() });
        sendJson(ctx.res, 200, { items: runs.map(claimItem) });
      },
    },
    reportRoute('heartbeat', ['worker', 'attempt', 'progress', 'output']),
    reportRoute('complete', ['worker', 'attempt', 'result', 'output', 'progress']),
    reportRoute('fail', ['worker', 'attempt', 'error', 'retry', 'output']),
    {
      method: 'GET',
      path: '/v1/functions',
      permission: 'functions.read',
      write: false,
      handle: async (ctx) => {
        await readBarrier(barrier, ctx);
        const waiting = workers.waitingByFunction();
        const items = jobs.table().functionSummaries(nowMs() - WORKER_SEEN_WINDOW_MS).map((f) => ({ ...f, waiting: waiting.get(f.name) ?? 0 }));
        for (const [name, count] of waiting) if (!items.some((f) => f.name === name)) items.push({ name, queued: 0, queuedByPriority: { high: 0, normal: 0, low: 0 }, running: 0, workers: 0, waiting: count });
        items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        sendJson(ctx.res, 200, { items, nextCursor: null });
      },
    },
    {
      method: 'GET',
      path: '/v1/workers',
      permission: 'functions.read',
      write: false,
      handle: async (ctx) => {
        await readBarrier(barrier, ctx);
        const items = jobs.table().listWorkers().map((w) => ({ ...w, lastSeenAt: new Date(w.lastSeenAt).toISOString() }));
        sendJson(ctx.res, 200, { items, nextCursor: null });
      },
    },
  ];
}

function heartbeatView(run: RunRecord): Record<string, unknown> {
  const q = run.queue;
  return { runId: run.runId, attempt: run.attempt, status: run.status, leaseUntil: q?.leaseUntil == null ? null : new Date(q.leaseUntil).toISOString(), progress: q?.progress ?? null };
}
