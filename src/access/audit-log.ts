// The audit log (api.md, "Audit"): every accepted write as {at, actor, method, path, target},
// held in the replicated state as a bounded ring (oldest dropped), listed newest first.
// Deterministic like the rest of the state machine: `at` comes from the command, entries are
// numbered by a sequence that only append advances, and the snapshot is plain arrays.
import { assert, itemAt } from './assert.js';
import { refused, type Refused } from './codes.js';
import { isOneOf, isRecord } from '../guards/index.js';
import { ROUTE_METHODS } from './routes.js';

export type AuditRecord = {
  /** The proposer's clock when the write was accepted (ms since the epoch). */
  readonly at: number;
  /** The principal's name: a token name, or `anonymous` in a cluster without tokens. */
  readonly actor: string;
  readonly method: string;
  /** The request path without its query. */
  readonly path: string;
  /** What the write was about (a job id, run id, token id, member id), or null. */
  readonly target: string | null;
  /**
   * The request's write id, named once by the node the client reached, and on a re-send of it
   * (its first try's outcome was lost with a leader) an index its first try's entry lies
   * beyond. The job table takes a write id only once (src/statemachine/write-ids.ts); the
   * audit log does not keep them.
   */
  readonly writeId?: string;
  readonly retrySince?: number;
};

/** A record with its place in the log; `seq` orders entries and makes cursors stable. */
export type AuditEntry = AuditRecord & { readonly seq: number };

export const AUDIT_ENTRIES_DEFAULT = 10_000;
export const AUDIT_PATH_CHARS_MAX = 1024;
export const AUDIT_TARGET_CHARS_MAX = 256;
export const AUDIT_ACTOR_CHARS_MAX = 64;
export const WRITE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
export const AUDIT_LIST_LIMIT_DEFAULT = 100;
export const AUDIT_LIST_LIMIT_MAX = 1000;
const TIME_MS_MAX = 253402300799999;

export type AuditLimits = { readonly entriesMax: number };
export const DEFAULT_AUDIT_LIMITS: AuditLimits = Object.freeze({ entriesMax: AUDIT_ENTRIES_DEFAULT });

/** [at, actor, method, path, target], oldest first; the first row's seq is nextSeq - rows.length. */
export type AuditRow = readonly [number, string, string, string, string | null];
export type AuditSnapshot = { readonly v: 1; readonly nextSeq: number; readonly rows: readonly AuditRow[] };

export type AuditPage = { readonly ok: true; readonly items: AuditEntry[]; readonly nextCursor: string | null };

/** A value as an audit record, rebuilt from its checked fields, or why it is not one. */
function readAuditRecord(value: unknown): { readonly ok: true; readonly record: AuditRecord } | { readonly ok: false; readonly problem: string } {
  if (!isRecord(value)) return { ok: false, problem: 'not an object' };
  const { at, actor, method, path, target } = value;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0 || at > TIME_MS_MAX) return { ok: false, problem: 'at is invalid' };
  if (typeof actor !== 'string' || actor.length === 0 || actor.length > AUDIT_ACTOR_CHARS_MAX) return { ok: false, problem: 'actor is invalid' };
  if (typeof method !== 'string' || !isOneOf(ROUTE_METHODS, method)) return { ok: false, problem: 'method is invalid' };
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > AUDIT_PATH_CHARS_MAX) return { ok: false, problem: 'path is invalid' };
  if (target !== null && (typeof target !== 'string' || target.length > AUDIT_TARGET_CHARS_MAX)) return { ok: false, problem: 'target is invalid' };
  const { writeId, retrySince } = value;
  if (writeId !== undefined && (typeof writeId !== 'string' || !WRITE_ID_PATTERN.test(writeId))) return { ok: false, problem: 'writeId is invalid' };
  if (retrySince !== undefined && (typeof retrySince !== 'number' || !Number.isSafeInteger(retrySince) || retrySince < 0 || writeId === undefined)) {
    return { ok: false, problem: 'retrySince is invalid' };
  }
  return { ok: true, record: { at, actor, method, path, target } };
}

/** Why a value is not an audit record, or null. The state machine checks commands with it before apply. */
export function auditRecordProblem(value: unknown): string | null {
  const read = readAuditRecord(value);
  return read.ok ? null : read.problem;
}

/**
 * Invariants: size <= entriesMax; the entries held are exactly seqs
 * [nextSeq - size, nextSeq), oldest at `head`; seqs start at 1 and never repeat.
 */
export class AuditLog {
  private readonly ring: (AuditRecord | undefined)[];
  private head = 0;
  private count = 0;
  private next = 1;

