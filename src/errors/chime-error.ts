// The one error style of chime: a ChimeError carries a stable code from ERROR_CODES. The HTTP
// layer maps each code to a status in one table (src/api/status-by-code.ts); everything else
// switches on the code, never on message text. Broken invariants are AssertionErrors (a bug,
// the process dies), never ChimeErrors: bad input and unavailability are not bugs.

/** Every stable error code, grouped by who raises it. */
export const ERROR_CODES = [
  // Raft and the node runtime: where the leader is, what the log could not take.
  'NOT_LEADER', 'NO_LEADER', 'PROPOSALS_FULL', 'PROPOSAL_DROPPED', 'LEADERSHIP_LOST', 'TIMEOUT',
  'TRANSFER_IN_PROGRESS', 'CONF_CHANGE_PENDING', 'CONF_CHANGE_INVALID', 'READS_FULL', 'SHUTTING_DOWN', 'STARTING',
  // Forwarding a write to the leader: too many on their way, the answer can no longer come, or
  // its client hung up (never sent: there is nobody to receive it).
  'FORWARDS_FULL', 'OUTCOME_UNKNOWN', 'CLIENT_GONE',
  // The job table's apply results and queries.
  'INVALID_COMMAND', 'INVALID_SPEC', 'JOB_NOT_FOUND', 'TOO_MANY_JOBS', 'RUN_NOT_FOUND', 'RUN_EXISTS', 'RUN_NOT_ACTIVE',
  'RUN_NOT_RETRYABLE', 'ATTEMPT_MISMATCH', 'RETRY_LIMIT', 'NOT_DUE', 'ACTIVE_RUNS_FULL', 'STALE_ATTEMPT', 'DUPLICATE_REPORT',
  'NOT_AN_EXECUTOR', 'INVALID_CURSOR', 'INVALID_SNAPSHOT', 'NOTIFICATION_NOT_FOUND', 'ATTEMPT_NOT_HELD', 'WRITE_REPEATED',
  // Notifications and run output.
  'NOTIFY_NOT_CONFIGURED', 'NO_NOTIFY_TARGETS', 'OUTPUT_READERS_FULL', 'OUTPUT_UNAVAILABLE',
  // The leader's scheduler.
  'QUEUE_FULL', 'WAITERS_FULL', 'FUNCTION_QUEUE_FULL', 'WORKER_CLAIMS_FULL', 'INVALID_INPUT', 'FIRE_REJECTED',
  // Durable storage (fatal to the node; never an answer to a client's mistake).
  'FORMAT_UNKNOWN', 'CORRUPT', 'FAILED', 'CLOSED', 'STORAGE_QUEUE_FULL', 'DATA_DIR_LOCKED',
  // The HTTP edge: requests that are malformed, misrouted or too large.
  'INVALID_REQUEST', 'INVALID_JOB_ID', 'INVALID_RUN_ID', 'MALFORMED_JSON', 'UNSUPPORTED_MEDIA_TYPE', 'BODY_TOO_LARGE',
  'ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED', 'MEMBER_NOT_FOUND', 'INTERNAL',
  // Access control (src/access's ACCESS_STATUS_BY_CODE gives their statuses; INVALID_CURSOR and
  // INVALID_SNAPSHOT are shared with the job table above).
  'TOKEN_MISSING', 'TOKEN_MALFORMED', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_IN_QUERY', 'FORBIDDEN', 'FOREIGN_ORIGIN',
  'HOST_NOT_ALLOWED', 'AUTH_NOT_READY', 'INVALID_TOKEN_COMMAND', 'INVALID_TOKEN_REQUEST', 'TOKEN_EXISTS', 'TOKEN_NAME_TAKEN',
  'TOKEN_NOT_FOUND', 'TOO_MANY_TOKENS', 'LAST_ADMIN_TOKEN', 'FIRST_TOKEN_NOT_ADMIN', 'BOOTSTRAP_TOKEN_INVALID', 'INVALID_SECRET',
  'SECRETS_KEY_TOO_SHORT', 'SECRET_MALFORMED', 'SECRET_KEY_MISMATCH', 'SECRET_TAMPERED', 'INVALID_AUDIT_RECORD', 'TOO_MANY_IN_FLIGHT',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** One invalid field of an input, by its path (`executor.command`, `retry.max`). */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export interface ChimeErrorDetails {
  /** Who this node believes leads, so a caller can go there. */
  readonly leader?: string | null;
  /** Field paths of invalid input. */
  readonly errors?: readonly FieldError[];
  readonly cause?: unknown;
}

export class ChimeError extends Error {
  readonly code: ErrorCode;
  readonly leader: string | null;
  readonly errors: readonly FieldError[];

  constructor(code: ErrorCode, message: string, details: ChimeErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ChimeError';
    this.code = code;
    this.leader = details.leader ?? null;
    this.errors = details.errors ?? [];
  }
}

export function isChimeError(error: unknown, ...codes: readonly ErrorCode[]): error is ChimeError {
  return error instanceof ChimeError && (codes.length === 0 || codes.includes(error.code));
}

/** The leader is elsewhere (NOT_LEADER with its id) or unknown (NO_LEADER). */
export function notLeader(leader: string | null): ChimeError {
  return leader === null ? new ChimeError('NO_LEADER', 'no leader is known right now') : new ChimeError('NOT_LEADER', `the leader is ${leader}`, { leader });
}
