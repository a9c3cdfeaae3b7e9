// The commands of the replicated log. Each carries `at`, the leader's clock when it proposed
// the command: apply never reads a clock of its own. checkCommand validates the shape of a
// decoded value, so garbage from the log becomes an error value, never a crash.
import { auditRecordProblem, tokenCommandProblem, type AuditRecord, type CreateTokenCommand, type RevokeTokenCommand, type TokenCommand } from '../access/index.js';
import { isMap, isOneOf } from '../guards/index.js';
import type { StoredSpec } from './stored-spec.js';
import * as L from './limits.js';
import {
  FINAL_EXECUTION_STATUSES, KILL_REASONS, QUEUE_PRIORITIES, TRIGGERS,
  type FinalExecutionStatus, type JobSpec, type KillReason, type Progress, type QueuePriority, type Trigger,
} from './types.js';

/**
 * Who did a write, for the audit log (api.md, "Audit"): set by the API node on the commands a
 * request proposes, absent on the commands the cluster makes itself (fires of schedules,
 * executor reports). Appended to the audit log only when the command is accepted.
 */
export type Audited = { readonly audit?: AuditRecord };

/**
 * A job created or replaced. `stored` (this release's proposers) is the spec validated and
 * packed where the request arrived (stored-spec.ts); `spec` (older entries, tests) is the
 * user's spec, validated and packed by apply.
 */
export type PutJobCommand = { readonly type: 'putJob'; readonly id: string; readonly at: number } & Audited
  & ({ readonly stored: StoredSpec } | { readonly spec: JobSpec });
/** Many jobs created or replaced in one entry, all or nothing (chime apply); each spec as in PutJobCommand. */
export type PutJobsCommand = {
  readonly type: 'putJobs'; readonly jobs: readonly ({ readonly id: string } & ({ readonly stored: StoredSpec } | { readonly spec: JobSpec }))[]; readonly at: number;
} & Audited;
export type DeleteJobCommand = { readonly type: 'deleteJob'; readonly id: string; readonly at: number } & Audited;
export type PauseJobCommand = { readonly type: 'pauseJob'; readonly id: string; readonly at: number } & Audited;
export type ResumeJobCommand = { readonly type: 'resumeJob'; readonly id: string; readonly at: number } & Audited;
/** A new API token (only its hash); the token fields are src/access's and checked there. */
export type CreateTokenEntry = CreateTokenCommand & { readonly at: number } & Audited;
export type RevokeTokenEntry = RevokeTokenCommand & { readonly at: number } & Audited;
/** An accepted write that is no command of the table (a member change, a leadership transfer): only its audit record. */
export type AuditCommand = { readonly type: 'audit'; readonly record: AuditRecord; readonly at: number };

export type Fire = {
  readonly jobId: string;
  readonly runId: string;
  readonly scheduledAt: number;
  readonly trigger: Trigger;
  /** Nodes chosen for attempt 1; empty for a skip and for a run of a queue job (a worker claims it). */
  readonly executors: readonly string[];
  /** A queue job's submission priority (default normal). */
  readonly priority?: QueuePriority | null;
  readonly notBefore?: number | null;
  readonly payload?: string | null;
  /** Idempotency key: the client's for manual runs, the upstream runId for `after` runs. */
  readonly key?: string | null;
  readonly outcome: 'run' | 'skip';
  readonly reason?: string | null;
  /** A manual run's requester (a token name), recorded as the run's triggeredBy. */
  readonly triggeredBy?: string | null;
};

/**
 * A manual fire that waits for capacity, recorded so that it outlives the leader that accepted
 * it: every leader proposes the table's waiting fires, with these very run ids, until a fire
 * with the run id is recorded (run, or skipped once it waited queuedFireWaitMs).
 */
export type QueuedManualFire = {
  readonly jobId: string; readonly runId: string; readonly scheduledAt: number; readonly payload: string | null; readonly key: string | null;
  readonly priority: QueuePriority | null; readonly triggeredBy: string | null;
};
export type QueueFiresCommand = { readonly type: 'queueFires'; readonly at: number; readonly fires: readonly QueuedManualFire[] };

