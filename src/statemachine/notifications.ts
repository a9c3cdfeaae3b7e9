// Notification events as replicated state. Which events a run owes is decided here, while
// the run result that causes them is applied: every replica derives the same records from
// the same log, so a new leader knows exactly what the old one still owed, and the delivery
// outcomes the leader proposes (notifyResults) close them for every replica at once.
// src/notify builds the webhook from a record, signs and sends it; nothing here sends.
import { assert } from './assert.js';
import type { NotifyResult, NotifyResultsCommand } from './commands.js';
import { utf8Bytes } from './defaults.js';
import { ERROR_CODES } from './errors.js';
import * as L from './limits.js';
import { noop, type ApplyResult } from './results.js';
import { SortedSet } from './sorted-set.js';
import {
  NOTIFY_DELIVERY_STATUSES, NOTIFY_EVENTS, RUN_STATUSES,
  type JobSpec, type NotificationRecord, type NotifyDeliveryStatus, type NotifyEvent, type RunRecord,
} from './types.js';

/** The run outcomes after which a later success is a recovery. */
const BAD_OUTCOMES: ReadonlySet<string> = new Set(['failed', 'timed_out', 'lost', 'killed']);

export type DueKey = { readonly nextAttemptAt: number; readonly seq: number };

export function compareByDue(a: DueKey, b: DueKey): number {
  return (a.nextAttemptAt - b.nextAttemptAt) || a.seq - b.seq;
}

export type NotifyLimits = { readonly pendingMax: number; readonly finishedKeptMax: number };

export const NOTIFY_LIMITS: NotifyLimits = Object.freeze({ pendingMax: L.NOTIFY_PENDING_MAX, finishedKeptMax: L.NOTIFY_FINISHED_KEPT_MAX });

export type NotifyState = {
  readonly limits: NotifyLimits;
  seq: number;
  /** Pending deliveries dropped because the queue was full, since the table began. */
  droppedTotal: number;
  /** Deliveries recorded delivered / failed (gave up or dropped), since the table began. */
  deliveredTotal: number;
  failedTotal: number;
  /** Every kept record by event id, in recording (seq) order. */
  readonly records: Map<string, NotificationRecord>;
  /** Pending records in seq order: the oldest is dropped first when full. */
  readonly pending: Map<string, NotificationRecord>;
  /** Pending records by (nextAttemptAt, seq): what the leader's notifier walks. Derived. */
  readonly due: SortedSet<NotificationRecord, DueKey>;
  /** Finished records in finishing order: the oldest is evicted first. */
  readonly finished: Map<string, NotificationRecord>;
  /** jobId → the newest final outcome in scheduled order, for `recovered` (jobs with targets only). */
  readonly lastOutcome: Map<string, { scheduledAt: number; bad: boolean }>;
};

export function createNotifyState(limits: NotifyLimits = NOTIFY_LIMITS): NotifyState {
  return {
    limits, seq: 0, droppedTotal: 0, deliveredTotal: 0, failedTotal: 0, records: new Map(), pending: new Map(),
    due: new SortedSet<NotificationRecord, DueKey>(compareByDue), finished: new Map(), lastOutcome: new Map(),
  };
}

/** The execution a run's event reports: the first one of the current attempt with the run's status, else the first. */
function reportedExecution(run: RunRecord): RunRecord['executions'][number] | undefined {
  const current = run.executions.filter((e) => e.attempt === run.attempt);
  return current.find((e) => e.status === run.status) ?? current[0];
}

function tail(text: string): string {
  if (utf8Bytes(text) <= L.NOTIFY_OUTPUT_TAIL_BYTES_MAX) return text;
  let start = Math.max(0, text.length - L.NOTIFY_OUTPUT_TAIL_BYTES_MAX);
  while (utf8Bytes(text.slice(start)) > L.NOTIFY_OUTPUT_TAIL_BYTES_MAX) start += 64;
  if ((text.charCodeAt(start) & 0xfc00) === 0xdc00) start += 1;
  return text.slice(start);
}

