// `chime notify list|test`: the deliveries the cluster records, and a test event for a job.
import { fieldsOf, listOf, num, numOrNull, text, textOrNull } from './answers.js';
import { apiCaller } from './http-client.js';
import { document, formatTime, outputOptions, OUTPUT_FLAGS, statusText, table } from './output.js';
import { parseFlags, suggestion } from './flags.js';
import { OperationError, READ_COMMAND_FLAGS, UsageError, serverList } from './usage.js';

export const NOTIFY_HELP = `usage: chime notify <list|test> ...

  list [--job JOB] [--status pending|delivered|failed] [--limit N] [--cursor C]
                                      webhook deliveries, newest first, with attempts and the last error
  test JOB                            send a signed test event to each of the job's notify targets now

${READ_COMMAND_FLAGS}`;

interface Delivery {
  eventId: string;
  event: string;
  jobId: string;
  url: string;
  status: string;
  attempts: number;
  lastError: string | null;
  lastAttemptAt: string | null;
}

function readDelivery(value: unknown, what: string): Delivery {
  const o = fieldsOf(value, what);
  return {
    eventId: text(o, 'eventId', what), event: text(o, 'event', what), jobId: text(o, 'jobId', what), url: text(o, 'url', what),
    status: text(o, 'status', what), attempts: num(o, 'attempts', what), lastError: textOrNull(o, 'lastError', what),
    lastAttemptAt: textOrNull(o, 'lastAttemptAt', what),
  };
}

function readTest(value: unknown, what: string): { url: string; status: number | null; error: string | null } {
  const o = fieldsOf(value, what);
  return { url: text(o, 'url', what), status: numOrNull(o, 'status', what), error: textOrNull(o, 'error', what) };
}

export async function notifyCommand(args: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseFlags('notify', args, {
    server: { type: 'string' }, ...OUTPUT_FLAGS, stale: { type: 'boolean' }, help: { type: 'boolean' },
    limit: { type: 'string' }, cursor: { type: 'string' }, job: { type: 'string' }, status: { type: 'string' },
  });
  const [sub, id] = positionals;
  if (values.help === true) return out(NOTIFY_HELP);
  if (sub === undefined) throw new UsageError('notify: missing subcommand (list, test)');
  const call = apiCaller(serverList(values.server));
  const output = outputOptions(values);
  switch (sub) {
    case 'list': {
      const query = new URLSearchParams();
      for (const key of ['job', 'status', 'limit', 'cursor'] as const) {
        const value = values[key];
        if (value !== undefined) query.set(key, value);
      }
      if (values.stale === true) query.set('stale', 'true');
      const q = query.toString();
      const body = (await call('GET', `/v1/notifications${q === '' ? '' : `?${q}`}`)).body;
      const doc = document(body, output);
      if (doc !== null) return out(doc);
      const page = fieldsOf(body, 'page');
      const items = listOf(page, 'items', 'page', readDelivery);
      const wide = output.format === 'wide';
      out(table(['EVENT ID', 'EVENT', 'JOB', 'STATUS', 'ATTEMPTS', 'LAST ATTEMPT', 'LAST ERROR', ...(wide ? ['URL'] : [])], items.map((d) => [
        d.eventId, d.event, d.jobId, statusText(d.status, output.colour),
        d.attempts, formatTime(d.lastAttemptAt, output.utc), d.lastError ?? '-', ...(wide ? [d.url] : []),
      ])));
      const nextCursor = textOrNull(page, 'nextCursor', 'page');
      if (nextCursor !== null) out(`more: --cursor ${nextCursor}\n`);
      return;
    }
    case 'test': {
      if (id === undefined) throw new UsageError('notify test: needs a job id');
      const body = (await call('POST', `/v1/jobs/${encodeURIComponent(id)}/notify/test`)).body;
      const doc = document(body, output);
      const results = listOf(fieldsOf(body, 'answer'), 'items', 'answer', readTest);
      if (doc !== null) out(doc);
      else for (const r of results) out(`${r.url}: ${r.status === null ? `no answer (${r.error ?? 'error'})` : `HTTP ${r.status}`}\n`);
      const failed = results.filter((r) => r.status === null || r.status < 200 || r.status >= 300);
      if (failed.length > 0) throw new OperationError(`${failed.length} of ${results.length} targets did not acknowledge the test event`);
      return;
    }
    default:
      throw new UsageError(`notify: unknown subcommand ${sub}${suggestion(sub, ['list', 'test'])}`);
  }
}
