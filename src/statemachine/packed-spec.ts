// A job spec as two compact strings (see JobState): the packing, the unpacking into a full
// frozen JobSpec with the shared default objects, and the shape checks a snapshot's strings
// pass on restore.
import { assert } from './assert.js';
import {
  EMPTY_LIST, EMPTY_RECORD, EXPECT_STATUS_DEFAULT, MISFIRE_DEFAULT, NOTIFY_NONE, RETRY_DEFAULT, SPEC_DEFAULTS, TARGET_ALL, TARGET_ANY, TARGET_LEADER,
  shareRecord,
} from './defaults.js';
import { LEASE_MS_DEFAULT } from './limits.js';
import { settingTraits } from './traits.js';
import {
  AFTER_MODES, CONCURRENCY_POLICIES, HTTP_METHODS, MISFIRE_POLICIES, NOTIFY_EVENTS,
  type Executor, type JobSpec, type Misfire, type NotifyTarget, type Retry, type Target,
} from './types.js';

// The packed form, two JSON arrays with null for a default and trailing nulls dropped:
// `packed` holds what is usually the job's own: [command, url or function, description, body,
// env, notify, secret map] (a queue executor has no body, env or secrets; notify as
// [[on, url, headers, secretHeaders], …]; the secret map is secretEnv or secretHeaders, added
// later and absent in older rows);
// `shared` holds the settings that jobs made from one template repeat: [executor type
// (0 shell, 1 http, 2 queue), cwd or method or leaseMs, headers, expectStatus, labels, timeoutMs, history, retry,
// concurrency, target, misfire, priority, after, afterMode (added later: absent in older rows, null
// for `any`)]. `shared` is interned, so a million jobs
// with a few dozen distinct settings store them a few dozen times.
type Packed = unknown[];

const SHARED_INTERNED_MAX = 65_536;
const sharedPool = new Map<string, string>();

/** One instance per distinct shared part (bounded; past the bound each job keeps its own). */
export function internShared(text: string): string {
  const known = sharedPool.get(text);
  if (known !== undefined) return known;
  if (sharedPool.size < SHARED_INTERNED_MAX) sharedPool.set(text, text);
  return text;
}

function orNull<T>(value: T, fallback: T): T | null {
  return value === fallback ? null : value;
}

function trimmed(row: unknown[]): unknown[] {
  let end = row.length;
  while (end > 0 && row[end - 1] === null) end--;
  return end === row.length ? row : row.slice(0, end);
}

function packTarget(t: Target): unknown {
  if (t === TARGET_ANY) return null;
  if (t.mode !== 'tags') return t.mode;
  return t.count === undefined ? [t.tags] : [t.tags, t.count];
}

export function packSpec(spec: JobSpec): { packed: string; shared: string } {
  const d = SPEC_DEFAULTS;
  const e = spec.executor;
  const r = spec.retry;
  const description = orNull(spec.description, d.description);
  const notify = spec.notify.length === 0 ? null : spec.notify.map((t) => [t.on, t.url, orNull(t.headers, EMPTY_RECORD), orNull(t.secretHeaders, EMPTY_RECORD)]);
  const packed = e.type === 'shell'
    ? trimmed([e.command, description, null, orNull(e.env, EMPTY_RECORD), notify, e.secretEnv ?? null])
    : e.type === 'http' ? trimmed([e.url, description, orNull(e.body, ''), null, notify, e.secretHeaders ?? null]) : trimmed([e.function, description, null, null, notify]);
  const shared = trimmed([
    e.type === 'shell' ? 0 : e.type === 'http' ? 1 : 2,
    e.type === 'shell' ? orNull(e.cwd, '/') : e.type === 'http' ? orNull(e.method, 'GET') : orNull(e.leaseMs, LEASE_MS_DEFAULT),
    e.type === 'http' ? orNull(e.headers, EMPTY_RECORD) : null, e.type === 'http' ? orNull(e.expectStatus, EXPECT_STATUS_DEFAULT) : null,
    orNull(spec.labels, d.labels), orNull(spec.timeoutMs, d.timeoutMs), orNull(spec.history, d.history),
    r === RETRY_DEFAULT ? null : [r.max, r.backoffMs, r.maxBackoffMs], orNull(spec.concurrency, d.concurrency), packTarget(spec.target),
    spec.misfire === MISFIRE_DEFAULT ? null : [spec.misfire.policy, spec.misfire.windowMs], orNull(spec.priority, d.priority),
    spec.after.length === 0 ? null : spec.after, orNull(spec.afterMode, d.afterMode),
  ]);
  return { packed: JSON.stringify(packed), shared: internShared(JSON.stringify(shared)) };
}

// Readers of the packed fields. The packer wrote them and a snapshot's strings were shape-
// checked on restore (sharedTraits, packedProblem), so a wrong type here is a bug: assert.
function text(value: unknown, fallback: string): string {
  if (value === null || value === undefined) return fallback;
  assert(typeof value === 'string', 'a packed text field holds text');
  return value;
}