/** Records `event` of `run` for every target of `spec` that asked for it. */
function owe(state: NotifyState, spec: JobSpec, run: RunRecord, event: NotifyEvent, atMs: number): void {
  spec.notify.forEach((target, index) => {
    if (!target.on.includes(event)) return;
    const eventId = `${run.runId}:${event}:${index}`;
    if (state.records.has(eventId)) return;
    const execution = reportedExecution(run);
    state.seq += 1;
    const record: NotificationRecord = {
      eventId, seq: state.seq, event, jobId: run.jobId, runId: run.runId, target: index, url: target.url, createdAt: atMs,
      attempt: run.attempt, runStatus: run.status, scheduledAt: run.scheduledAt, finishedAt: run.finishedAt,
      node: execution?.node ?? null, exitCode: execution?.exitCode ?? null, outputTail: tail(execution?.output ?? ''),
      status: 'pending', attempts: 0, lastError: null, lastAttemptAt: null, nextAttemptAt: atMs,
    };
    addPending(state, record);
  });
}

function addPending(state: NotifyState, record: NotificationRecord): void {
  while (state.pending.size >= state.limits.pendingMax) {
    const oldest = state.pending.values().next();
    assert(oldest.done !== true, 'a full pending queue has an oldest record');
    state.droppedTotal += 1;
    finish(state, oldest.value, 'failed', `dropped: more than ${state.limits.pendingMax} deliveries were pending`);
  }
  state.records.set(record.eventId, record);
  state.pending.set(record.eventId, record);
  assert(state.due.add(record), 'a new notification is already due');
}

function finish(state: NotifyState, record: NotificationRecord, status: Exclude<NotifyDeliveryStatus, 'pending'>, error: string | null): void {
  assert(state.pending.delete(record.eventId) && state.due.delete(record), 'a finishing notification was pending');
  record.status = status;
  if (error !== null) record.lastError = error;
  if (status === 'delivered') state.deliveredTotal += 1;
  else state.failedTotal += 1;
  state.finished.set(record.eventId, record);
  while (state.finished.size > state.limits.finishedKeptMax) {
    const oldest = state.finished.keys().next();
    assert(oldest.done !== true, 'an over-full finished list has an oldest record');
    state.finished.delete(oldest.value);
    state.records.delete(oldest.value);
  }
}

/** A run was recorded skipped (fire): `missed` when the misfire policy dropped the instant, else `skipped`. */
export function notifySkipped(state: NotifyState, spec: JobSpec, run: RunRecord, atMs: number): void {
  if (spec.notify.length === 0) return;
  const missed = run.trigger === 'misfire' && (run.reason ?? '').startsWith('misfire');
  owe(state, spec, run, missed ? 'missed' : 'skipped', atMs);
}

/** The run's first attempt started (its first execution went running). */
export function notifyStarted(state: NotifyState, spec: JobSpec, run: RunRecord, atMs: number): void {
  if (spec.notify.length === 0 || run.attempt !== 1) return;
  owe(state, spec, run, 'started', atMs);
}

/**
 * The run reached a final status. An outcome that the scheduler will retry is not final yet
 * (api.md: events are sent once the run has its final status after all its retries).
 */
export function notifyFinal(state: NotifyState, spec: JobSpec, run: RunRecord, owesRetry: boolean, atMs: number): void {
  if (spec.notify.length === 0 || owesRetry) return;
  const status = run.status;
  if (status !== 'succeeded' && !BAD_OUTCOMES.has(status)) return;
  const event = NOTIFY_EVENTS.find((e) => e === status);
  assert(event !== undefined, 'a final run status is a notify event');
  // Recovery follows scheduled order: a run older than the newest recorded outcome changes nothing.
  const last = state.lastOutcome.get(run.jobId);
  const newest = last === undefined || run.scheduledAt >= last.scheduledAt;
  if (status === 'succeeded' && newest && last?.bad === true) owe(state, spec, run, 'recovered', atMs);
  owe(state, spec, run, event, atMs);
  if (newest) state.lastOutcome.set(run.jobId, { scheduledAt: run.scheduledAt, bad: BAD_OUTCOMES.has(status) });
}

/** A deleted job keeps its owed deliveries (they describe runs that happened) but not its recovery state. */
export function notifyJobDeleted(state: NotifyState, jobId: string): void {
  state.lastOutcome.delete(jobId);
}

