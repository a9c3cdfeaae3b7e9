// What apply answers. Rejections carry a stable code; no-ops (a duplicate fire, a report for
// an old attempt) are successes that changed nothing, so retried proposals settle quietly.
import type { TokenView } from '../access/index.js';
import type { ErrorCode } from './errors.js';
import type { FieldError } from './validate-helpers.js';
import type { Job, NotificationRecord, RunRecord } from './types.js';

/** One job of a putJobs entry: `configured` changed a stored job, `unchanged` left it as it was. */
export type AppliedJob = { readonly id: string; readonly outcome: 'created' | 'configured' | 'unchanged'; readonly job: Job };

export type Rejected = { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly errors?: readonly FieldError[] };

export type FireOutcome =
  /** A new record: `run` when it is to execute, `skipped` when recorded as skipped. */
  | { readonly jobId: string; readonly runId: string; readonly status: 'run' | 'skipped'; readonly reason?: string }
  /** Already recorded (same instant, same runId, or same idempotency key): `runId` is the existing run when known. */
  | { readonly jobId: string; readonly runId: string; readonly status: 'duplicate' }
  | { readonly jobId: string; readonly runId: string; readonly status: 'rejected'; readonly code: ErrorCode; readonly message: string };

/** One fire of queueFires: `queued` is now recorded waiting; `duplicate` names the run or waiting fire that already holds its id or key. */
export type QueueFireOutcome =
  | { readonly jobId: string; readonly runId: string; readonly status: 'queued' | 'duplicate' }
  | { readonly jobId: string; readonly runId: string; readonly status: 'rejected'; readonly code: ErrorCode; readonly message: string };

export type ApplyResult =
  | Rejected
  | { readonly ok: true; readonly kind: 'job'; readonly created: boolean; readonly job: Job }
  /**
   * A job change no caller on this node waits for (apply's `answered` false): the same change,
   * without the copy of the job only a waiting caller would read.
   */
  | { readonly ok: true; readonly kind: 'jobUnread'; readonly created: boolean }
  | { readonly ok: true; readonly kind: 'deleted'; readonly id: string; readonly activeRunIds: readonly string[] }
  | { readonly ok: true; readonly kind: 'fire'; readonly fires: readonly FireOutcome[] }
  | { readonly ok: true; readonly kind: 'queuedFires'; readonly fires: readonly QueueFireOutcome[] }
  | { readonly ok: true; readonly kind: 'run'; readonly run: RunRecord }
  /** One delivery outcome of notifyResults applied. */
  | { readonly ok: true; readonly kind: 'notification'; readonly notification: NotificationRecord }
  /** claimRuns: the runs the worker now holds (their current attempt), best first; empty when none was due. */
  | { readonly ok: true; readonly kind: 'claimed'; readonly runs: readonly RunRecord[] }
  /** runReports and notifyResults: one result per item, in order. */
  | { readonly ok: true; readonly kind: 'reports'; readonly results: readonly ApplyResult[] }
  /** putJobs: what each job's entry did, in the command's order. */
  | { readonly ok: true; readonly kind: 'jobs'; readonly jobs: readonly AppliedJob[] }
  | { readonly ok: true; readonly kind: 'noop'; readonly code: ErrorCode; readonly message: string }
  /** createToken: `created` is false when the same token was already there (a re-proposal, the second bootstrap node). */
  | { readonly ok: true; readonly kind: 'tokenCreated'; readonly created: boolean; readonly token: TokenView }
  | { readonly ok: true; readonly kind: 'tokenRevoked'; readonly token: TokenView }
  /** An audit command: the record was appended. */
  | { readonly ok: true; readonly kind: 'audited' }
  /** The entry was not a command (a leader's empty entry, a membership change). */
  | { readonly ok: true; readonly kind: 'none' };

export function rejected(code: ErrorCode, message: string, errors?: readonly FieldError[]): Rejected {
  return errors === undefined ? { ok: false, code, message } : { ok: false, code, message, errors };
}

export function noop(code: ErrorCode, message: string): ApplyResult {
  return { ok: true, kind: 'noop', code, message };
}
