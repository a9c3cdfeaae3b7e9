// Schedules: parsing and the pure math of "when is the next instant". No clock: every
// function takes the times it needs.
import { assert } from './assert.js';
import { type CronFields, nextCronWall, parseCron } from './cron.js';
import { daysFromCivil, daysInMonth, DAY_MS } from './civil.js';
import { EVERY_MS_MAX, EVERY_MS_MIN, SCHEDULE_CHARS_MAX, TIME_MS_MAX } from './limits.js';
import { isUtcZone, wallThreshold, wallToInstant } from './tz.js';

export type Schedule =
  | { readonly kind: 'cron'; readonly fields: CronFields }
  /** Instants anchor + k·everyMs for k >= 1; the anchor is the job's creation time. */
  | { readonly kind: 'every'; readonly everyMs: number }
  /** One instant: absolute when the text had a zone (`Z`, `+02:00`), else a wall time in the job's zone. */
  | { readonly kind: 'at'; readonly ms: number; readonly isWall: boolean }
  | { readonly kind: 'manual' };

export type ScheduleParse = { ok: true; schedule: Schedule } | { ok: false; message: string };

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 0 1 1 *', '@annually': '0 0 0 1 1 *', '@monthly': '0 0 0 1 * *', '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *', '@midnight': '0 0 0 * * *', '@hourly': '0 0 * * * *',
};

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Go-style duration (`30s`, `1m30s`, `1.5h`, `250ms`) in ms, or an error message. */
export function parseDurationMs(text: string): number | string {
  if (!/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(text)) return `"${text}" is not a duration like 30s, 1m30s or 2h`;
  let totalMs = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) totalMs += Number(m[1]) * (DURATION_UNITS_MS[m[2] ?? 's'] ?? 1);
  if (!Number.isSafeInteger(totalMs)) return `"${text}" is not a whole number of milliseconds`;
  return totalMs;
}

const ISO_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?$/;

/** An ISO-8601 date-time: UTC ms (isWall false) or wall-clock ms (no zone given), or an error message. */
export function parseIsoTime(text: string): { ms: number; isWall: boolean } | string {
  const m = ISO_PATTERN.exec(text);
  if (m === null) return `"${text}" is not an ISO-8601 time like 2026-11-24T01:30:00Z`;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6] ?? 0);
  const millis = Number((m[7] ?? '0').padEnd(3, '0'));
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    return `"${text}" is not a valid date and time`;
  }
  let ms = daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000 + millis;
  const zone = m[8];
  if (zone === undefined) return { ms, isWall: true };
  if (zone !== 'Z') {
    const offsetH = Number(zone.slice(1, 3));
    const offsetM = Number(zone.slice(4, 6));
    if (offsetH > 23 || offsetM > 59) return `"${text}" has an invalid UTC offset`;
    ms -= (zone[0] === '-' ? -1 : 1) * (offsetH * 60 + offsetM) * 60_000;
  }
  if (ms < 0 || ms > TIME_MS_MAX) return `"${text}" is out of range`;
  return { ms, isWall: false };
}

function parseUncached(text: string): ScheduleParse {
  if (text.length === 0) return { ok: false, message: 'must not be empty' };
  if (text.length > SCHEDULE_CHARS_MAX) return { ok: false, message: `is longer than ${SCHEDULE_CHARS_MAX} characters` };
  if (text === '@manual') return { ok: true, schedule: { kind: 'manual' } };
  if (text.startsWith('@every ')) {
    const everyMs = parseDurationMs(text.slice('@every '.length).trim());
    if (typeof everyMs === 'string') return { ok: false, message: everyMs };
    if (everyMs < EVERY_MS_MIN) return { ok: false, message: `@every interval must be at least 1s` };
    if (everyMs > EVERY_MS_MAX) return { ok: false, message: `@every interval must be at most ${EVERY_MS_MAX / 3_600_000}h` };
    return { ok: true, schedule: { kind: 'every', everyMs } };
  }
  if (text.startsWith('@at ')) {
    const at = parseIsoTime(text.slice('@at '.length).trim());
    if (typeof at === 'string') return { ok: false, message: at };
    return { ok: true, schedule: { kind: 'at', ms: at.ms, isWall: at.isWall } };
  }
  if (text.startsWith('@')) {
    const expanded = MACROS[text];
    if (expanded === undefined) return { ok: false, message: `unknown macro "${text.split(/\s/)[0]}"` };
    return parseUncached(expanded);
  }
  const cron = parseCron(text);
  return cron.ok ? { ok: true, schedule: { kind: 'cron', fields: cron.fields } } : cron;
}

// Many jobs share a schedule text; the cache keeps one compiled copy. It only memoises a
// pure function, so it does not affect determinism.
const PARSED_CACHED_MAX = 10_000;
const parsedCache = new Map<string, ScheduleParse>();

export function parseSchedule(text: string): ScheduleParse {
  let parsed = parsedCache.get(text);
  if (parsed === undefined) {
    parsed = parseUncached(text);
    if (parsedCache.size >= PARSED_CACHED_MAX) parsedCache.clear();
    parsedCache.set(text, parsed);
  }
  return parsed;
}

/** The schedule of a spec that passed validation; a failure here is a bug. */
export function compiledSchedule(text: string): Schedule {
  const parsed = parseSchedule(text);
  if (!parsed.ok) assert(false, `stored schedule "${text}" does not parse`);
  return parsed.schedule;
}

/** The first instant strictly after `afterMs`, or null. `anchorMs` anchors @every. */
export function nextFireAt(schedule: Schedule, timezone: string, afterMs: number, anchorMs: number): number | null {
  let next: number | null;
  switch (schedule.kind) {
    case 'manual':
      return null;
    case 'at':
      next = schedule.isWall ? wallToInstant(timezone, schedule.ms) : schedule.ms;
      return next > afterMs ? next : null;
    case 'every': {
      const k = afterMs < anchorMs ? 1 : Math.floor((afterMs - anchorMs) / schedule.everyMs) + 1;
      next = anchorMs + k * schedule.everyMs;
      break;
    }
    case 'cron': {
      if (isUtcZone(timezone)) {
        next = nextCronWall(schedule.fields, afterMs);
      } else {
        const wall = nextCronWall(schedule.fields, wallThreshold(timezone, afterMs));
        next = wall === null ? null : wallToInstant(timezone, wall);
      }
      break;
    }
  }
  if (next === null || next > TIME_MS_MAX) return null;
  assert(next > afterMs, 'nextFireAt must move forward');
  return next;
}

/** Instants in (afterMs, untilMs], oldest first, at most `limit` (for misfire catch-up). */
export function instantsBetween(schedule: Schedule, timezone: string, afterMs: number, untilMs: number, anchorMs: number, limit: number): number[] {
  const out: number[] = [];
  let cursor = afterMs;
  while (out.length < limit) {
    const next = nextFireAt(schedule, timezone, cursor, anchorMs);
    if (next === null || next > untilMs) break;
    out.push(next);
    cursor = next;
  }
  return out;
}
