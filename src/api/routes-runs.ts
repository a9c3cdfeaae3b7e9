import { ChimeError } from '../errors/index.js';
import { jobIdParam, objectBody, pageParams, readBarrier, runIdParam } from './params.js';
import { sendJson } from './problem.js';
import type { JobService, ReadBarrier, RunNowRequest, RunService } from './services.js';
import type { Route } from './server.js';
import { runView } from './views.js';

const WAIT_MS_MAX = 15 * 60_000;
const KEY_CHARS_MAX = 256;

/** Parses `30s`, `2m`, `1500ms`, `1h` (one unit) into milliseconds. */
export function parseWait(text: string): number | null {
  const m = /^(\d{1,7})(ms|s|m|h)$/.exec(text);
  if (m === null) return null;
  const unitMs = m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 3_600_000;
  return Number(m[1]) * unitMs;
}

function manualInput(body: unknown): RunNowRequest {
  const fields = objectBody(body, ['payload', 'key']);
  const payload = fields.get('payload');
  const key = fields.get('key');
  const errors = [];
  if (payload !== undefined && typeof payload !== 'string') errors.push({ path: 'payload', message: 'must be a string' });
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > KEY_CHARS_MAX)) errors.push({ path: 'key', message: `must be a string of 1 to ${KEY_CHARS_MAX} characters` });
  if (errors.length > 0) throw new ChimeError('INVALID_REQUEST', 'the run request is invalid', { errors });
  return { payload: typeof payload === 'string' ? payload : null, key: typeof key === 'string' ? key : null };
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
        if (jobs.table().getJob(id) === null) throw new ChimeError('JOB_NOT_FOUND', `job ${id} does not exist`);
        const started = await runs.runNow(id, input, ctx.audit(id));
        if (waitMs === null) return sendJson(ctx.res, 202, started);
        const waited = await runs.awaitRun(started.runId, waitMs);
        if (waited.run === null) throw new ChimeError('RUN_NOT_FOUND', `run ${started.runId} is no longer recorded`);
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
        const page = jobs.table().listRuns(id, options);
        if (!page.ok) throw new ChimeError(page.code, page.message);
        sendJson(ctx.res, 200, { items: page.items.map(runView), nextCursor: page.nextCursor });
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
        if (run === null) throw new ChimeError('RUN_NOT_FOUND', `run ${runId} does not exist`);
        sendJson(ctx.res, 200, runView(run));
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
