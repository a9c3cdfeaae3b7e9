// Cron expressions: cron-parser parses and validates them; the search for the next match
// runs here, on plain integers in wall-clock time, because cron-parser's own iteration costs
// 60-190 µs per call (measured) and the scheduler calls this for every fire. The day
// semantics follow cron-parser's: when both day-of-month and day-of-week are restricted,
// a day matching either one matches.
import { CronExpressionParser } from 'cron-parser';
import { DAY_MS, civilFromDays, daysFromCivil, daysInMonth, weekdayOfDays } from './civil.js';

/** A compiled cron expression. Lookup tables: next allowed value >= v, or -1. */
export type CronFields = {
  readonly nextSecond: Int8Array;
  readonly nextMinute: Int8Array;
  readonly nextHour: Int8Array;
  readonly months: readonly boolean[];
  readonly daysOfMonth: readonly boolean[];
  readonly lastDayOfMonth: boolean;
  readonly daysOfWeek: readonly boolean[];
  readonly lastWeekdays: readonly boolean[];
  /** 1-5 when day-of-week has `#n`, else 0. */
  readonly nthWeekday: number;
  readonly dayOfMonthRestricted: boolean;
  readonly dayOfWeekRestricted: boolean;
};

const FIELD_NAMES_6 = ['second', 'minute', 'hour', 'day of month', 'month', 'day of week'] as const;
const FIELD_RANGES: Record<string, readonly [number, number]> = {
  second: [0, 59], minute: [0, 59], hour: [0, 23], 'day of month': [1, 31], month: [1, 12], 'day of week': [0, 7],
};
/** How far ahead the search looks before it gives up (covers every leap/weekday combination). */
const SEARCH_YEARS_MAX = 30;

export type CronParse = { ok: true; fields: CronFields } | { ok: false; message: string };

/** Checks plain numbers of each field against its range, for messages that name the field. */
function checkRanges(parts: readonly string[]): string | null {
  const names = parts.length === 6 ? FIELD_NAMES_6 : FIELD_NAMES_6.slice(1);
  for (let i = 0; i < parts.length; i++) {
    const name = names[i] ?? 'field';
    const range = FIELD_RANGES[name] ?? [0, 59];
    for (const item of (parts[i] ?? '').split(',')) {
      const base = item.split('/')[0]?.split('#')[0]?.replace(/L$/i, '') ?? '';
      for (const token of base.split('-')) {
        if (!/^\d+$/.test(token)) continue;
        const value = Number(token);
        if (value < range[0] || value > range[1]) return `${name} ${value} is out of range ${range[0]}-${range[1]}`;
      }
    }
  }
  return null;
}

export function parseCron(text: string): CronParse {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return { ok: false, message: `a cron expression has 5 or 6 fields, got ${parts.length}` };
  }
  if (/(?<![A-Za-z])H(?![A-Za-z])/i.test(text)) {
    return { ok: false, message: 'hashed values (H) are not supported' };
  }
  const rangeError = checkRanges(parts);
  if (rangeError !== null) return { ok: false, message: rangeError };
  try {
    const expression = CronExpressionParser.parse(parts.join(' '), { currentDate: 0, tz: 'UTC' });
    return { ok: true, fields: compile(expression.fields) };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : 'invalid cron expression' };
  }
}

type ParsedFields = ReturnType<typeof CronExpressionParser.parse>['fields'];

function nextTable(values: readonly (number | string)[], size: number): Int8Array {
  const table = new Int8Array(size + 1).fill(-1);
  const allowed = new Set(values.filter((v): v is number => typeof v === 'number'));
  let next = -1;
  for (let v = size - 1; v >= 0; v--) {
    if (allowed.has(v)) next = v;
    table[v] = next;
  }
  return table;
}

function flags(values: readonly (number | string)[], size: number, fold7: boolean): boolean[] {
  const out = new Array<boolean>(size).fill(false);
  for (const v of values) if (typeof v === 'number') out[fold7 ? v % 7 : v] = true;
  return out;
}

function compile(fields: ParsedFields): CronFields {
  const lastWeekdays = new Array<boolean>(7).fill(false);
  for (const v of fields.dayOfWeek.values) {
    if (typeof v === 'string' && /^[0-7]L$/i.test(v)) lastWeekdays[Number(v[0]) % 7] = true;
  }
  return Object.freeze({
    nextSecond: nextTable(fields.second.values, 60),
    nextMinute: nextTable(fields.minute.values, 60),
    nextHour: nextTable(fields.hour.values, 24),
    months: flags(fields.month.values, 13, false),
    daysOfMonth: flags(fields.dayOfMonth.values, 32, false),
    lastDayOfMonth: fields.dayOfMonth.values.some((v) => v === 'L'),
    daysOfWeek: flags(fields.dayOfWeek.values, 7, true),
    lastWeekdays,
    nthWeekday: fields.dayOfWeek.nthDay,
    dayOfMonthRestricted: !fields.dayOfMonth.isWildcard,
    dayOfWeekRestricted: !fields.dayOfWeek.isWildcard,
  });
}

function dayMatches(f: CronFields, days: number, year: number, month: number, day: number): boolean {
  if (!f.dayOfMonthRestricted && !f.dayOfWeekRestricted) return true;
  const monthDays = daysInMonth(year, month);
  const domMatch = f.daysOfMonth[day] === true || (f.lastDayOfMonth && day === monthDays);
  const weekday = weekdayOfDays(days);
  const dowMatch =
    (f.daysOfWeek[weekday] === true && (f.nthWeekday <= 0 || Math.ceil(day / 7) === f.nthWeekday)) ||
    (f.lastWeekdays[weekday] === true && day + 7 > monthDays);
  if (f.dayOfMonthRestricted && f.dayOfWeekRestricted) return domMatch || dowMatch;
  return f.dayOfMonthRestricted ? domMatch : dowMatch;
}

/** First allowed second of the day at or after h:m:s, or -1. */
function nextTimeInDay(f: CronFields, hour: number, minute: number, second: number): number {
  for (let h = f.nextHour[hour] ?? -1; h !== -1; h = f.nextHour[h + 1] ?? -1) {
    const sameHour = h === hour;
    for (let m = f.nextMinute[sameHour ? minute : 0] ?? -1; m !== -1; m = f.nextMinute[m + 1] ?? -1) {
      const s = f.nextSecond[sameHour && m === minute ? second : 0] ?? -1;
      if (s !== -1) return (h * 60 + m) * 60 + s;
    }
  }
  return -1;
}

/** The first whole-second wall time strictly after `afterWallMs` that matches, or null. */
export function nextCronWall(f: CronFields, afterWallMs: number): number | null {
  const firstSecond = Math.floor(afterWallMs / 1000) + 1;
  let days = Math.floor(firstSecond / 86400);
  let secondOfDay = firstSecond - days * 86400;
  const yearLimit = civilFromDays(days).year + SEARCH_YEARS_MAX;
  for (;;) {
    const { year, month, day } = civilFromDays(days);
    if (year > yearLimit || year > 9999) return null;
    if (f.months[month] !== true) {
      days = month === 12 ? daysFromCivil(year + 1, 1, 1) : daysFromCivil(year, month + 1, 1);
      secondOfDay = 0;
      continue;
    }
    if (dayMatches(f, days, year, month, day)) {
      const time = nextTimeInDay(f, Math.floor(secondOfDay / 3600), Math.floor(secondOfDay / 60) % 60, secondOfDay % 60);
      if (time !== -1) return days * DAY_MS + time * 1000;
    }
    days += 1;
    secondOfDay = 0;
  }
}