export type FireCommand = { readonly type: 'fire'; readonly at: number; readonly fires: readonly Fire[] } & Audited;
export type RunStartedCommand = { readonly type: 'runStarted'; readonly runId: string; readonly attempt: number; readonly node: string; readonly at: number };
export type RunFinishedCommand = {
  readonly type: 'runFinished'; readonly runId: string; readonly attempt: number; readonly node: string; readonly at: number;
  readonly status: FinalExecutionStatus; readonly exitCode: number | null; readonly output: string; readonly outputTruncated: boolean;
  readonly error: string | null;
};
export type RunLostCommand = { readonly type: 'runLost'; readonly runId: string; readonly attempt: number; readonly node: string; readonly at: number };
export type RetryRunCommand = {
  readonly type: 'retryRun'; readonly runId: string; readonly attempt: number; readonly executors: readonly string[];
  readonly notBefore: number | null; readonly at: number;
};
/** One executor report inside runReports; the same meaning as runStarted / runFinished. */
export type StartedReport = { readonly kind: 'started'; readonly runId: string; readonly attempt: number; readonly node: string; readonly at: number };
export type FinishedReport = {
  readonly kind: 'finished'; readonly runId: string; readonly attempt: number; readonly node: string; readonly at: number;
  /** When the execution started, for a run whose started report was never sent (it ended first); else null. */
  readonly startedAt: number | null;
  readonly status: FinalExecutionStatus; readonly exitCode: number | null; readonly output: string; readonly outputTruncated: boolean;
  readonly error: string | null;
};
export type RunReport = StartedReport | FinishedReport;
/** Many executor reports in one entry, applied in order, each as its own command would be. */
export type RunReportsCommand = { readonly type: 'runReports'; readonly at: number; readonly reports: readonly RunReport[] };
export type KillRunCommand = { readonly type: 'killRun'; readonly runId: string; readonly reason: KillReason; readonly at: number } & Audited;

/**
 * One delivery attempt's outcome, decided by the leader's notifier: `delivered` (a 2xx),
 * `retry` (anything else, again at nextAttemptAt), `failed` (gave up after the retry window).
 */
export type NotifyResult = {
  readonly eventId: string;
  readonly outcome: 'delivered' | 'retry' | 'failed';
  readonly attemptAt: number;
  readonly error: string | null;
  readonly nextAttemptAt: number | null;
};
/** Many delivery outcomes in one entry, applied in order. */
export type NotifyResultsCommand = { readonly type: 'notifyResults'; readonly at: number; readonly results: readonly NotifyResult[] };
/**
 * A pull worker asks for up to `max` queued runs of `functions`. Apply picks them (priority,
 * then oldest), so the claim is decided by the log and answered from the apply result: two
 * workers never hold one attempt. An empty claim still records that the worker was seen.
 */
export type ClaimRunsCommand = {
  readonly type: 'claimRuns'; readonly worker: string; readonly node: string; readonly functions: readonly string[]; readonly max: number;
  readonly at: number;
};
export const CLAIM_REPORT_KINDS = ['heartbeat', 'complete', 'fail', 'expire'] as const;
export type ClaimReportKind = (typeof CLAIM_REPORT_KINDS)[number];
/**
 * What happens to a claimed attempt: the worker's heartbeat (renews the lease), complete or
 * fail, or the leader's `expire` once the lease ran out. Each names the attempt and its
 * holder; for an attempt the worker no longer holds, apply rejects with ATTEMPT_NOT_HELD.
 */
export type ClaimReportCommand = {
  readonly type: 'claimReport'; readonly kind: ClaimReportKind; readonly runId: string; readonly attempt: number; readonly worker: string;
  readonly at: number; readonly progress: Progress | null; readonly output: string; readonly result: string | null; readonly error: string | null;
  /** fail only: false when the failure is final (no automatic retry). */
  readonly retry: boolean;
};

export type Command =
  | PutJobCommand | PutJobsCommand | DeleteJobCommand | PauseJobCommand | ResumeJobCommand | FireCommand
  | RunStartedCommand | RunFinishedCommand | RunLostCommand | RetryRunCommand | KillRunCommand | RunReportsCommand
  | NotifyResultsCommand | QueueFiresCommand
  | ClaimRunsCommand | ClaimReportCommand
  | CreateTokenEntry | RevokeTokenEntry | AuditCommand;

export type CommandType = Command['type'];

