// Validation of job specs from users: unknown fields, wrong types and out-of-range values are
// reported with a path each (`executor.commnd: unknown field`); the result is a JobSpec with
// every default resolved and shared default objects in place.
import { Checker, type FieldError } from './validate-helpers.js';
import {
  EMPTY_RECORD, EXPECT_STATUS_DEFAULT, NOTIFY_NONE, SPEC_DEFAULTS, intern, shareList, shareMisfire, shareRecord, shareRetry, shareTarget, utf8Bytes,
} from './defaults.js';
import * as L from './limits.js';
import { parseSchedule } from './schedule.js';
import { isKnownZone } from './tz.js';
import {
  AFTER_MODES, CONCURRENCY_POLICIES, HTTP_METHODS, MISFIRE_POLICIES, NOTIFY_EVENTS,
  type Executor, type JobSpec, type Misfire, type NotifyEvent, type NotifyTarget, type Retry, type Target,
} from './types.js';

export type { FieldError } from './validate-helpers.js';
export type SpecValidation = { ok: true; spec: JobSpec } | { ok: false; errors: FieldError[] };

const SPEC_FIELDS = ['id', 'schedule', 'timezone', 'enabled', 'executor', 'target', 'concurrency', 'misfire', 'timeoutMs', 'retry', 'priority', 'after', 'afterMode', 'history', 'labels', 'description', 'notify'] as const;
/** Read-only fields of a stored job: accepted and ignored, so a GET → edit → PUT round trip works. */
export const READ_ONLY_JOB_FIELDS = ['createdAt', 'updatedAt', 'createRevision', 'revision', 'lastScheduledAt', 'nextFireAt'] as const;
const LABEL_KEY_PATTERN = /^[A-Za-z0-9._/-]{1,63}$/;

export function isValidJobId(id: unknown): id is string {
  return typeof id === 'string' && L.JOB_ID_PATTERN.test(id);
}

/** Renders errors as one line each, `path: message`. */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('\n');
}

export function validateJobSpec(id: string, input: unknown): SpecValidation {
  const c = new Checker();
  if (!isValidJobId(id)) c.fail('id', `must match [A-Za-z0-9._-]{1,128}`);
  let json: string | undefined;
  try {
    json = JSON.stringify(input);
  } catch {
    json = undefined;
  }
  if (json === undefined) return { ok: false, errors: [...c.errors, { path: '(spec)', message: 'must be JSON' }] };
  if (utf8Bytes(json) > L.SPEC_JSON_BYTES_MAX) {
    return { ok: false, errors: [...c.errors, { path: '(spec)', message: `must be at most ${L.SPEC_JSON_BYTES_MAX} bytes as JSON` }] };
  }
  const o = c.object(input, '', [...SPEC_FIELDS, ...READ_ONLY_JOB_FIELDS]);
  if (o === null) return { ok: false, errors: c.errors };
  if (o.id !== undefined && o.id !== id) c.fail('id', `"${String(o.id)}" does not match the id in the path "${id}"`);
  const spec = buildSpec(c, id, o);
  return spec === null || c.errors.length > 0 ? { ok: false, errors: c.errors } : { ok: true, spec };
}

