import { ACCESS_STATUS_BY_CODE, type AccessCode } from '../access/index.js';
import type { ErrorCode } from '../errors/index.js';

/** Every code access control answers with is one of chime's codes: this fails to compile otherwise. */
const ACCESS_CODES_ARE_ERROR_CODES: [Exclude<AccessCode, ErrorCode>] extends [never] ? true : false = true;
void ACCESS_CODES_ARE_ERROR_CODES;

/**
 * The one table from error code to HTTP status. A new code does not compile until it is here.
 * Access control's statuses come from its own table; the two codes it shares with the job
 * table (INVALID_CURSOR, INVALID_SNAPSHOT) keep the job table's status, listed below it.
 */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  ...ACCESS_STATUS_BY_CODE,
  NOT_LEADER: 503,
  NO_LEADER: 503,
  PROPOSALS_FULL: 429,
  PROPOSAL_DROPPED: 503,
  LEADERSHIP_LOST: 503,
  TIMEOUT: 504,
  TRANSFER_IN_PROGRESS: 503,
  CONF_CHANGE_PENDING: 409,
  CONF_CHANGE_INVALID: 409,
  READS_FULL: 429,
  SHUTTING_DOWN: 503,
  STARTING: 503,
  FORWARDS_FULL: 429,
  OUTCOME_UNKNOWN: 503,
  // nginx's "client closed request": only counted, since no one is left to read it.
  CLIENT_GONE: 499,
  INVALID_COMMAND: 400,
  INVALID_SPEC: 400,
  JOB_NOT_FOUND: 404,
  TOO_MANY_JOBS: 409,
  RUN_NOT_FOUND: 404,
  RUN_EXISTS: 409,
  RUN_NOT_ACTIVE: 409,
  RUN_NOT_RETRYABLE: 409,
  ATTEMPT_MISMATCH: 409,
  RETRY_LIMIT: 409,
  NOT_DUE: 409,
  ACTIVE_RUNS_FULL: 409,
  STALE_ATTEMPT: 409,
  DUPLICATE_REPORT: 409,
  NOT_AN_EXECUTOR: 409,
  ATTEMPT_NOT_HELD: 409,
  WRITE_REPEATED: 409,
  INVALID_CURSOR: 400,
  INVALID_SNAPSHOT: 400,
  NOTIFICATION_NOT_FOUND: 404,
  NOTIFY_NOT_CONFIGURED: 409,
  NO_NOTIFY_TARGETS: 409,
  OUTPUT_READERS_FULL: 429,
  OUTPUT_UNAVAILABLE: 503,
  QUEUE_FULL: 429,
  WAITERS_FULL: 429,
  FUNCTION_QUEUE_FULL: 429,
  WORKER_CLAIMS_FULL: 429,
  INVALID_INPUT: 400,
  FIRE_REJECTED: 409,
  FORMAT_UNKNOWN: 500,
  CORRUPT: 500,
  FAILED: 500,
  CLOSED: 503,
  STORAGE_QUEUE_FULL: 503,
  DATA_DIR_LOCKED: 500,
  INVALID_REQUEST: 400,
  INVALID_JOB_ID: 400,
  INVALID_RUN_ID: 400,
  MALFORMED_JSON: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BODY_TOO_LARGE: 413,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  MEMBER_NOT_FOUND: 404,
  INTERNAL: 500,
};
