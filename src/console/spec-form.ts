// The job form's values and the job spec (api.md's Job) in both directions, and where a
// server error's field path is shown. Pure: no DOM, unit-tested under Node.
import { pairsText, parsePairs } from './format.js';
import { isRecord } from './decode.js';

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export const NOTIFY_EVENTS = ['failed', 'timed_out', 'lost', 'killed', 'skipped', 'missed', 'recovered', 'succeeded', 'started'] as const;
export const NOTIFY_RULES_MAX = 8;
export const EXECUTOR_TYPES = ['shell', 'http', 'queue'] as const;
export const TARGET_MODES = ['any', 'leader', 'all', 'tags'] as const;
export const CONCURRENCY = ['forbid', 'allow', 'replace'] as const;
export const MISFIRE = ['fire-once', 'fire-all', 'skip'] as const;
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export interface NotifyForm {
  on: string[];
  url: string;
  headers: string;
  secretHeaders: string;
}

/** Every field as the form holds it: text as typed, so nothing is lost when the server refuses it. */
export interface JobForm {
  id: string;
  description: string;
  schedule: string;
  timezone: string;
  enabled: boolean;
  executorType: string;
  command: string;
  cwd: string;
  env: string;
  secretEnv: string;
  method: string;
  url: string;
  headers: string;
  secretHeaders: string;
  body: string;
  expectLow: string;
  expectHigh: string;
  functionName: string;
  leaseMs: string;
  targetMode: string;
  targetTags: string;
  targetCount: string;
  concurrency: string;
  misfirePolicy: string;
  misfireWindowMs: string;
  timeoutMs: string;
  retryMax: string;
  retryBackoffMs: string;
  retryMaxBackoffMs: string;
  priority: string;
  after: string;
  afterMode: string;
  history: string;
  labels: string;
  notify: NotifyForm[];
  /** Optional fields the stored job came with: sent back even when emptied, so clearing them works. */
  present: string[];
}

/** A new job's form: the documented defaults (docs/jobs.md), shown so the user sees them. */
export function emptyForm(): JobForm {
  return {
    id: '', description: '', schedule: '', timezone: 'UTC', enabled: true,
    executorType: 'shell', command: '', cwd: '/', env: '', secretEnv: '',
    method: 'GET', url: '', headers: '', secretHeaders: '', body: '', expectLow: '200', expectHigh: '299',
    functionName: '', leaseMs: '',
    targetMode: 'any', targetTags: '', targetCount: '',
    concurrency: 'forbid', misfirePolicy: 'fire-once', misfireWindowMs: '3600000', timeoutMs: '3600000',
    retryMax: '0', retryBackoffMs: '1000', retryMaxBackoffMs: '60000',
    priority: '5', after: '', afterMode: 'any', history: '100', labels: '', notify: [], present: [],
  };
}

function str(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : fallback;
}

function obj(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function strMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value))) out[k] = str(v);
  return out;
}

/** A stored job (GET /v1/jobs/{id}) as form values. Secret values arrive as `***` and stay so. */
export function formFromJob(job: Record<string, unknown>): JobForm {
  const form = emptyForm();
  const executor = obj(job['executor']);
  const target = obj(job['target']);
  const misfire = obj(job['misfire']);
  const retry = obj(job['retry']);
  const expect = Array.isArray(executor['expectStatus']) ? executor['expectStatus'] : [200, 299];
  Object.assign(form, {
    id: str(job['id']), description: str(job['description']), schedule: str(job['schedule']), timezone: str(job['timezone'], 'UTC'),
    enabled: job['enabled'] !== false, executorType: str(executor['type'], 'shell'),
    command: str(executor['command']), cwd: str(executor['cwd'], '/'), env: pairsText(strMap(executor['env']), '='),
    secretEnv: pairsText(strMap(executor['secretEnv']), '='),
    method: str(executor['method'], 'GET'), url: str(executor['url']), headers: pairsText(strMap(executor['headers']), ':'),
    secretHeaders: pairsText(strMap(executor['secretHeaders']), ':'), body: str(executor['body']),
    expectLow: str(expect[0], '200'), expectHigh: str(expect[1], '299'),
    functionName: str(executor['function']), leaseMs: str(executor['leaseMs']),
    targetMode: str(target['mode'], 'any'), targetTags: pairsText(strMap(target['tags']), '='), targetCount: str(target['count']),
    concurrency: str(job['concurrency'], 'forbid'), misfirePolicy: str(misfire['policy'], 'fire-once'), misfireWindowMs: str(misfire['windowMs'], '3600000'),
    timeoutMs: str(job['timeoutMs'], '3600000'), retryMax: str(retry['max'], '0'), retryBackoffMs: str(retry['backoffMs'], '1000'),
    retryMaxBackoffMs: str(retry['maxBackoffMs'], '60000'), priority: str(job['priority'], '5'),
    after: Array.isArray(job['after']) ? job['after'].map((a) => str(a)).join(', ') : '', afterMode: str(job['afterMode'], 'any'), history: str(job['history'], '100'),
    labels: pairsText(strMap(job['labels']), '='),
  });
  form.notify = (Array.isArray(job['notify']) ? job['notify'] : []).map((rule) => {
    const r = obj(rule);
    return { on: Array.isArray(r['on']) ? r['on'].map((e) => str(e)) : [], url: str(r['url']), headers: pairsText(strMap(r['headers']), ':'), secretHeaders: pairsText(strMap(r['secretHeaders']), ':') };
  });
  form.present = [...(job['notify'] !== undefined ? ['notify'] : []), ...(job['afterMode'] !== undefined ? ['afterMode'] : []), ...(executor['secretEnv'] !== undefined ? ['executor.secretEnv'] : []), ...(executor['secretHeaders'] !== undefined ? ['executor.secretHeaders'] : []), ...(executor['leaseMs'] !== undefined ? ['executor.leaseMs'] : [])];
  return form;
}

