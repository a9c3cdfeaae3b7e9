// The browser tests' kit: a real 3-node cluster (OS-chosen ports), Debian's chromium driven by
// playwright-core, a record of every console message and failed request of each page, and
// screenshots into docs/console/ when CHIME_SCREENSHOTS=1.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ProcessCluster } from '../support/process-cluster.js';

// Globals of the page, for the functions evaluated in the browser: this file compiles with the
// main tsconfig, which has no DOM lib (module-scoped declarations, nothing global).
declare const location: { hash: string };

export const CHROMIUM = '/usr/bin/chromium';
/** The flags the machine notes give: no sandbox as root, and nothing that reaches for the network on its own. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAIN = join(REPO, 'dist', 'src', 'cli', 'main.js');
export const SCREENSHOT_DIR = join(REPO, 'docs', 'console');
export const SCREENSHOTS = process.env['CHIME_SCREENSHOTS'] === '1';

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** Why the browser tests cannot run here, or null when they can. */
export function skipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y chromium; .ci/run installs it)`;
  if (!existsSync(join(REPO, 'dist', 'console', 'index.html'))) return 'dist/console is not built (npm run build)';
  return null;
}

/** Whether this build's agent takes --admin-token-file (access control wired into the API). */
export function agentHasTokens(): boolean {
  const help = spawnSync(process.execPath, [MAIN, 'agent', '--help'], { encoding: 'utf8' });
  return `${help.stdout}${help.stderr}`.includes('--admin-token-file');
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/** One API call from the test itself (not the browser), with a Bearer token when given. */
export async function api(base: string, method: string, path: string, body?: unknown, token?: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? null : JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed };
}

export interface ConsoleCluster {
  readonly cluster: ProcessCluster;
  readonly dir: string;
  /** The admin token (a made-up one on a build without tokens, which accepts anything on loopback). */
  readonly adminToken: string;
  readonly tokens: boolean;
  url(id: string): string;
  leader(): Promise<string>;
  /** A member that is not the leader: the page is opened there, so killing the leader leaves it up. */
  follower(): Promise<string>;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<ConsoleCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'chime-console-'));
  const tokens = agentHasTokens();
  const adminToken = `console-admin-${'x'.repeat(40)}`;
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, `${adminToken}\n`);
  // With tokens, the helper's own calls (waiting for a leader) carry the admin token too.
  const cluster = await ProcessCluster.found(3, { dir, args: tokens ? ['--admin-token-file', tokenFile] : [], ...(tokens ? { token: adminToken } : {}) });
  const url = (id: string) => cluster.url(id, '');
  return {
    cluster, dir, adminToken, tokens, url,
    leader: () => cluster.waitForLeader(),
    async follower() {
      const leader = await cluster.waitForLeader();
      const other = cluster.live().find((n) => n.id !== leader);
      if (other === undefined) throw new Error('no follower is up');
      return other.id;
    },
    stop: () => cluster.stopAll(),
  };
}

export interface PageRecord {
  /** Anything the page or the browser reported as an error that is not an API answer the console handles. */
  readonly errors: string[];
  /** API requests answered with a 4xx/5xx that the browser logged ("Failed to load resource"): expected refusals, listed for the report. */
  readonly refusals: string[];
}

/** The page icon, which the browser fetches on its own schedule. */
export const FAVICON_PATH = '/console/favicon.svg';

/**
 * A page that records its console errors, uncaught exceptions and failed loads. Chromium logs
 * every non-2xx answer to fetch() as a console error ("Failed to load resource"); those for
 * /v1/ API calls are answers the console shows (a refused form, an endpoint this node does not
 * serve), so they are kept apart. Everything else — a script error, a CSP violation, a static
 * file that failed — is an error that fails the test.
 */
export async function openPage(context: BrowserContext): Promise<{ page: Page; record: PageRecord }> {
  const page = await context.newPage();
  const record: PageRecord = { errors: [], refusals: [] };
  const apiStatuses = new Map<string, number>();
  page.on('response', (res) => {
    const u = new URL(res.url());
    if (u.pathname.startsWith('/v1/') && res.status() >= 400) apiStatuses.set(res.url(), res.status());
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location().url;
    const isApiRefusal = /^Failed to load resource: the server responded with a status of \d{3}/.test(msg.text()) && where !== '' && new URL(where).pathname.startsWith('/v1/');
    (isApiRefusal ? record.refusals : record.errors).push(`${msg.text()} (${where})`);
  });
  page.on('pageerror', (error) => record.errors.push(`uncaught: ${error.message}`));
  page.on('requestfailed', (req) => {
    const u = new URL(req.url());
    // Aborted polls and streams (leaving a page) are the console's own doing; the icon is
    // fetched lazily by the browser, which abandons it when the page navigates or closes (the
    // first test checks that it is served).
    if (req.failure()?.errorText === 'net::ERR_ABORTED' && (u.pathname.startsWith('/v1/') || u.pathname === FAVICON_PATH)) return;
    record.errors.push(`request failed: ${req.method()} ${u.pathname} ${req.failure()?.errorText ?? ''}`);
  });
  return { page, record };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export async function newContext(browser: Browser, viewport: { width: number; height: number } = DESKTOP): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, reducedMotion: 'reduce', colorScheme: 'light', locale: 'en-US', timezoneId: 'UTC' });
  context.setDefaultTimeout(15_000);
  return context;
}

/** Saves `docs/console/NAME-desktop.png` or `-phone.png` when CHIME_SCREENSHOTS=1. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const width = page.viewportSize()?.width ?? DESKTOP.width;
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${width <= PHONE.width ? 'phone' : 'desktop'}.png`), fullPage: false });
}

