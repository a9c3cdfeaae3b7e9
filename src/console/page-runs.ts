// Runs: search across jobs by job, status, trigger, node and time, newest first, paged.
import { withQuery, get, type Page as ListPage } from './api.js';
import { slot } from './common.js';
import { button, field, h, input, pageHeading, select, replace } from './dom.js';
import { RUN_STATUSES } from './format.js';
import type { PageContext } from './types.js';
import { runsTable } from './page-job.js';
import { poll } from './poll.js';
import type { Run } from './types.js';
import { pageOf, readRun } from './decode.js';

const TRIGGERS = ['schedule', 'manual', 'retry', 'after', 'misfire'];

/** A datetime-local value (the browser's zone) as an ISO instant, or null. */
function isoOf(local: string): string | null {
  if (local === '') return null;
  const ms = Date.parse(local);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

export function runsPage(root: HTMLElement, ctx: PageContext): () => void {
  const q = ctx.query;
  const jobF = field('Job', input({ value: q.get('job') ?? '', name: 'job' }));
  const statusF = field('Status', select([['', 'Any'], ...RUN_STATUSES.map((s) => [s, s.replace('_', ' ')] as const)], q.get('status') ?? ''));
  const triggerF = field('Trigger', select([['', 'Any'], ...TRIGGERS.map((t) => [t, t] as const)], q.get('trigger') ?? ''));
  const nodeF = field('Node', input({ value: q.get('node') ?? '', name: 'node' }));
  const sinceF = field('Since', input({ type: 'datetime-local', value: q.get('since') ?? '', step: 1 }));
  const untilF = field('Until', input({ type: 'datetime-local', value: q.get('until') ?? '', step: 1 }));
  const back = q.getAll('back');
  const cursor = q.get('cursor');
  const values = () => ({ job: jobF.control.value.trim(), status: statusF.control.value, trigger: triggerF.control.value, node: nodeF.control.value.trim(), since: sinceF.control.value, until: untilF.control.value });
  const go = (extra: Record<string, string | readonly string[] | null>) => (location.hash = withQuery('#/runs', { ...values(), ...extra }));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Search runs' }, jobF.wrap, statusF.wrap, triggerF.wrap, nodeF.wrap, sinceF.wrap, untilF.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search runs'), button('Clear search', () => (location.hash = '#/runs'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go({});
  });
  const table = runsTable('Runs', true);
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of runs' });
  const s = slot();
  s.content(table.el, pager);
  root.append(pageHeading('Runs'), form, s.el);
  const p = poll(async (signal) => {
    const path = withQuery('/v1/runs', { job: q.get('job'), status: q.get('status'), trigger: q.get('trigger'), node: q.get('node'), since: isoOf(q.get('since') ?? ''), until: isoOf(q.get('until') ?? ''), limit: 50, cursor });
    const page = await get(path, pageOf(readRun), { signal });
    s.clearError();
    table.update(page.items, (r) => r.runId, 'No run matches.');
    replace(pager, 
      back.length > 0 ? button('Previous page', () => go({ cursor: back[back.length - 1] || null, back: back.slice(0, -1) })) : null,
      page.nextCursor !== null ? button('Next page', () => go({ cursor: page.nextCursor, back: [...back, cursor ?? ''] })) : null,
    );
  }, (e) => s.error(e, 'Run search across jobs', 'GET /v1/runs'), 3000);
  return () => p.stop();
}
