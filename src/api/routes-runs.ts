import type { Agent } from '../agent/agent.js';
import { SchedulerError, type RunControl as Scheduler } from '../agent/run-control.js';
import { problem, retryLater, sendJson } from './problem.js';
import type { RequestContext, Route } from './server.js';
import { jobIdParam, pageParams, readBarrier, rejection, type JobsAccess } from './routes-jobs.js';
import { runView } from './views.js';

const WAIT_MS_MAX = 15 * 60_000;
const RUN_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const SCHEDULER_STATUS: Record<string, number> = { NOT_LEADER: 503, JOB_NOT_FOUND: 404, QUEUE_FULL: 429, WAITERS_FULL: 429, INVALID_INPUT: 400, FIRE_REJECTED: 409 };

function schedulerProblem(error: unknown): unknown {
  if (!(error instanceof SchedulerError)) return error;
  const status = SCHEDULER_STATUS[error.code] ?? 500;
  return status === 503 || status === 429 ? retryLater(status, error.code, error.message) : problem(status, error.code, error.message);
}

/** Parses `30s`, `2m`, `1500ms`, `1h` (one unit) into milliseconds. */
export function parseWait(text: string): number | null {
  const m = /^(\d{1,7})(ms|s|m|h)$/.exec(text);
  if (m === null) return null;
  const n = Number(m[1]);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return n * factor;
}

function runIdParam(ctx: RequestContext): string {
  const id = ctx.params['runId'] ?? '';
  if (!RUN_ID.test(id)) throw problem(400, 'INVALID_RUN_ID', 'run id must match [A-Za-z0-9._:-]{1,128}', [{ path: 'runId', message: 'invalid run id' }]);
  return id;
}

function manualInput(body: unknown): { payload: string | null; key: string | null } {
  if (body === undefined || body === null) return { payload: null, key: null };
  if (typeof body !== 'object' || Array.isArray(body)) throw problem(400, 'INVALID_REQUEST', 'the body must be a JSON object', [{ path: '', message: 'expected an object' }]);
  const record = body as Record<string, unknown>;
  const unknown = Object.keys(record).filter((k) => k !== 'payload' && k !== 'key');
  if (unknown.length > 0) throw problem(400, 'INVALID_REQUEST', 'the body has unknown fields', unknown.map((k) => ({ path: k, message: 'unknown field' })));
  const errors = [];
  const payload = record['payload'];
  const key = record['key'];
  if (payload !== undefined && typeof payload !== 'string') errors.push({ path: 'payload', message: 'must be a string' });
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 256)) errors.push({ path: 'key', message: 'must be a string of 1 to 256 characters' });
  if (errors.length > 0) throw problem(400, 'INVALID_REQUEST', 'the run request is invalid', errors);
  return { payload: (payload as string | undefined) ?? null, key: (key as string | undefined) ?? null };
}

/** The run endpoints of api.md. Manual runs and kills run on the leader's scheduler. */
export function runRoutes(agent: Agent, jobs: JobsAccess, scheduler: () => Scheduler | null): Route[] {
  const leaderScheduler = () => {
    const s = scheduler();
    if (s === null) throw retryLater(503, 'NOT_LEADER', 'the scheduler is not running on this node yet; retry');
    return s;
  };
  return [
    {
      method: 'POST',
      path: '/v1/jobs/:id/run',
      write: true,
      handle: async (ctx) => {
        const id = jobIdParam(ctx);
        const input = manualInput(await ctx.body());
        const waitText = ctx.url.searchParams.get('wait');
        const waitMs = waitText === null ? null : parseWait(waitText);
        if (waitText !== null && (waitMs === null || waitMs > WAIT_MS_MAX)) throw problem(400, 'INVALID_REQUEST', 'wait must be a duration like 30s, 2m or 1500ms, at most 15m', [{ path: 'wait', message: 'invalid duration' }]);
        const s = leaderScheduler();
        if (jobs.table.getJob(id) === null) throw problem(404, 'JOB_NOT_FOUND', `job ${id} does not exist`);
        const started = await s.runNow(id, input).catch((error: unknown) => {
          throw schedulerProblem(error);
        });
        if (waitMs === null) return sendJson(ctx.res, 202, { runId: started.runId, duplicate: started.duplicate, status: started.status });
        const waited = await s.awaitRun(started.runId, waitMs).catch((error: unknown) => {
          throw schedulerProblem(error);
        });
        if (waited.run === null) throw problem(404, 'RUN_NOT_FOUND', `run ${started.runId} is no longer recorded`);
        sendJson(ctx.res, waited.done ? 200 : 202, runView(waited.run));
      },
    },
    {
      method: 'GET',
      path: '/v1/jobs/:id/runs',
      write: false,
      handle: async (ctx) => {
        const id = jobIdParam(ctx);
        const options = pageParams(ctx);
        await readBarrier(agent, ctx);
        if (jobs.table.getJob(id) === null) throw problem(404, 'JOB_NOT_FOUND', `job ${id} does not exist`);
        const page = jobs.table.listRuns(id, options);
        if (!page.ok) throw rejection(page);
        sendJson(ctx.res, 200, { items: page.items.map(runView), nextCursor: page.nextCursor });
      },
    },
    {
      method: 'GET',
      path: '/v1/runs/:runId',
      write: false,
      handle: async (ctx) => {
        const runId = runIdParam(ctx);
        await readBarrier(agent, ctx);
        const run = jobs.table.getRun(runId);
        if (run === null) throw problem(404, 'RUN_NOT_FOUND', `run ${runId} does not exist`);
        sendJson(ctx.res, 200, runView(run));
      },
    },
    {
      method: 'POST',
      path: '/v1/runs/:runId/kill',
      write: true,
      handle: async (ctx) => {
        const runId = runIdParam(ctx);
        const result = await leaderScheduler().killRun(runId).catch((error: unknown) => {
          throw schedulerProblem(error);
        });
        if (!result.ok) throw rejection(result);
        sendJson(ctx.res, 202, result.kind === 'run' ? runView(result.run) : { runId });
      },
    },
  ];
}