  private constructor(readonly limits: AuditLimits) {
    assert(Number.isSafeInteger(limits.entriesMax) && limits.entriesMax >= 1, 'entriesMax must be a positive integer');
    this.ring = new Array<AuditRecord | undefined>(limits.entriesMax);
  }

  static create(limits: AuditLimits = DEFAULT_AUDIT_LIMITS): AuditLog {
    return new AuditLog(limits);
  }

  /**
   * Rebuilds a log from snapshot(). Rows beyond entriesMax keep only the newest, as appending
   * them would have, so a smaller limit in a newer version still restores.
   */
  static restore(value: unknown, limits: AuditLimits = DEFAULT_AUDIT_LIMITS): { readonly ok: true; readonly log: AuditLog } | Refused<'INVALID_SNAPSHOT'> {
    if (!isRecord(value) || value['v'] !== 1) return refused('INVALID_SNAPSHOT', 'audit snapshot: not version 1');
    const { nextSeq, rows } = value;
    if (!Array.isArray(rows) || typeof nextSeq !== 'number' || !Number.isSafeInteger(nextSeq) || nextSeq < rows.length + 1) {
      return refused('INVALID_SNAPSHOT', 'audit snapshot: rows or nextSeq are invalid');
    }
    const log = new AuditLog(limits);
    log.next = nextSeq - rows.length;
    for (let i = 0; i < rows.length; i++) {
      const row: unknown = rows[i];
      if (!Array.isArray(row) || row.length !== 5) return refused('INVALID_SNAPSHOT', `audit snapshot: row ${i} is not a 5-tuple`);
      const tuple: readonly unknown[] = row;
      const [at, actor, method, path, target] = tuple;
      const read = readAuditRecord({ at, actor, method, path, target });
      if (!read.ok) return refused('INVALID_SNAPSHOT', `audit snapshot: row ${i}: ${read.problem}`);
      log.push(read.record);
    }
    assert(log.next === nextSeq, 'audit restore ends at nextSeq');
    return { ok: true, log };
  }

  snapshot(): AuditSnapshot {
    const rows: AuditRow[] = [];
    for (let i = 0; i < this.count; i++) {
      const r = itemAt(this.ring, (this.head + i) % this.limits.entriesMax);
      rows.push([r.at, r.actor, r.method, r.path, r.target]);
    }
    return { v: 1, nextSeq: this.next, rows };
  }

  get size(): number {
    return this.count;
  }

  /** The seq the next append gets. */
  get nextSeq(): number {
    return this.next;
  }

  /** Appends a record (the oldest drops out when full); a malformed one is refused, not thrown. */
  append(record: AuditRecord): { readonly ok: true; readonly seq: number } | Refused<'INVALID_AUDIT_RECORD'> {
    // The record is checked (callers may hold a value decoded from the log) and copied field by field.
    const read = readAuditRecord(record);
    if (!read.ok) return refused('INVALID_AUDIT_RECORD', read.problem);
    const seq = this.next;
    this.push(read.record);
    return { ok: true, seq };
  }

  private push(record: AuditRecord): void {
    const capacity = this.limits.entriesMax;
    if (this.count === capacity) {
      this.ring[this.head] = record;
      this.head = (this.head + 1) % capacity;
    } else {
      this.ring[(this.head + this.count) % capacity] = record;
      this.count++;
    }
    this.next++;
  }

  /** Newest first. The cursor is the seq of the last entry of the previous page, so appends between pages shift nothing. */
  list(options: { readonly limit?: number; readonly cursor?: string | null } = {}): AuditPage | Refused<'INVALID_CURSOR'> {
    let from = this.next - 1;
    if (options.cursor !== undefined && options.cursor !== null) {
      const m = /^a1\.(\d{1,15})$/.exec(options.cursor);
      if (m === null) return refused('INVALID_CURSOR', 'invalid cursor');
      from = Math.min(from, Number(m[1]) - 1);
    }
    const limit = options.limit === undefined || !Number.isFinite(options.limit) ? AUDIT_LIST_LIMIT_DEFAULT : Math.min(AUDIT_LIST_LIMIT_MAX, Math.max(1, Math.floor(options.limit)));
    const oldest = this.next - this.count;
    const items: AuditEntry[] = [];
    for (let seq = from; seq >= oldest && items.length < limit; seq--) {
      const r = itemAt(this.ring, (this.head + (seq - oldest)) % this.limits.entriesMax);
      items.push({ seq, at: r.at, actor: r.actor, method: r.method, path: r.path, target: r.target });
    }
    const last = items[items.length - 1];
    return { ok: true, items, nextCursor: last !== undefined && last.seq > oldest ? `a1.${last.seq}` : null };
  }
}