function errorText(error: string | null): string | null {
  return error === null ? null : error.slice(0, L.NOTIFY_ERROR_CHARS_MAX);
}

function applyOneResult(state: NotifyState, r: NotifyResult): ApplyResult {
  const record = state.records.get(r.eventId);
  if (record === undefined) return noop(ERROR_CODES.NOTIFICATION_NOT_FOUND, `notification "${r.eventId}" is unknown or evicted`);
  if (record.status !== 'pending') return noop(ERROR_CODES.DUPLICATE_REPORT, `notification "${r.eventId}" is already ${record.status}`);
  record.attempts += 1;
  record.lastAttemptAt = r.attemptAt;
  if (r.outcome === 'delivered') {
    finish(state, record, 'delivered', null);
  } else if (r.outcome === 'failed') {
    finish(state, record, 'failed', errorText(r.error) ?? 'gave up');
  } else {
    // Out of the due index before its key changes.
    assert(state.due.delete(record), 'a pending notification is due');
    record.lastError = errorText(r.error);
    record.nextAttemptAt = Math.max(r.nextAttemptAt ?? r.attemptAt, r.attemptAt);
    state.due.add(record);
  }
  return { ok: true, kind: 'notification', notification: notificationView(record) };
}

export function applyNotifyResults(state: NotifyState, cmd: NotifyResultsCommand): ApplyResult {
  return { ok: true, kind: 'reports', results: cmd.results.map((r) => applyOneResult(state, r)) };
}

export function notificationView(record: NotificationRecord): NotificationRecord {
  return { ...record };
}

export type NotificationFilter = {
  readonly jobId?: string | null;
  readonly status?: NotifyDeliveryStatus | null;
};

/** Kept records newest first, filtered; `beforeSeq` continues a page. Bounded by the kept records. */
export function listNotifications(state: NotifyState, filter: NotificationFilter, beforeSeq: number, limit: number): { items: NotificationRecord[]; more: boolean } {
  const source = filter.status === 'pending' ? state.pending : state.records;
  const all = [...source.values()];
  const items: NotificationRecord[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    const record = all[i];
    assert(record !== undefined, 'a listed record exists');
    if (record.seq >= beforeSeq) continue;
    if (filter.jobId != null && record.jobId !== filter.jobId) continue;
    if (filter.status != null && record.status !== filter.status) continue;
    if (items.length === limit) return { items, more: true };
    items.push(notificationView(record));
  }
  return { items, more: false };
}

/** Pending records due at or before `nowMs`, earliest first, at most `limit`. */
export function dueNotifications(state: NotifyState, nowMs: number, limit: number): NotificationRecord[] {
  const out: NotificationRecord[] = [];
  for (const record of state.due.valuesAfter()) {
    if (out.length >= limit || record.nextAttemptAt > nowMs) break;
    out.push(notificationView(record));
  }
  return out;
}

// Snapshot rows: a new optional key of the snapshot's tail map; a snapshot without it
// restores an empty notification state.
export type NotifyRows = {
  readonly counters: readonly number[];
  readonly records: readonly unknown[][];
  /** Event ids of the finished records in finishing order: the order they are evicted in. */
  readonly finishedOrder: readonly string[];
  readonly lastOutcome: readonly unknown[][];
};

function recordRow(r: NotificationRecord): unknown[] {
  return [r.eventId, r.seq, r.event, r.jobId, r.runId, r.target, r.url, r.createdAt, r.attempt, r.runStatus, r.scheduledAt, r.finishedAt,
    r.node, r.exitCode, r.outputTail, r.status, r.attempts, r.lastError, r.lastAttemptAt, r.nextAttemptAt];
}

