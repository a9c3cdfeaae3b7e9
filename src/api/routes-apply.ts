// `POST /v1/apply`: many jobs created or replaced in one log entry, all or nothing, as
// `chime apply -f` sends them; with `dryRun`, what would change and nothing stored.
import { ChimeError, type FieldError } from '../errors/index.js';
import { JOBS_PER_APPLY_MAX, isValidJobId, validateJobSpec, type Job, type JobSpec } from '../statemachine/index.js';
import { withStoredSecrets } from './notify-secrets.js';
import { objectBody } from './params.js';
import { sendJson } from './problem.js';
import type { JobService } from './services.js';
import type { Route } from './server.js';
import { jobView } from './views.js';

/** Checks every job of the body (each with its `id`); every problem is named by its path `jobs[i].field`. */
function specsOf(body: unknown, stored: (id: string) => Job | null): { specs: JobSpec[]; dryRun: boolean } {
  const fields = objectBody(body, ['jobs', 'dryRun']);
  const jobs = fields.get('jobs');
  const dryRun = fields.get('dryRun');
  if (dryRun !== undefined && typeof dryRun !== 'boolean') throw new ChimeError('INVALID_REQUEST', 'dryRun must be a boolean', { errors: [{ path: 'dryRun', message: 'expected true or false' }] });
  if (!Array.isArray(jobs) || jobs.length === 0 || jobs.length > JOBS_PER_APPLY_MAX) {
    throw new ChimeError('INVALID_REQUEST', `jobs must be a list of 1 to ${JOBS_PER_APPLY_MAX} job specs`, { errors: [{ path: 'jobs', message: `expected 1 to ${JOBS_PER_APPLY_MAX} jobs` }] });
  }
  const errors: FieldError[] = [];
  const specs: JobSpec[] = [];
  const seen = new Set<string>();
  jobs.forEach((item: unknown, i) => {
    const id: unknown = typeof item === 'object' && item !== null ? Reflect.get(item, 'id') : undefined;
    if (typeof id !== 'string' || !isValidJobId(id)) {
      errors.push({ path: `jobs[${i}].id`, message: 'every job needs an id matching [A-Za-z0-9._-]{1,128}' });
      return;
    }
    if (seen.has(id)) errors.push({ path: `jobs[${i}].id`, message: `job ${id} appears twice` });
    seen.add(id);
    const checked = validateJobSpec(id, withStoredSecrets(item, stored(id)));
    if (checked.ok) specs.push(checked.spec);
    else for (const e of checked.errors) errors.push({ path: `jobs[${i}].${e.path}`, message: e.message });
  });
  if (errors.length > 0) throw new ChimeError('INVALID_SPEC', `nothing was applied: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors });
  return { specs, dryRun: dryRun === true };
}

export function applyRoutes(jobs: JobService): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/apply',
      permission: 'jobs.write',
      write: true,
      reroutable: true,
      handle: async (ctx) => {
        const { specs, dryRun } = specsOf(await ctx.body(), (id) => jobs.table().getJob(id));
        if (dryRun) {
          const table = jobs.table();
          return sendJson(ctx.res, 200, { dryRun: true, items: specs.map((spec) => ({ id: spec.id, outcome: table.outcomeOfPut(spec) })) });
        }
        const applied = await jobs.putMany(specs, ctx.audit(null));
        sendJson(ctx.res, 200, { dryRun: false, items: applied.map((a) => ({ id: a.id, outcome: a.outcome, job: jobView(a.job) })) });
      },
    },
  ];
}
