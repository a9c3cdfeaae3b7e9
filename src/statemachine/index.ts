// Public surface of the job table. Other folders import from here only.
export * from './types.js';
export * from './limits.js';
export * from './errors.js';
export type * from './commands.js';
export type { AppliedJob, ApplyResult, FireOutcome, Rejected } from './results.js';
export { encodeCommand, decodeCommand } from './codec.js';
export { commandProblem, CLAIM_REPORT_KINDS } from './commands.js';
export { ReplicatedJobs, type AppliedListener, type LogEntry } from './replicated-jobs.js';
export { JobTable, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, type FunctionSummary, type ListOptions, type Page, type WorkerSummary } from './table.js';
export { SNAPSHOT_FORMAT, SNAPSHOT_VERSION } from './snapshot.js';
export { drainSteps } from './snapshot-jobs.js';
export { validateJobSpec, isValidJobId, formatFieldErrors, READ_ONLY_JOB_FIELDS, type FieldError, type SpecValidation } from './validate.js';
export { parseSchedule, nextFireAt, instantsBetween, parseDurationMs, type Schedule, type ScheduleParse } from './schedule.js';
export { SPEC_DEFAULTS } from './defaults.js';
export { AUTO_RETRY_STATUSES, owesRetry } from './run-indexes.js';
export type { NotificationFilter } from './notifications.js';
export { SECRET_PLACEHOLDER, SECRET_CHARS_MIN } from './validate.js';
export { COUNTED_STATUSES, DURATION_BUCKETS_MS, JOB_METRICS_JOBS_MAX, LATENESS_BUCKETS_MS, OTHER_JOBS, type JobFigures } from './job-metrics.js';
