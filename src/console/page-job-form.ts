// The job form, for a new job and for editing one: every field of the spec, the schedule's
// next five instants as the server computes them (its time zone and daylight-saving rule),
// and the server's validation errors next to the fields they name. Nothing typed is lost
// when the server refuses: the form is never rebuilt after a failed save.
import { ApiError, enc, get, request, withQuery } from './api.js';
import { errorText, unavailable } from './common.js';
import { announce, button, field, h, input, link, notice, pageHeading, replace, select, textarea, uid, type Field } from './dom.js';
import { formatTime } from './format.js';
import type { PageContext } from './types.js';
import { can } from './session.js';
import {
  CONCURRENCY, EXECUTOR_TYPES, HTTP_METHODS, MISFIRE, NOTIFY_EVENTS, NOTIFY_RULES_MAX, TARGET_MODES,
  emptyForm, fieldForPath, formFromJob, specFromForm, type FieldError, type JobForm, type NotifyForm,
} from './spec-form.js';
import type { Job } from './types.js';
import { readInstantsAnswer, readJob } from './decode.js';

const PREVIEW_DELAY_MS = 300;
const SECRET_HINT = 'One NAME=value per line. Stored values show as ***; leave *** to keep one.';

interface NotifyRow {
  readonly el: HTMLElement;
  read(): NotifyForm;
  readonly fields: Map<string, Field>;
}

function fieldset(legend: string, ...children: Array<Node | null>): HTMLFieldSetElement {
  return h('fieldset', null, h('legend', null, legend), children);
}

function zoneList(): HTMLDataListElement {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return h('datalist', { id: 'zones' }, ['UTC', ...zones].map((z) => h('option', { value: z })));
}

export function jobFormPage(root: HTMLElement, ctx: PageContext): () => void {
  const editing = ctx.params[0];
  const title = editing === undefined ? 'New job' : `Edit job ${editing}`;
  root.append(pageHeading(title));
  if (!can('write')) {
    root.append(notice('Your role may read jobs but not change them.'), link('#/jobs', 'Back to jobs'));
    return () => {};
  }
  const holder = h('div');
  root.append(holder);
  const control = new AbortController();
  if (editing === undefined) build(holder, emptyForm(), null, control.signal);
  else {
    holder.append(notice('Loading…'));
    get(`/v1/jobs/${enc(editing)}`, readJob, { signal: control.signal }).then(
      (job) => {
        holder.replaceChildren();
        build(holder, formFromJob(job), job, control.signal);
      },
      (e) => holder.replaceChildren(notice(`Could not load ${editing}: ${errorText(e)}`, 'error')),
    );
  }
  return () => control.abort();
}