type Raw = { readonly [field: string]: unknown };

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= L.TIME_MS_MAX;
}
function isShortString(v: unknown, charsMax: number): v is string {
  return typeof v === 'string' && v.length <= charsMax;
}
function isJobId(v: unknown): v is string {
  return typeof v === 'string' && L.JOB_ID_PATTERN.test(v);
}
function isRunId(v: unknown): v is string {
  return typeof v === 'string' && L.RUN_ID_PATTERN.test(v);
}
function isNode(v: unknown): v is string {
  return typeof v === 'string' && L.NODE_ID_PATTERN.test(v);
}
function isAttempt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= L.RETRY_MAX_MAX + 1;
}
function isWorker(v: unknown): v is string {
  return typeof v === 'string' && L.WORKER_ID_PATTERN.test(v);
}
function isFunctionName(v: unknown): v is string {
  return typeof v === 'string' && L.FUNCTION_NAME_PATTERN.test(v);
}
function isProgress(v: unknown): v is Progress {
  const count = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  return isMap(v) && hasOnly(v, ['done', 'total']) && count(v.done) && count(v.total);
}
function isNullable<T>(v: unknown, check: (x: unknown) => x is T): boolean {
  return v === undefined || v === null || check(v);
}
/** Executors: distinct node ids, at most EXECUTORS_MAX. */
export function isExecutorList(v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= L.EXECUTORS_MAX && v.every(isNode) && new Set(v).size === v.length;
}
function hasOnly(o: Raw, keys: readonly string[]): boolean {
  return Object.keys(o).every((k) => keys.includes(k));
}

const FIRE_KEYS = ['jobId', 'runId', 'scheduledAt', 'trigger', 'executors', 'priority', 'notBefore', 'payload', 'key', 'outcome', 'reason', 'triggeredBy'];
/** An actor name as the audit log keeps it. */
const ACTOR_CHARS_MAX = 64;

function fireProblem(f: unknown, i: number): string | null {
  if (!isMap(f)) return `fires[${i}] is not an object`;
  const o = f;
  if (!hasOnly(o, FIRE_KEYS)) return `fires[${i}] has unknown fields`;
  if (!isJobId(o.jobId) || !isRunId(o.runId) || !isTime(o.scheduledAt)) return `fires[${i}] needs jobId, runId and scheduledAt`;
  if (!isOneOf(TRIGGERS, o.trigger)) return `fires[${i}].trigger is invalid`;
  if (o.outcome !== 'run' && o.outcome !== 'skip') return `fires[${i}].outcome must be run or skip`;
  // A run fire with no executor is a queue job's (apply checks the job).
  if (!isExecutorList(o.executors)) return `fires[${i}].executors is invalid`;
  if (!isNullable(o.priority, (v): v is QueuePriority => isOneOf(QUEUE_PRIORITIES, v))) return `fires[${i}].priority is invalid`;
  if (!isNullable(o.notBefore, isTime)) return `fires[${i}].notBefore is invalid`;
  if (!isNullable(o.payload, (v): v is string => isShortString(v, L.PAYLOAD_BYTES_MAX))) return `fires[${i}].payload is invalid`;
  if (!isNullable(o.key, (v): v is string => isShortString(v, L.IDEMPOTENCY_KEY_CHARS_MAX))) return `fires[${i}].key is invalid`;
  if (!isNullable(o.reason, (v): v is string => isShortString(v, L.REASON_CHARS_MAX))) return `fires[${i}].reason is invalid`;
  if (!isNullable(o.triggeredBy, (v): v is string => isShortString(v, ACTOR_CHARS_MAX) && v !== '')) return `fires[${i}].triggeredBy is invalid`;
  return null;
}

const QUEUED_FIRE_KEYS = ['jobId', 'runId', 'scheduledAt', 'payload', 'key', 'priority', 'triggeredBy'];

function queuedFireProblem(f: unknown, i: number): string | null {
  if (!isMap(f)) return `fires[${i}] is not an object`;
  const o = f;
  if (!hasOnly(o, QUEUED_FIRE_KEYS)) return `fires[${i}] has unknown fields`;
  if (!isJobId(o.jobId) || !isRunId(o.runId) || !isTime(o.scheduledAt)) return `fires[${i}] needs jobId, runId and scheduledAt`;
  if (!isNullable(o.priority, (v): v is QueuePriority => isOneOf(QUEUE_PRIORITIES, v))) return `fires[${i}].priority is invalid`;
  if (!isNullable(o.payload, (v): v is string => isShortString(v, L.PAYLOAD_BYTES_MAX))) return `fires[${i}].payload is invalid`;
  if (!isNullable(o.key, (v): v is string => isShortString(v, L.IDEMPOTENCY_KEY_CHARS_MAX) && v !== '')) return `fires[${i}].key is invalid`;
  if (!isNullable(o.triggeredBy, (v): v is string => isShortString(v, ACTOR_CHARS_MAX) && v !== '')) return `fires[${i}].triggeredBy is invalid`;
  return null;
}

