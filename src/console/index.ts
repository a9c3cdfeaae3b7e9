// The console's entry: the sign-in, the page frame (navigation, who is signed in, which node
// and leader), and the hash router that mounts one page at a time. Each page returns a
// cleanup that stops its polling when the user leaves it.
import { ApiError, get, setToken, token, whenUnauthorized } from './api.js';
import { errorText } from './common.js';
import { button, field, h, input, notice, replace } from './dom.js';
import { clusterPage } from './page-cluster.js';
import { dashboardPage } from './page-dashboard.js';
import { jobFormPage } from './page-job-form.js';
import { jobPage } from './page-job.js';
import { jobsPage } from './page-jobs.js';
import { notificationsPage } from './page-notifications.js';
import { runPage } from './page-run.js';
import { runsPage } from './page-runs.js';
import { workersPage } from './page-workers.js';
import { poll } from './poll.js';
import { currentRole, forgetRole, probeRole, restoreRole } from './session.js';
import type { Cluster, PageContext } from './types.js';
import { readCluster } from './decode.js';

export type Page = (root: HTMLElement, ctx: PageContext) => (() => void) | void;

const ROUTES: ReadonlyArray<{ pattern: RegExp; page: Page; nav: string }> = [
  { pattern: /^$/, page: dashboardPage, nav: 'dashboard' },
  { pattern: /^jobs$/, page: jobsPage, nav: 'jobs' },
  { pattern: /^jobs\/new$/, page: jobFormPage, nav: 'jobs' },
  { pattern: /^jobs\/([^/]+)\/edit$/, page: jobFormPage, nav: 'jobs' },
  { pattern: /^jobs\/([^/]+)$/, page: jobPage, nav: 'jobs' },
  { pattern: /^runs$/, page: runsPage, nav: 'runs' },
  { pattern: /^runs\/([^/]+)$/, page: runPage, nav: 'runs' },
  { pattern: /^workers$/, page: workersPage, nav: 'workers' },
  { pattern: /^notifications$/, page: notificationsPage, nav: 'notifications' },
  { pattern: /^cluster$/, page: clusterPage, nav: 'cluster' },
];

const NAV: ReadonlyArray<readonly [string, string]> = [
  ['dashboard', 'Dashboard'], ['jobs', 'Jobs'], ['runs', 'Runs'], ['workers', 'Workers'], ['notifications', 'Notifications'], ['cluster', 'Cluster'],
];

const app = document.getElementById('app') ?? document.body;
let leavePage: (() => void) | null = null;
let stopFrame: (() => void) | null = null;

function route(): { page: Page; nav: string; ctx: PageContext } | null {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = hash.split('?');
  for (const r of ROUTES) {
    const m = r.pattern.exec(path);
    if (m !== null) return { page: r.page, nav: r.nav, ctx: { params: m.slice(1).map((p) => decodeURIComponent(p)), query: new URLSearchParams(search) } };
  }
  return null;
}

function frame(): { main: HTMLElement; nav: HTMLElement; status: HTMLElement } {
  const nav = h('ul', { class: 'nav' }, NAV.map(([key, text]) => h('li', null, h('a', { href: key === 'dashboard' ? '#/' : `#/${key}`, 'data-nav': key }, text))));
  const status = h('p', { class: 'node-status', 'aria-live': 'polite', id: 'node-status' });
  const main = h('main', { id: 'main' });
  const who = h('p', { class: 'who' }, `Signed in as ${currentRole()}`, ' ', button('Sign out', signOut, { class: 'link-button' }));
  replace(app,
    h('a', { href: '#main', class: 'skip', onclick: (e: Event) => { e.preventDefault(); main.querySelector<HTMLElement>('h1')?.focus(); } }, 'Skip to content'),
    h('header', { class: 'top' }, h('p', { class: 'brand' }, h('a', { href: '#/' }, 'chime')), h('nav', { 'aria-label': 'Main' }, nav), status, who),
    main,
    h('div', { id: 'announcer', class: 'visually-hidden', 'aria-live': 'polite' }),
  );
  return { main, nav, status };
}

