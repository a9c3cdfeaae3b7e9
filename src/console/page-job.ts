// One job: what it is, its next instants, its runs (live), and the actions its role allows:
// run now (payload, key, priority), pause/resume, edit, delete (asks first).
import { ApiError, enc, get, post, request, withQuery, type Page as ListPage } from './api.js';
import { errorText, executorSummary, runLink, slot, statusBadge } from './common.js';
import { announce, badge, button, confirmAction, dataTable, definitionList, field, h, input, link, notice, pageHeading, section, select, textarea } from './dom.js';
import { formatDuration, formatTime, parseTime } from './format.js';
import type { PageContext } from './types.js';
import { poll } from './poll.js';
import { can } from './session.js';
import type { Delivery, Job, Run } from './types.js';
import { stringField, pageOf, readDelivery, readJob, readRun } from './decode.js';

export function runsTable(caption: string, withJob: boolean): ReturnType<typeof dataTable<Run>> {
  return dataTable<Run>(caption, [
    { title: 'Run', cell: (r) => runLink(r.runId) },
    ...(withJob ? [{ title: 'Job', cell: (r: Run) => link(`#/jobs/${enc(r.jobId)}`, r.jobId) }] : []),
    { title: 'Status', cell: (r) => statusBadge(r.status) },
    { title: 'Scheduled', cell: (r) => formatTime(r.scheduledAt) },
    { title: 'Trigger', cell: (r) => r.trigger },
    { title: 'Attempt', cell: (r) => String(r.attempt), class: 'num wide-only' },
    { title: 'Duration', cell: (r) => formatDuration(runDurationMs(r)), class: 'num' },
    { title: 'Nodes', cell: (r) => [...new Set(r.executions.map((e) => e.node))].join(', ') || '–', class: 'wide-only' },
  ]);
}

/** The server's durationMs when it gives one; else finished minus started of the current attempt. */
export function runDurationMs(run: Run): number | null {
  if (typeof run.durationMs === 'number') return run.durationMs;
  const start = parseTime(run.startedAt);
  if (start === null) return null;
  return (parseTime(run.finishedAt) ?? Date.now()) - start;
}

function runNowForm(job: Job, isQueue: boolean, onDone: () => void): HTMLElement {
  const payload = field('Payload', textarea({ name: 'payload', rows: 2 }), 'Given to the run as CHIME_PAYLOAD (shell), {{payload}} (http) or stdin (queue).');
  const key = field('Idempotency key', input({ name: 'key' }), 'The same key within 24 h answers the first run instead of starting another.');
  const priority = field('Priority', select([['', 'Default'], ['high', 'High'], ['normal', 'Normal'], ['low', 'Low']], ''), 'Queue jobs: higher is claimed first.');
  const error = h('div');
  const form = h('form', { class: 'inline-form', 'aria-label': `Run ${job.id} now` }, payload.wrap, key.wrap, isQueue ? priority.wrap : null,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Run now')), error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.replaceChildren();
    for (const f of [payload, key, priority]) f.setError(null);
    const body: Record<string, string> = {};
    if (payload.control.value !== '') body['payload'] = payload.control.value;
    if (key.control.value.trim() !== '') body['key'] = key.control.value.trim();
    if (isQueue && priority.control.value !== '') body['priority'] = priority.control.value;
    try {
      const runId = stringField('runId')(await post(`/v1/jobs/${enc(job.id)}/run`, body), 'answer');
      announce(`Run ${runId} started`);
      location.hash = `#/runs/${enc(runId)}`;
    } catch (err) {
      if (err instanceof ApiError) for (const fe of err.errors) new Map(Object.entries({ payload, key, priority })).get(fe.path)?.setError(fe.message);
      error.replaceChildren(notice(`Run now failed: ${errorText(err)}`, 'error'));
      onDone();
    }
  });
  return form;
}