/** The token command inside a token entry: the entry without the table's own fields (createToken has no `at`). */
export function tokenCommandOf(entry: CreateTokenEntry | RevokeTokenEntry): TokenCommand {
  if (entry.type === 'revokeToken') return { type: 'revokeToken', id: entry.id, at: entry.at };
  const { audit: _audit, at: _at, ...command } = entry;
  return command;
}

/** Why a decoded value is not a command, or null when it is one. */
export function commandProblem(value: unknown): string | null {
  if (!isMap(value)) return 'not an object';
  const o = value;
  if (!isTime(o.at)) return 'missing or invalid at';
  if (o.audit !== undefined) {
    if (!AUDITED_TYPES.has(o.type)) return `${String(o.type).slice(0, 64)} carries no audit record`;
    const problem = auditRecordProblem(o.audit);
    if (problem !== null) return `audit: ${problem}`;
  }
  return shapeProblem(o);
}

/** Commands a request proposes, which may carry its audit record. */
const AUDITED_TYPES: ReadonlySet<unknown> = new Set(['putJob', 'putJobs', 'deleteJob', 'pauseJob', 'resumeJob', 'fire', 'killRun', 'createToken', 'revokeToken']);

function shapeProblem(o: Raw): string | null {
  switch (o.type) {
    case 'createToken': {
      const { audit: _audit, at: _at, ...command } = o;
      return tokenCommandProblem(command);
    }
    case 'revokeToken': {
      const { audit: _audit, ...command } = o;
      return tokenCommandProblem(command);
    }
    case 'audit':
      if (!hasOnly(o, ['type', 'record', 'at'])) return 'audit has unknown fields';
      return auditRecordProblem(o.record);
    case 'putJob':
      // The stored form is checked in full by apply (checkStoredSpec), which answers INVALID_SPEC.
      if (!hasOnly(o, ['type', 'id', 'spec', 'stored', 'at', 'audit'])) return 'putJob has unknown fields';
      if (!isJobId(o.id) || ('spec' in o) === ('stored' in o)) return 'putJob needs id and one of spec and stored';
      return 'stored' in o ? (Array.isArray(o.stored) ? null : 'putJob stored is a list') : (typeof o.spec === 'object' && o.spec !== null ? null : 'putJob spec is an object');
    case 'putJobs': {
      if (!hasOnly(o, ['type', 'jobs', 'at', 'audit'])) return 'putJobs has unknown fields';
      if (!Array.isArray(o.jobs) || o.jobs.length === 0 || o.jobs.length > L.JOBS_PER_APPLY_MAX) return `putJobs needs 1 to ${L.JOBS_PER_APPLY_MAX} jobs`;
      const bad = o.jobs.findIndex((j: unknown) => !isMap(j) || !hasOnly(j, ['id', 'spec', 'stored']) || !isJobId(j.id)
        || ('stored' in j ? 'spec' in j || !Array.isArray(j.stored) : typeof j.spec !== 'object' || j.spec === null));
      return bad < 0 ? null : `putJobs jobs[${bad}] needs id and one of spec and stored`;
    }
    case 'deleteJob': case 'pauseJob': case 'resumeJob':
      if (!hasOnly(o, ['type', 'id', 'at', 'audit'])) return `${o.type} has unknown fields`;
      return isJobId(o.id) ? null : `${o.type} needs a job id`;
    case 'fire': {
      if (!hasOnly(o, ['type', 'fires', 'at', 'audit'])) return 'fire has unknown fields';
      if (!Array.isArray(o.fires) || o.fires.length === 0 || o.fires.length > L.FIRES_PER_BATCH_MAX) return `fire needs 1 to ${L.FIRES_PER_BATCH_MAX} fires`;
      for (let i = 0; i < o.fires.length; i++) {
        const problem = fireProblem(o.fires[i], i);
        if (problem !== null) return problem;
      }
      return null;
    }
    case 'queueFires': {
      if (!hasOnly(o, ['type', 'fires', 'at'])) return 'queueFires has unknown fields';
      if (!Array.isArray(o.fires) || o.fires.length === 0 || o.fires.length > L.FIRES_PER_BATCH_MAX) return `queueFires needs 1 to ${L.FIRES_PER_BATCH_MAX} fires`;
      for (let i = 0; i < o.fires.length; i++) {
        const problem = queuedFireProblem(o.fires[i], i);
        if (problem !== null) return problem;
      }
      return null;
    }
    case 'runReports': {
      if (!hasOnly(o, ['type', 'reports', 'at'])) return 'runReports has unknown fields';
      if (!Array.isArray(o.reports) || o.reports.length === 0 || o.reports.length > L.REPORTS_PER_BATCH_MAX) return `runReports needs 1 to ${L.REPORTS_PER_BATCH_MAX} reports`;
      for (let i = 0; i < o.reports.length; i++) {
        const problem = reportProblem(o.reports[i]);
        if (problem !== null) return `reports[${i}]: ${problem}`;
      }
      return null;
    }
    case 'notifyResults': {
      if (!hasOnly(o, ['type', 'results', 'at'])) return 'notifyResults has unknown fields';
      if (!Array.isArray(o.results) || o.results.length === 0 || o.results.length > L.NOTIFY_RESULTS_PER_BATCH_MAX) return `notifyResults needs 1 to ${L.NOTIFY_RESULTS_PER_BATCH_MAX} results`;
      for (let i = 0; i < o.results.length; i++) {
        const problem = notifyResultProblem(o.results[i]);
        if (problem !== null) return `results[${i}]: ${problem}`;
      }
      return null;
    }
    default:
      return runCommandProblem(o);
  }
}