function count(value: unknown, fallback: number): number {
  if (value === null || value === undefined) return fallback;
  assert(typeof value === 'number' && Number.isSafeInteger(value), 'a packed number field holds an integer');
  return value;
}

function member<T extends string>(value: unknown, options: readonly T[], fallback: T): T {
  if (value === null || value === undefined) return fallback;
  const found = options.find((option) => option === value);
  if (found === undefined) assert(false, `a packed field holds one of ${options.join(', ')}`);
  return found;
}

function record(value: unknown): Readonly<Record<string, string>> {
  if (value === null || value === undefined) return EMPTY_RECORD;
  assert(typeof value === 'object' && !Array.isArray(value), 'a packed map field holds a map');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) out[k] = text(v, '');
  return shareRecord(out);
}

function list(value: unknown): readonly unknown[] | null {
  if (value === null || value === undefined) return null;
  assert(Array.isArray(value), 'a packed list field holds a list');
  return value;
}

function unpackExecutor(own: Packed, shared: Packed): Executor {
  const secrets = own[5] === null || own[5] === undefined ? null : record(own[5]);
  if (shared[0] === 0) {
    const shell = { type: 'shell' as const, command: text(own[0], ''), env: record(own[3]), cwd: text(shared[1], '/') };
    return Object.freeze(secrets === null ? shell : { ...shell, secretEnv: secrets });
  }
  if (shared[0] === 2) return Object.freeze({ type: 'queue', function: text(own[0], ''), leaseMs: count(shared[1], LEASE_MS_DEFAULT) });
  assert(shared[0] === 1, 'packed executor has an unknown type');
  const expect = list(shared[3]);
  const http = {
    type: 'http' as const, method: member(shared[1], HTTP_METHODS, 'GET'), url: text(own[0], ''), headers: record(shared[2]), body: text(own[2], ''),
    expectStatus: expect === null ? EXPECT_STATUS_DEFAULT : Object.freeze([count(expect[0], 200), count(expect[1], 299)] as const),
  };
  return Object.freeze(secrets === null ? http : { ...http, secretHeaders: secrets });
}

function unpackTarget(value: unknown): Target {
  if (value === null || value === undefined) return TARGET_ANY;
  if (value === 'leader') return TARGET_LEADER;
  if (value === 'all') return TARGET_ALL;
  const row = list(value) ?? [];
  const tags = record(row[0]);
  return Object.freeze(row[1] === undefined ? { mode: 'tags', tags } : { mode: 'tags', tags, count: count(row[1], 1) });
}

function unpackRetry(value: unknown): Retry {
  const row = list(value);
  if (row === null) return RETRY_DEFAULT;
  return Object.freeze({ max: count(row[0], 0), backoffMs: count(row[1], 0), maxBackoffMs: count(row[2], 0) });
}

function unpackMisfire(value: unknown): Misfire {
  const row = list(value);
  if (row === null) return MISFIRE_DEFAULT;
  return Object.freeze({ policy: member(row[0], MISFIRE_POLICIES, MISFIRE_DEFAULT.policy), windowMs: count(row[1], MISFIRE_DEFAULT.windowMs) });
}

function unpackNotify(value: unknown): readonly NotifyTarget[] {
  const rows = list(value);
  if (rows === null) return NOTIFY_NONE;
  return Object.freeze(rows.map((row): NotifyTarget => {
    const [on, url, headers, secretHeaders] = list(row) ?? [];
    const events = (list(on) ?? []).map((e) => member(e, NOTIFY_EVENTS, 'failed'));
    return Object.freeze({ on: Object.freeze(events), url: text(url, ''), headers: record(headers), secretHeaders: record(secretHeaders) });
  }));
}

function parsePacked(packedText: string): Packed {
  const row: unknown = JSON.parse(packedText);
  assert(Array.isArray(row), 'a packed spec part is a list');
  return row;
}

export function unpackSpec(id: string, schedule: string, timezone: string, enabled: boolean, packed: string, sharedText: string): JobSpec {
  const own = parsePacked(packed);
  const shared = parsePacked(sharedText);
  const d = SPEC_DEFAULTS;
  const after = list(shared[12]);
  return Object.freeze({
    id, schedule, timezone, enabled,
    executor: unpackExecutor(own, shared),
    target: unpackTarget(shared[9]),
    concurrency: member(shared[8], CONCURRENCY_POLICIES, d.concurrency),
    misfire: unpackMisfire(shared[10]),
    timeoutMs: count(shared[5], d.timeoutMs),
    retry: unpackRetry(shared[7]),
    priority: count(shared[11], d.priority),
    after: after === null ? EMPTY_LIST : Object.freeze(after.map((a) => text(a, ''))),
    afterMode: member(shared[13], AFTER_MODES, d.afterMode),
    history: count(shared[6], d.history),
    labels: record(shared[4]),
    description: text(own[1], d.description),
    notify: unpackNotify(own[4]),
  });
}

