import { encodeCommand, isValidJobId, validateJobSpec, type ApplyResult, type Command, type JobTable } from '../statemachine/index.js';
import type { Agent } from '../agent/agent.js';
import { ChimeError } from '../agent/errors.js';
import { problem, sendJson, type HttpProblem } from './problem.js';
import type { RequestContext, Route } from './server.js';
import { jobView } from './views.js';

/** Where the job table lives; the agent swaps the table on snapshot restore. */
export interface JobsAccess {
  readonly table: JobTable;
}

const STATUS_BY_CODE: Record<string, number> = {
  JOB_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  INVALID_SPEC: 400,
  INVALID_COMMAND: 400,
  INVALID_CURSOR: 400,
  TOO_MANY_JOBS: 409,
  ACTIVE_RUNS_FULL: 409,
  RUN_NOT_ACTIVE: 409,
};

export function rejection(result: { code: string; message: string; errors?: readonly { path: string; message: string }[] }): HttpProblem {
  return problem(STATUS_BY_CODE[result.code] ?? 409, result.code, result.message, result.errors ?? []);
}

export function jobIdParam(ctx: RequestContext): string {
  const id = ctx.params['id'] ?? '';
  if (!isValidJobId(id)) throw problem(400, 'INVALID_JOB_ID', `job id "${String(id).slice(0, 140)}" must match [A-Za-z0-9._-]{1,128}`, [{ path: 'id', message: 'must match [A-Za-z0-9._-]{1,128}' }]);
  return id;
}

/** Reads are linearizable unless the client asks for `?stale=true`. */
/** How long a linearizable read waits for a leader to appear before answering 503. */
const READ_LEADER_WAIT_MS = 3000;

/**
 * Reads are linearizable unless the client asks for `?stale=true`. Right after a restart or
 * during an election no leader is known yet; like a write, the read waits a bounded time
 * for one instead of failing at once.
 */
export async function readBarrier(agent: Agent, ctx: RequestContext): Promise<void> {
  const stale = ctx.url.searchParams.get('stale');
  if (stale === 'true' || stale === '1') return;
  const until = performance.now() + READ_LEADER_WAIT_MS;
  for (;;) {
    try {
      await agent.linearizableRead();
      return;
    } catch (error) {
      const leaderless = error instanceof ChimeError && (error.code === 'NO_LEADER' || error.code === 'NOT_LEADER');
      if (!leaderless || performance.now() >= until) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export async function proposeCommand(agent: Agent, command: Command): Promise<ApplyResult> {
  return (await agent.propose(encodeCommand(command))) as ApplyResult;
}

/** `limit` (1..1000) and `cursor` of a list request. */
export function pageParams(ctx: RequestContext): { limit?: number; cursor?: string } {
  const out: { limit?: number; cursor?: string } = {};
  const limit = ctx.url.searchParams.get('limit');
  if (limit !== null) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw problem(400, 'INVALID_REQUEST', 'limit must be a whole number from 1 to 1000', [{ path: 'limit', message: 'expected 1..1000' }]);
    out.limit = n;
  }
  const cursor = ctx.url.searchParams.get('cursor');
  if (cursor !== null && cursor !== '') out.cursor = cursor;
  return out;
}

/** The job endpoints of api.md. Writes arrive here only on the leader (the server forwards). */
export function jobRoutes(agent: Agent, jobs: JobsAccess): Route[] {
  const jobOrThrow = (id: string) => {
    const job = jobs.table.getJob(id);
    if (job === null) throw problem(404, 'JOB_NOT_FOUND', `job ${id} does not exist`);
    return job;
  };
  const simple = (type: 'pauseJob' | 'resumeJob') => async (ctx: RequestContext) => {
    const id = jobIdParam(ctx);
    const result = await proposeCommand(agent, { type, id, at: agent.now() });
    if (!result.ok) throw rejection(result);
    sendJson(ctx.res, 200, jobView(jobOrThrow(id)));
  };
  return [
    {
      method: 'PUT',
      path: '/v1/jobs/:id',
      write: true,
      handle: async (ctx) => {
        const id = jobIdParam(ctx);
        const body = await ctx.body();
        const checked = validateJobSpec(id, body);
        if (!checked.ok) throw problem(400, 'INVALID_SPEC', `the job spec is invalid: ${checked.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, checked.errors);
        const result = await proposeCommand(agent, { type: 'putJob', id, spec: checked.spec, at: agent.now() });
        if (!result.ok) throw rejection(result);
        if (result.kind !== 'job') throw problem(500, 'INTERNAL', `unexpected apply result ${result.kind}`);
        sendJson(ctx.res, result.created ? 201 : 200, jobView(result.job));
      },
    },
    {
      method: 'GET',
      path: '/v1/jobs',
      write: false,
      handle: async (ctx) => {
        const options = pageParams(ctx);
        await readBarrier(agent, ctx);
        const page = jobs.table.listJobs(options);
        if (!page.ok) throw rejection(page);
        sendJson(ctx.res, 200, { items: page.items.map(jobView), nextCursor: page.nextCursor });
      },
    },
    {
      method: 'GET',
      path: '/v1/jobs/:id',
      write: false,
      handle: async (ctx) => {
        const id = jobIdParam(ctx);
        await readBarrier(agent, ctx);
        sendJson(ctx.res, 200, jobView(jobOrThrow(id)));
      },
    },
    {
      method: 'DELETE',
      path: '/v1/jobs/:id',
      write: true,
      handle: async (ctx) => {
        const id = jobIdParam(ctx);
        const result = await proposeCommand(agent, { type: 'deleteJob', id, at: agent.now() });
        if (!result.ok) throw rejection(result);
        ctx.res.writeHead(204).end();
      },
    },
    { method: 'POST', path: '/v1/jobs/:id/pause', write: true, handle: simple('pauseJob') },
    { method: 'POST', path: '/v1/jobs/:id/resume', write: true, handle: simple('resumeJob') },
  ];
}