const NOTIFY_RESULT_KEYS = ['eventId', 'outcome', 'attemptAt', 'error', 'nextAttemptAt'];
const NOTIFY_OUTCOMES = ['delivered', 'retry', 'failed'] as const;
/** Event ids are `runId:event:target`. */
const EVENT_ID_CHARS_MAX = L.RUN_ID_CHARS_MAX + 32;

function notifyResultProblem(r: unknown): string | null {
  if (!isMap(r)) return 'not an object';
  const o = r;
  if (!hasOnly(o, NOTIFY_RESULT_KEYS)) return 'a notify result has unknown fields';
  if (!isShortString(o.eventId, EVENT_ID_CHARS_MAX) || o.eventId === '') return 'eventId is invalid';
  if (!isOneOf(NOTIFY_OUTCOMES, o.outcome)) return 'outcome must be delivered, retry or failed';
  if (!isTime(o.attemptAt)) return 'attemptAt is invalid';
  if (!isNullable(o.nextAttemptAt, isTime)) return 'nextAttemptAt is invalid';
  return isNullable(o.error, (v): v is string => isShortString(v, 4 * L.NOTIFY_ERROR_CHARS_MAX)) ? null : 'error is invalid';
}

const STARTED_REPORT_KEYS = ['kind', 'runId', 'attempt', 'node', 'at'];
const FINISHED_REPORT_KEYS = [...STARTED_REPORT_KEYS, 'startedAt', 'status', 'exitCode', 'output', 'outputTruncated', 'error'];

/** A report is checked as the command it stands for (without copying it: batches are checked on every replica). */
function reportProblem(r: unknown): string | null {
  if (!isMap(r)) return 'not an object';
  const o = r;
  if (!isTime(o.at)) return 'missing or invalid at';
  if (o.kind === 'started') {
    if (!hasOnly(o, STARTED_REPORT_KEYS)) return 'a started report has unknown fields';
    return isRunId(o.runId) && isAttempt(o.attempt) && isNode(o.node) ? null : 'a started report needs runId, attempt and node';
  }
  if (o.kind !== 'finished') return 'kind must be started or finished';
  if (!hasOnly(o, FINISHED_REPORT_KEYS)) return 'a finished report has unknown fields';
  if (o.startedAt !== null && !isTime(o.startedAt)) return 'startedAt is invalid';
  return finishedProblem(o, 'a finished report', '');
}