const isStr = (v: unknown): boolean => typeof v === 'string';
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);
const isOpt = (v: unknown, check: (v: unknown) => boolean): boolean => v === null || v === undefined || check(v);
const isStrMap = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isStr);

function parseRow(text: string): unknown[] | null {
  try {
    const row: unknown = JSON.parse(text);
    return Array.isArray(row) && row.length > 0 ? row : null;
  } catch {
    return null;
  }
}

const HTTP_METHOD_SET: ReadonlySet<unknown> = new Set(HTTP_METHODS);

/**
 * The traits (without `enabled`) of a shared part from a snapshot, after checking that it
 * has the shape unpackSpec expects (types and the traits' ranges: the spec was validated
 * when it entered the log). Returns the traits or a message saying what is wrong.
 */
export function sharedTraits(text: string): number | string {
  const row = parseRow(text);
  if (row === null || row.length > 14) return 'shared spec part is not a spec row';
  const [type, cwdOrMethod, headers, expect, labels, timeoutMs, history, retry, concurrency, target, misfire, priority, after, afterMode] = row;
  const ok = (type === 0 ? isOpt(cwdOrMethod, isStr) && isOpt(headers, (v) => v === null) && isOpt(expect, (v) => v === null)
    : type === 2 ? isOpt(cwdOrMethod, isInt) && isOpt(headers, (v) => v === null) && isOpt(expect, (v) => v === null)
    : type === 1 && isOpt(cwdOrMethod, (m) => HTTP_METHOD_SET.has(m)) && isOpt(headers, isStrMap)
      && isOpt(expect, (v) => Array.isArray(v) && v.length === 2 && v.every(isInt)))
    && isOpt(labels, isStrMap) && isOpt(timeoutMs, isInt)
    && isOpt(history, (h) => isInt(h) && Number(h) >= 1 && Number(h) < 1024)
    && isOpt(retry, (r) => Array.isArray(r) && r.length === 3 && r.every(isInt) && r[0] >= 0 && r[0] < 16)
    && isOpt(concurrency, (c) => CONCURRENCY_POLICIES.some((p) => p === c))
    && isOpt(target, (t) => t === 'leader' || t === 'all' || (Array.isArray(t) && (t.length === 1 || (t.length === 2 && isInt(t[1]))) && isStrMap(t[0])))
    && isOpt(misfire, (m) => Array.isArray(m) && m.length === 2 && MISFIRE_POLICIES.some((p) => p === m[0]) && isInt(m[1]))
    && isOpt(priority, isInt) && isOpt(after, (a) => Array.isArray(a) && a.every(isStr)) && isOpt(afterMode, (m) => AFTER_MODES.some((x) => x === m));
  if (!ok) return 'shared spec part has a malformed field';
  const retryRow = list(retry);
  return settingTraits(member(concurrency, CONCURRENCY_POLICIES, SPEC_DEFAULTS.concurrency), count(history, SPEC_DEFAULTS.history),
    retryRow === null ? 0 : count(retryRow[0], 0), Array.isArray(after) && after.length > 0);
}

/** Checks a job's own part from a snapshot against its executor type (from the shared part); a message or null. */
export function packedProblem(packed: string, executorType: ExecutorType): string | null {
  const row = parseRow(packed);
  if (row === null || row.length > 6) return 'packed spec is not a spec row';
  const [main, description, body, env, notify, secrets] = row;
  const ok = isStr(main) && isOpt(description, isStr) && isOpt(secrets, isStrMap)
    && (executorType === 'shell' ? (body === null || body === undefined) && isOpt(env, isStrMap)
      : executorType === 'http' ? isOpt(body, isStr) && (env === undefined || env === null)
        : (body === undefined || body === null) && (env === undefined || env === null) && (secrets === undefined || secrets === null))
    && isOpt(notify, isNotifyRows);
  return ok ? null : 'packed spec has a malformed field';
}

const NOTIFY_EVENT_SET: ReadonlySet<unknown> = new Set(NOTIFY_EVENTS);

function isNotifyRows(v: unknown): boolean {
  return Array.isArray(v) && v.every((row: unknown) => Array.isArray(row) && row.length === 4 && Array.isArray(row[0])
    && row[0].every((e: unknown) => NOTIFY_EVENT_SET.has(e)) && isStr(row[1]) && isOpt(row[2], isStrMap) && isOpt(row[3], isStrMap));
}

export type ExecutorType = Executor['type'];

/** The executor type a shared part names (its first element: 0 shell, 1 http, 2 queue). */
export function sharedExecutorType(text: string): ExecutorType {
  return text.startsWith('[0') ? 'shell' : text.startsWith('[2') ? 'queue' : 'http';
}

