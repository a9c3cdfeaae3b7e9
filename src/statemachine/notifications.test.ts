import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FinishedReport } from './commands.js';
import { NOTIFY_TARGETS_MAX } from './limits.js';
import { createNotifyState, dueNotifications, notifyFinal, restoreNotify, notifyRows } from './notifications.js';
import { JobTable } from './table.js';
import { validateJobSpec } from './validate.js';
import { Driver, T0, scheduled, spec } from '../../test/support/job-table.js';
import type { NotificationRecord, RunRecord } from './types.js';

const MIN = 60_000;
const HOOK = 'http://127.0.0.1:9/hook';

function finished(runId: string, at: number, extra: Partial<FinishedReport> = {}): FinishedReport {
  return { kind: 'finished', runId, attempt: 1, node: 'n1', at, startedAt: at - 1, status: 'succeeded', exitCode: 0, output: 'ok', outputTruncated: false, error: null, ...extra };
}

function events(table: JobTable): string[] {
  const page = table.listNotifications({}, { limit: 1000 });
  assert.ok(page.ok);
  return page.items.map((n) => n.eventId).reverse();
}

/** A job notifying HOOK of `on`, with runs r1.. fired every 5 minutes on demand. */
function driver(on: string[], fields: Record<string, unknown> = {}): Driver {
  const d = new Driver();
  d.put('a', T0, { notify: [{ on, url: HOOK }], ...fields });
  return d;
}

let instant = 0;
function fireRun(d: Driver, runId: string): number {
  instant += 5 * MIN;
  const at = T0 + instant;
  d.fire(at, scheduled('a', runId, at));
  return at;
}

test('validation: at most 8 targets, known events, http(s) urls, no reserved or short secret headers', () => {
  const target = { on: ['failed'], url: HOOK };
  assert.ok(validateJobSpec('a', { schedule: '@manual', executor: { type: 'shell', command: 'true' }, notify: Array(NOTIFY_TARGETS_MAX).fill(target) }).ok);
  const bad = (notify: unknown): string[] => {
    const v = validateJobSpec('a', { schedule: '@manual', executor: { type: 'shell', command: 'true' }, notify });
    assert.ok(!v.ok);
    return v.errors.map((e) => e.path);
  };
  assert.deepEqual(bad(Array(NOTIFY_TARGETS_MAX + 1).fill(target)), ['notify']);
  assert.deepEqual(bad([{ on: ['exploded'], url: HOOK }]), ['notify[0].on[0]']);
  assert.deepEqual(bad([{ on: [], url: HOOK }]), ['notify[0].on']);
  assert.deepEqual(bad([{ on: ['failed'], url: 'ftp://x' }]), ['notify[0].url']);
  assert.deepEqual(bad([{ on: ['failed'], url: HOOK, headers: { 'Chime-Signature': 'x' } }]), ['notify[0].headers.Chime-Signature']);
  assert.deepEqual(bad([{ on: ['failed'], url: HOOK, secretHeaders: { Authorization: 'short' } }]), ['notify[0].secretHeaders.Authorization']);
  assert.deepEqual(bad([{ on: ['failed'], url: HOOK, secretHeaders: { Authorization: '***' } }]), ['notify[0].secretHeaders.Authorization']);
  assert.deepEqual(bad([{ on: ['failed'], url: HOOK, bogus: 1 }]), ['notify[0].bogus']);
});

test('a spec with notify targets survives the packed form and a snapshot unchanged', () => {
  const s = spec('a', { notify: [{ on: ['succeeded', 'failed'], url: HOOK, headers: { 'X-A': '1' }, secretHeaders: { Authorization: 'Bearer abcdef' } }] });
  assert.deepEqual(s.notify[0]?.on, ['failed', 'succeeded'], 'events are stored in catalogue order');
  const d = new Driver();
  d.apply({ type: 'putJob', id: 'a', spec: s, at: T0 });
  const restored = JobTable.restore(d.table.snapshot());
  assert.deepEqual(restored.getJob('a')?.notify, s.notify);
  const http = spec('h', { executor: { type: 'http', url: HOOK }, notify: [{ on: ['failed'], url: HOOK }] });
  d.apply({ type: 'putJob', id: 'h', spec: http, at: T0 });
  assert.deepEqual(JobTable.restore(d.table.snapshot()).getJob('h')?.notify, http.notify);
});