export function notifyRows(state: NotifyState): NotifyRows {
  return {
    counters: [state.seq, state.droppedTotal, state.deliveredTotal, state.failedTotal],
    records: [...state.records.values()].map(recordRow),
    finishedOrder: [...state.finished.keys()],
    lastOutcome: [...state.lastOutcome].map(([jobId, o]) => [jobId, o.scheduledAt, o.bad]),
  };
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isNullInt = (v: unknown): v is number | null => v === null || isInt(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNullStr = (v: unknown): v is string | null => v === null || isStr(v);
const EVENT_SET: ReadonlySet<unknown> = new Set(NOTIFY_EVENTS);
const STATUS_SET: ReadonlySet<unknown> = new Set(NOTIFY_DELIVERY_STATUSES);
const RUN_STATUS_SET: ReadonlySet<unknown> = new Set(RUN_STATUSES);
const isEvent = (v: unknown): v is NotifyEvent => EVENT_SET.has(v);
const isDelivery = (v: unknown): v is NotifyDeliveryStatus => STATUS_SET.has(v);
const isRunStatus = (v: unknown): v is RunRecord['status'] => RUN_STATUS_SET.has(v);

function restoreRecord(row: unknown, bad: (message: string) => Error): NotificationRecord {
  if (!Array.isArray(row) || row.length !== 20) throw bad('a notification row is malformed');
  const cells: readonly unknown[] = row;
  const [eventId, seq, event, jobId, runId, target, url, createdAt, attempt, runStatus, scheduledAt, finishedAt, node, exitCode, outputTail,
    status, attempts, lastError, lastAttemptAt, nextAttemptAt] = cells;
  if (!isStr(eventId) || !isInt(seq) || !isEvent(event) || !isStr(jobId) || !isStr(runId) || !isInt(target) || !isStr(url) || !isInt(createdAt)
    || !isInt(attempt) || !isRunStatus(runStatus) || !isInt(scheduledAt) || !isNullInt(finishedAt) || !isNullStr(node) || !isNullInt(exitCode)
    || !isStr(outputTail) || !isDelivery(status) || !isInt(attempts) || !isNullStr(lastError) || !isNullInt(lastAttemptAt) || !isInt(nextAttemptAt)) {
    throw bad('a notification is malformed');
  }
  return {
    eventId, seq, event, jobId, runId, target, url, createdAt, attempt, runStatus, scheduledAt, finishedAt, node, exitCode, outputTail,
    status, attempts, lastError, lastAttemptAt, nextAttemptAt,
  };
}

/** Restores the state from a snapshot's `notify` value (undefined: an older snapshot, empty state). */
export function restoreNotify(value: unknown, bad: (message: string) => Error, limits: NotifyLimits = NOTIFY_LIMITS): NotifyState {
  const state = createNotifyState(limits);
  if (value === undefined) return state;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('notify is not a map');
  const counters: unknown = Reflect.get(value, 'counters');
  const records: unknown = Reflect.get(value, 'records');
  const lastOutcome: unknown = Reflect.get(value, 'lastOutcome');
  const finishedOrder: unknown = Reflect.get(value, 'finishedOrder');
  if (!Array.isArray(counters) || counters.length !== 4 || !counters.every(isInt)) throw bad('notify counters are malformed');
  if (!Array.isArray(records) || !Array.isArray(lastOutcome) || !Array.isArray(finishedOrder)) throw bad('notify lists are malformed');
  const [seq = 0, dropped = 0, delivered = 0, failed = 0] = counters;
  state.seq = seq;
  state.droppedTotal = dropped;
  state.deliveredTotal = delivered;
  state.failedTotal = failed;
  let lastSeq = 0;
  for (const row of records) {
    const record = restoreRecord(row, bad);
    if (record.seq <= lastSeq || record.seq > state.seq || state.records.has(record.eventId)) throw bad(`notification ${record.eventId} is out of order`);
    lastSeq = record.seq;
    state.records.set(record.eventId, record);
    if (record.status === 'pending') {
      state.pending.set(record.eventId, record);
      state.due.add(record);
    }
  }
  for (const eventId of finishedOrder) {
    const record = typeof eventId === 'string' ? state.records.get(eventId) : undefined;
    if (record === undefined || record.status === 'pending' || state.finished.has(eventId)) throw bad('the finished order names an unknown record');
    state.finished.set(record.eventId, record);
  }
  if (state.finished.size + state.pending.size !== state.records.size) throw bad('a finished notification is missing from the finished order');
  for (const row of lastOutcome) {
    if (!Array.isArray(row) || row.length !== 3 || !isStr(row[0]) || !isInt(row[1]) || typeof row[2] !== 'boolean') throw bad('a recovery row is malformed');
    state.lastOutcome.set(row[0], { scheduledAt: row[1], bad: row[2] });
  }
  return state;
}
