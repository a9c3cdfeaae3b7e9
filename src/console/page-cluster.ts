// Cluster: members with role, kind and lag; for admins, add and remove members and transfer
// leadership; the audit list of accepted writes (admin).
import { ApiError, enc, get, post, request, withQuery, type Page as ListPage } from './api.js';
import { errorText, slot, statusBadge } from './common.js';
import { announce, button, confirmAction, dataTable, field, h, input, notice, pageHeading, section, select, replace } from './dom.js';
import { formatDuration, formatTime } from './format.js';
import type { PageContext } from './types.js';
import { withLag } from './page-dashboard.js';
import { poll } from './poll.js';
import { can } from './session.js';
import type { AuditEntry, Cluster, Member } from './types.js';
import { stringField, pageOf, readAuditEntry, readCluster } from './decode.js';

function addMemberForm(onDone: () => void): HTMLElement {
  const idF = field('Member id', input({ name: 'member-id' }), 'a-z, 0-9 and -, as the new node was started with --id.');
  const rpcF = field('Peer address', input({ name: 'rpc', placeholder: 'host:port' }), 'The new node\'s --rpc address.');
  const httpF = field('HTTP address', input({ name: 'http', placeholder: 'host:port' }), 'Its --http address (optional).');
  const out = h('div');
  const form = h('form', { class: 'inline-form', 'aria-label': 'Add member' }, idF.wrap, rpcF.wrap, httpF.wrap, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add member')), out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const fields = { id: idF, rpc: rpcF, http: httpF };
    Object.values(fields).forEach((f) => f.setError(null));
    out.replaceChildren();
    const body: Record<string, string> = { id: idF.control.value.trim(), rpc: rpcF.control.value.trim() };
    if (httpF.control.value.trim() !== '') body['http'] = httpF.control.value.trim();
    try {
      await post('/v1/cluster/members', body);
      out.replaceChildren(notice(`${body['id']} was added as a learner; it becomes a voter once caught up.`));
      form.reset();
    } catch (err) {
      if (err instanceof ApiError) for (const fe of err.errors) new Map(Object.entries(fields)).get(fe.path)?.setError(fe.message);
      out.replaceChildren(notice(`Adding the member failed: ${errorText(err)}`, 'error'));
    }
    onDone();
  });
  return form;
}

function transferForm(): { el: HTMLElement; update(c: Cluster): void } {
  const target = field('Transfer to', select([['', 'The most up-to-date voter']], ''));
  const out = h('div');
  const form = h('form', { class: 'inline-form', 'aria-label': 'Transfer leadership' }, target.wrap, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Transfer leadership')), out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    out.replaceChildren();
    try {
      const answer = await post('/v1/cluster/transfer-leader', target.control.value === '' ? {} : { to: target.control.value });
      const from = stringField('from')(answer, 'answer');
      const to = stringField('to')(answer, 'answer');
      out.replaceChildren(notice(`Leadership is moving from ${from} to ${to}.`));
      announce(`Leadership moving to ${to}`);
    } catch (err) {
      out.replaceChildren(notice(`The transfer failed: ${errorText(err)}`, 'error'));
    }
  });
  let known = '';
  return {
    el: form,
    update(c) {
      const voters = c.members.filter((m) => m.voter && m.id !== c.leader).map((m) => m.id);
      if (voters.join(',') === known) return;
      known = voters.join(',');
      const keep = target.control.value;
      target.control.replaceChildren(h('option', { value: '' }, 'The most up-to-date voter'), ...voters.map((v) => h('option', { value: v, selected: v === keep }, v)));
    },
  };
}

function auditSection(): { el: HTMLElement; stop(): void } {
  const table = dataTable<AuditEntry & { n: number }>('Audit', [
    { title: 'At', cell: (a) => formatTime(a.at) },
    { title: 'Actor', cell: (a) => a.actor },
    { title: 'Method', cell: (a) => a.method },
    { title: 'Path', cell: (a) => h('code', null, a.path) },
    { title: 'Target', cell: (a) => a.target ?? '–', class: 'wide-only' },
  ]);
  const s = slot();
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of the audit list' });
  s.content(table.el, pager);
  const cursors: Array<string | null> = [null];
  const p = poll(async (signal) => {
    const cursor = cursors[cursors.length - 1] ?? null;
    const page = await get(withQuery('/v1/audit', { limit: 50, cursor }), pageOf(readAuditEntry), { signal });
    s.clearError();
    table.update(page.items.map((a, n) => ({ ...a, n })), (a) => `${a.at}-${a.n}`, 'No write was recorded yet.');
    replace(pager, 
      cursors.length > 1 ? button('Previous page', () => { cursors.pop(); p.now(); }) : null,
      page.nextCursor !== null ? button('Next page', () => { cursors.push(page.nextCursor); p.now(); }) : null,
    );
  }, (e) => s.error(e, 'The audit list', 'GET /v1/audit'), 5000);
  return { el: section('Audit', s.el), stop: () => p.stop() };
}

export function clusterPage(root: HTMLElement, _ctx: PageContext): () => void {
  const admin = can('admin');
  const summary = h('p', { class: 'big' });
  const table = dataTable<Member & { lag: number | null }>('Members', [
    { title: 'Member', cell: (m) => m.id },
    { title: 'Role', cell: (m) => statusBadge(m.role) },
    { title: 'Kind', cell: (m) => (m.voter ? 'voter' : m.role === 'learner' ? 'learner' : 'worker (non-voting)') },
    { title: 'Lag (entries)', cell: (m) => (m.lag === null ? '–' : String(m.lag)), class: 'num' },
    { title: 'Match index', cell: (m) => (m.matchIndex === null ? '–' : String(m.matchIndex)), class: 'num wide-only' },
    { title: 'Last contact', cell: (m) => (m.lastContactMs === null ? '–' : `${formatDuration(m.lastContactMs)} ago`), class: 'num' },
    { title: 'Peer address', cell: (m) => m.rpc, class: 'wide-only' },
    { title: 'HTTP address', cell: (m) => m.http || '–', class: 'wide-only' },
    ...(admin ? [{ title: 'Actions', cell: (m: Member) => button('Remove', () => void remove(m.id), { 'aria-label': `Remove member ${m.id}`, class: 'small danger' }) }] : []),
  ]);
  const s = slot();
  s.content(summary, table.el);
  const transfer = transferForm();
  const audit = admin ? auditSection() : null;
  root.append(pageHeading('Cluster'), section('Members', s.el));
  if (admin) root.append(section('Transfer leadership', transfer.el), section('Add a member', addMemberForm(() => p.now())));
  if (audit !== null) root.append(audit.el);
  const remove = async (id: string) => {
    if (!(await confirmAction(`Remove member ${id}?`, `${id} leaves the cluster's configuration; its data directory stays on its machine.`, `Remove ${id}`))) return;
    try {
      await request('DELETE', `/v1/cluster/members/${enc(id)}`);
      announce(`${id} removed`);
    } catch (e) {
      s.error(e);
    }
    p.now();
  };
  const p = poll(async (signal) => {
    const c = await get('/v1/cluster', readCluster, { signal });
    s.clearError();
    summary.replaceChildren('Leader ', h('strong', null, c.leader ?? 'none (election in progress)'), ` · term ${c.term} · commit ${c.commitIndex} · answered by ${c.id}`);
    table.update(withLag(c), (m) => m.id);
    transfer.update(c);
  }, (e) => s.error(e));
  return () => {
    p.stop();
    audit?.stop();
  };
}
