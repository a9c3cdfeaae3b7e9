import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CronExpressionParser } from 'cron-parser';
import { instantsBetween, nextFireAt, parseDurationMs, parseSchedule, type Schedule } from './schedule.js';

function sched(text: string): Schedule {
  const p = parseSchedule(text);
  assert.ok(p.ok, `${text}: ${p.ok ? '' : p.message}`);
  return p.schedule;
}
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
function series(text: string, zone: string, fromIso: string, count: number, anchorIso = '1970-01-01T00:00:00Z'): (string | null)[] {
  const from = Date.parse(fromIso);
  return instantsBetween(sched(text), zone, from, from + 400 * 86_400_000, Date.parse(anchorIso), count).map(iso);
}

test('5- and 6-field cron and macros in UTC', () => {
  assert.deepEqual(series('*/15 * * * *', 'UTC', '2026-01-01T00:07:00Z', 3), ['2026-01-01T00:15:00.000Z', '2026-01-01T00:30:00.000Z', '2026-01-01T00:45:00.000Z']);
  assert.deepEqual(series('*/20 * * * * *', 'UTC', '2026-01-01T00:00:00Z', 3), ['2026-01-01T00:00:20.000Z', '2026-01-01T00:00:40.000Z', '2026-01-01T00:01:00.000Z']);
  assert.deepEqual(series('@yearly', 'UTC', '2026-05-01T00:00:00Z', 1), ['2027-01-01T00:00:00.000Z']);
  assert.deepEqual(series('@annually', 'UTC', '2026-05-01T00:00:00Z', 1), ['2027-01-01T00:00:00.000Z']);
  assert.deepEqual(series('@monthly', 'UTC', '2026-05-01T00:00:00Z', 1), ['2026-06-01T00:00:00.000Z']);
  assert.deepEqual(series('@weekly', 'UTC', '2026-01-01T00:00:00Z', 1), ['2026-01-04T00:00:00.000Z']);
  assert.deepEqual(series('@daily', 'UTC', '2026-01-01T00:00:00Z', 1), ['2026-01-02T00:00:00.000Z']);
  assert.deepEqual(series('@midnight', 'UTC', '2026-01-01T10:00:00Z', 1), ['2026-01-02T00:00:00.000Z']);
  assert.deepEqual(series('@hourly', 'UTC', '2026-01-01T10:00:00Z', 1), ['2026-01-01T11:00:00.000Z']);
  assert.equal(iso(nextFireAt(sched('0 0 29 2 *'), 'UTC', Date.parse('2026-01-01T00:00:00Z'), 0)), '2028-02-29T00:00:00.000Z');
});

test('next instant is strictly after the given time, also inside a second', () => {
  const s = sched('* * * * * *');
  assert.equal(nextFireAt(s, 'UTC', Date.parse('2026-01-01T00:00:00Z'), 0), Date.parse('2026-01-01T00:00:01Z'));
  assert.equal(nextFireAt(s, 'UTC', Date.parse('2026-01-01T00:00:00.999Z'), 0), Date.parse('2026-01-01T00:00:01Z'));
});

test('the cron search agrees with cron-parser on UTC for many expressions', () => {
  const expressions = ['*/7 3-20/2 * * *', '0 0 1,15 * 1', '5 4 * * 0', '0 22 * * 1-5', '0 0 L * *', '0 0 * * 3L', '0 0 * * 2#3', '15 10 29 2 *', '*/13 */5 * * * *', '0 0 13 * FRI', '30 4 1-7 JAN-MAR MON'];
  for (const expression of expressions) {
    let t = Date.parse('2025-01-01T00:00:00Z');
    const reference = CronExpressionParser.parse(expression, { currentDate: new Date(t), tz: 'UTC' });
    const s = sched(expression);
    for (let i = 0; i < 200; i++) {
      const mine = nextFireAt(s, 'UTC', t, 0);
      assert.equal(iso(mine), reference.next().toISOString(), `${expression} step ${i}`);
      t = mine ?? 0;
    }
  }
});

