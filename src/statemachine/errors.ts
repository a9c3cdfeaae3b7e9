// Stable error codes of apply results and queries (a part of src/errors' closed list). The
// API maps them to HTTP statuses in its one table.
import type { ErrorCode } from '../errors/index.js';

export const ERROR_CODES = {
  INVALID_COMMAND: 'INVALID_COMMAND',
  INVALID_SPEC: 'INVALID_SPEC',
  JOB_NOT_FOUND: 'JOB_NOT_FOUND',
  TOO_MANY_JOBS: 'TOO_MANY_JOBS',
  RUN_NOT_FOUND: 'RUN_NOT_FOUND',
  RUN_EXISTS: 'RUN_EXISTS',
  RUN_NOT_ACTIVE: 'RUN_NOT_ACTIVE',
  RUN_NOT_RETRYABLE: 'RUN_NOT_RETRYABLE',
  ATTEMPT_MISMATCH: 'ATTEMPT_MISMATCH',
  RETRY_LIMIT: 'RETRY_LIMIT',
  NOT_DUE: 'NOT_DUE',
  ACTIVE_RUNS_FULL: 'ACTIVE_RUNS_FULL',
  STALE_ATTEMPT: 'STALE_ATTEMPT',
  DUPLICATE_REPORT: 'DUPLICATE_REPORT',
  NOT_AN_EXECUTOR: 'NOT_AN_EXECUTOR',
  ATTEMPT_NOT_HELD: 'ATTEMPT_NOT_HELD',
  INVALID_CURSOR: 'INVALID_CURSOR',
  INVALID_SNAPSHOT: 'INVALID_SNAPSHOT',
} as const satisfies Record<string, ErrorCode>;

export type { ErrorCode };