function showPage(main: HTMLElement, navEl: HTMLElement): void {
  leavePage?.();
  leavePage = null;
  const found = route();
  for (const a of navEl.querySelectorAll('a')) {
    if (a.dataset['nav'] === found?.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  if (found === null) {
    main.append(h('h1', { tabindex: -1 }, 'Not found'), notice('There is no such page in the console.'), h('a', { href: '#/' }, 'Go to the dashboard'));
    return;
  }
  const started = performance.now();
  leavePage = found.page(main, found.ctx) ?? null;
  performance.mark('chime:page-mounted', { detail: { page: found.nav, ms: performance.now() - started } });
  main.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
}

/** Which node answers and who leads, on every page, refreshed like the pages are. */
function watchCluster(status: HTMLElement): () => void {
  const poller = poll(async (signal) => {
    const c = await get('/v1/cluster', readCluster, { signal });
    status.classList.remove('stale');
    status.textContent = `Node ${c.id} · leader ${c.leader ?? 'none (election)'} · term ${c.term}`;
  }, (error) => {
    status.classList.add('stale');
    status.textContent = `Node unreachable: ${errorText(error)}`;
  });
  return () => poller.stop();
}

function startApp(): void {
  const { main, nav, status } = frame();
  stopFrame = watchCluster(status);
  window.onhashchange = () => showPage(main, nav);
  showPage(main, nav);
}

function signOut(): void {
  setToken(null);
  forgetRole();
  showLogin(null);
}

/** The sign-in page: a token field; a wrong token says so; a cluster without tokens can be entered without one. */
function showLogin(message: string | null): void {
  leavePage?.();
  leavePage = null;
  stopFrame?.();
  stopFrame = null;
  window.onhashchange = null;
  document.title = 'Sign in · chime';
  const tokenField = field('Token', input({ type: 'password', name: 'token', autocomplete: 'off', required: true }), 'An API token (chime token create). It stays in this tab only.');
  const error = h('div', { class: 'login-error' });
  const open = h('div');
  const enter = async (value: string) => {
    error.replaceChildren();
    try {
      await get('/v1/cluster', readCluster, { token: value, quiet401: true });
      setToken(value);
      await probeRole();
      startApp();
    } catch (e) {
      if (value !== '') tokenField.setError(e instanceof ApiError && e.status === 401 ? 'This token was not accepted.' : null);
      const text = e instanceof ApiError && e.status === 401 ? `Sign-in failed: the token is wrong, revoked or expired (${e.detail}).` : `Sign-in failed: ${errorText(e)}`;
      error.replaceChildren(notice(text, 'error'));
      tokenField.control.focus();
    }
  };
  const form = h('form', { class: 'login card', 'aria-labelledby': 'login-title', novalidate: true },
    h('h1', { id: 'login-title', tabindex: -1 }, 'Sign in to chime'),
    message === null ? null : notice(message, 'error'),
    tokenField.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
    error,
    open,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = tokenField.control.value.trim();
    if (value === '') {
      tokenField.setError('Enter a token.');
      tokenField.control.focus();
      return;
    }
    tokenField.setError(null);
    void enter(value);
  });
  replace(app, h('main', { id: 'main', class: 'login-main' }, form), h('div', { id: 'announcer', class: 'visually-hidden', 'aria-live': 'polite' }));
  tokenField.control.focus();
  // A cluster without tokens (loopback only) lets everyone in: offer that, and say so.
  get('/v1/cluster', readCluster, { token: '', quiet401: true }).then(
    () => replace(open, notice('This cluster has no tokens yet: every request on its loopback address is allowed.'), button('Continue without a token', () => void enter(''))),
    () => undefined,
  );
}

async function boot(): Promise<void> {
  whenUnauthorized((e) => {
    if (token() === null) return;
    setToken(null);
    forgetRole();
    showLogin(`Your session ended: ${e.detail}`);
  });
  const saved = token();
  if (saved === null) return showLogin(null);
  restoreRole();
  try {
    await get('/v1/cluster', readCluster, { quiet401: true });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return showLogin('Your token is no longer accepted; sign in again.');
  }
  startApp();
}

void boot();
