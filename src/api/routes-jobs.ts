import { ChimeError } from '../errors/index.js';
import { validateJobSpec } from '../statemachine/index.js';
import { filteredJobs, jobFilterOf } from './job-filter.js';
import { jobIdParam, pageParams, readBarrier } from './params.js';
import { sendJson } from './problem.js';
import type { JobService, ReadBarrier } from './services.js';
import type { RequestContext, Route } from './server.js';
import { jobView, specView } from './views.js';
import { withStoredSecrets } from './notify-secrets.js';

/** The job endpoints of api.md. Writes arrive here only on the leader (the server forwards). */
export function jobRoutes(jobs: JobService, barrier: ReadBarrier): Route[] {
  const jobOrThrow = (id: string) => {
    const job = jobs.table().getJob(id);
    if (job === null) throw new ChimeError('JOB_NOT_FOUND', `job ${id} does not exist`);
    return job;
  };
  const setEnabled = (enabled: boolean) => async (ctx: RequestContext) => {
    const id = jobIdParam(ctx);
    const job = await jobs.setEnabled(id, enabled, ctx.audit(id));
    sendJson(ctx.res, 200, jobView(job));
  };
  return [
    {
      method: 'PUT',
      path: '/v1/jobs/:id',
      permission: 'jobs.write',
      write: true,
      reroutable: true,
      handle: async (ctx) => {
        const id = jobIdParam(ctx);
        const checked = validateJobSpec(id, withStoredSecrets(await ctx.body(), jobs.table().getJob(id)));
        if (!checked.ok) throw new ChimeError('INVALID_SPEC', `the job spec is invalid: ${checked.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors: checked.errors });
        // `?dryRun=true`: the server's whole validation, nothing stored (chime job put --dry-run).
        if (ctx.url.searchParams.get('dryRun') === 'true') return sendJson(ctx.res, 200, { dryRun: true, created: jobs.table().getJob(id) === null, job: specView(checked.spec) });
        const { created, job } = await jobs.put(id, checked.spec, ctx.audit(id));
        sendJson(ctx.res, created ? 201 : 200, jobView(job));
      },
    },
    {
      method: 'GET',
      path: '/v1/jobs',
      permission: 'jobs.read',
      write: false,
      handle: async (ctx) => {
        const options = pageParams(ctx);
        const filter = jobFilterOf(ctx.url.searchParams);
        await readBarrier(barrier, ctx);
        if (filter !== null) {
          const found = filteredJobs(jobs.table(), filter, options);
          return sendJson(ctx.res, 200, { items: found.items.map(jobView), nextCursor: found.nextCursor });
        }
        const page = jobs.table().listJobs(options);
        if (!page.ok) throw new ChimeError(page.code, page.message);
        sendJson(ctx.res, 200, { items: page.items.map(jobView), nextCursor: page.nextCursor });
      },
    },
    {
      method: 'GET',
      path: '/v1/jobs/:id',
      permission: 'jobs.read',
      write: false,
      handle: async (ctx) => {
        const id = jobIdParam(ctx);
        await readBarrier(barrier, ctx);
        sendJson(ctx.res, 200, jobView(jobOrThrow(id)));
      },
    },
    {
      method: 'DELETE',
      path: '/v1/jobs/:id',
      permission: 'jobs.write',
      write: true,
      reroutable: true,
      handle: async (ctx) => {
        const id = jobIdParam(ctx);
        await jobs.remove(id, ctx.audit(id));
        ctx.res.writeHead(204).end();
      },
    },
    { method: 'POST', path: '/v1/jobs/:id/pause', permission: 'jobs.write', write: true, reroutable: true, handle: setEnabled(false) },
    { method: 'POST', path: '/v1/jobs/:id/resume', permission: 'jobs.write', write: true, reroutable: true, handle: setEnabled(true) },
  ];
}
