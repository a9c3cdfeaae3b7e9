// Time-zone offsets and the mapping from wall-clock time to instants, with the one
// daylight-saving rule of docs/jobs.md:
// - a wall-clock time that does not exist (spring-forward gap) maps to the first instant
//   after the gap, i.e. the transition instant itself;
// - a wall-clock time that occurs twice (fall-back) maps to its first occurrence only.
// "Wall" values are wall-clock readings written as if they were UTC milliseconds.
//
// Offsets come from Intl (the zone data of the Node build: every node of a cluster must run
// the same Node version, or replicas may compute different instants). Results are cached
// per UTC day; the cache only memoises a pure function, so it does not affect determinism.
// Assumption: a zone changes its offset at most once per UTC day and once per 36 hours.
import { DAY_MS, daysFromCivil } from './civil.js';

type DayOffsets = { readonly startOffsetMs: number; readonly endOffsetMs: number; readonly transitionAt: number };

const ZONE_HALF_WINDOW_MS = 18 * 3600 * 1000;
const DAYS_CACHED_PER_ZONE_MAX = 4096;
const ZONES_CACHED_MAX = 1024;

const formatters = new Map<string, Intl.DateTimeFormat>();
const dayCaches = new Map<string, Map<number, DayOffsets>>();

export function isUtcZone(zone: string): boolean {
  return zone === 'UTC' || zone === 'Etc/UTC';
}

const knownZones = new Map<string, boolean>();

/** True if Intl knows the IANA zone name. Memoised: building a formatter costs ~100 µs. */
export function isKnownZone(zone: string): boolean {
  let known = knownZones.get(zone);
  if (known === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      known = true;
    } catch {
      known = false;
    }
    if (knownZones.size >= ZONES_CACHED_MAX) knownZones.clear();
    knownZones.set(zone, known);
  }
  return known;
}

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (formatter === undefined) {
    if (formatters.size >= ZONES_CACHED_MAX) formatters.clear();
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** Offset (wall - instant) at an instant, straight from Intl. Offsets change on whole seconds. */
function rawOffsetMs(zone: string, instantMs: number): number {
  let year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  for (const part of formatterFor(zone).formatToParts(instantMs)) {
    const value = Number(part.value);
    if (part.type === 'year') year = value;
    else if (part.type === 'month') month = value;
    else if (part.type === 'day') day = value;
    else if (part.type === 'hour') hour = value;
    else if (part.type === 'minute') minute = value;
    else if (part.type === 'second') second = value;
  }
  const wallMs = daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000;
  return wallMs - Math.floor(instantMs / 1000) * 1000;
}

function dayOffsets(zone: string, dayNumber: number): DayOffsets {
  let cache = dayCaches.get(zone);
  if (cache === undefined) {
    if (dayCaches.size >= ZONES_CACHED_MAX) dayCaches.clear();
    cache = new Map();
    dayCaches.set(zone, cache);
  }
  let info = cache.get(dayNumber);
  if (info !== undefined) return info;
  const startMs = dayNumber * DAY_MS;
  // Neighbouring days share a midnight: reuse its offset when the neighbour is cached.
  const startOffsetMs = cache.get(dayNumber - 1)?.endOffsetMs ?? rawOffsetMs(zone, startMs);
  const endOffsetMs = cache.get(dayNumber + 1)?.startOffsetMs ?? rawOffsetMs(zone, startMs + DAY_MS);
  let transitionAt = Infinity;
  if (startOffsetMs !== endOffsetMs) {
    // Binary search on whole seconds for the first second with the new offset.
    let lo = startMs / 1000;
    let hi = (startMs + DAY_MS) / 1000;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (rawOffsetMs(zone, mid * 1000) === startOffsetMs) lo = mid;
      else hi = mid;
    }
    transitionAt = hi * 1000;
  }
  info = { startOffsetMs, endOffsetMs, transitionAt };
  if (cache.size >= DAYS_CACHED_PER_ZONE_MAX) cache.clear();
  cache.set(dayNumber, info);
  return info;
}

/** Offset of the zone at an instant, in ms (Berlin in summer: +7,200,000). */
export function offsetAtMs(zone: string, instantMs: number): number {
  if (isUtcZone(zone)) return 0;
  const info = dayOffsets(zone, Math.floor(instantMs / DAY_MS));
  return instantMs < info.transitionAt ? info.startOffsetMs : info.endOffsetMs;
}

/** The first offset change in (fromMs, toMs], or null. */
function transitionBetween(zone: string, fromMs: number, toMs: number): number | null {
  for (let day = Math.floor(fromMs / DAY_MS); day <= Math.floor(toMs / DAY_MS); day++) {
    const at = dayOffsets(zone, day).transitionAt;
    if (at > fromMs && at <= toMs) return at;
  }
  return null;
}

/** The instant a wall-clock time fires at, by the rule above. */
export function wallToInstant(zone: string, wallMs: number): number {
  if (isUtcZone(zone)) return wallMs;
  const before = offsetAtMs(zone, wallMs - ZONE_HALF_WINDOW_MS);
  const after = offsetAtMs(zone, wallMs + ZONE_HALF_WINDOW_MS);
  if (before === after) return wallMs - before;
  const withBefore = wallMs - before;
  const withAfter = wallMs - after;
  const beforeValid = offsetAtMs(zone, withBefore) === before;
  const afterValid = offsetAtMs(zone, withAfter) === after;
  if (beforeValid && afterValid) return Math.min(withBefore, withAfter);
  if (beforeValid) return withBefore;
  if (afterValid) return withAfter;
  // A gap: the wall time was skipped; fire at the transition instant.
  const transition = transitionBetween(zone, Math.min(withBefore, withAfter), Math.max(withBefore, withAfter));
  return transition ?? withBefore;
}

/**
 * The largest wall time whose instant (by wallToInstant) is at or before `instantMs`:
 * usually the wall reading at that instant, but inside the second occurrence of a repeated
 * hour it is the end of the repeated range, since those wall times already fired.
 */
export function wallThreshold(zone: string, instantMs: number): number {
  if (isUtcZone(zone)) return instantMs;
  const offset = offsetAtMs(zone, instantMs);
  const wallMs = instantMs + offset;
  const earlier = offsetAtMs(zone, instantMs - ZONE_HALF_WINDOW_MS);
  if (earlier <= offset) return wallMs;
  const firstOccurrence = wallMs - earlier;
  if (firstOccurrence >= instantMs || offsetAtMs(zone, firstOccurrence) !== earlier) return wallMs;
  const transition = transitionBetween(zone, firstOccurrence, instantMs);
  if (transition === null) return wallMs;
  return transition + earlier - 1;
}
