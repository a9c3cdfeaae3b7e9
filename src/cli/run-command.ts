import { fieldsOf, listOf, num, numOrNull, text, textOrNull } from './answers.js';
import { apiCaller, streamGet } from './http-client.js';
import { between, document, formatDuration, formatTime, outputOptions, OUTPUT_FLAGS, statusText, table } from './output.js';
import { parseFlags, suggestion } from './flags.js';
import { READ_COMMAND_FLAGS, UsageError, serverList } from './usage.js';

export const RUN_HELP = `usage: chime run <list|get|logs|kill> ...

  list [JOB] [--status S] [--trigger T] [--node N] [--since T] [--until T] [--limit N] [--cursor C]
                                      runs newest first: a job's, or across jobs matching the filters;
                                      --since/--until take an ISO-8601 time or a duration back (1h, 30m, 7d)
  get RUN_ID                          one run with its attempts, executions, durations, lateness and output
  logs RUN_ID [--follow] [--stream stdout|stderr|both] [--stderr] [--attempt N]
                                      the run's full output from the node that ran it (--follow: until the run ends)
  kill RUN_ID                         kill a running run

${READ_COMMAND_FLAGS}`;

interface Execution {
  node: string;
  attempt: number;
  status: string;
  exitCode: number | null;
  output: string;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}
interface RunBody {
  runId: string;
  jobId: string;
  scheduledAt: string;
  trigger: string;
  attempt: number;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  executions: Execution[];
  reason: string | null;
}

function readExecution(value: unknown, what: string): Execution {
  const o = fieldsOf(value, what);
  return {
    node: text(o, 'node', what), attempt: num(o, 'attempt', what), status: text(o, 'status', what),
    exitCode: numOrNull(o, 'exitCode', what), output: text(o, 'output', what), error: textOrNull(o, 'error', what),
    startedAt: textOrNull(o, 'startedAt', what), finishedAt: textOrNull(o, 'finishedAt', what),
  };
}

/** The fields of a run answer that the table and `run get` show. */
/** When the run first started: its record's startedAt is the current attempt's, but a run's
 *  duration and lateness span all of its attempts. */
function firstStart(run: RunBody): string | null {
  const starts = run.executions.map((e) => e.startedAt).filter((t): t is string => t !== null).sort((a, b) => Date.parse(a) - Date.parse(b));
  return starts[0] ?? run.startedAt;
}

function readRun(value: unknown, what: string): RunBody {
  const o = fieldsOf(value, what);
  return {
    runId: text(o, 'runId', what), jobId: text(o, 'jobId', what), scheduledAt: text(o, 'scheduledAt', what), trigger: text(o, 'trigger', what),
    attempt: num(o, 'attempt', what), status: text(o, 'status', what), startedAt: textOrNull(o, 'startedAt', what),
    finishedAt: textOrNull(o, 'finishedAt', what), executions: listOf(o, 'executions', what, readExecution), reason: textOrNull(o, 'reason', what),
  };
}

