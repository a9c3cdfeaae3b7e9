import { readFileSync } from 'node:fs';
import { fieldsOf, flag, isFields, listOf, num, optionalText, text, textOrNull, type Fields } from './answers.js';
import { apiCaller } from './http-client.js';
import { document, formatDuration, formatTime, outputOptions, OUTPUT_FLAGS, statusText, table, type OutputOptions } from './output.js';
import { parseFlags, suggestion } from './flags.js';
import { READ_COMMAND_FLAGS, UsageError, errorMessage, serverList } from './usage.js';

export const JOB_HELP = `usage: chime job <put|get|list|next|delete|pause|resume|run> [ID] [flags]

  put ID --file spec.json               create or replace a job from a JSON spec
  put ID --schedule S --shell CMD       shorthand: a shell job
  put ID --schedule S --http-url URL    shorthand: an HTTP GET job
        [--tz TZ] [--description TEXT] [--retry N] [--backoff DURATION] [--timeout DURATION]
        [--concurrency allow|forbid|replace] [--target leader|any|all|KEY=VALUE,…]
        [--priority 0-9] [--misfire fire-once|fire-all|skip] [--label KEY=VALUE]…
        [--after ID,ID… [--after-mode any|all]]   run after these jobs succeed: after
                                        any one (each success), or once all have succeeded
        [--dry-run]                     the server's validation only, nothing stored
  next ID [-n N]                        the job's next N instants (default 5), in its time zone
  get ID | list [--limit N] [--cursor C] | delete ID | pause ID | resume ID
  run ID [--payload TEXT] [--key KEY]   run now, whatever the schedule
        [--priority high|normal|low]    a queue job's submission priority (docs/workers.md)
        [--wait [--timeout DURATION]]   follow the run through its retries to its final status;
                                        exit 0 if it succeeded, 1 if it ended otherwise,
                                        3 if the timeout (default none) passed first

${READ_COMMAND_FLAGS}`;

interface JobBody {
  id: string;
  schedule: string;
  timezone: string;
  enabled: boolean;
  executor: { type: string; command: string | undefined; url: string | undefined };
  nextFireAt: string | null;
  lastScheduledAt: string | null;
  updatedAt: string | null;
}

/** The fields of a job answer that the table shows. */
function readJob(value: unknown, what: string): JobBody {
  const o = fieldsOf(value, what);
  const e = fieldsOf(o['executor'], `${what}.executor`);
  return {
    id: text(o, 'id', what), schedule: text(o, 'schedule', what), timezone: text(o, 'timezone', what), enabled: flag(o, 'enabled', what), updatedAt: textOrNull(o, 'updatedAt', what),
    executor: { type: text(e, 'type', `${what}.executor`), command: optionalText(e, 'command', `${what}.executor`), url: optionalText(e, 'url', `${what}.executor`) },
    nextFireAt: textOrNull(o, 'nextFireAt', what), lastScheduledAt: textOrNull(o, 'lastScheduledAt', what),
  };
}

/** The shorthand flags of `job put`, each setting one field of the spec. */
const SHORTHANDS = ['schedule', 'shell', 'http-url', 'timezone', 'tz', 'description', 'retry', 'backoff', 'timeout', 'concurrency', 'target', 'priority', 'misfire', 'label', 'after', 'after-mode'] as const;

