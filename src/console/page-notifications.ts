// Notifications: webhook deliveries of run events, filtered by job and delivery status.
import { get, withQuery, type Page as ListPage } from './api.js';
import { jobLink, runLink, slot, statusBadge } from './common.js';
import { button, dataTable, field, h, input, pageHeading, select, replace } from './dom.js';
import { formatTime } from './format.js';
import type { PageContext } from './types.js';
import { poll } from './poll.js';
import type { Delivery } from './types.js';
import { pageOf, readDelivery } from './decode.js';

export function notificationsPage(root: HTMLElement, ctx: PageContext): () => void {
  const q = ctx.query;
  const jobF = field('Job', input({ value: q.get('job') ?? '' }));
  const statusF = field('Delivery status', select([['', 'Any'], ['pending', 'Pending'], ['delivered', 'Delivered'], ['failed', 'Failed']], q.get('status') ?? ''));
  const cursor = q.get('cursor');
  const back = q.getAll('back');
  const values = () => ({ job: jobF.control.value.trim(), status: statusF.control.value });
  const go = (extra: Record<string, string | readonly string[] | null>) => (location.hash = withQuery('#/notifications', { ...values(), ...extra }));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter notifications' }, jobF.wrap, statusF.wrap, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Apply filter')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go({});
  });
  const table = dataTable<Delivery>('Notification deliveries', [
    { title: 'Event', cell: (d) => d.event },
    { title: 'Job', cell: (d) => jobLink(d.jobId) },
    { title: 'Run', cell: (d) => runLink(d.runId) },
    { title: 'Status', cell: (d) => statusBadge(d.status) },
    { title: 'Attempts', cell: (d) => String(d.attempts), class: 'num' },
    { title: 'Last attempt', cell: (d) => formatTime(d.lastAttemptAt) },
    { title: 'URL', cell: (d) => h('span', { class: 'clip' }, d.url), class: 'wide-only' },
    { title: 'Last error', cell: (d) => d.lastError ?? '–', class: 'wide-only' },
  ]);
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of notifications' });
  const s = slot();
  s.content(table.el, pager);
  root.append(pageHeading('Notifications'), form, s.el);
  const p = poll(async (signal) => {
    const page = await get(withQuery('/v1/notifications', { job: q.get('job'), status: q.get('status'), limit: 50, cursor }), pageOf(readDelivery), { signal });
    s.clearError();
    table.update(page.items, (d) => d.eventId, 'No notification matches.');
    replace(pager, 
      back.length > 0 ? button('Previous page', () => go({ cursor: back[back.length - 1] || null, back: back.slice(0, -1) })) : null,
      page.nextCursor !== null ? button('Next page', () => go({ cursor: page.nextCursor, back: [...back, cursor ?? ''] })) : null,
    );
  }, (e) => s.error(e, 'Notification delivery status', 'GET /v1/notifications'), 5000);
  return () => p.stop();
}