/** Signs in at `at` (the console's root) with the token and waits for the dashboard. */
export async function signIn(page: Page, at: string, token: string): Promise<void> {
  await page.goto(`${at}/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
}

/** The name of bulk job `i`: zero-padded, so the table's id order is the numeric order. */
export function bulkJobId(i: number): string {
  return `bulk-${String(i).padStart(5, '0')}`;
}

/**
 * Writes `count` manual shell jobs (bulkJobId order, label batch=even|odd) straight to the
 * leader, 64 requests at a time; resolves to the milliseconds it took.
 */
export async function seedBulkJobs(c: ConsoleCluster, count: number): Promise<number> {
  const started = performance.now();
  const leaderUrl = c.url(await c.leader());
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < count) {
      const i = next++;
      const answer = await api(leaderUrl, 'PUT', `/v1/jobs/${bulkJobId(i)}`, { schedule: '@manual', executor: { type: 'shell', command: 'true' }, labels: { batch: i % 2 === 0 ? 'even' : 'odd' } }, c.adminToken);
      if (answer.status !== 201) throw new Error(`seeding ${bulkJobId(i)}: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  }));
  return performance.now() - started;
}

/** What the console's job list records (performance mark `chime:jobs-rendered`) each time it shows rows. */
export interface JobListRender {
  /** From the navigation to the frame that shows the rows. */
  readonly ms: number;
  readonly fetchMs: number;
  readonly renderMs: number;
  readonly rows: number;
}

/**
 * Goes to `hash` (or does `act`, a click that changes the list) and waits for the job list's
 * next render mark; its detail.
 */
export async function jobListRendered(page: Page, hash: string, act?: () => Promise<void>): Promise<JobListRender> {
  await page.evaluate(() => performance.clearMarks('chime:jobs-rendered'));
  if (act === undefined) await page.evaluate((h) => (location.hash = h), hash);
  else await act();
  await page.waitForFunction(() => performance.getEntriesByName('chime:jobs-rendered').length > 0);
  return page.evaluate(() => (performance.getEntriesByName('chime:jobs-rendered')[0] as unknown as { detail: JobListRender }).detail);
}