/** `--target leader|any|all|KEY=VALUE[,KEY=VALUE]` as the spec's target. */
function targetOf(value: string): unknown {
  if (value === 'leader' || value === 'any' || value === 'all') return { mode: value };
  const tags: Record<string, string> = {};
  for (const pair of value.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`job put: --target expects leader, any, all or KEY=VALUE[,KEY=VALUE], got "${value}"`);
    tags[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return { mode: 'tags', tags };
}

export function specFromFlags(values: Record<string, string | boolean | string[] | undefined>): unknown {
  if (typeof values['file'] === 'string') {
    const mixed = SHORTHANDS.filter((name) => values[name] !== undefined);
    if (mixed.length > 0) throw new UsageError(`job put: --file excludes the shorthand flags (--${mixed.join(', --')})`);
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
  const zone = values['timezone'] ?? values['tz'];
  if (typeof zone === 'string') spec['timezone'] = zone;
  if (typeof values['description'] === 'string') spec['description'] = values['description'];
  const retry = values['retry'];
  const backoff = values['backoff'];
  if (typeof retry === 'string' || typeof backoff === 'string') {
    const max = retry === undefined ? 1 : Number(retry);
    if (!Number.isInteger(max) || max < 0) throw new UsageError(`job put: --retry expects a whole number of retries, got "${String(retry)}"`);
    const backoffMs = typeof backoff === 'string' ? durationMs(backoff, '--backoff') : 1000;
    spec['retry'] = { max, backoffMs, maxBackoffMs: Math.max(backoffMs, 60_000) };
  }
  if (typeof values['timeout'] === 'string') spec['timeoutMs'] = durationMs(values['timeout'], '--timeout');
  if (typeof values['concurrency'] === 'string') spec['concurrency'] = values['concurrency'];
  if (typeof values['target'] === 'string') spec['target'] = targetOf(values['target']);
  if (typeof values['priority'] === 'string') spec['priority'] = Number(values['priority']);
  if (typeof values['misfire'] === 'string') spec['misfire'] = { policy: values['misfire'] };
  if (typeof values['after'] === 'string') spec['after'] = values['after'].split(',').filter((id) => id !== '');
  if (typeof values['after-mode'] === 'string') {
    if (values['after'] === undefined) throw new UsageError('job put: --after-mode needs --after');
    spec['afterMode'] = values['after-mode'];
  }
  const labels = values['label'];
  if (Array.isArray(labels)) {
    spec['labels'] = Object.fromEntries(labels.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new UsageError(`job put: --label expects KEY=VALUE, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }));
  }
  return spec;
}

/** Polling for a run's end starts at this interval and backs off to the second. */
const RUN_POLL_MS_MIN = 200;
const RUN_POLL_MS_MAX = 2000;

/** `30s`, `2m`, `1500ms`, `1h` as milliseconds; a usage error naming the flag otherwise. */
function durationMs(value: string, flagName: string): number {
  const m = /^(\d{1,7})(ms|s|m|h)$/.exec(value);
  if (m === null) throw new UsageError(`${flagName}: expected a duration like 30s, 2m or 1h, got "${value}"`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 3_600_000);
}

/**
 * Polls the run (on whichever node --server names: reads are linearizable, so a leader change
 * does not matter) until it reached its final status after all its retries: not active, and
 * no retry owed (its job retries failed, timed-out and lost attempts while attempts remain).
 */
async function waitForFinalRun(call: ReturnType<typeof apiCaller>, runId: string, timeoutMs: number | null): Promise<{ run: Fields; timedOut: boolean }> {
  const deadline = timeoutMs === null ? Infinity : performance.now() + timeoutMs;
  let pollMs = RUN_POLL_MS_MIN;
  let retryMax: number | null = null;
  for (;;) {
    const run = fieldsOf((await call('GET', `/v1/runs/${encodeURIComponent(runId)}`)).body, 'run');
    const status = text(run, 'status', 'run');
    if (status !== 'pending' && status !== 'running') {
      if (retryMax === null) {
        const job = fieldsOf((await call('GET', `/v1/jobs/${encodeURIComponent(text(run, 'jobId', 'run'))}`)).body, 'job');
        retryMax = num(fieldsOf(job['retry'], 'job.retry'), 'max', 'job.retry');
      }
      const owesRetry = ['failed', 'timed_out', 'lost'].includes(status) && num(run, 'attempt', 'run') <= retryMax;
      if (!owesRetry) return { run, timedOut: false };
    }
    if (performance.now() >= deadline) return { run, timedOut: true };
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - performance.now()))));
    pollMs = Math.min(RUN_POLL_MS_MAX, pollMs * 2);
  }
}

/** The final status, each attempt's executions and the last output tail. */
function finalRunText(run: Fields, timedOut: boolean, output: OutputOptions): string {
  const status = text(run, 'status', 'run');
  const attempt = num(run, 'attempt', 'run');
  const lines = [`run ${text(run, 'runId', 'run')}: ${statusText(status, output.colour)} after ${attempt} attempt${attempt === 1 ? '' : 's'}${timedOut ? ' (still going: the --timeout passed first)' : ''}`];
  const executions = listOf(run, 'executions', 'run', (item, what) => fieldsOf(item, what));
  for (const e of executions) {
    const exit = e['exitCode'];
    lines.push(`  attempt ${String(e['attempt'])} on ${String(e['node'])}: ${String(e['status'])}${typeof exit === 'number' ? ` (exit ${exit})` : ''}${typeof e['error'] === 'string' ? ` ${e['error']}` : ''}`);
  }
  const last = executions.at(-1);
  const tail = typeof last?.['output'] === 'string' ? last['output'] : '';
  if (tail !== '') lines.push('output:', tail.endsWith('\n') ? tail.slice(0, -1) : tail);
  return lines.join('\n') + '\n';
}

/** A one-shot `@at` in the past never fires: say so (on stderr) before sending it. */
function warnIfPast(spec: unknown): void {
  const schedule = isFields(spec) ? spec['schedule'] : undefined;
  if (typeof schedule !== 'string' || !schedule.startsWith('@at ')) return;
  const atMs = Date.parse(schedule.slice(4).trim());
  if (Number.isFinite(atMs) && atMs < Date.now()) process.stderr.write(`chime: warning: ${schedule} is in the past; the job will never fire (use "chime job run" to run it now)\n`);
}

const JOB_SUBCOMMANDS = ['put', 'get', 'list', 'next', 'delete', 'pause', 'resume', 'run'];

export async function jobCommand(args: string[], out: (s: string) => void): Promise<void> {
  const parsed = parseFlags('job', args, {
    tz: { type: 'string' }, retry: { type: 'string' }, backoff: { type: 'string' }, concurrency: { type: 'string' }, target: { type: 'string' },
    priority: { type: 'string' }, misfire: { type: 'string' }, label: { type: 'string', multiple: true }, after: { type: 'string' }, 'after-mode': { type: 'string' },
      server: { type: 'string' }, ...OUTPUT_FLAGS, stale: { type: 'boolean' }, help: { type: 'boolean' },
      file: { type: 'string' }, schedule: { type: 'string' }, shell: { type: 'string' }, 'http-url': { type: 'string' }, timezone: { type: 'string' }, description: { type: 'string' },
      limit: { type: 'string' }, cursor: { type: 'string' }, payload: { type: 'string' }, key: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' },
      'dry-run': { type: 'boolean' }, n: { type: 'string', short: 'n' },
    });
  const { values, positionals } = parsed;
  const [sub, id] = positionals;
  if (values.help === true) return out(JOB_HELP);
  if (sub === undefined) throw new UsageError('job: missing subcommand (put, get, list, next, delete, pause, resume, run)');
  const base = serverList(values.server);
  const stale = values.stale === true ? '?stale=true' : '';
  const call = apiCaller(base);
  const needId = () => {
    if (id === undefined) throw new UsageError(`job ${sub}: needs a job ID`);
    return encodeURIComponent(id);
  };
  const output = outputOptions(values);
  const printJob = (body: unknown) => out(document(body, output) ?? jobTable([readJob(body, 'job')], output));
  switch (sub) {
    case 'put': {
      const path = needId();
      const spec = specFromFlags(values);
      warnIfPast(spec);
      if (values['dry-run'] === true) {
        const answer = await call('PUT', `/v1/jobs/${path}?dryRun=true`, spec);
        const doc = document(answer.body, output);
        if (doc !== null) return out(doc);
        return out(`job ${id} would be ${flag(fieldsOf(answer.body, 'dry run'), 'created', 'dry run') ? 'created' : 'replaced'} (dry run: valid, nothing stored)\n`);
      }
      const answer = await call('PUT', `/v1/jobs/${path}`, spec);
      const doc = document(answer.body, output);
      if (doc !== null) return out(doc);
      return out(`${answer.status === 201 ? 'created' : 'replaced'} job ${id}\n`);
    }
    case 'next': {
      const count = values.n ?? '5';
      if (!/^\d{1,2}$/.test(count) || Number(count) < 1 || Number(count) > 50) throw new UsageError('job next: -n must be 1 to 50');
      const job = fieldsOf((await call('GET', `/v1/jobs/${needId()}${stale}`)).body, 'job');
      const query = new URLSearchParams({ schedule: text(job, 'schedule', 'job'), timezone: text(job, 'timezone', 'job'), n: count, anchor: text(job, 'createdAt', 'job') });
      const preview = fieldsOf((await call('GET', `/v1/schedule/preview?${query}`)).body, 'preview');
      const instants = listOf(preview, 'instants', 'preview', (item, what) => text(fieldsOf(item, what), 'local', what));
      const doc = document(instants, output);
      if (doc !== null) return out(doc);
      if (instants.length === 0) return out(`job ${id} has no next instant\n`);
      return out(instants.join('\n') + '\n');
    }
    case 'get': {
      const body = (await call('GET', `/v1/jobs/${needId()}${stale}`)).body;
      return out(document(body, output) ?? (output.format === 'table' || output.format === 'wide' ? jobDetail(fieldsOf(body, 'job'), output) : ''));
    }
    case 'list': {
      const query = new URLSearchParams();
      if (values.limit !== undefined) query.set('limit', values.limit);
      if (values.cursor !== undefined) query.set('cursor', values.cursor);
      if (values.stale === true) query.set('stale', 'true');
      const q = query.toString();
      const body = (await call('GET', `/v1/jobs${q === '' ? '' : `?${q}`}`)).body;
      const doc = document(body, output);
      if (doc !== null) return out(doc);
      const page = fieldsOf(body, 'page');
      out(jobTable(listOf(page, 'items', 'page', readJob), output));
      const nextCursor = textOrNull(page, 'nextCursor', 'page');
      if (nextCursor !== null) out(`more: --cursor ${nextCursor}\n`);
      return;
    }
    case 'delete':
      await call('DELETE', `/v1/jobs/${needId()}`);
      return out(document({ deleted: id }, output) ?? `deleted job ${id}\n`);
    case 'pause':
    case 'resume':
      return printJob((await call('POST', `/v1/jobs/${needId()}/${sub}`)).body);
    case 'run': {
      const path = needId();
      const body: Record<string, string> = {};
      if (values.payload !== undefined) body['payload'] = values.payload;
      if (values.key !== undefined) body['key'] = values.key;
      if (values.priority !== undefined) {
        if (!['high', 'normal', 'low'].includes(values.priority)) throw new UsageError('job run: --priority is high, normal or low');
        body['priority'] = values.priority;
      }
      const timeoutMs = values.timeout === undefined ? null : durationMs(values.timeout, '--timeout');
      if (timeoutMs !== null && values.wait !== true) throw new UsageError('job run: --timeout goes with --wait');
      const started = fieldsOf((await call('POST', `/v1/jobs/${path}/run`, body)).body, 'run');
      const runId = text(started, 'runId', 'run');
      const duplicate = started['duplicate'] === true;
      if (values.wait !== true) {
        const doc = document(started, output);
        if (doc !== null) return out(doc);
        if (duplicate) return out(`run ${runId} already exists for key ${values.key ?? '-'} (duplicate: not started again)\n`);
        return out(started['status'] === 'waiting' ? `run ${runId} waits for a free executor slot; it starts once one frees\n` : `started run ${runId}\n`);
      }
      if (duplicate) process.stderr.write(`chime: run ${runId} already exists for key ${values.key ?? '-'} (duplicate): waiting for it\n`);
      const waited = await waitForFinalRun(call, runId, timeoutMs);
      const doc = document(waited.run, output);
      out(doc ?? finalRunText(waited.run, waited.timedOut, output));
      process.exitCode = waited.timedOut ? 3 : text(fieldsOf(waited.run, 'run'), 'status', 'run') === 'succeeded' ? 0 : 1;
      return;
    }
    default:
      throw new UsageError(`job: unknown subcommand ${sub}${suggestion(sub, JOB_SUBCOMMANDS)}`);
  }
}

/** One value of the job as a short text: JSON for maps and lists, '-' for none. */
function valueText(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** `job get`: every field of the job, one per line, times in local time, durations readable. */
function jobDetail(job: Fields, output: OutputOptions): string {
  const executor = fieldsOf(job['executor'], 'job.executor');
  const retry = isFields(job['retry']) ? job['retry'] : {};
  const misfire = isFields(job['misfire']) ? job['misfire'] : {};
  const ms = (value: unknown) => (typeof value === 'number' ? formatDuration(value) : '-');
  const rows: [string, string][] = [
    ['id', valueText(job['id'])],
    ['schedule', `${valueText(job['schedule'])} (${valueText(job['timezone'])})`],
    ['enabled', job['enabled'] === true ? 'yes' : 'no (paused)'],
    ['executor', `${valueText(executor['type'])}: ${valueText(executor['command'] ?? `${valueText(executor['method'])} ${valueText(executor['url'])}`)}`],
    ['target', valueText(job['target'])],
    ['concurrency', valueText(job['concurrency'])],
    ['misfire', `${valueText(misfire['policy'])} within ${ms(misfire['windowMs'])}`],
    ['timeout', ms(job['timeoutMs'])],
    ['retry', `${valueText(retry['max'])} times, backoff ${ms(retry['backoffMs'])} up to ${ms(retry['maxBackoffMs'])}`],
    ['priority', valueText(job['priority'])],
    ['after', `${valueText(job['after'])}${job['afterMode'] === 'all' ? ' (all of them)' : ''}`],
    ['history', `${valueText(job['history'])} runs kept`],
    ['labels', valueText(job['labels'])],
    ['description', valueText(job['description'])],
    ['next fire', formatTime(typeof job['nextFireAt'] === 'string' ? job['nextFireAt'] : null, output.utc)],
    ['last scheduled', formatTime(typeof job['lastScheduledAt'] === 'string' ? job['lastScheduledAt'] : null, output.utc)],
    ['created', formatTime(typeof job['createdAt'] === 'string' ? job['createdAt'] : null, output.utc)],
    ['updated', `${formatTime(typeof job['updatedAt'] === 'string' ? job['updatedAt'] : null, output.utc)}${typeof job['updatedBy'] === 'string' ? ` by ${job['updatedBy']}` : ''} (revision ${valueText(job['revision'])})`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

function executorText(j: JobBody, chars: number): string {
  const detail = j.executor.type === 'shell' ? (j.executor.command ?? '') : j.executor.type === 'http' ? (j.executor.url ?? '') : '';
  return `${j.executor.type}${detail === '' ? '' : `: ${detail.length > chars ? `${detail.slice(0, chars - 1)}…` : detail}`}`;
}

function jobTable(jobs: readonly JobBody[], output: OutputOptions): string {
  const wide = output.format === 'wide';
  const headers = ['ID', 'SCHEDULE', 'ENABLED', 'EXECUTOR', 'NEXT FIRE', 'LAST SCHEDULED', ...(wide ? ['TIMEZONE', 'UPDATED'] : [])];
  return table(headers, jobs.map((j) => [
    j.id, j.schedule, j.enabled ? 'yes' : 'no', executorText(j, wide ? 80 : 40), formatTime(j.nextFireAt, output.utc), formatTime(j.lastScheduledAt, output.utc),
    ...(wide ? [j.timezone, formatTime(j.updatedAt, output.utc)] : []),
  ]));
}