function buildSpec(c: Checker, id: string, o: Record<string, unknown>): JobSpec | null {
  const schedule = checkSchedule(c, o.schedule);
  const timezone = o.timezone === undefined ? SPEC_DEFAULTS.timezone : checkTimezone(c, o.timezone);
  const enabled = o.enabled === undefined ? SPEC_DEFAULTS.enabled : c.boolean(o.enabled, 'enabled');
  const executor = o.executor === undefined ? c.fail('executor', 'is required') : checkExecutor(c, o.executor);
  const target = o.target === undefined ? SPEC_DEFAULTS.target : checkTarget(c, o.target);
  const concurrency = o.concurrency === undefined ? SPEC_DEFAULTS.concurrency : c.oneOf(o.concurrency, 'concurrency', CONCURRENCY_POLICIES);
  const misfire = o.misfire === undefined ? SPEC_DEFAULTS.misfire : checkMisfire(c, o.misfire);
  const timeoutMs = o.timeoutMs === undefined ? SPEC_DEFAULTS.timeoutMs : c.integer(o.timeoutMs, 'timeoutMs', L.TIMEOUT_MS_MIN, L.TIMEOUT_MS_MAX);
  const retry = o.retry === undefined ? SPEC_DEFAULTS.retry : checkRetry(c, o.retry);
  const priority = o.priority === undefined ? SPEC_DEFAULTS.priority : c.integer(o.priority, 'priority', L.PRIORITY_MIN, L.PRIORITY_MAX);
  const after = o.after === undefined ? SPEC_DEFAULTS.after : checkAfter(c, id, o.after);
  const afterMode = o.afterMode === undefined ? SPEC_DEFAULTS.afterMode : c.oneOf(o.afterMode, 'afterMode', AFTER_MODES);
  const history = o.history === undefined ? SPEC_DEFAULTS.history : c.integer(o.history, 'history', L.HISTORY_MIN, L.HISTORY_MAX);
  const labels = o.labels === undefined ? SPEC_DEFAULTS.labels : c.stringMap(o.labels, 'labels', {
    entriesMax: L.LABELS_ENTRIES_MAX, bytesMax: L.LABELS_ENTRIES_MAX * (L.LABEL_KEY_CHARS_MAX + L.LABEL_VALUE_CHARS_MAX) * 3,
    keyPattern: LABEL_KEY_PATTERN, keyHint: '[A-Za-z0-9._/-]{1,63}', valueCharsMax: L.LABEL_VALUE_CHARS_MAX,
  });
  const description = o.description === undefined ? SPEC_DEFAULTS.description : c.string(o.description, 'description', L.DESCRIPTION_CHARS_MAX);
  const notify = o.notify === undefined ? SPEC_DEFAULTS.notify : checkNotify(c, o.notify);
  if (schedule === null || timezone === null || enabled === null || executor === null || target === null || concurrency === null
    || misfire === null || timeoutMs === null || retry === null || priority === null || after === null || afterMode === null || history === null
    || labels === null || description === null || notify === null) return null;
  return Object.freeze({
    id, schedule: intern(schedule), timezone: intern(timezone), enabled, executor, target, concurrency, misfire, timeoutMs,
    retry, priority, after, afterMode, history, labels: shareRecord(labels), description, notify,
  });
}

function checkSchedule(c: Checker, value: unknown): string | null {
  if (value === undefined) return c.fail('schedule', 'is required');
  const text = c.string(value, 'schedule', L.SCHEDULE_CHARS_MAX);
  if (text === null) return null;
  const parsed = parseSchedule(text);
  return parsed.ok ? text : c.fail('schedule', parsed.message);
}

function checkTimezone(c: Checker, value: unknown): string | null {
  const zone = c.string(value, 'timezone', L.TIMEZONE_CHARS_MAX);
  if (zone === null) return null;
  return isKnownZone(zone) ? zone : c.fail('timezone', `unknown zone "${zone}"`);
}

function checkExecutor(c: Checker, value: unknown): Executor | null {
  const probe = c.object(value, 'executor', ['type', 'command', 'env', 'cwd', 'method', 'url', 'headers', 'body', 'expectStatus', 'function', 'leaseMs']);
  if (probe === null) return null;
  if (probe.type === 'shell') return checkShell(c, value);
  if (probe.type === 'http') return checkHttp(c, value);
  if (probe.type === 'queue') return checkQueue(c, value);
  c.errors.splice(0, c.errors.length, ...c.errors.filter((e) => !e.path.startsWith('executor.')));
  return c.fail('executor.type', 'must be one of "shell", "http", "queue"');
}