export async function runCommand(args: string[], out: (s: string) => void): Promise<void> {
  const parsed = parseFlags('run', args, { server: { type: 'string' }, ...OUTPUT_FLAGS, stale: { type: 'boolean' }, help: { type: 'boolean' }, limit: { type: 'string' }, cursor: { type: 'string' },
    status: { type: 'string' }, trigger: { type: 'string' }, node: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, job: { type: 'string' },
    follow: { type: 'boolean', short: 'f' }, stream: { type: 'string' }, stderr: { type: 'boolean' }, attempt: { type: 'string' } });
  const { values, positionals } = parsed;
  const [sub, id] = positionals;
  if (values.help === true) return out(RUN_HELP);
  if (sub === undefined) throw new UsageError('run: missing subcommand (list, get, logs, kill)');
  if (id === undefined && sub !== 'list') throw new UsageError(`run ${sub}: needs an id`);
  const base = serverList(values.server);
  const call = apiCaller(base);
  const output = outputOptions(values);
  const query = new URLSearchParams();
  if (values.stale === true) query.set('stale', 'true');
  switch (sub) {
    case 'list': {
      if (values.limit !== undefined) query.set('limit', values.limit);
      if (values.cursor !== undefined) query.set('cursor', values.cursor);
      const filters = (['status', 'trigger', 'node', 'since', 'until'] as const).filter((f) => values[f] !== undefined);
      const jobId = id ?? values.job;
      let path: string;
      if (jobId !== undefined && filters.length === 0) path = `/v1/jobs/${encodeURIComponent(jobId)}/runs`;
      else {
        // Filters, or no job: the search across jobs (GET /v1/runs).
        if (jobId !== undefined) query.set('job', jobId);
        for (const f of filters) query.set(f, values[f] ?? '');
        path = '/v1/runs';
      }
      const q = query.toString();
      const body = (await call('GET', `${path}${q === '' ? '' : `?${q}`}`)).body;
      const doc = document(body, output);
      if (doc !== null) return out(doc);
      const page = fieldsOf(body, 'page');
      const runs = listOf(page, 'items', 'page', readRun);
      const wide = output.format === 'wide';
      out(table([...(jobId === undefined ? ['JOB'] : []), 'RUN', 'SCHEDULED', 'TRIGGER', 'ATTEMPT', 'STATUS', 'NODES', 'DURATION', 'LATE', ...(wide ? ['STARTED', 'FINISHED'] : [])], runs.map((r) => [
        ...(jobId === undefined ? [r.jobId] : []), r.runId, formatTime(r.scheduledAt, output.utc), r.trigger, r.attempt, statusText(r.status, output.colour), [...new Set(r.executions.map((e) => e.node))].join(',') || '-',
        between(firstStart(r), r.finishedAt), between(r.scheduledAt, firstStart(r)),
        ...(wide ? [formatTime(r.startedAt, output.utc), formatTime(r.finishedAt, output.utc)] : []),
      ])));
      const nextCursor = textOrNull(page, 'nextCursor', 'page');
      if (nextCursor !== null) out(`more: --cursor ${nextCursor}\n`);
      return;
    }
    case 'get': {
      if (id === undefined) throw new UsageError('run get: needs an id');
      const q = query.toString();
      const body = (await call('GET', `/v1/runs/${encodeURIComponent(id)}${q === '' ? '' : `?${q}`}`)).body;
      const doc = document(body, output);
      if (doc !== null) return out(doc);
      const run = readRun(body, 'run');
      const t = (iso: string | null) => formatTime(iso, output.utc);
      out(`run ${run.runId}  job ${run.jobId}  ${statusText(run.status, output.colour)}  attempt ${run.attempt}  trigger ${run.trigger}${run.reason === null ? '' : `  reason ${run.reason}`}\n`);
      out(`scheduled ${t(run.scheduledAt)}  started ${t(run.startedAt)}  finished ${t(run.finishedAt)}\n`);
      out(`duration ${between(firstStart(run), run.finishedAt)}  late ${between(run.scheduledAt, firstStart(run))}\n`);
      for (const e of run.executions) {
        const took = e.startedAt !== null && e.finishedAt !== null ? `, ${formatDuration(Date.parse(e.finishedAt) - Date.parse(e.startedAt))}` : '';
        out(`\n-- ${e.node} attempt ${e.attempt}: ${statusText(e.status, output.colour)}${e.exitCode === null ? '' : ` (exit ${e.exitCode})`}${took}${e.error === null ? '' : ` ${e.error}`}\n${e.output}${e.output.endsWith('\n') || e.output === '' ? '' : '\n'}`);
      }
      return;
    }
    case 'logs': {
      if (id === undefined) throw new UsageError('run logs: needs a run id');
      const stream = values.stderr === true ? 'stderr' : values.stream ?? 'both';
      if (!['stdout', 'stderr', 'both'].includes(stream)) throw new UsageError('run logs: --stream is stdout, stderr or both');
      query.set('stream', stream);
      if (values.follow === true) query.set('follow', 'true');
      if (values.attempt !== undefined) query.set('attempt', values.attempt);
      const headers = await streamGet(serverList(values.server), `/v1/runs/${encodeURIComponent(id)}/output?${query.toString()}`, process.stdout);
      const note = headers['chime-output-note'];
      if (typeof note === 'string') process.stderr.write(`chime: note: ${note}\n`);
      return;
    }
    case 'kill': {
      if (id === undefined) throw new UsageError('run kill: needs an id');
      await call('POST', `/v1/runs/${encodeURIComponent(id)}/kill`);
      return out(document({ killing: id }, output) ?? `kill requested for run ${id}\n`);
    }
    default:
      throw new UsageError(`run: unknown subcommand ${sub}${suggestion(sub, ['list', 'get', 'logs', 'kill'])}`);
  }
}
