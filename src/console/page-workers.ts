// Workers and functions: each function's queue, the workers seen lately, and the progress of
// queue runs that are running.
import { get, withQuery, type Page as ListPage } from './api.js';
import { jobLink, runLink, slot, statusBadge } from './common.js';
import { dataTable, h, pageHeading, section } from './dom.js';
import { formatRelative, parseTime } from './format.js';
import type { PageContext } from './types.js';
import { poll } from './poll.js';
import type { FunctionInfo, Run, WorkerInfo } from './types.js';
import { pageOf, readFunctionInfo, readRun, readWorkerInfo } from './decode.js';

export function workersPage(root: HTMLElement, _ctx: PageContext): () => void {
  const functions = dataTable<FunctionInfo>('Functions', [
    { title: 'Function', cell: (f) => f.name },
    { title: 'Queued', cell: (f) => String(f.queued), class: 'num' },
    { title: 'Running', cell: (f) => String(f.running), class: 'num' },
    { title: 'Workers (last 60 s)', cell: (f) => String(f.workers), class: 'num' },
  ]);
  const workers = dataTable<WorkerInfo>('Workers', [
    { title: 'Worker', cell: (w) => w.worker },
    { title: 'Functions', cell: (w) => w.functions.join(', ') },
    { title: 'Node', cell: (w) => w.node },
    { title: 'Running', cell: (w) => String(w.running), class: 'num' },
    { title: 'Last seen', cell: (w) => formatRelative(parseTime(w.lastSeenAt), Date.now()) },
  ]);
  const running = dataTable<Run>('Running queue runs', [
    { title: 'Run', cell: (r) => runLink(r.runId) },
    { title: 'Job', cell: (r) => jobLink(r.jobId) },
    { title: 'Status', cell: (r) => statusBadge(r.status) },
    { title: 'Progress', cell: (r) => (r.progress ? h('span', null, h('progress', { max: r.progress.total, value: r.progress.done, 'aria-label': `Progress of ${r.runId}` }), ` ${r.progress.done}/${r.progress.total}`) : '–') },
  ]);
  const parts = [
    { s: slot(), table: functions, title: 'Functions', path: '/v1/functions', what: 'The list of functions', key: (x: FunctionInfo) => x.name, empty: 'No function has queued or claimed runs.' },
    { s: slot(), table: workers, title: 'Workers', path: '/v1/workers', what: 'The list of workers', key: (x: WorkerInfo) => x.worker, empty: 'No worker was seen in the last 60 s.' },
  ] as const;
  const runSlot = slot();
  runSlot.content(running.el);
  root.append(pageHeading('Workers and functions'), h('div', { class: 'grid' }, parts.map((p) => {
    p.s.content(p.table.el);
    return section(p.title, p.s.el);
  }), section('Queue runs in progress', runSlot.el)));
  const pollers = [
    poll(async (signal) => {
      const page = await get('/v1/functions?limit=200', pageOf(readFunctionInfo), { signal });
      parts[0].s.clearError();
      functions.update(page.items, parts[0].key, parts[0].empty);
    }, (e) => parts[0].s.error(e, parts[0].what, `GET ${parts[0].path}`)),
    poll(async (signal) => {
      const page = await get('/v1/workers?limit=200', pageOf(readWorkerInfo), { signal });
      parts[1].s.clearError();
      workers.update(page.items, parts[1].key, parts[1].empty);
    }, (e) => parts[1].s.error(e, parts[1].what, `GET ${parts[1].path}`)),
    poll(async (signal) => {
      const page = await get(withQuery('/v1/runs', { status: 'running', limit: 200 }), pageOf(readRun), { signal });
      runSlot.clearError();
      // Queue runs are those claimed by workers: they report progress, or name no chime node.
      running.update(page.items.filter((r) => r.progress !== undefined), (r) => r.runId, 'No queue run is running.');
    }, (e) => runSlot.error(e, 'The progress of running queue runs', 'GET /v1/runs')),
  ];
  return () => pollers.forEach((p) => p.stop());
}
