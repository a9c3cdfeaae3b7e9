// Dashboard: cluster health, runs of the last hour by status with failed runs first, and the
// next fires on a timeline. Each part polls on its own and fails on its own.
import { get, withQuery, type Page as ListPage } from './api.js';
import { jobLink, runLink, slot, statusBadge } from './common.js';
import { badge, dataTable, h, pageHeading, section } from './dom.js';
import { countByStatus, failedFirst, formatDuration, formatRelative, formatTime, memberLag, parseTime, RUN_STATUSES, statusTone } from './format.js';
import type { PageContext } from './types.js';
import { poll } from './poll.js';
import type { Cluster, Member, Run, Upcoming } from './types.js';
import { pageOf, readCluster, readRun, readUpcoming } from './decode.js';

const HOUR_MS = 3_600_000;
/** Pages of runs read for the hour's counts; past this the counts say "at least". */
const RUN_PAGES_MAX = 10;
const RUN_PAGE_SIZE = 500;

export function membersTable(): ReturnType<typeof dataTable<Member & { lag: number | null }>> {
  return dataTable<Member & { lag: number | null }>('Members', [
    { title: 'Member', cell: (m) => m.id },
    { title: 'Role', cell: (m) => statusBadge(m.role) },
    { title: 'Kind', cell: (m) => (m.voter ? 'voter' : m.role === 'learner' ? 'learner' : 'worker (non-voting)') },
    { title: 'Lag (entries)', cell: (m) => (m.lag === null ? '–' : String(m.lag)), class: 'num' },
    { title: 'Last contact', cell: (m) => (m.lastContactMs === null ? '–' : `${formatDuration(m.lastContactMs)} ago`), class: 'num' },
    { title: 'Peer address', cell: (m) => m.rpc, class: 'wide-only' },
    { title: 'HTTP address', cell: (m) => m.http || '–', class: 'wide-only' },
  ]);
}

export function withLag(c: Cluster): Array<Member & { lag: number | null }> {
  return c.members.map((m) => ({ ...m, lag: m.role === 'leader' ? 0 : memberLag(c.commitIndex, m.matchIndex) }));
}

function health(): { el: HTMLElement; tick(signal: AbortSignal): Promise<void>; fail(e: unknown): void } {
  const summary = h('div', { class: 'health' });
  const members = membersTable();
  const s = slot();
  s.content(summary, members.el);
  return {
    el: section('Cluster health', s.el),
    async tick(signal) {
      const c = await get('/v1/cluster', readCluster, { signal });
      s.clearError();
      const voters = c.members.filter((m) => m.voter).length;
      summary.replaceChildren(
        h('p', { class: 'big' }, 'Leader ', c.leader === null ? badge('none — election in progress', 'bad') : h('strong', { 'data-testid': 'leader' }, c.leader)),
        h('p', null, `Term ${c.term} · commit ${c.commitIndex} · applied ${c.appliedIndex} on ${c.id} · ${voters} voter${voters === 1 ? '' : 's'} of ${c.members.length} members`),
      );
      members.update(withLag(c), (m) => m.id);
    },
    fail: (e) => s.error(e),
  };
}

function lastHour(): { el: HTMLElement; tick(signal: AbortSignal): Promise<void>; fail(e: unknown): void } {
  const s = slot();
  const counts = h('ul', { class: 'counts' });
  const recent = dataTable<Run>('Runs of the last hour, failed first', [
    { title: 'Run', cell: (r) => runLink(r.runId) },
    { title: 'Job', cell: (r) => jobLink(r.jobId) },
    { title: 'Status', cell: (r) => statusBadge(r.status) },
    { title: 'Scheduled', cell: (r) => formatTime(r.scheduledAt) },
    { title: 'Trigger', cell: (r) => r.trigger, class: 'wide-only' },
  ]);
  s.content(counts, h('h3', null, 'Recent runs, failed first'), recent.el);
  return {
    el: section('Runs in the last hour', s.el),
    async tick(signal) {
      const since = new Date(Date.now() - HOUR_MS).toISOString();
      const runs: Run[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: ListPage<Run> = await get(withQuery('/v1/runs', { since, limit: RUN_PAGE_SIZE, cursor }), pageOf(readRun), { signal });
        runs.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null && ++pages < RUN_PAGES_MAX);
      s.clearError();
      const byStatus = countByStatus(runs);
      const atLeast = cursor !== null ? 'at least ' : '';
      counts.replaceChildren(...RUN_STATUSES.map((st) => h('li', { class: `count tone-${statusTone(st)}` }, h('span', { class: 'count-n' }, `${atLeast}${byStatus[st] ?? 0}`), h('span', null, st.replace('_', ' ')))));
      recent.update(failedFirst(runs).slice(0, 20), (r) => r.runId, 'No runs in the last hour.');
    },
    fail: (e) => s.error(e, 'Run counts of the last hour', 'GET /v1/runs'),
  };
}

function timeline(): { el: HTMLElement; tick(signal: AbortSignal): Promise<void>; fail(e: unknown): void } {
  const s = slot();
  const list = h('ol', { class: 'timeline', 'aria-label': 'Next fires in the coming hour' });
  s.content(list);
  return {
    el: section('Next fires', s.el),
    async tick(signal) {
      const page = await get('/v1/schedule/upcoming?within=1h&limit=30', pageOf(readUpcoming), { signal });
      s.clearError();
      const now = Date.now();
      if (page.items.length === 0) {
        list.replaceChildren(h('li', { class: 'empty' }, 'No job is due in the next hour.'));
        return;
      }
      list.replaceChildren(...page.items.map((u) => {
        const at = parseTime(u.at) ?? now;
        const share = Math.min(100, Math.max(0, ((at - now) / HOUR_MS) * 100));
        return h('li', null,
          h('span', { class: 'when' }, formatRelative(at, now)),
          h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: `mark w${Math.round(share / 5) * 5}` })),
          jobLink(u.jobId),
          h('span', { class: 'local' }, u.local.replace('T', ' ').slice(0, 19)));
      }));
    },
    fail: (e) => s.error(e, 'The timeline of next fires', 'GET /v1/schedule/upcoming'),
  };
}

export function dashboardPage(root: HTMLElement, _ctx: PageContext): () => void {
  const parts = [health(), lastHour(), timeline()];
  root.append(pageHeading('Dashboard'), h('div', { class: 'grid' }, parts.map((p) => p.el)));
  const pollers = parts.map((p) => poll((signal) => p.tick(signal), (e) => p.fail(e)));
  return () => pollers.forEach((p) => p.stop());
}
