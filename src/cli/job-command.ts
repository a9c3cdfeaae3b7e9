import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fieldsOf, flag, isFields, listOf, optionalText, text, textOrNull } from './answers.js';
import { apiCaller } from './http-client.js';
import { table } from './table.js';
import { READ_COMMAND_FLAGS, UsageError, errorMessage, serverUrl } from './usage.js';

export const JOB_HELP = `usage: chime job <put|get|list|next|delete|pause|resume|run> [ID] [flags]

  put ID --file spec.json               create or replace a job from a JSON spec
  put ID --schedule S --shell CMD       shorthand: a shell job
  put ID --schedule S --http-url URL    shorthand: an HTTP GET job
        [--timezone TZ] [--description TEXT]   extra shorthand fields
        [--dry-run]                     the server's validation only, nothing stored
  next ID [-n N]                        the job's next N instants (default 5), in its time zone
  get ID | list [--limit N] [--cursor C] | delete ID | pause ID | resume ID
  run ID [--payload TEXT] [--key KEY] [--wait DURATION]   run now

${READ_COMMAND_FLAGS}`;

interface JobBody {
  id: string;
  schedule: string;
  enabled: boolean;
  executor: { type: string; command: string | undefined; url: string | undefined };
  nextFireAt: string | null;
  lastScheduledAt: string | null;
}

/** The fields of a job answer that the table shows. */
function readJob(value: unknown, what: string): JobBody {
  const o = fieldsOf(value, what);
  const e = fieldsOf(o['executor'], `${what}.executor`);
  return {
    id: text(o, 'id', what), schedule: text(o, 'schedule', what), enabled: flag(o, 'enabled', what),
    executor: { type: text(e, 'type', `${what}.executor`), command: optionalText(e, 'command', `${what}.executor`), url: optionalText(e, 'url', `${what}.executor`) },
    nextFireAt: textOrNull(o, 'nextFireAt', what), lastScheduledAt: textOrNull(o, 'lastScheduledAt', what),
  };
}