function checkShell(c: Checker, value: unknown): Executor | null {
  dropErrorsUnder(c, 'executor.');
  const o = c.object(value, 'executor', ['type', 'command', 'env', 'cwd', 'secretEnv']);
  if (o === null) return null;
  const command = o.command === undefined ? c.fail('executor.command', 'is required') : c.string(o.command, 'executor.command', L.COMMAND_CHARS_MAX);
  if (command === '') c.fail('executor.command', 'must not be empty');
  const env = o.env === undefined ? EMPTY_RECORD : c.stringMap(o.env, 'executor.env', {
    entriesMax: L.ENV_ENTRIES_MAX, bytesMax: L.ENV_BYTES_MAX, keyPattern: L.ENV_NAME_PATTERN, keyHint: '[A-Za-z_][A-Za-z0-9_]*', valueCharsMax: L.ENV_BYTES_MAX,
  });
  const cwd = o.cwd === undefined ? '/' : c.string(o.cwd, 'executor.cwd', L.CWD_CHARS_MAX, /^\//, 'an absolute path');
  // Sealed values are longer than plain ones: the limits leave room for the envelope.
  const secretEnv = o.secretEnv === undefined ? undefined : c.stringMap(o.secretEnv, 'executor.secretEnv', {
    entriesMax: L.ENV_ENTRIES_MAX, bytesMax: 2 * L.ENV_BYTES_MAX, keyPattern: L.ENV_NAME_PATTERN, keyHint: '[A-Za-z_][A-Za-z0-9_]*', valueCharsMax: 2 * L.ENV_BYTES_MAX,
  });
  if (command === null || command === '' || env === null || cwd === null || secretEnv === null) return null;
  const shell = { type: 'shell' as const, command, env: shareRecord(env), cwd: intern(cwd) };
  return Object.freeze(secretEnv === undefined || Object.keys(secretEnv).length === 0 ? shell : { ...shell, secretEnv: Object.freeze(secretEnv) });
}

function checkHttp(c: Checker, value: unknown): Executor | null {
  dropErrorsUnder(c, 'executor.');
  const o = c.object(value, 'executor', ['type', 'method', 'url', 'headers', 'body', 'expectStatus', 'secretHeaders']);
  if (o === null) return null;
  const method = o.method === undefined ? 'GET' : c.oneOf(o.method, 'executor.method', HTTP_METHODS);
  const url = o.url === undefined ? c.fail('executor.url', 'is required') : c.string(o.url, 'executor.url', L.URL_CHARS_MAX, /^https?:\/\/[^\s]+$/, 'http(s)://…');
  const headers = o.headers === undefined ? EMPTY_RECORD : c.stringMap(o.headers, 'executor.headers', {
    entriesMax: L.HEADERS_ENTRIES_MAX, bytesMax: L.HEADERS_BYTES_MAX, keyPattern: L.HEADER_NAME_PATTERN, keyHint: 'an HTTP header name', valueCharsMax: L.HEADERS_BYTES_MAX,
  });
  let body = o.body === undefined ? '' : c.string(o.body, 'executor.body', L.BODY_BYTES_MAX);
  if (body !== null && utf8Bytes(body) > L.BODY_BYTES_MAX) body = c.fail('executor.body', `must be at most ${L.BODY_BYTES_MAX} bytes`);
  const expectStatus = o.expectStatus === undefined ? EXPECT_STATUS_DEFAULT : checkExpectStatus(c, o.expectStatus);
  const secretHeaders = o.secretHeaders === undefined ? undefined : c.stringMap(o.secretHeaders, 'executor.secretHeaders', {
    entriesMax: L.HEADERS_ENTRIES_MAX, bytesMax: 2 * L.HEADERS_BYTES_MAX, keyPattern: L.HEADER_NAME_PATTERN, keyHint: 'an HTTP header name', valueCharsMax: 2 * L.HEADERS_BYTES_MAX,
  });
  if (method === null || url === null || headers === null || body === null || expectStatus === null || secretHeaders === null) return null;
  const http = { type: 'http' as const, method, url, headers: shareRecord(headers), body, expectStatus };
  return Object.freeze(secretHeaders === undefined || Object.keys(secretHeaders).length === 0 ? http : { ...http, secretHeaders: Object.freeze(secretHeaders) });
}

function checkQueue(c: Checker, value: unknown): Executor | null {
  dropErrorsUnder(c, 'executor.');
  const o = c.object(value, 'executor', ['type', 'function', 'leaseMs']);
  if (o === null) return null;
  const name = o.function === undefined
    ? c.fail('executor.function', 'is required')
    : c.string(o.function, 'executor.function', 128, L.FUNCTION_NAME_PATTERN, '[A-Za-z0-9._-]{1,128}');
  const leaseMs = o.leaseMs === undefined ? L.LEASE_MS_DEFAULT : c.integer(o.leaseMs, 'executor.leaseMs', L.LEASE_MS_MIN, L.LEASE_MS_MAX);
  if (name === null || leaseMs === null) return null;
  return Object.freeze({ type: 'queue', function: intern(name), leaseMs });
}

function dropErrorsUnder(c: Checker, prefix: string): void {
  const kept = c.errors.filter((e) => !e.path.startsWith(prefix));
  c.errors.splice(0, c.errors.length, ...kept);
}

function checkExpectStatus(c: Checker, value: unknown): readonly [number, number] | null {
  if (!Array.isArray(value) || value.length !== 2) return c.fail('executor.expectStatus', 'must be [lo, hi]');
  const lo = c.integer(value[0], 'executor.expectStatus[0]', 100, 599);
  const hi = c.integer(value[1], 'executor.expectStatus[1]', 100, 599);
  if (lo === null || hi === null) return null;
  if (lo > hi) return c.fail('executor.expectStatus', `lo ${lo} is above hi ${hi}`);
  return lo === 200 && hi === 299 ? EXPECT_STATUS_DEFAULT : Object.freeze<readonly [number, number]>([lo, hi]);
}

function checkTarget(c: Checker, value: unknown): Target | null {
  const probe = c.object(value, 'target', ['mode', 'tags', 'count']);
  if (probe === null) return null;
  const mode = c.oneOf(probe.mode, 'target.mode', ['any', 'leader', 'all', 'tags'] as const);
  if (mode === null) return null;
  if (mode !== 'tags') {
    for (const key of ['tags', 'count']) if (probe[key] !== undefined) c.fail(`target.${key}`, `is only allowed with mode "tags"`);
    return shareTarget({ mode });
  }
  const tags = probe.tags === undefined ? c.fail('target.tags', 'is required with mode "tags"') : c.stringMap(probe.tags, 'target.tags', {
    entriesMax: L.TARGET_TAGS_MAX, bytesMax: L.TARGET_TAGS_MAX * L.TAG_CHARS_MAX * 6, keyPattern: /^[A-Za-z0-9._-]{1,63}$/, keyHint: '[A-Za-z0-9._-]{1,63}', valueCharsMax: L.TAG_CHARS_MAX,
  });
  if (tags !== null && Object.keys(tags).length === 0) return c.fail('target.tags', 'must name at least one tag');
  const count = probe.count === undefined ? undefined : c.integer(probe.count, 'target.count', 1, L.EXECUTORS_MAX);
  if (tags === null || count === null) return null;
  return Object.freeze(count === undefined ? { mode, tags: Object.freeze(tags) } : { mode, tags: Object.freeze(tags), count });
}

function checkMisfire(c: Checker, value: unknown): Misfire | null {
  const o = c.object(value, 'misfire', ['policy', 'windowMs']);
  if (o === null) return null;
  const policy = o.policy === undefined ? SPEC_DEFAULTS.misfire.policy : c.oneOf(o.policy, 'misfire.policy', MISFIRE_POLICIES);
  const windowMs = o.windowMs === undefined ? SPEC_DEFAULTS.misfire.windowMs : c.integer(o.windowMs, 'misfire.windowMs', 0, L.MISFIRE_WINDOW_MS_MAX);
  if (policy === null || windowMs === null) return null;
  return shareMisfire({ policy, windowMs });
}

function checkRetry(c: Checker, value: unknown): Retry | null {
  const o = c.object(value, 'retry', ['max', 'backoffMs', 'maxBackoffMs']);
  if (o === null) return null;
  const d = SPEC_DEFAULTS.retry;
  const max = o.max === undefined ? d.max : c.integer(o.max, 'retry.max', 0, L.RETRY_MAX_MAX);
  const backoffMs = o.backoffMs === undefined ? d.backoffMs : c.integer(o.backoffMs, 'retry.backoffMs', 0, L.BACKOFF_MS_MAX);
  const maxBackoffMs = o.maxBackoffMs === undefined ? Math.max(d.maxBackoffMs, backoffMs ?? 0) : c.integer(o.maxBackoffMs, 'retry.maxBackoffMs', 0, L.BACKOFF_MS_MAX);
  if (max === null || backoffMs === null || maxBackoffMs === null) return null;
  if (maxBackoffMs < backoffMs) return c.fail('retry.maxBackoffMs', `must be at least retry.backoffMs (${backoffMs})`);
  return shareRetry({ max, backoffMs, maxBackoffMs });
}

function checkAfter(c: Checker, id: string, value: unknown): readonly string[] | null {
  if (!Array.isArray(value)) return c.fail('after', 'must be an array of job ids');
  if (value.length > L.AFTER_MAX) return c.fail('after', `must have at most ${L.AFTER_MAX} entries`);
  const out: string[] = [];
  value.forEach((item: unknown, i) => {
    if (!isValidJobId(item)) c.fail(`after[${i}]`, 'must be a job id matching [A-Za-z0-9._-]{1,128}');
    else if (item === id) c.fail(`after[${i}]`, 'a job cannot run after itself');
    else if (out.includes(item)) c.fail(`after[${i}]`, `"${item}" is listed twice`);
    else out.push(item);
  });
  return out.length === value.length ? shareList(out.map(intern)) : null;
}

/** The secret placeholder reads show; a stored spec never holds it (the API swaps it back for the stored value). */
export const SECRET_PLACEHOLDER = '***';
/** api.md, "Secrets": a shorter secret would be replaced in too many places of captured text. */
export const SECRET_CHARS_MIN = 6;

const HEADER_RULE = {
  entriesMax: L.HEADERS_ENTRIES_MAX, bytesMax: L.HEADERS_BYTES_MAX, keyPattern: L.HEADER_NAME_PATTERN, keyHint: 'an HTTP header name', valueCharsMax: L.HEADERS_BYTES_MAX,
} as const;
/** Headers chime sets itself on a webhook: a target may not replace them. */
const RESERVED_NOTIFY_HEADERS = new Set(['chime-event-id', 'chime-signature', 'content-type', 'content-length', 'host']);

function checkNotify(c: Checker, value: unknown): readonly NotifyTarget[] | null {
  if (!Array.isArray(value)) return c.fail('notify', 'must be an array of {on, url, headers?, secretHeaders?}');
  if (value.length > L.NOTIFY_TARGETS_MAX) return c.fail('notify', `must have at most ${L.NOTIFY_TARGETS_MAX} targets`);
  const out: NotifyTarget[] = [];
  value.forEach((item: unknown, i) => {
    const target = checkNotifyTarget(c, item, `notify[${i}]`);
    if (target !== null) out.push(target);
  });
  if (out.length !== value.length) return null;
  return out.length === 0 ? NOTIFY_NONE : Object.freeze(out);
}

function checkNotifyTarget(c: Checker, value: unknown, path: string): NotifyTarget | null {
  const o = c.object(value, path, ['on', 'url', 'headers', 'secretHeaders']);
  if (o === null) return null;
  const on = checkNotifyEvents(c, o.on, `${path}.on`);
  const url = o.url === undefined ? c.fail(`${path}.url`, 'is required') : c.string(o.url, `${path}.url`, L.URL_CHARS_MAX, /^https?:\/\/[^\s]+$/, 'http(s)://…');
  const headers = o.headers === undefined ? EMPTY_RECORD : c.stringMap(o.headers, `${path}.headers`, HEADER_RULE);
  const secretHeaders = o.secretHeaders === undefined ? EMPTY_RECORD : c.stringMap(o.secretHeaders, `${path}.secretHeaders`, HEADER_RULE);
  if (on === null || url === null || headers === null || secretHeaders === null) return null;
  let ok = true;
  for (const [field, map] of [['headers', headers], ['secretHeaders', secretHeaders]] as const) {
    for (const name of Object.keys(map)) {
      if (RESERVED_NOTIFY_HEADERS.has(name.toLowerCase())) ok = c.fail(`${path}.${field}.${name}`, 'is set by chime itself') ?? false;
    }
  }
  for (const [name, secret] of Object.entries(secretHeaders)) {
    if (secret === SECRET_PLACEHOLDER) ok = c.fail(`${path}.secretHeaders.${name}`, `"${SECRET_PLACEHOLDER}" keeps a stored value, and there is none`) ?? false;
    else if (secret.length < SECRET_CHARS_MIN) ok = c.fail(`${path}.secretHeaders.${name}`, `must be at least ${SECRET_CHARS_MIN} characters`) ?? false;
    if (Object.keys(headers).some((h) => h.toLowerCase() === name.toLowerCase())) ok = c.fail(`${path}.secretHeaders.${name}`, 'is also in headers') ?? false;
  }
  if (!ok) return null;
  return Object.freeze({ on, url, headers: shareRecord(headers), secretHeaders: shareRecord(secretHeaders) });
}

function checkNotifyEvents(c: Checker, value: unknown, path: string): readonly NotifyEvent[] | null {
  if (value === undefined) return c.fail(path, 'is required');
  if (!Array.isArray(value) || value.length === 0) return c.fail(path, `must be a non-empty array of ${NOTIFY_EVENTS.map((e) => `"${e}"`).join(', ')}`);
  const out: NotifyEvent[] = [];
  value.forEach((item: unknown, i) => {
    const event = c.oneOf(item, `${path}[${i}]`, NOTIFY_EVENTS);
    if (event === null) return;
    if (out.includes(event)) c.fail(`${path}[${i}]`, `"${event}" is listed twice`);
    else out.push(event);
  });
  // Stored in the catalogue's order, so the same set always packs the same.
  return out.length === value.length ? Object.freeze(NOTIFY_EVENTS.filter((e) => out.includes(e))) : null;
}
