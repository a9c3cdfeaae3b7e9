// One stored job, kept small because a table holds up to a million of them: the validated
// spec lives as one compact string (`packed`, a positional JSON array without defaults),
// and only what apply and the indexes read often are plain fields: the schedule and zone
// (interned), and `traits`, one small integer with enabled, concurrency, history and
// retry.max. `spec` rebuilds the full JobSpec on demand (views, rare applies).
import { assert } from './assert.js';
import {
  EMPTY_LIST, EMPTY_RECORD, EXPECT_STATUS_DEFAULT, MISFIRE_DEFAULT, RETRY_DEFAULT, SPEC_DEFAULTS, TARGET_ALL, TARGET_ANY, TARGET_LEADER,
  flat, intern, shareRecord,
} from './defaults.js';
import {
  CONCURRENCY_POLICIES, HTTP_METHODS, MISFIRE_POLICIES,
  type Concurrency, type Executor, type JobSpec, type Misfire, type Retry, type RunRecord, type Target,
} from './types.js';

// traits: bit 0 enabled, bits 1-2 concurrency, bits 3-12 history (1..1000), bits 13-16
// retry.max (0..10), bit 17 "has after".
const ENABLED = 1;
const CONCURRENCY_SHIFT = 1;
const HISTORY_SHIFT = 3;
const RETRY_SHIFT = 13;
const HAS_AFTER = 1 << 17;

export function traitsOf(spec: JobSpec): number {
  const concurrency = CONCURRENCY_POLICIES.indexOf(spec.concurrency);
  assert(concurrency >= 0 && spec.history >= 1 && spec.history < 1024 && spec.retry.max >= 0 && spec.retry.max < 16, 'spec out of the traits range');
  return (spec.enabled ? ENABLED : 0) | (concurrency << CONCURRENCY_SHIFT) | (spec.history << HISTORY_SHIFT)
    | (spec.retry.max << RETRY_SHIFT) | (spec.after.length > 0 ? HAS_AFTER : 0);
}

/** Replicated state of one job. Create with `JobState.of`; `nextFireAt` changes only through state.setNextFireAt. */
export class JobState {
  runs: RunRecord[] | null = null;
  activeCount = 0;

  constructor(
    readonly id: string,
    /** The spec without id, schedule, timezone and enabled (see packSpec). */
    public packed: string,
    public schedule: string,
    public timezone: string,
    public traits: number,
    readonly createdAt: number,
    public updatedAt: number,
    readonly createRevision: number,
    public revision: number,
    public lastScheduledAt: number | null,
    public nextFireAt: number | null,
  ) {}

  static of(spec: JobSpec, createdAt: number, createRevision: number): JobState {
    return new JobState(flat(spec.id), packSpec(spec), intern(spec.schedule), intern(spec.timezone), traitsOf(spec), createdAt, createdAt, createRevision, createRevision, null, null);
  }

  /** The full spec, rebuilt from the compact form (a fresh frozen object each call). */
  get spec(): JobSpec {
    return unpackSpec(this.id, this.schedule, this.timezone, this.enabled, this.packed);
  }

  setSpec(spec: JobSpec): void {
    assert(spec.id === this.id, 'a job keeps its id');
    this.packed = packSpec(spec);
    this.schedule = intern(spec.schedule);
    this.timezone = intern(spec.timezone);
    this.traits = traitsOf(spec);
  }

  get enabled(): boolean {
    return (this.traits & ENABLED) !== 0;
  }

  set enabled(on: boolean) {
    this.traits = on ? this.traits | ENABLED : this.traits & ~ENABLED;
  }

  get concurrency(): Concurrency {
    return CONCURRENCY_POLICIES[(this.traits >>> CONCURRENCY_SHIFT) & 3] as Concurrency;
  }

  get history(): number {
    return (this.traits >>> HISTORY_SHIFT) & 1023;
  }

  get retryMax(): number {
    return (this.traits >>> RETRY_SHIFT) & 15;
  }

  /** The `after` list (empty for almost every job, without decoding the spec). */
  get after(): readonly string[] {
    return (this.traits & HAS_AFTER) === 0 ? EMPTY_LIST : this.spec.after;
  }
}

// The packed form: JSON of [executor, description, labels, timeoutMs, history, retry,
// concurrency, target, misfire, priority, after], null for a default, trailing nulls dropped.
// Executors: [0, command, env, cwd] or [1, url, method, headers, body, expectStatus].
type Packed = unknown[];

function orNull<T>(value: T, fallback: T): T | null {
  return value === fallback ? null : value;
}

function trimmed(row: unknown[]): unknown[] {
  let end = row.length;
  while (end > 0 && row[end - 1] === null) end--;
  return end === row.length ? row : row.slice(0, end);
}

function packExecutor(e: Executor): unknown[] {
  return e.type === 'shell'
    ? trimmed([0, e.command, orNull(e.env, EMPTY_RECORD), orNull(e.cwd, '/')])
    : trimmed([1, e.url, orNull(e.method, 'GET'), orNull(e.headers, EMPTY_RECORD), orNull(e.body, ''), orNull(e.expectStatus, EXPECT_STATUS_DEFAULT)]);
}

function packTarget(t: Target): unknown {
  if (t === TARGET_ANY) return null;
  if (t.mode !== 'tags') return t.mode;
  return t.count === undefined ? [t.tags] : [t.tags, t.count];
}