/**
 * The spec to PUT, or the errors found before asking (numbers that are not numbers, lines that
 * are not pairs), each with the path the server would use. Everything else is the server's
 * to judge. Optional fields newer than a server (notify, secrets, queue) are sent only when
 * used, so an older server does not refuse a plain job for an unknown field.
 */
export function specFromForm(form: JobForm): { ok: true; spec: Record<string, unknown> } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const int = (text: string, path: string): number | undefined => {
    const t = text.trim();
    if (t === '') return undefined;
    if (!/^-?\d+$/.test(t)) {
      errors.push({ path, message: 'must be a whole number' });
      return undefined;
    }
    return Number(t);
  };
  const pairs = (text: string, path: string, sep: '=' | ':'): Record<string, string> => {
    const parsed = parsePairs(text, sep);
    if (parsed.ok) return parsed.map;
    errors.push({ path, message: parsed.message });
    return {};
  };
  const has = (path: string) => form.present.includes(path);
  const spec: Record<string, unknown> = { schedule: form.schedule.trim(), timezone: form.timezone.trim() || 'UTC', enabled: form.enabled };
  const executor: Record<string, unknown> = { type: form.executorType };
  if (form.executorType === 'shell') {
    executor['command'] = form.command;
    executor['cwd'] = form.cwd.trim() || '/';
    executor['env'] = pairs(form.env, 'executor.env', '=');
    const secretEnv = pairs(form.secretEnv, 'executor.secretEnv', '=');
    if (Object.keys(secretEnv).length > 0 || has('executor.secretEnv')) executor['secretEnv'] = secretEnv;
  } else if (form.executorType === 'http') {
    executor['method'] = form.method;
    executor['url'] = form.url.trim();
    executor['headers'] = pairs(form.headers, 'executor.headers', ':');
    const secretHeaders = pairs(form.secretHeaders, 'executor.secretHeaders', ':');
    if (Object.keys(secretHeaders).length > 0 || has('executor.secretHeaders')) executor['secretHeaders'] = secretHeaders;
    executor['body'] = form.body;
    const lo = int(form.expectLow, 'executor.expectStatus[0]');
    const hi = int(form.expectHigh, 'executor.expectStatus[1]');
    if (lo !== undefined || hi !== undefined) executor['expectStatus'] = [lo ?? 200, hi ?? 299];
  } else {
    executor['function'] = form.functionName.trim();
    const lease = int(form.leaseMs, 'executor.leaseMs');
    if (lease !== undefined) executor['leaseMs'] = lease;
  }
  spec['executor'] = executor;
  const target: Record<string, unknown> = { mode: form.targetMode };
  if (form.targetMode === 'tags') {
    target['tags'] = pairs(form.targetTags, 'target.tags', '=');
    const count = int(form.targetCount, 'target.count');
    if (count !== undefined) target['count'] = count;
  }
  spec['target'] = target;
  spec['concurrency'] = form.concurrency;
  const misfire: Record<string, unknown> = { policy: form.misfirePolicy };
  const windowMs = int(form.misfireWindowMs, 'misfire.windowMs');
  if (windowMs !== undefined) misfire['windowMs'] = windowMs;
  spec['misfire'] = misfire;
  const retry: Record<string, unknown> = {};
  for (const [key, text] of [['max', form.retryMax], ['backoffMs', form.retryBackoffMs], ['maxBackoffMs', form.retryMaxBackoffMs]] as const) {
    const n = int(text, `retry.${key}`);
    if (n !== undefined) retry[key] = n;
  }
  spec['retry'] = retry;
  for (const [key, text] of [['timeoutMs', form.timeoutMs], ['priority', form.priority], ['history', form.history]] as const) {
    const n = int(text, key);
    if (n !== undefined) spec[key] = n;
  }
  spec['after'] = form.after.split(/[\s,]+/).filter((s) => s !== '');
  // Sent when set or stored: a plain new job stays acceptable to a server without afterMode.
  if (form.afterMode !== 'any' || has('afterMode')) spec['afterMode'] = form.afterMode;
  spec['labels'] = pairs(form.labels, 'labels', '=');
  spec['description'] = form.description;
  if (form.notify.length > 0 || has('notify')) {
    spec['notify'] = form.notify.map((rule, i) => {
      const out: Record<string, unknown> = { on: rule.on, url: rule.url.trim() };
      const headers = pairs(rule.headers, `notify[${i}].headers`, ':');
      if (Object.keys(headers).length > 0) out['headers'] = headers;
      const secretHeaders = pairs(rule.secretHeaders, `notify[${i}].secretHeaders`, ':');
      if (Object.keys(secretHeaders).length > 0) out['secretHeaders'] = secretHeaders;
      return out;
    });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, spec };
}

/**
 * The form field that shows an error at `path`: the longest known path that is the error's
 * path or a parent of it (`executor.env.FOO` → `executor.env`, `after[1]` → `after`), or null
 * when no field owns it (then the form's summary shows it).
 */
export function fieldForPath(path: string, known: readonly string[]): string | null {
  let best: string | null = null;
  for (const candidate of known) {
    const owns = path === candidate || path.startsWith(`${candidate}.`) || path.startsWith(`${candidate}[`);
    if (owns && (best === null || candidate.length > best.length)) best = candidate;
  }
  return best;
}
