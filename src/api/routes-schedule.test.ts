import { test } from 'node:test';
import { accessOf } from '../../test/support/access-fixtures.js';
import assert from 'node:assert/strict';
import { jsonLogger } from '../log/index.js';
import { JobTable, validateJobSpec, type Job } from '../statemachine/index.js';
import { isoInZone, scheduleRoutes } from './routes-schedule.js';
import { ApiServer } from './server.js';
import type { JobService } from './services.js';

const NOW_MS = Date.parse('2026-03-28T12:00:00.000Z');

function serviceOf(jobs: readonly Job[]): JobService {
  return {
    table: () => ({ jobsDueBy: (untilMs: number, limit: number) => jobs.filter((j) => j.enabled && j.nextFireAt !== null && j.nextFireAt <= untilMs).slice(0, limit) }) as unknown as JobTable,
    put: async () => { throw new Error('unused'); },
    putMany: async () => { throw new Error('unused'); },
    remove: async () => { throw new Error('unused'); },
    setEnabled: async () => { throw new Error('unused'); },
  };
}

function job(id: string, schedule: string, nextFireAt: number | null, timezone = 'UTC'): Job {
  const checked = validateJobSpec(id, { schedule, timezone, executor: { type: 'shell', command: 'true' } });
  assert.ok(checked.ok);
  return { ...checked.spec, createdAt: NOW_MS - 1000, updatedAt: NOW_MS, createRevision: 1, revision: 1, lastScheduledAt: null, nextFireAt };
}

async function withServer(jobs: readonly Job[], run: (get: (path: string) => Promise<{ status: number; body: any }>) => Promise<void>): Promise<void> {
  const api = new ApiServer({ logger: jsonLogger('t', 'api', () => {}, 'error') });
  const address = await api.listen('127.0.0.1', 0);
  api.serve({ nodeId: 't', isLeader: () => true, leader: () => 't', leaderHttp: () => null, appliedIndex: () => 0 }, scheduleRoutes(serviceOf(jobs), { read: async () => {} }, () => NOW_MS), { send: () => false, reachable: () => false }, accessOf());
  try {
    await run(async (path) => {
      const res = await fetch(`http://${address}${path}`);
      return { status: res.status, body: await res.json() };
    });
  } finally {
    await api.close();
  }
}

test('isoInZone writes the wall time with the zone offset of that instant', () => {
  assert.equal(isoInZone(Date.parse('2026-03-29T00:30:00Z'), 'Europe/Berlin'), '2026-03-29T01:30:00.000+01:00');
  assert.equal(isoInZone(Date.parse('2026-03-29T01:30:00Z'), 'Europe/Berlin'), '2026-03-29T03:30:00.000+02:00');
  assert.equal(isoInZone(Date.parse('2026-11-24T01:30:00.250Z'), 'UTC'), '2026-11-24T01:30:00.250+00:00');
  assert.equal(isoInZone(Date.parse('2026-06-01T12:00:00Z'), 'America/St_Johns'), '2026-06-01T09:30:00.000-02:30');
});

test('a preview gives the next instants in the job zone, across the spring-forward gap as the scheduler fires them', async () => {
  await withServer([], async (get) => {
    const answer = await get('/v1/schedule/preview?schedule=0%2030%202%20*%20*%20*&timezone=Europe/Berlin&n=3');
    assert.equal(answer.status, 200);
    // 2026-03-29 02:30 does not exist in Berlin; docs/jobs.md's rule fires it at the first instant after the gap.
    assert.deepEqual(answer.body.instants.map((i: { local: string }) => i.local.slice(0, 16)), ['2026-03-29T03:00', '2026-03-30T02:30', '2026-03-31T02:30']);
    assert.equal(answer.body.instants[1].at, '2026-03-30T00:30:00.000Z');
  });
});

test('@every counts from the anchor; @manual has no instant', async () => {
  await withServer([], async (get) => {
    const every = await get('/v1/schedule/preview?schedule=%40every%2010m&anchor=2026-03-28T11:55:00Z&n=2');
    assert.deepEqual(every.body.instants.map((i: { at: string }) => i.at), ['2026-03-28T12:05:00.000Z', '2026-03-28T12:15:00.000Z']);
    const manual = await get('/v1/schedule/preview?schedule=%40manual');
    assert.equal(manual.status, 200);
    assert.deepEqual(manual.body.instants, []);
  });
});

test('a bad schedule or zone is a 400 with the field paths a PUT would give', async () => {
  await withServer([], async (get) => {
    const bad = await get('/v1/schedule/preview?schedule=every%20minute&timezone=Mars/Olympus');
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.errors.map((e: { path: string }) => e.path).sort(), ['schedule', 'timezone']);
    const count = await get('/v1/schedule/preview?schedule=%40hourly&n=500');
    assert.equal(count.status, 400);
    assert.equal(count.body.errors[0].path, 'n');
  });
});

test('upcoming lists every instant due within the window, earliest first, bounded by limit', async () => {
  const jobs = [job('fast', '*/20 * * * *', NOW_MS + 20 * 60_000), job('hourly', '@hourly', NOW_MS + 3_600_000), job('later', '@daily', NOW_MS + 12 * 3_600_000)];
  await withServer(jobs, async (get) => {
    const answer = await get('/v1/schedule/upcoming?within=1h');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.items.map((i: { jobId: string; at: string }) => `${i.jobId} ${i.at.slice(11, 16)}`), ['fast 12:20', 'fast 12:40', 'fast 13:00', 'hourly 13:00']);
    const two = await get('/v1/schedule/upcoming?within=1h&limit=2');
    assert.equal(two.body.items.length, 2);
    assert.equal((await get('/v1/schedule/upcoming?within=forever')).status, 400);
  });
});