export function packSpec(spec: JobSpec): string {
  const d = SPEC_DEFAULTS;
  const r = spec.retry;
  return JSON.stringify(trimmed([
    packExecutor(spec.executor), orNull(spec.description, d.description), orNull(spec.labels, d.labels), orNull(spec.timeoutMs, d.timeoutMs),
    orNull(spec.history, d.history), r === RETRY_DEFAULT ? null : [r.max, r.backoffMs, r.maxBackoffMs], orNull(spec.concurrency, d.concurrency),
    packTarget(spec.target), spec.misfire === MISFIRE_DEFAULT ? null : [spec.misfire.policy, spec.misfire.windowMs], orNull(spec.priority, d.priority),
    spec.after.length === 0 ? null : spec.after,
  ]));
}

function record(value: unknown): Readonly<Record<string, string>> {
  return value === null || value === undefined ? EMPTY_RECORD : shareRecord(value as Record<string, string>);
}

function unpackExecutor(row: Packed): Executor {
  if (row[0] === 0) return Object.freeze({ type: 'shell', command: row[1] as string, env: record(row[2]), cwd: (row[3] as string | undefined) ?? '/' });
  assert(row[0] === 1, 'packed executor has an unknown type');
  const method = (row[2] as (typeof HTTP_METHODS)[number] | undefined) ?? 'GET';
  const expect = row[5] as [number, number] | undefined;
  return Object.freeze({
    type: 'http', method, url: row[1] as string, headers: record(row[3]), body: (row[4] as string | undefined) ?? '',
    expectStatus: expect === undefined ? EXPECT_STATUS_DEFAULT : Object.freeze(expect) as readonly [number, number],
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

export function unpackSpec(id: string, schedule: string, timezone: string, enabled: boolean, packed: string): JobSpec {
  const row = JSON.parse(packed) as Packed;
  const d = SPEC_DEFAULTS;
  const after = row[10] as string[] | null | undefined;
  return Object.freeze({
    id, schedule, timezone, enabled,
    executor: unpackExecutor(row[0] as Packed),
    target: unpackTarget(row[7]),
    concurrency: (row[6] as Concurrency | null | undefined) ?? d.concurrency,
    misfire: unpackMisfire(row[8]),
    timeoutMs: (row[3] as number | null | undefined) ?? d.timeoutMs,
    retry: unpackRetry(row[5]),
    priority: (row[9] as number | null | undefined) ?? d.priority,
    after: after === null || after === undefined ? EMPTY_LIST : Object.freeze(after),
    history: (row[4] as number | null | undefined) ?? d.history,
    labels: record(row[2]),
    description: (row[1] as string | null | undefined) ?? d.description,
  });
}

const isStr = (v: unknown): boolean => typeof v === 'string';
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);
const isOpt = (v: unknown, check: (v: unknown) => boolean): boolean => v === null || v === undefined || check(v);
const isStrMap = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isStr);

/**
 * The traits of a packed spec from a snapshot, after checking that it has the shape
 * unpackSpec expects (types and the traits' ranges: the spec was validated when it entered
 * the log). Returns the traits, or a message saying what is wrong.
 */
export function packedTraits(packed: string, enabled: boolean): number | string {
  let row: unknown;
  try {
    row = JSON.parse(packed);
  } catch {
    return 'packed spec is not JSON';
  }
  if (!Array.isArray(row) || row.length === 0 || row.length > 11 || !Array.isArray(row[0])) return 'packed spec is not a spec row';
  const e = row[0] as unknown[];
  const executorOk = e[0] === 0
    ? isStr(e[1]) && isOpt(e[2], isStrMap) && isOpt(e[3], isStr) && e.length <= 4
    : e[0] === 1 && isStr(e[1]) && isOpt(e[2], (m) => (HTTP_METHODS as readonly unknown[]).includes(m)) && isOpt(e[3], isStrMap) && isOpt(e[4], isStr)
      && isOpt(e[5], (s) => Array.isArray(s) && s.length === 2 && s.every(isInt)) && e.length <= 6;
  const [, description, labels, timeoutMs, history, retry, concurrency, target, misfire, priority, after] = row as unknown[];
  const ok = executorOk && isOpt(description, isStr) && isOpt(labels, isStrMap) && isOpt(timeoutMs, isInt)
    && isOpt(history, (h) => isInt(h) && (h as number) >= 1 && (h as number) < 1024)
    && isOpt(retry, (r) => Array.isArray(r) && r.length === 3 && r.every(isInt) && r[0] >= 0 && r[0] < 16)
    && isOpt(concurrency, (c) => (CONCURRENCY_POLICIES as readonly unknown[]).includes(c))
    && isOpt(target, (t) => t === 'leader' || t === 'all' || (Array.isArray(t) && (t.length === 1 || (t.length === 2 && isInt(t[1]))) && isStrMap(t[0])))
    && isOpt(misfire, (m) => Array.isArray(m) && m.length === 2 && (MISFIRE_POLICIES as readonly unknown[]).includes(m[0]) && isInt(m[1]))
    && isOpt(priority, isInt) && isOpt(after, (a) => Array.isArray(a) && a.every(isStr));
  if (!ok) return 'packed spec has a malformed field';
  const concurrencyIndex = CONCURRENCY_POLICIES.indexOf((concurrency ?? SPEC_DEFAULTS.concurrency) as Concurrency);
  return (enabled ? ENABLED : 0) | (concurrencyIndex << CONCURRENCY_SHIFT) | (((history as number | null | undefined) ?? SPEC_DEFAULTS.history) << HISTORY_SHIFT)
    | ((((retry as number[] | null | undefined)?.[0]) ?? 0) << RETRY_SHIFT) | (Array.isArray(after) && after.length > 0 ? HAS_AFTER : 0);
}
