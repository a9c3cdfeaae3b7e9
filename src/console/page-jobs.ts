// Jobs: the list, paged and filtered on the server (id, label, status), with pause/resume per
// row for roles that may write. The URL's query holds the filter and page, so a reload or a
// shared link shows the same page. Rendering time is recorded as `chime:jobs-rendered`.
import { ApiError, enc, get, post, withQuery, type Page as ListPage } from './api.js';
import { errorText, executorSummary, jobLink, slot } from './common.js';
import { announce, badge, button, dataTable, field, h, input, link, pageHeading, select, replace } from './dom.js';
import { formatRelative, formatTime, parseTime } from './format.js';
import type { PageContext } from './types.js';
import { poll } from './poll.js';
import { can } from './session.js';
import type { Job } from './types.js';
import { pageOf, readJob } from './decode.js';

const PAGE_SIZES = ['25', '50', '100', '200'];

export function jobsPage(root: HTMLElement, ctx: PageContext): () => void {
  const q = ctx.query;
  const limit = PAGE_SIZES.includes(q.get('limit') ?? '') ? (q.get('limit') ?? '50') : '50';
  const cursor = q.get('cursor');
  /** Cursors of the pages before this one, so "Previous page" works without the server keeping state. */
  const back = q.getAll('back');
  const idField = field('Id contains', input({ name: 'id', value: q.get('id') ?? '', type: 'search' }));
  const labelField = field('Label', input({ name: 'label', value: q.get('label') ?? '', placeholder: 'key=value' }));
  const statusField = field('Status', select([['', 'All'], ['enabled', 'Enabled'], ['paused', 'Paused']], q.get('status') ?? ''));
  const sizeField = field('Jobs per page', select(PAGE_SIZES, limit));
  const filters = () => ({ id: idField.control.value.trim(), label: labelField.control.value.trim(), status: statusField.control.value, limit: sizeField.control.value });
  const go = (extra: Record<string, string | readonly string[] | null>) => {
    location.hash = withQuery('#/jobs', { ...filters(), ...extra });
  };
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter jobs' },
    idField.wrap, labelField.wrap, statusField.wrap, sizeField.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Apply filter'), button('Clear filter', () => (location.hash = '#/jobs'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go({});
  });
  sizeField.control.addEventListener('change', () => go({}));
  statusField.control.addEventListener('change', () => go({}));

  const writable = can('write');
  const poller = { now: () => {} };
  const setEnabled = async (job: Job, enabled: boolean) => {
    try {
      await post(`/v1/jobs/${enc(job.id)}/${enabled ? 'resume' : 'pause'}`);
      announce(`${job.id} ${enabled ? 'resumed' : 'paused'}`);
    } catch (e) {
      s.error(e);
    }
    poller.now();
  };
  const now = () => Date.now();
  const table = dataTable<Job>('Jobs', [
    { title: 'Id', cell: (j) => jobLink(j.id) },
    { title: 'Status', cell: (j) => (j.enabled ? badge('enabled', 'good') : badge('paused', 'quiet')) },
    { title: 'Schedule', cell: (j) => h('code', null, j.schedule) },
    { title: 'Next fire', cell: (j) => h('span', { title: formatTime(j.nextFireAt) }, formatRelative(parseTime(j.nextFireAt), now())), class: 'num' },
    { title: 'Executor', cell: (j) => h('span', { class: 'clip' }, executorSummary(j.executor)), class: 'wide-only' },
    { title: 'Labels', cell: (j) => Object.entries(j.labels ?? {}).map(([k, v]) => h('span', { class: 'label' }, `${k}=${v}`)), class: 'wide-only' },
    ...(writable ? [{
      title: 'Actions',
      cell: (j: Job) => (j.enabled
        ? button('Pause', () => void setEnabled(j, false), { 'aria-label': `Pause ${j.id}`, class: 'small' })
        : button('Resume', () => void setEnabled(j, true), { 'aria-label': `Resume ${j.id}`, class: 'small' })),
    }] : []),
  ]);
  const s = slot();
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of jobs' });
  s.content(count, table.el, pager);
  root.append(
    pageHeading('Jobs', writable ? link('#/jobs/new', 'New job', { class: 'button primary' }) : null),
    form, s.el,
  );

  let first = true;
  const started = performance.now();
  const p = poll(async (signal) => {
    const asked = performance.now();
    const page = await get(withQuery('/v1/jobs', { limit, cursor, id: q.get('id'), label: q.get('label'), status: q.get('status') }), pageOf(readJob), { signal });
    const answered = performance.now();
    s.clearError();
    table.update(page.items, (j) => j.id, q.toString().includes('id=') || q.has('label') || q.has('status') ? 'No job matches this filter.' : 'No jobs yet.');
    count.textContent = `${page.items.length} job${page.items.length === 1 ? '' : 's'} on this page${back.length > 0 ? ` (page ${back.length + 1})` : ''}`;
    replace(pager, 
      back.length > 0 ? button('Previous page', () => go({ cursor: back[back.length - 1] || null, back: back.slice(0, -1) })) : null,
      page.nextCursor !== null ? button('Next page', () => go({ cursor: page.nextCursor, back: [...back, cursor ?? ''] })) : null,
    );
    if (first) {
      first = false;
      // Measured when the frame that shows the rows starts: layout and paint of it included.
      const rows = page.items.length;
      requestAnimationFrame(() => {
        const done = performance.now();
        performance.mark('chime:jobs-rendered', { detail: { ms: done - started, fetchMs: answered - asked, renderMs: done - answered, rows } });
      });
    }
  }, (e) => {
    if (e instanceof ApiError && e.status === 400) s.error(new Error(`The filter was refused: ${errorText(e)}`));
    else s.error(e);
  }, 5000);
  poller.now = () => p.now();
  return () => p.stop();
}
