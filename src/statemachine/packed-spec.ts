// A job spec as two compact strings (see JobState): the packing, the unpacking into a full
// frozen JobSpec with the shared default objects, and the shape checks a snapshot's strings
// pass on restore.
import { assert } from './assert.js';
import {
  EMPTY_LIST, EMPTY_RECORD, EXPECT_STATUS_DEFAULT, MISFIRE_DEFAULT, RETRY_DEFAULT, SPEC_DEFAULTS, TARGET_ALL, TARGET_ANY, TARGET_LEADER,
  shareRecord,
} from './defaults.js';
import { settingTraits } from './traits.js';
import {
  CONCURRENCY_POLICIES, HTTP_METHODS, MISFIRE_POLICIES,
  type Concurrency, type Executor, type JobSpec, type Misfire, type Retry, type Target,
} from './types.js';

// The packed form, two JSON arrays with null for a default and trailing nulls dropped:
// `packed` holds what is usually the job's own: [command or url, description, body, env];
// `shared` holds the settings that jobs made from one template repeat: [executor type
// (0 shell, 1 http), cwd or method, headers, expectStatus, labels, timeoutMs, history, retry,
// concurrency, target, misfire, priority, after]. `shared` is interned, so a million jobs
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
  const packed = e.type === 'shell'
    ? trimmed([e.command, description, null, orNull(e.env, EMPTY_RECORD)])
    : trimmed([e.url, description, orNull(e.body, '')]);
  const shared = trimmed([
    e.type === 'shell' ? 0 : 1, e.type === 'shell' ? orNull(e.cwd, '/') : orNull(e.method, 'GET'),
    e.type === 'shell' ? null : orNull(e.headers, EMPTY_RECORD), e.type === 'shell' ? null : orNull(e.expectStatus, EXPECT_STATUS_DEFAULT),
    orNull(spec.labels, d.labels), orNull(spec.timeoutMs, d.timeoutMs), orNull(spec.history, d.history),
    r === RETRY_DEFAULT ? null : [r.max, r.backoffMs, r.maxBackoffMs], orNull(spec.concurrency, d.concurrency), packTarget(spec.target),
    spec.misfire === MISFIRE_DEFAULT ? null : [spec.misfire.policy, spec.misfire.windowMs], orNull(spec.priority, d.priority),
    spec.after.length === 0 ? null : spec.after,
  ]);
  return { packed: JSON.stringify(packed), shared: internShared(JSON.stringify(shared)) };
}

function record(value: unknown): Readonly<Record<string, string>> {
  return value === null || value === undefined ? EMPTY_RECORD : shareRecord(value as Record<string, string>);
}

function unpackExecutor(own: Packed, shared: Packed): Executor {
  if (shared[0] === 0) return Object.freeze({ type: 'shell', command: own[0] as string, env: record(own[3]), cwd: (shared[1] as string | null | undefined) ?? '/' });
  assert(shared[0] === 1, 'packed executor has an unknown type');
  const method = (shared[1] as (typeof HTTP_METHODS)[number] | null | undefined) ?? 'GET';
  const expect = shared[3] as [number, number] | null | undefined;
  return Object.freeze({
    type: 'http', method, url: own[0] as string, headers: record(shared[2]), body: (own[2] as string | null | undefined) ?? '',
    expectStatus: expect === null || expect === undefined ? EXPECT_STATUS_DEFAULT : Object.freeze(expect) as readonly [number, number],
  });
}

function unpackTarget(value: unknown): Target {
  if (value === null || value === undefined) return TARGET_ANY;
  if (value === 'leader') return TARGET_LEADER;
  if (value === 'all') return TARGET_ALL;
  const [tags, count] = value as [Record<string, string>, number | undefined];
  return Object.freeze(count === undefined ? { mode: 'tags', tags: Object.freeze(tags) } : { mode: 'tags', tags: Object.freeze(tags), count });
}

function unpackRetry(value: unknown): Retry {
  if (value === null || value === undefined) return RETRY_DEFAULT;
  const [max, backoffMs, maxBackoffMs] = value as [number, number, number];
  return Object.freeze({ max, backoffMs, maxBackoffMs });
}