test('a failed run owes failed once its retries are spent, not before', () => {
  const d = driver(['failed'], { retry: { max: 1, backoffMs: 1000 } });
  const at = fireRun(d, 'r1');
  d.apply({ type: 'runReports', at: at + 10, reports: [finished('r1', at + 10, { status: 'failed', exitCode: 1 })] });
  assert.deepEqual(events(d.table), [], 'a retry is owed: the run is not final yet');
  d.apply({ type: 'retryRun', runId: 'r1', attempt: 2, executors: ['n1'], notBefore: null, at: at + 2000 });
  d.apply({ type: 'runReports', at: at + 3000, reports: [finished('r1', at + 3000, { attempt: 2, status: 'failed', exitCode: 3, output: 'boom' })] });
  assert.deepEqual(events(d.table), ['r1:failed:0']);
  const n = d.table.getNotification('r1:failed:0');
  assert.equal(n?.attempt, 2);
  assert.equal(n?.exitCode, 3);
  assert.equal(n?.outputTail, 'boom');
  assert.equal(n?.status, 'pending');
  assert.equal(n?.nextAttemptAt, at + 3000);
});

test('recovered: the first success after a bad outcome, in scheduled order', () => {
  const d = driver(['recovered', 'failed', 'timed_out'], { concurrency: 'allow' });
  const a1 = fireRun(d, 'r1');
  const a2 = fireRun(d, 'r2');
  const a3 = fireRun(d, 'r3');
  const a4 = fireRun(d, 'r4');
  d.apply({ type: 'runReports', at: a2 + 10, reports: [finished('r2', a2 + 10, { status: 'timed_out' })] });
  // r1 succeeds after r2's failure but it was scheduled before it: no recovery.
  d.apply({ type: 'runReports', at: a2 + 20, reports: [finished('r1', a1 + 20)] });
  d.apply({ type: 'runReports', at: a3 + 10, reports: [finished('r3', a3 + 10)] });
  d.apply({ type: 'runReports', at: a4 + 10, reports: [finished('r4', a4 + 10)] });
  assert.deepEqual(events(d.table), ['r2:timed_out:0', 'r3:recovered:0']);
});

test('started, succeeded, killed, lost; skipped and missed from fires', () => {
  const d = driver(['started', 'succeeded', 'killed', 'lost', 'skipped', 'missed']);
  const a1 = fireRun(d, 'r1');
  d.apply({ type: 'runStarted', runId: 'r1', attempt: 1, node: 'n1', at: a1 + 1 });
  d.apply({ type: 'runReports', at: a1 + 5, reports: [finished('r1', a1 + 5, { status: 'killed' })] });
  const a2 = fireRun(d, 'r2');
  d.apply({ type: 'runLost', runId: 'r2', attempt: 1, node: 'n1', at: a2 + 9 });
  instant += 5 * MIN;
  d.fire(T0 + instant, scheduled('a', 'r3', T0 + instant, { trigger: 'misfire', outcome: 'skip', executors: [], reason: 'misfire policy skip: missed while no leader could fire it' }));
  instant += 5 * MIN;
  d.fire(T0 + instant, scheduled('a', 'r4', T0 + instant, { outcome: 'skip', executors: [], reason: 'no eligible node' }));
  assert.deepEqual(events(d.table), ['r1:started:0', 'r1:killed:0', 'r2:lost:0', 'r3:missed:0', 'r4:skipped:0']);
});

test('one event per matching target; a job without targets owes nothing', () => {
  const d = new Driver();
  d.put('a', T0, { notify: [{ on: ['failed'], url: HOOK }, { on: ['succeeded'], url: HOOK }, { on: ['failed', 'succeeded'], url: `${HOOK}2` }] });
  d.put('quiet', T0);
  d.fire(T0 + 5 * MIN, scheduled('a', 'r1', T0 + 5 * MIN), scheduled('quiet', 'q1', T0 + 5 * MIN));
  d.apply({ type: 'runReports', at: T0 + 6 * MIN, reports: [finished('r1', T0 + 6 * MIN, { status: 'failed' }), finished('q1', T0 + 6 * MIN, { status: 'failed' })] });
  assert.deepEqual(events(d.table), ['r1:failed:0', 'r1:failed:2']);
});