function build(holder: HTMLElement, form: JobForm, job: Job | null, signal: AbortSignal): void {
  const fields = new Map<string, Field>();
  const add = (path: string, f: Field) => {
    fields.set(path, f);
    return f.wrap;
  };
  const text = (v: string, props = {}) => input({ value: v, ...props });
  const num = (v: string, props = {}) => input({ value: v, inputmode: 'numeric', ...props });

  const idF = field('Id', text(form.id, { name: 'id', readOnly: job !== null, required: true }), 'Letters, digits, . _ - (at most 128).');
  const schedF = field('Schedule', text(form.schedule, { name: 'schedule', required: true }), 'Cron (5 fields, or 6 with seconds first), @hourly, @every 30s, @at 2026-11-24T01:30:00, @manual.');
  const zoneF = field('Time zone', text(form.timezone, { name: 'timezone', list: 'zones' }), 'An IANA name such as Europe/Berlin.');
  const enabledBox = h('input', { type: 'checkbox', name: 'enabled', checked: form.enabled, id: uid('f') });
  const typeF = field('Executor', select(EXECUTOR_TYPES.map((t) => [t, t === 'shell' ? 'Shell command' : t === 'http' ? 'HTTP request' : 'Queue (pull workers)'] as const), form.executorType));
  const preview = h('div', { class: 'preview', role: 'status', 'aria-live': 'polite', id: uid('preview') });
  schedF.control.setAttribute('aria-controls', preview.id);

  const shell = fieldset('Shell command',
    add('executor.command', field('Command', textarea({ value: form.command, name: 'command', rows: 3 }), 'Run by /bin/sh -c.')),
    add('executor.cwd', field('Working directory', text(form.cwd))),
    add('executor.env', field('Environment', textarea({ value: form.env, rows: 2 }), 'One NAME=value per line.')),
    add('executor.secretEnv', field('Secret environment', textarea({ value: form.secretEnv, rows: 2 }), SECRET_HINT)));
  const http = fieldset('HTTP request',
    add('executor.method', field('Method', select(HTTP_METHODS, form.method))),
    add('executor.url', field('URL', text(form.url, { type: 'url' }))),
    add('executor.headers', field('Headers', textarea({ value: form.headers, rows: 2 }), 'One Name: value per line.')),
    add('executor.secretHeaders', field('Secret headers', textarea({ value: form.secretHeaders, rows: 2 }), 'One Name: value per line. Stored values show as ***; leave *** to keep one.')),
    add('executor.body', field('Body', textarea({ value: form.body, rows: 3 }))),
    h('div', { class: 'row' },
      add('executor.expectStatus[0]', field('Expected status from', num(form.expectLow))),
      add('executor.expectStatus[1]', field('Expected status to', num(form.expectHigh)))));
  const queue = fieldset('Queue',
    add('executor.function', field('Function', text(form.functionName), 'The function workers claim runs of.')),
    add('executor.leaseMs', field('Lease (ms)', num(form.leaseMs), 'Default 30000.')));
  const showExecutor = () => {
    shell.hidden = typeF.control.value !== 'shell';
    http.hidden = typeF.control.value !== 'http';
    queue.hidden = typeF.control.value !== 'queue';
  };
  typeF.control.addEventListener('change', showExecutor);
  showExecutor();

  const modeF = field('Target', select(TARGET_MODES.map((m) => [m, { any: 'Any node (least loaded)', leader: 'The leader', all: 'Every live node', tags: 'Nodes with tags' }[m]] as const), form.targetMode));
  const tagsBox = h('div', { class: 'row' },
    add('target.tags', field('Target tags', textarea({ value: form.targetTags, rows: 2 }), 'One key=value per line.')),
    add('target.count', field('Target count', num(form.targetCount), 'How many matching nodes (empty: all).')));
  const showTags = () => (tagsBox.hidden = modeF.control.value !== 'tags');
  modeF.control.addEventListener('change', showTags);
  showTags();

  const notifyList = h('div', { class: 'notify-rules' });
  const rules: NotifyRow[] = [];
  const addRuleButton = button('Add notification rule', () => addRule({ on: ['failed'], url: '', headers: '', secretHeaders: '' }, true));
  const renumber = () => {
    rules.forEach((r, i) => {
      const legend = r.el.querySelector('legend');
      if (legend !== null) legend.textContent = `Notification rule ${i + 1}`;
      const remove = r.el.querySelector<HTMLButtonElement>('button.remove-rule');
      if (remove !== null) remove.textContent = `Remove rule ${i + 1}`;
    });
    addRuleButton.disabled = rules.length >= NOTIFY_RULES_MAX;
  };
  const addRule = (rule: NotifyForm, focus: boolean) => {
    const boxes = NOTIFY_EVENTS.map((ev) => {
      const box = h('input', { type: 'checkbox', value: ev, checked: rule.on.includes(ev), id: uid('ev') });
      return { box, el: h('span', { class: 'check' }, box, h('label', { for: box.id }, ev.replace('_', ' '))) };
    });
    const urlF = field('Webhook URL', text(rule.url, { type: 'url' }));
    const headersF = field('Webhook headers', textarea({ value: rule.headers, rows: 2 }), 'One Name: value per line.');
    const secretF = field('Webhook secret headers', textarea({ value: rule.secretHeaders, rows: 2 }), 'Stored values show as ***; leave *** to keep one.');
    const eventsSet = h('fieldset', { class: 'events' }, h('legend', null, 'Events'), boxes.map((b) => b.el));
    const eventsErr = h('span', { class: 'field-error', hidden: true });
    const eventsField: Field = {
      wrap: eventsSet, control: boxes[0]?.box ?? enabledBox,
      setError(message) {
        eventsErr.textContent = message ?? '';
        eventsErr.hidden = message === null;
      },
    };
    const row: NotifyRow = {
      el: h('fieldset', { class: 'rule' }, h('legend', null, ''), eventsSet, eventsErr, urlF.wrap, headersF.wrap, secretF.wrap,
        button('Remove rule', () => {
          rules.splice(rules.indexOf(row), 1);
          row.el.remove();
          renumber();
          addRuleButton.focus();
        }, { class: 'remove-rule' })),
      read: () => ({ on: boxes.filter((b) => b.box.checked).map((b) => b.box.value), url: urlF.control.value, headers: headersF.control.value, secretHeaders: secretF.control.value }),
      fields: new Map([['on', eventsField], ['url', urlF], ['headers', headersF], ['secretHeaders', secretF]]),
    };
    rules.push(row);
    notifyList.append(row.el);
    renumber();
    if (focus) urlF.control.focus();
  };
  form.notify.forEach((r) => addRule(r, false));
  renumber();

  for (const [path, f] of [['id', idF], ['schedule', schedF], ['timezone', zoneF], ['executor.type', typeF], ['target.mode', modeF]] as const) fields.set(path, f);
  const summary = h('div', { class: 'summary', tabindex: -1 });
  const formEl = h('form', { class: 'job-form', novalidate: true, 'aria-label': editing(job) },
    summary,
    fieldset('Job', idF.wrap, add('description', field('Description', textarea({ value: form.description, rows: 2 }))),
      h('div', { class: 'check' }, enabledBox, h('label', { for: enabledBox.id }, 'Enabled (fires on its schedule)')),
      add('labels', field('Labels', textarea({ value: form.labels, rows: 2 }), 'One key=value per line.'))),
    fieldset('Schedule', schedF.wrap, zoneF.wrap, zoneList(), preview),
    fieldset('Execution', typeF.wrap, shell, http, queue),
    fieldset('Placement and policies', modeF.wrap, tagsBox,
      add('concurrency', field('Concurrency', select(CONCURRENCY.map((c) => [c, { forbid: 'Forbid (skip while running)', allow: 'Allow overlapping runs', replace: 'Replace (kill the running one)' }[c]] as const), form.concurrency))),
      h('div', { class: 'row' },
        add('misfire.policy', field('Misfire policy', select(MISFIRE, form.misfirePolicy), 'For instants missed while there was no leader.')),
        add('misfire.windowMs', field('Misfire window (ms)', num(form.misfireWindowMs)))),
      h('div', { class: 'row' },
        add('timeoutMs', field('Timeout (ms)', num(form.timeoutMs))),
        add('priority', field('Priority', num(form.priority), '0 to 9; higher runs first when slots are short.'))),
      add('after', field('Run after', text(form.after), 'Job ids (comma-separated) whose success triggers this job.')),
      add('afterMode', field('Run after mode', select([['any', 'Any (each success of one of them)'], ['all', 'All (once every one has succeeded since the last run)']] as const, form.afterMode))),
      add('history', field('History', num(form.history), 'Runs kept (1 to 1000).'))),
    fieldset('Retry',
      h('div', { class: 'row' },
        add('retry.max', field('Retries', num(form.retryMax), '0 to 10.')),
        add('retry.backoffMs', field('Backoff (ms)', num(form.retryBackoffMs))),
        add('retry.maxBackoffMs', field('Max backoff (ms)', num(form.retryMaxBackoffMs))))),
    fieldset('Notifications', notifyList, addRuleButton),
    h('div', { class: 'actions sticky' },
      h('button', { type: 'submit', class: 'primary' }, job === null ? 'Create job' : 'Save job'),
      link(job === null ? '#/jobs' : `#/jobs/${enc(job.id)}`, 'Cancel', { class: 'button' })),
  );
  holder.append(formEl);

  // The preview asks the server, which computes instants exactly as the scheduler will.
  let previewTimer: ReturnType<typeof setTimeout> | null = null;
  let previewAbort: AbortController | null = null;
  const refreshPreview = () => {
    if (previewTimer !== null) clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      previewAbort?.abort();
      previewAbort = new AbortController();
      const schedule = schedF.control.value.trim();
      const zone = zoneF.control.value.trim() || 'UTC';
      if (schedule === '') {
        preview.replaceChildren(h('p', { class: 'muted' }, 'Type a schedule to see its next instants.'));
        return;
      }
      try {
        const answer = await get(withQuery('/v1/schedule/preview', { schedule, timezone: zone, n: 5, anchor: job?.createdAt ?? null }), readInstantsAnswer, { signal: AbortSignal.any([signal, previewAbort.signal]) });
        replace(preview,
          h('p', { class: 'preview-title' }, answer.instants.length === 0 ? 'No instant to come (manual, or already past).' : `Next ${answer.instants.length} instants in ${zone}:`),
          answer.instants.length === 0 ? null : h('ol', { 'aria-label': 'Next instants' }, answer.instants.map((i) => h('li', null, h('time', { datetime: i.at }, `${formatTime(i.at, zone)} ${i.local.slice(-6)}`)))),
        );
      } catch (e) {
        if (signal.aborted || previewAbort.signal.aborted) return;
        if (e instanceof ApiError && e.unavailable) preview.replaceChildren(unavailable('A preview of the next instants', 'GET /v1/schedule/preview'));
        else preview.replaceChildren(h('p', { class: 'preview-error' }, `No preview: ${e instanceof ApiError ? e.errors.map((x) => `${x.path === 'timezone' ? 'time zone' : x.path} ${x.message}`).join('; ') || e.detail : errorText(e)}`));
      }
    }, PREVIEW_DELAY_MS);
  };
  schedF.control.addEventListener('input', refreshPreview);
  zoneF.control.addEventListener('input', refreshPreview);
  refreshPreview();

  const read = (): JobForm => {
    const v = (path: string) => fields.get(path)?.control.value ?? '';
    return {
      ...form,
      id: idF.control.value.trim(), description: v('description'), schedule: schedF.control.value, timezone: zoneF.control.value, enabled: enabledBox.checked,
      executorType: typeF.control.value, command: v('executor.command'), cwd: v('executor.cwd'), env: v('executor.env'), secretEnv: v('executor.secretEnv'),
      method: v('executor.method'), url: v('executor.url'), headers: v('executor.headers'), secretHeaders: v('executor.secretHeaders'), body: v('executor.body'),
      expectLow: v('executor.expectStatus[0]'), expectHigh: v('executor.expectStatus[1]'), functionName: v('executor.function'), leaseMs: v('executor.leaseMs'),
      targetMode: modeF.control.value, targetTags: v('target.tags'), targetCount: v('target.count'), concurrency: v('concurrency'),
      misfirePolicy: v('misfire.policy'), misfireWindowMs: v('misfire.windowMs'), timeoutMs: v('timeoutMs'), retryMax: v('retry.max'),
      retryBackoffMs: v('retry.backoffMs'), retryMaxBackoffMs: v('retry.maxBackoffMs'), priority: v('priority'), after: v('after'), afterMode: v('afterMode'), history: v('history'),
      labels: v('labels'), notify: rules.map((r) => r.read()),
    };
  };

  const allFields = (): Map<string, Field> => {
    const all = new Map(fields);
    rules.forEach((r, i) => r.fields.forEach((f, key) => all.set(`notify[${i}].${key}`, f)));
    return all;
  };

  /** Shows each error next to its field, and all of them in a summary that links to the fields. */
  const showErrors = (errors: readonly FieldError[], headline: string) => {
    const all = allFields();
    for (const f of all.values()) f.setError(null);
    const byField = new Map<string, string[]>();
    const items: HTMLElement[] = [];
    for (const e of errors) {
      const owner = fieldForPath(e.path, [...all.keys()]);
      const label = e.path === '(spec)' || e.path === '' ? 'Job' : e.path;
      if (owner !== null) byField.set(owner, [...(byField.get(owner) ?? []), owner === e.path ? e.message : `${e.path.slice(owner.length).replace(/^\./, '')}: ${e.message}`]);
      const target = owner === null ? null : all.get(owner)?.control;
      items.push(h('li', null, target === null || target === undefined ? `${label}: ${e.message}` : h('a', { href: `#${target.id}`, onclick: (ev: Event) => { ev.preventDefault(); target.focus(); } }, `${label}: ${e.message}`)));
    }
    for (const [owner, messages] of byField) all.get(owner)?.setError(messages.join('; '));
    summary.replaceChildren(h('div', { class: 'notice notice-error', role: 'alert' }, h('p', null, headline), h('ul', null, items)));
    const first = [...byField.keys()][0];
    (first === undefined ? summary : all.get(first)?.control ?? summary).focus();
  };

  formEl.addEventListener('submit', async (e) => {
    e.preventDefault();
    const values = read();
    if (values.id === '') return showErrors([{ path: 'id', message: 'is required' }], 'The job was not saved:');
    const built = specFromForm(values);
    if (!built.ok) return showErrors(built.errors, 'The job was not saved:');
    const submit = formEl.querySelector<HTMLButtonElement>('button[type=submit]');
    if (submit !== null) submit.disabled = true;
    try {
      if (job === null) {
        const exists = await get(`/v1/jobs/${enc(values.id)}`, readJob).then(() => true, (err) => (err instanceof ApiError && err.status === 404 ? false : Promise.reject(err)));
        if (exists) return showErrors([{ path: 'id', message: `a job named ${values.id} exists already` }], 'The job was not created:');
      }
      await request('PUT', `/v1/jobs/${enc(values.id)}`, { body: built.spec });
      announce(`Job ${values.id} saved`);
      location.hash = `#/jobs/${enc(values.id)}`;
    } catch (err) {
      if (err instanceof ApiError && err.errors.length > 0) showErrors(err.errors, `The server refused the job: ${err.detail.split(':')[0] ?? err.detail}.`);
      else showErrors([{ path: '', message: errorText(err) }], 'The job was not saved:');
    } finally {
      if (submit !== null) submit.disabled = false;
    }
  });
}

function editing(job: Job | null): string {
  return job === null ? 'New job' : `Edit job ${job.id}`;
}
