// Shared frozen default objects. A spec whose sub-object equals the default points at the
// one shared instance, so a million jobs with default targets, retries and labels store
// those defaults once. Strings that many jobs repeat (zones, schedules) are interned.
import { assert } from './assert.js';
import type { JobSpec, Misfire, NotifyTarget, Retry, Target } from './types.js';
import { HISTORY_DEFAULT, MISFIRE_WINDOW_MS_DEFAULT, PRIORITY_DEFAULT, TIMEOUT_MS_DEFAULT } from './limits.js';

export const EMPTY_RECORD: Readonly<Record<string, string>> = Object.freeze({});
export const EMPTY_LIST: readonly string[] = Object.freeze([]);
export const TARGET_ANY: Target = Object.freeze({ mode: 'any' });
export const TARGET_LEADER: Target = Object.freeze({ mode: 'leader' });
export const TARGET_ALL: Target = Object.freeze({ mode: 'all' });
export const MISFIRE_DEFAULT: Misfire = Object.freeze({ policy: 'fire-once', windowMs: MISFIRE_WINDOW_MS_DEFAULT });
export const RETRY_DEFAULT: Retry = Object.freeze({ max: 0, backoffMs: 1000, maxBackoffMs: 60_000 });
export const NOTIFY_NONE: readonly NotifyTarget[] = Object.freeze([]);
export const EXPECT_STATUS_DEFAULT: readonly [number, number] = Object.freeze<readonly [number, number]>([200, 299]);

/** The defaults of every optional top-level field (docs/jobs.md lists them). */
export const SPEC_DEFAULTS = Object.freeze({
  timezone: 'UTC',
  enabled: true,
  target: TARGET_ANY,
  concurrency: 'forbid',
  misfire: MISFIRE_DEFAULT,
  timeoutMs: TIMEOUT_MS_DEFAULT,
  retry: RETRY_DEFAULT,
  priority: PRIORITY_DEFAULT,
  after: EMPTY_LIST,
  afterMode: 'any',
  history: HISTORY_DEFAULT,
  labels: EMPTY_RECORD,
  description: '',
  notify: NOTIFY_NONE,
} as const satisfies Partial<JobSpec>);

const INTERNED_MAX = 50_000;
const interned = new Map<string, string>();

/**
 * A flat copy of a string. Strings decoded by msgpackr are often slices of one string that
 * holds every string of a command; a stored slice would keep that whole block alive.
 */
export function flat(text: string): string {
  const copy: unknown = JSON.parse(JSON.stringify(text));
  assert(typeof copy === 'string', 'a string survives a JSON round trip');
  return copy;
}

/** One shared, flat instance per distinct string (bounded; past the bound each caller gets a flat copy). */
export function intern(text: string): string {
  const known = interned.get(text);
  if (known !== undefined) return known;
  const copy = flat(text);
  if (interned.size < INTERNED_MAX) interned.set(copy, copy);
  return copy;
}

export function shareTarget(target: Target): Target {
  if (target.mode === 'any') return TARGET_ANY;
  if (target.mode === 'leader') return TARGET_LEADER;
  if (target.mode === 'all') return TARGET_ALL;
  return target;
}

export function shareMisfire(misfire: Misfire): Misfire {
  return misfire.policy === MISFIRE_DEFAULT.policy && misfire.windowMs === MISFIRE_DEFAULT.windowMs ? MISFIRE_DEFAULT : Object.freeze(misfire);
}

export function shareRetry(retry: Retry): Retry {
  const d = RETRY_DEFAULT;
  return retry.max === d.max && retry.backoffMs === d.backoffMs && retry.maxBackoffMs === d.maxBackoffMs ? d : Object.freeze(retry);
}

export function shareRecord(record: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  return Object.keys(record).length === 0 ? EMPTY_RECORD : Object.freeze(record);
}

export function shareList(list: readonly string[]): readonly string[] {
  return list.length === 0 ? EMPTY_LIST : Object.freeze(list);
}

/**
 * UTF-8 length of a string; a lone surrogate counts as 3 bytes, like the encoder's U+FFFD.
 * Node's native count: a loop over the characters here cost ~1.3 µs for a 250-character spec
 * against ~0.1 µs, and a put's apply counts its stored spec on every replica.
 */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
