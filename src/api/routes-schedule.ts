// Schedule previews for clients (the console's form, `chime job next`): the next instants of
// a schedule in a time zone, computed by the same code the scheduler fires by, so a preview
// never disagrees with what will happen (time zones and daylight-saving rule included).
import { ChimeError } from '../errors/index.js';
import { instantsBetween, parseSchedule, validateJobSpec, type Job } from '../statemachine/index.js';
import { readBarrier } from './params.js';
import { sendJson } from './problem.js';
import type { JobService, ReadBarrier } from './services.js';
import type { Route } from './server.js';

const PREVIEW_COUNT_DEFAULT = 5;
const PREVIEW_COUNT_MAX = 50;
const UPCOMING_LIMIT_DEFAULT = 50;
const UPCOMING_LIMIT_MAX = 500;
const UPCOMING_WITHIN_MS_DEFAULT = 3_600_000;
const UPCOMING_WITHIN_MS_MAX = 7 * 24 * 3_600_000;
/** Far enough that any schedule with an instant left has one before it. */
const PREVIEW_HORIZON_MS = 400 * 366 * 24 * 3_600_000;

/** `2026-11-24T02:30:00.000+01:00`: the instant as a wall time in `zone` with its offset. */
export function isoInZone(ms: number, zone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? '0');
  const wallMs = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'), ms % 1000);
  const offsetMin = Math.round((wallMs - ms) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return new Date(wallMs).toISOString().replace('Z', offset);
}

function intParam(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const text = query.get(name);
  if (text === null || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ChimeError('INVALID_REQUEST', `${name} must be a whole number from 1 to ${max}`, { errors: [{ path: name, message: `expected 1..${max}` }] });
  return n;
}

function timeParam(query: URLSearchParams, name: string, fallbackMs: number): number {
  const text = query.get(name);
  if (text === null || text === '') return fallbackMs;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}T/.test(text)) throw new ChimeError('INVALID_REQUEST', `${name} must be an ISO-8601 time`, { errors: [{ path: name, message: 'expected an ISO-8601 time such as 2026-11-24T01:30:00Z' }] });
  return ms;
}

function instantView(ms: number, zone: string): { at: string; local: string } {
  return { at: new Date(ms).toISOString(), local: isoInZone(ms, zone) };
}

/** Upcoming instants of enabled jobs within a window, earliest first: the dashboard's timeline. */
function upcoming(jobs: readonly Job[], fromMs: number, untilMs: number, limit: number): Array<{ jobId: string; at: string; local: string }> {
  const found: Array<{ jobId: string; ms: number; zone: string }> = [];
  for (const job of jobs) {
    if (job.nextFireAt === null) continue;
    const parsed = parseSchedule(job.schedule);
    if (!parsed.ok) continue;
    const rest = instantsBetween(parsed.schedule, job.timezone, job.nextFireAt, untilMs, job.createdAt, limit - 1);
    for (const ms of [job.nextFireAt, ...rest]) if (ms >= fromMs || ms === job.nextFireAt) found.push({ jobId: job.id, ms, zone: job.timezone });
  }
  found.sort((a, b) => a.ms - b.ms || (a.jobId < b.jobId ? -1 : 1));
  return found.slice(0, limit).map((f) => ({ jobId: f.jobId, ...instantView(f.ms, f.zone) }));
}

/**
 * `GET /v1/schedule/preview?schedule&timezone&n&after&anchor` validates a schedule and time
 * zone as a job spec would (problem+json with `schedule`/`timezone` paths) and answers its
 * next `n` instants after `after` (default now); `anchor` is an `@every` job's creation time
 * (default now, as for a job created now). `GET /v1/schedule/upcoming?within&limit` lists the
 * instants enabled jobs are due at within the window (default 1h), earliest first.
 */
export function scheduleRoutes(jobs: JobService, barrier: ReadBarrier, nowMs: () => number): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/schedule/preview',
      permission: 'jobs.read',
      write: false,
      handle: async (ctx) => {
        const query = ctx.url.searchParams;
        const schedule = query.get('schedule') ?? '';
        const timezone = query.get('timezone') || 'UTC';
        const count = intParam(query, 'n', PREVIEW_COUNT_DEFAULT, PREVIEW_COUNT_MAX);
        const now = nowMs();
        const afterMs = timeParam(query, 'after', now);
        const anchorMs = timeParam(query, 'anchor', now);
        // The spec's own validation, with a stand-in executor, so the messages are the ones a PUT gives.
        const checked = validateJobSpec('preview', { schedule, timezone, executor: { type: 'shell', command: 'true' } });
        if (!checked.ok) throw new ChimeError('INVALID_SPEC', 'the schedule is invalid', { errors: checked.errors.filter((e) => e.path === 'schedule' || e.path === 'timezone') });
        const parsed = parseSchedule(schedule);
        if (!parsed.ok) throw new ChimeError('INVALID_SPEC', 'the schedule is invalid', { errors: [{ path: 'schedule', message: parsed.message }] });
        const instants = instantsBetween(parsed.schedule, timezone, afterMs, afterMs + PREVIEW_HORIZON_MS, anchorMs, count);
        sendJson(ctx.res, 200, { schedule, timezone, instants: instants.map((ms) => instantView(ms, timezone)) });
      },
    },
    {
      method: 'GET',
      path: '/v1/schedule/upcoming',
      permission: 'jobs.read',
      write: false,
      handle: async (ctx) => {
        const query = ctx.url.searchParams;
        const limit = intParam(query, 'limit', UPCOMING_LIMIT_DEFAULT, UPCOMING_LIMIT_MAX);
        const withinText = query.get('within');
        const withinMs = withinText === null ? UPCOMING_WITHIN_MS_DEFAULT : parseWithin(withinText);
        await readBarrier(barrier, ctx);
        const now = nowMs();
        const table = jobs.table();
        const items = upcoming(table.jobsDueBy(now + withinMs, limit), now, now + withinMs, limit);
        sendJson(ctx.res, 200, { items, nextCursor: null });
      },
    },
  ];
}

function parseWithin(text: string): number {
  const m = /^(\d{1,6})(s|m|h)$/.exec(text);
  const ms = m === null ? NaN : Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 3_600_000);
  if (!(ms >= 1000 && ms <= UPCOMING_WITHIN_MS_MAX)) throw new ChimeError('INVALID_REQUEST', 'within must be a duration such as 15m or 1h, at most 168h', { errors: [{ path: 'within', message: 'expected a duration such as 1h' }] });
  return ms;
}