function specFromFlags(values: Record<string, string | boolean | undefined>): unknown {
  if (typeof values['file'] === 'string') {
    if (values['schedule'] !== undefined || values['shell'] !== undefined || values['http-url'] !== undefined) throw new UsageError('job put: --file excludes --schedule/--shell/--http-url');
    const path = values['file'];
    try {
      const spec: unknown = JSON.parse(path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8'));
      return spec;
    } catch (error) {
      throw new UsageError(`job put: cannot read --file ${path}: ${errorMessage(error)}`);
    }
  }
  const schedule = values['schedule'];
  if (typeof schedule !== 'string') throw new UsageError('job put: needs --file or --schedule with --shell or --http-url');
  const shell = values['shell'];
  const url = values['http-url'];
  if ((shell === undefined) === (url === undefined)) throw new UsageError('job put: give exactly one of --shell or --http-url');
  const spec: Record<string, unknown> = { schedule, executor: typeof shell === 'string' ? { type: 'shell', command: shell } : { type: 'http', url } };
  if (typeof values['timezone'] === 'string') spec['timezone'] = values['timezone'];
  if (typeof values['description'] === 'string') spec['description'] = values['description'];
  return spec;
}

/** A one-shot `@at` in the past never fires: say so (on stderr) before sending it. */
function warnIfPast(spec: unknown): void {
  const schedule = isFields(spec) ? spec['schedule'] : undefined;
  if (typeof schedule !== 'string' || !schedule.startsWith('@at ')) return;
  const atMs = Date.parse(schedule.slice(4).trim());
  if (Number.isFinite(atMs) && atMs < Date.now()) process.stderr.write(`chime: warning: ${schedule} is in the past; the job will never fire (use "chime job run" to run it now)\n`);
}

export async function jobCommand(args: string[], out: (s: string) => void): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        server: { type: 'string' }, json: { type: 'boolean' }, stale: { type: 'boolean' }, help: { type: 'boolean' },
        file: { type: 'string' }, schedule: { type: 'string' }, shell: { type: 'string' }, 'http-url': { type: 'string' }, timezone: { type: 'string' }, description: { type: 'string' },
        limit: { type: 'string' }, cursor: { type: 'string' }, payload: { type: 'string' }, key: { type: 'string' }, wait: { type: 'string' },
        'dry-run': { type: 'boolean' }, n: { type: 'string', short: 'n' },
      },
    });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  const { values, positionals } = parsed;
  const [sub, id] = positionals;
  if (values.help === true) return out(JOB_HELP);
  if (sub === undefined) throw new UsageError('job: missing subcommand (put, get, list, next, delete, pause, resume, run)');
  const base = serverUrl(values.server);
  const stale = values.stale === true ? '?stale=true' : '';
  const call = apiCaller(base);
  const needId = () => {
    if (id === undefined) throw new UsageError(`job ${sub}: needs a job ID`);
    return encodeURIComponent(id);
  };
  const printJob = (body: unknown) => out(values.json === true ? JSON.stringify(body, null, 2) + '\n' : jobTable([readJob(body, 'job')]));
  switch (sub) {
    case 'put': {
      const path = needId();
      const spec = specFromFlags(values);
      warnIfPast(spec);
      if (values['dry-run'] === true) {
        const answer = await call('PUT', `/v1/jobs/${path}?dryRun=true`, spec);
        if (values.json === true) return out(JSON.stringify(answer.body, null, 2) + '\n');
        return out(`job ${id} would be ${flag(fieldsOf(answer.body, 'dry run'), 'created', 'dry run') ? 'created' : 'replaced'} (dry run: valid, nothing stored)\n`);
      }
      const answer = await call('PUT', `/v1/jobs/${path}`, spec);
      if (values.json === true) return out(JSON.stringify(answer.body, null, 2) + '\n');
      return out(`${answer.status === 201 ? 'created' : 'replaced'} job ${id}\n`);
    }
    case 'next': {
      const count = values.n ?? '5';
      if (!/^\d{1,2}$/.test(count) || Number(count) < 1 || Number(count) > 50) throw new UsageError('job next: -n must be 1 to 50');
      const job = fieldsOf((await call('GET', `/v1/jobs/${needId()}${stale}`)).body, 'job');
      const query = new URLSearchParams({ schedule: text(job, 'schedule', 'job'), timezone: text(job, 'timezone', 'job'), n: count, anchor: text(job, 'createdAt', 'job') });
      const preview = fieldsOf((await call('GET', `/v1/schedule/preview?${query}`)).body, 'preview');
      const instants = listOf(preview, 'instants', 'preview', (item, what) => text(fieldsOf(item, what), 'local', what));
      if (values.json === true) return out(JSON.stringify(instants, null, 2) + '\n');
      if (instants.length === 0) return out(`job ${id} has no next instant\n`);
      return out(instants.join('\n') + '\n');
    }
    case 'get':
      return printJob((await call('GET', `/v1/jobs/${needId()}${stale}`)).body);
    case 'list': {
      const query = new URLSearchParams();
      if (values.limit !== undefined) query.set('limit', values.limit);
      if (values.cursor !== undefined) query.set('cursor', values.cursor);
      if (values.stale === true) query.set('stale', 'true');
      const q = query.toString();
      const body = (await call('GET', `/v1/jobs${q === '' ? '' : `?${q}`}`)).body;
      if (values.json === true) return out(JSON.stringify(body, null, 2) + '\n');
      const page = fieldsOf(body, 'page');
      out(jobTable(listOf(page, 'items', 'page', readJob)));
      const nextCursor = textOrNull(page, 'nextCursor', 'page');
      if (nextCursor !== null) out(`more: --cursor ${nextCursor}\n`);
      return;
    }
    case 'delete':
      await call('DELETE', `/v1/jobs/${needId()}`);
      return out(values.json === true ? JSON.stringify({ deleted: id }) + '\n' : `deleted job ${id}\n`);
    case 'pause':
    case 'resume':
      return printJob((await call('POST', `/v1/jobs/${needId()}/${sub}`)).body);
    case 'run': {
      const path = needId();
      const body: Record<string, string> = {};
      if (values.payload !== undefined) body['payload'] = values.payload;
      if (values.key !== undefined) body['key'] = values.key;
      const wait = values.wait === undefined ? '' : `?wait=${encodeURIComponent(values.wait)}`;
      const answer = await call('POST', `/v1/jobs/${path}/run${wait}`, body, 15 * 60_000);
      return out(values.json === true || wait !== '' ? JSON.stringify(answer.body, null, 2) + '\n' : `started run ${text(fieldsOf(answer.body, 'run'), 'runId', 'run')}\n`);
    }
    default:
      throw new UsageError(`job: unknown subcommand ${sub}`);
  }
}

function jobTable(jobs: readonly JobBody[]): string {
  return table(['ID', 'SCHEDULE', 'ENABLED', 'EXECUTOR', 'NEXT FIRE', 'LAST SCHEDULED'], jobs.map((j) => [j.id, j.schedule, j.enabled ? 'yes' : 'no', j.executor.type === 'shell' ? `shell: ${(j.executor.command ?? '').slice(0, 40)}` : `http: ${(j.executor.url ?? '').slice(0, 40)}`, j.nextFireAt, j.lastScheduledAt]));
}