test('notifyResults: delivered closes, retry moves the due time, a second outcome is a no-op', () => {
  const d = driver(['failed']);
  const at = fireRun(d, 'r1');
  d.apply({ type: 'runReports', at: at + 10, reports: [finished('r1', at + 10, { status: 'failed' })] });
  assert.equal(d.table.dueNotifications(at + 10, 10).length, 1);
  d.apply({ type: 'notifyResults', at: at + 20, results: [{ eventId: 'r1:failed:0', outcome: 'retry', attemptAt: at + 20, error: 'HTTP 503', nextAttemptAt: at + 1020 }] });
  assert.equal(d.table.dueNotifications(at + 1019, 10).length, 0, 'not due before its backoff');
  assert.equal(d.table.earliestNotificationDueAt(), at + 1020);
  d.apply({ type: 'notifyResults', at: at + 1030, results: [{ eventId: 'r1:failed:0', outcome: 'delivered', attemptAt: at + 1030, error: null, nextAttemptAt: null }] });
  const again = d.apply({ type: 'notifyResults', at: at + 1040, results: [{ eventId: 'r1:failed:0', outcome: 'delivered', attemptAt: at + 1040, error: null, nextAttemptAt: null }] });
  assert.ok(again.ok && again.kind === 'reports' && again.results[0]?.ok && again.results[0].kind === 'noop');
  const n = d.table.getNotification('r1:failed:0');
  assert.equal(n?.status, 'delivered');
  assert.equal(n?.attempts, 2);
  assert.equal(n?.lastError, 'HTTP 503');
  assert.deepEqual(d.table.notificationStats(), { pending: 0, delivered: 1, failed: 0, dropped: 0 });
  assert.equal(d.table.earliestNotificationDueAt(), null);
  // The delivery state is in the snapshot: a restored replica holds the same.
  const restored = JobTable.restore(d.table.snapshot());
  assert.deepEqual(restored.getNotification('r1:failed:0'), n);
  assert.deepEqual(restored.notificationStats(), d.table.notificationStats());
  assert.deepEqual(restored.snapshot(), d.table.snapshot());
});

test('a full pending queue drops the oldest delivery, counted and recorded failed; finished records are bounded', () => {
  const state = createNotifyState({ pendingMax: 3, finishedKeptMax: 2 });
  const notifySpec = spec('a', { notify: [{ on: ['failed'], url: HOOK }] });
  const run = (i: number): RunRecord => ({
    runId: `r${i}`, jobId: 'a', seq: i, scheduledAt: T0 + i, trigger: 'schedule', attempt: 1, status: 'failed', firedAt: T0, startedAt: T0, finishedAt: T0 + i,
    executions: [], payload: null, key: null, executors: [], notBefore: null, killRequested: null, reason: null, queue: null,
  });
  for (let i = 1; i <= 5; i++) notifyFinal(state, notifySpec, run(i), false, T0 + i);
  assert.deepEqual([...state.pending.keys()], ['r3:failed:0', 'r4:failed:0', 'r5:failed:0']);
  assert.equal(state.droppedTotal, 2);
  const dropped = state.records.get('r1:failed:0');
  assert.equal(dropped?.status, 'failed');
  assert.match(dropped?.lastError ?? '', /dropped/);
  // Finished kept at most 2: one more drop evicts r1's record.
  notifyFinal(state, notifySpec, run(6), false, T0 + 6);
  assert.equal(state.records.has('r1:failed:0'), false);
  assert.deepEqual([...state.finished.keys()], ['r2:failed:0', 'r3:failed:0']);
  assert.deepEqual(dueNotifications(state, T0 + 100, 10).map((n: NotificationRecord) => n.eventId), ['r4:failed:0', 'r5:failed:0', 'r6:failed:0']);
  // Round trip keeps the eviction order.
  const restored = restoreNotify(structuredClone(notifyRows(state)), (m) => new Error(m), state.limits);
  assert.deepEqual(notifyRows(restored), notifyRows(state));
});

test('a snapshot without the notify key restores an empty notification state', () => {
  const state = restoreNotify(undefined, (m) => new Error(m));
  assert.equal(state.records.size, 0);
  assert.throws(() => restoreNotify({ counters: [1, 0, 0, 0], records: [['x']], finishedOrder: [], lastOutcome: [] }, (m) => new Error(m)), /malformed/);
});