test('DST in Europe/Berlin: the gap fires once at its end, the repeated hour fires once at its first occurrence', () => {
  // 2026-03-29 02:00 CET jumps to 03:00 CEST (01:00Z); 02:30 does not exist.
  assert.deepEqual(series('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', 2), ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  // Every quarter hour across the gap: 02:00-02:45 collapse into one fire at 03:00 CEST.
  assert.deepEqual(series('*/15 * * * *', 'Europe/Berlin', '2026-03-29T00:40:00Z', 3), ['2026-03-29T00:45:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T01:15:00.000Z']);
  // 2026-10-25 03:00 CEST falls back to 02:00 CET; 02:30 happens twice, fires at the first (00:30Z).
  assert.deepEqual(series('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2), ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  // Hourly: 02:00 CEST fires, the repeated 02:00 CET does not.
  assert.deepEqual(series('0 * * * *', 'Europe/Berlin', '2026-10-24T23:30:00Z', 3), ['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z']);
  // Asked from inside the repeated hour, the next instant is after it.
  assert.equal(iso(nextFireAt(sched('*/10 * * * *'), 'Europe/Berlin', Date.parse('2026-10-25T01:05:00Z'), 0)), '2026-10-25T02:00:00.000Z');
});

test('DST in America/New_York', () => {
  assert.deepEqual(series('30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', 2), ['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z']);
  assert.deepEqual(series('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 2), ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
});

test('DST in Australia/Lord_Howe, a 30-minute shift', () => {
  // 2026-04-05 02:00 (+11) falls back to 01:30 (+10:30): 01:30-02:00 repeats; first occurrence wins.
  assert.deepEqual(series('0 45 1 * * *', 'Australia/Lord_Howe', '2026-04-04T12:00:00Z', 2), ['2026-04-04T14:45:00.000Z', '2026-04-05T15:15:00.000Z']);
  // 2026-10-04 02:00 (+10:30) jumps to 02:30 (+11): 02:15 fires at 02:30 (15:30Z).
  assert.deepEqual(series('0 15 2 * * *', 'Australia/Lord_Howe', '2026-10-03T12:00:00Z', 2), ['2026-10-03T15:30:00.000Z', '2026-10-04T15:15:00.000Z']);
});

test('@every is anchored at creation: instants are anchor + k·d', () => {
  const anchor = '2026-01-01T00:00:07Z';
  assert.deepEqual(series('@every 1m30s', 'UTC', anchor, 2, anchor), ['2026-01-01T00:01:37.000Z', '2026-01-01T00:03:07.000Z']);
  assert.deepEqual(series('@every 1m30s', 'Europe/Berlin', '2026-01-01T00:02:00Z', 1, anchor), ['2026-01-01T00:03:07.000Z']);
  assert.deepEqual(series('@every 1.5h', 'UTC', '2025-12-31T00:00:00Z', 1, anchor), ['2026-01-01T01:30:07.000Z']);
  assert.equal(parseDurationMs('2h45m10s250ms'), 9_910_250);
  assert.equal(typeof parseDurationMs('10'), 'string');
  assert.equal(typeof parseDurationMs('1d'), 'string');
});

test('@at fires once; without a zone it is wall time in the job zone; @manual never', () => {
  assert.deepEqual(series('@at 2026-06-01T12:00:00Z', 'Europe/Berlin', '2026-01-01T00:00:00Z', 3), ['2026-06-01T12:00:00.000Z']);
  assert.deepEqual(series('@at 2026-06-01T12:00:00', 'Europe/Berlin', '2026-01-01T00:00:00Z', 3), ['2026-06-01T10:00:00.000Z']);
  assert.deepEqual(series('@at 2026-06-01T12:00:00+05:30', 'UTC', '2026-01-01T00:00:00Z', 3), ['2026-06-01T06:30:00.000Z']);
  assert.equal(nextFireAt(sched('@at 2026-06-01T12:00:00Z'), 'UTC', Date.parse('2026-06-01T12:00:00Z'), 0), null);
  assert.equal(nextFireAt(sched('@manual'), 'UTC', 0, 0), null);
});

test('schedule errors', () => {
  const message = (text: string) => {
    const p = parseSchedule(text);
    return p.ok ? 'ok' : p.message;
  };
  assert.equal(message('61 * * * *'), 'minute 61 is out of range 0-59');
  assert.equal(message('* * * 13 *'), 'month 13 is out of range 1-12');
  assert.equal(message('* * * * 8'), 'day of week 8 is out of range 0-7');
  assert.equal(message('60 * * * * *'), 'second 60 is out of range 0-59');
  assert.equal(message('* * *'), 'a cron expression has 5 or 6 fields, got 3');
  assert.equal(message('H * * * *'), 'hashed values (H) are not supported');
  assert.equal(message('0 0 * * THU'), 'ok');
  assert.equal(message('@fortnightly'), 'unknown macro "@fortnightly"');
  assert.equal(message('@every 0s'), '@every interval must be at least 1s');
  assert.equal(message('@at 2026-02-30T00:00:00Z'), '"2026-02-30T00:00:00Z" is not a valid date and time');
  assert.equal(message('@at tomorrow'), '"tomorrow" is not an ISO-8601 time like 2026-11-24T01:30:00Z');
  assert.equal(message(''), 'must not be empty');
  assert.match(message('a b c d e'), /Invalid characters/);
});

test('a cron whose day never exists is refused at parse time', () => {
  const p = parseSchedule('0 0 0 31 4 *');
  assert.equal(p.ok, false);
});

test('the search stops at year 9999', () => {
  assert.equal(nextFireAt(sched('0 0 1 1 *'), 'UTC', Date.parse('9999-06-01T00:00:00Z'), 0), null);
});