function unpackMisfire(value: unknown): Misfire {
  if (value === null || value === undefined) return MISFIRE_DEFAULT;
  const [policy, windowMs] = value as [Misfire['policy'], number];
  return Object.freeze({ policy, windowMs });
}

export function unpackSpec(id: string, schedule: string, timezone: string, enabled: boolean, packed: string, sharedText: string): JobSpec {
  const own = JSON.parse(packed) as Packed;
  const shared = JSON.parse(sharedText) as Packed;
  const d = SPEC_DEFAULTS;
  const after = shared[12] as string[] | null | undefined;
  return Object.freeze({
    id, schedule, timezone, enabled,
    executor: unpackExecutor(own, shared),
    target: unpackTarget(shared[9]),
    concurrency: (shared[8] as Concurrency | null | undefined) ?? d.concurrency,
    misfire: unpackMisfire(shared[10]),
    timeoutMs: (shared[5] as number | null | undefined) ?? d.timeoutMs,
    retry: unpackRetry(shared[7]),
    priority: (shared[11] as number | null | undefined) ?? d.priority,
    after: after === null || after === undefined ? EMPTY_LIST : Object.freeze(after),
    history: (shared[6] as number | null | undefined) ?? d.history,
    labels: record(shared[4]),
    description: (own[1] as string | null | undefined) ?? d.description,
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
  if (row === null || row.length > 13) return 'shared spec part is not a spec row';
  const [type, cwdOrMethod, headers, expect, labels, timeoutMs, history, retry, concurrency, target, misfire, priority, after] = row;
  const ok = (type === 0 ? isOpt(cwdOrMethod, isStr) && isOpt(headers, (v) => v === null) && isOpt(expect, (v) => v === null)
    : type === 1 && isOpt(cwdOrMethod, (m) => HTTP_METHOD_SET.has(m)) && isOpt(headers, isStrMap)
      && isOpt(expect, (v) => Array.isArray(v) && v.length === 2 && v.every(isInt)))
    && isOpt(labels, isStrMap) && isOpt(timeoutMs, isInt)
    && isOpt(history, (h) => isInt(h) && (h as number) >= 1 && (h as number) < 1024)
    && isOpt(retry, (r) => Array.isArray(r) && r.length === 3 && r.every(isInt) && r[0] >= 0 && r[0] < 16)
    && isOpt(concurrency, (c) => (CONCURRENCY_POLICIES as readonly unknown[]).includes(c))
    && isOpt(target, (t) => t === 'leader' || t === 'all' || (Array.isArray(t) && (t.length === 1 || (t.length === 2 && isInt(t[1]))) && isStrMap(t[0])))
    && isOpt(misfire, (m) => Array.isArray(m) && m.length === 2 && (MISFIRE_POLICIES as readonly unknown[]).includes(m[0]) && isInt(m[1]))
    && isOpt(priority, isInt) && isOpt(after, (a) => Array.isArray(a) && a.every(isStr));
  if (!ok) return 'shared spec part has a malformed field';
  return settingTraits((concurrency ?? SPEC_DEFAULTS.concurrency) as Concurrency, (history as number | null | undefined) ?? SPEC_DEFAULTS.history,
    ((retry as number[] | null | undefined)?.[0]) ?? 0, Array.isArray(after) && after.length > 0);
}

/** Checks a job's own part from a snapshot against its executor type (from the shared part); a message or null. */
export function packedProblem(packed: string, shellExecutor: boolean): string | null {
  const row = parseRow(packed);
  if (row === null || row.length > 4) return 'packed spec is not a spec row';
  const [main, description, body, env] = row;
  const ok = isStr(main) && isOpt(description, isStr)
    && (shellExecutor ? (body === null || body === undefined) && isOpt(env, isStrMap) : isOpt(body, isStr) && env === undefined);
  return ok ? null : 'packed spec has a malformed field';
}

/** True when a shared part names a shell executor (its first element is 0). */
export function isShellShared(text: string): boolean {
  return text.startsWith('[0');
}