function facts(job: Job): HTMLElement {
  const { retry, misfire, target } = job;
  return definitionList([
    ['Status', job.enabled ? badge('enabled', 'good') : badge('paused', 'quiet')],
    ['Schedule', h('code', null, job.schedule)],
    ['Time zone', job.timezone],
    ['Executor', h('span', { class: 'clip' }, executorSummary(job.executor))],
    ['Target', target.mode === 'tags' ? `tags ${Object.entries(target.tags ?? {}).map(([k, v]) => `${k}=${v}`).join(', ')}${target.count === undefined ? '' : ` (count ${target.count})`}` : target.mode],
    ['Concurrency', String(job['concurrency'] ?? '–')],
    ['Misfire', misfire === undefined ? '–' : `${misfire.policy}, window ${formatDuration(misfire.windowMs)}`],
    ['Timeout', formatDuration(Number(job['timeoutMs']))],
    ['Retry', retry === undefined ? '–' : retry.max === 0 ? 'none' : `up to ${retry.max}, backoff ${formatDuration(retry.backoffMs)}–${formatDuration(retry.maxBackoffMs)}`],
    ['Priority', String(job['priority'] ?? '–')],
    ['After', Array.isArray(job['after']) && job['after'].length > 0 ? job['after'].join(', ') : '–'],
    ['History', `${String(job['history'] ?? '–')} runs kept`],
    ['Labels', Object.entries(job.labels ?? {}).map(([k, v]) => h('span', { class: 'label' }, `${k}=${v}`))],
    ['Notify', Array.isArray(job.notify) && job.notify.length > 0 ? `${job.notify.length} rule${job.notify.length === 1 ? '' : 's'}` : '–'],
    ['Next fire', formatTime(job.nextFireAt, job.timezone) + (job.nextFireAt === null ? '' : ` (${job.timezone})`)],
    ['Last scheduled', formatTime(job.lastScheduledAt, job.timezone)],
    ['Updated', `${formatTime(job.updatedAt)}${job.updatedBy === undefined ? '' : ` by ${job.updatedBy}`}`],
    ['Description', job.description || '–'],
  ]);
}

export function jobPage(root: HTMLElement, ctx: PageContext): () => void {
  const id = ctx.params[0] ?? '';
  const base = `/v1/jobs/${enc(id)}`;
  const head = pageHeading(`Job ${id}`);
  const actions = h('div', { class: 'actions page-actions' });
  const info = slot();
  const runs = runsTable(`Runs of ${id}`, false);
  const runsSlot = slot();
  runsSlot.content(runs.el);
  const deliveries = dataTable<Delivery>(`Notifications of ${id}`, [
    { title: 'Event', cell: (d) => d.event },
    { title: 'Run', cell: (d) => runLink(d.runId) },
    { title: 'Status', cell: (d) => statusBadge(d.status) },
    { title: 'Attempts', cell: (d) => String(d.attempts), class: 'num' },
    { title: 'Last error', cell: (d) => d.lastError ?? '–', class: 'wide-only' },
  ]);
  const deliverySlot = slot();
  deliverySlot.content(deliveries.el);
  const runNow = h('div');
  root.append(head, actions, info.el, runNow, section('Runs', runsSlot.el), section('Notifications', deliverySlot.el));

  let shown: Job | null = null;
  const showActions = (job: Job) => {
    if (!can('write')) {
      actions.replaceChildren();
      return;
    }
    actions.replaceChildren(
      job.enabled ? button('Pause', () => void act('pause')) : button('Resume', () => void act('resume')),
      link(`#/jobs/${enc(id)}/edit`, 'Edit', { class: 'button' }),
      button('Delete', () => void remove(), { class: 'danger' }),
    );
    if (runNow.childElementCount === 0) runNow.append(section('Run now', runNowForm(job, job.executor.type === 'queue', () => p.now())));
  };
  const act = async (what: 'pause' | 'resume') => {
    try {
      await post(`${base}/${what}`);
      announce(`${id} ${what === 'pause' ? 'paused' : 'resumed'}`);
      actions.querySelector('button')?.focus();
    } catch (e) {
      info.error(e);
    }
    p.now();
  };
  const remove = async () => {
    if (!(await confirmAction(`Delete job ${id}?`, 'The job and its run history are removed on every node. This cannot be undone.', `Delete ${id}`))) return;
    try {
      await request('DELETE', base);
      announce(`${id} deleted`);
      location.hash = '#/jobs';
    } catch (e) {
      info.error(e);
    }
  };
  const p = poll(async (signal) => {
    let job: Job;
    try {
      job = await get(base, readJob, { signal });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        info.content(notice(`There is no job ${id} (it may have been deleted).`, 'info'));
        actions.replaceChildren();
        return;
      }
      throw e;
    }
    info.clearError();
    if (JSON.stringify(job) !== JSON.stringify(shown)) {
      shown = job;
      info.content(section('Definition', facts(job)));
      showActions(job);
    }
    const page = await get(`${base}/runs?limit=20`, pageOf(readRun), { signal });
    runs.update(page.items, (r) => r.runId, 'No runs yet.');
  }, (e) => info.error(e));
  const d = poll(async (signal) => {
    const page = await get(withQuery('/v1/notifications', { job: id, limit: 20 }), pageOf(readDelivery), { signal });
    deliverySlot.clearError();
    deliveries.update(page.items, (x) => x.eventId, 'No notifications sent for this job.');
  }, (e) => deliverySlot.error(e, 'Notification delivery status', 'GET /v1/notifications'), 10_000);
  return () => {
    p.stop();
    d.stop();
  };
}