/** The fields runFinished and a finished report share. */
function finishedProblem(o: Raw, what: string, field: string): string | null {
  if (!isRunId(o.runId) || !isAttempt(o.attempt) || !isNode(o.node)) return `${what} needs runId, attempt and node`;
  if (!isOneOf(FINAL_EXECUTION_STATUSES, o.status)) return `${field}status is invalid`;
  if (!isNullable(o.exitCode, (v): v is number => typeof v === 'number' && Number.isSafeInteger(v))) return `${field}exitCode is invalid`;
  if (typeof o.output !== 'string' || o.output.length > 4 * L.OUTPUT_BYTES_MAX || typeof o.outputTruncated !== 'boolean') return `${field}output is invalid`;
  return isNullable(o.error, (v): v is string => isShortString(v, 4 * L.ERROR_CHARS_MAX)) ? null : `${field}error is invalid`;
}

function runCommandProblem(o: Raw): string | null {
  switch (o.type) {
    case 'runStarted': case 'runLost':
      if (!hasOnly(o, ['type', 'runId', 'attempt', 'node', 'at'])) return `${o.type} has unknown fields`;
      return isRunId(o.runId) && isAttempt(o.attempt) && isNode(o.node) ? null : `${o.type} needs runId, attempt and node`;
    case 'runFinished':
      if (!hasOnly(o, ['type', 'runId', 'attempt', 'node', 'at', 'status', 'exitCode', 'output', 'outputTruncated', 'error'])) return 'runFinished has unknown fields';
      return finishedProblem(o, 'runFinished', 'runFinished.');
    case 'retryRun':
      // No executors: a queue run goes back to its queue (apply checks the run).
      if (!hasOnly(o, ['type', 'runId', 'attempt', 'executors', 'notBefore', 'at'])) return 'retryRun has unknown fields';
      if (!isRunId(o.runId) || !isAttempt(o.attempt) || !isExecutorList(o.executors)) return 'retryRun needs runId, attempt and executors';
      return isNullable(o.notBefore, isTime) ? null : 'retryRun.notBefore is invalid';
    case 'killRun':
      if (!hasOnly(o, ['type', 'runId', 'reason', 'at', 'audit'])) return 'killRun has unknown fields';
      return isRunId(o.runId) && isOneOf(KILL_REASONS, o.reason) ? null : 'killRun needs runId and reason';
    case 'claimRuns':
      if (!hasOnly(o, ['type', 'worker', 'node', 'functions', 'max', 'at'])) return 'claimRuns has unknown fields';
      if (!isWorker(o.worker) || !isNode(o.node)) return 'claimRuns needs worker and node';
      if (!Array.isArray(o.functions) || o.functions.length === 0 || o.functions.length > L.CLAIM_FUNCTIONS_MAX || !o.functions.every(isFunctionName)) {
        return `claimRuns needs 1 to ${L.CLAIM_FUNCTIONS_MAX} function names`;
      }
      return typeof o.max === 'number' && Number.isSafeInteger(o.max) && o.max >= 1 && o.max <= L.CLAIM_ITEMS_MAX ? null : `claimRuns.max must be 1 to ${L.CLAIM_ITEMS_MAX}`;
    case 'claimReport':
      return claimReportProblem(o);
    default:
      return `unknown command type ${JSON.stringify(String(o.type)).slice(0, 64)}`;
  }
}

const CLAIM_REPORT_KEYS = ['type', 'kind', 'runId', 'attempt', 'worker', 'at', 'progress', 'output', 'result', 'error', 'retry'];

function claimReportProblem(o: Raw): string | null {
  if (!hasOnly(o, CLAIM_REPORT_KEYS)) return 'claimReport has unknown fields';
  if (!isOneOf(CLAIM_REPORT_KINDS, o.kind)) return 'claimReport.kind is invalid';
  if (!isRunId(o.runId) || !isAttempt(o.attempt) || !isWorker(o.worker)) return 'claimReport needs runId, attempt and worker';
  if (o.progress !== null && !isProgress(o.progress)) return 'claimReport.progress is invalid';
  // Sizes are bounded in characters here (bytes are checked where the request enters).
  if (typeof o.output !== 'string' || o.output.length > L.OUTPUT_CHUNK_BYTES_MAX) return 'claimReport.output is invalid';
  if (o.result !== null && !isShortString(o.result, L.RESULT_BYTES_MAX)) return 'claimReport.result is invalid';
  if (o.error !== null && !isShortString(o.error, 4 * L.ERROR_CHARS_MAX)) return 'claimReport.error is invalid';
  return typeof o.retry === 'boolean' ? null : 'claimReport.retry is invalid';
}
