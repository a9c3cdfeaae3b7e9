// Every size and count the job table accepts. They are part of the replicated contract:
// every node of a cluster must run with the same values, or replicas could disagree about
// which command is accepted. docs/jobs.md lists them for users.

/** Job ids and `after` entries: letters, digits, `.`, `_`, `-`, 1 to 128 characters. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
/** Node ids, as the agent defines them. */
export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** A job spec, encoded as JSON, may not exceed this. */
export const SPEC_JSON_BYTES_MAX = 64 * 1024;
export const SCHEDULE_CHARS_MAX = 256;
export const TIMEZONE_CHARS_MAX = 64;
export const COMMAND_CHARS_MAX = 16 * 1024;
export const CWD_CHARS_MAX = 4096;
export const ENV_ENTRIES_MAX = 64;
/** Sum of UTF-8 bytes of every env name and value. */
export const ENV_BYTES_MAX = 16 * 1024;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const URL_CHARS_MAX = 4096;
export const HEADERS_ENTRIES_MAX = 64;
export const HEADERS_BYTES_MAX = 16 * 1024;
export const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
export const BODY_BYTES_MAX = 32 * 1024;
export const LABELS_ENTRIES_MAX = 32;
export const LABEL_KEY_CHARS_MAX = 63;
export const LABEL_VALUE_CHARS_MAX = 256;
export const DESCRIPTION_CHARS_MAX = 1024;
export const TARGET_TAGS_MAX = 16;
export const TAG_CHARS_MAX = 63;
/** How many nodes a `tags` target may ask for, and how many executors a fire may name. */
export const EXECUTORS_MAX = 64;
export const HISTORY_MIN = 1;
export const HISTORY_MAX = 1000;
export const HISTORY_DEFAULT = 100;
export const RETRY_MAX_MAX = 10;
export const BACKOFF_MS_MAX = 24 * 3600 * 1000;
export const TIMEOUT_MS_MIN = 1000;
export const TIMEOUT_MS_MAX = 7 * 24 * 3600 * 1000;
export const TIMEOUT_MS_DEFAULT = 3600 * 1000;
export const MISFIRE_WINDOW_MS_MAX = 7 * 24 * 3600 * 1000;
export const MISFIRE_WINDOW_MS_DEFAULT = 3600 * 1000;
export const PRIORITY_MIN = 0;
export const PRIORITY_MAX = 9;
export const PRIORITY_DEFAULT = 5;
export const AFTER_MAX = 16;
/** Shortest `@every` interval. */
export const EVERY_MS_MIN = 1000;
/** Longest `@every` interval (about 10 years), so that instants stay in range. */
export const EVERY_MS_MAX = 3650 * 24 * 3600 * 1000;

/** Notify targets per job (api.md). */
export const NOTIFY_TARGETS_MAX = 8;
/**
 * Deliveries owed and not yet acknowledged, in the whole table. When an event would exceed
 * it, the oldest pending delivery is dropped (recorded failed, counted) rather than growing.
 */
export const NOTIFY_PENDING_MAX = 10_000;
/** Delivered and failed records kept for GET /v1/notifications (oldest finished evicted first). */
export const NOTIFY_FINISHED_KEPT_MAX = 10_000;
/** The output tail copied into an event: a webhook is an alert, the full output is a link away. */
export const NOTIFY_OUTPUT_TAIL_BYTES_MAX = 4096;
/** Delivery outcomes in one notifyResults command. */
export const NOTIFY_RESULTS_PER_BATCH_MAX = 1000;
/** A delivery error as recorded (a status line or a network error). */
export const NOTIFY_ERROR_CHARS_MAX = 512;

/** Commands: size of one encoded command, fires per batch, payload, keys, output. */
export const COMMAND_BYTES_MAX = 2 * 1024 * 1024;
export const FIRES_PER_BATCH_MAX = 1000;
/**
 * `after` fires owed (an upstream succeeded, the downstream's fire is not recorded yet). Beyond
 * it a new one is not recorded: the table has at most this many waiting for capacity.
 */
export const OWED_AFTER_FIRES_MAX = 10_000;
/** Runs waiting in one function's queue; a queue job's fire beyond it is recorded skipped (and a submission refused with 429). */
export const FUNCTION_QUEUED_MAX = 10_000;
/** Attempts one pull worker holds at once; its claims get no more until it completes, fails or loses some. */
export const WORKER_HELD_MAX = 256;
/** Functions with their own per-function metric series (more are left out or summed). */
export const FUNCTION_SERIES_MAX = 1000;
/** Manual fires recorded waiting for capacity (queueFires), and their payload bytes together; beyond either a new one is refused. */
export const OWED_MANUAL_FIRES_MAX = 10_000;
export const OWED_MANUAL_PAYLOAD_BYTES_MAX = 16 * 1024 * 1024;
/** Jobs in one `putJobs` entry (chime apply): one log entry, all or nothing; COMMAND_BYTES_MAX bounds it too. */
export const JOBS_PER_APPLY_MAX = 1000;
/** Executor reports in one runReports command. */
export const REPORTS_PER_BATCH_MAX = 1000;
export const RUN_ID_CHARS_MAX = 64;
export const RUN_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
export const PAYLOAD_BYTES_MAX = 64 * 1024;
export const IDEMPOTENCY_KEY_CHARS_MAX = 256;
/** Output kept per execution: the tail of stdout+stderr (api.md). */
export const OUTPUT_BYTES_MAX = 64 * 1024;
export const ERROR_CHARS_MAX = 4096;
export const REASON_CHARS_MAX = 256;
/** How long an idempotency key of a manual run is remembered, judged by command time. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/**
 * Write ids of accepted writes are remembered this long by command time (write-ids.ts): far
 * longer than a node keeps re-sending a write whose leader died. A re-send that comes later
 * anyway is refused (OUTCOME_UNKNOWN), never applied twice.
 */
export const WRITE_ID_TTL_MS = 60_000;
/** Write ids remembered at most; beyond, the oldest go (a re-send of one of them is refused the same way). */
export const WRITE_IDS_MAX = 65_536;
/** Timestamps a command may carry: 1970 to the end of 9999. */
export const TIME_MS_MAX = 253402300799999;

/** Pull workers (docs/workers.md). Function names follow the job id rule. */
export const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
/** Worker ids: chosen by the worker (host name and pid, say). */
export const WORKER_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;
export const LEASE_MS_MIN = 1000;
export const LEASE_MS_MAX = 3600 * 1000;
export const LEASE_MS_DEFAULT = 30 * 1000;
/** Functions one claim may name, and runs one claim may take. */
export const CLAIM_FUNCTIONS_MAX = 32;
export const CLAIM_ITEMS_MAX = 64;
/** Queued runs one claim looks at (runs not due yet are passed over). */
export const CLAIM_SCAN_MAX = 1000;
/** A completed run's result, and one heartbeat's output chunk. */
export const RESULT_BYTES_MAX = 64 * 1024;
export const OUTPUT_CHUNK_BYTES_MAX = 64 * 1024;
/** Workers remembered (the least recently seen is forgotten first). */
export const WORKERS_MAX = 10_000;

/** Limits of the whole table. Configurable for tests; a cluster must agree on them. */
export interface TableLimits {
  readonly jobsMax: number;
  /** Run records kept in total (finished ones are evicted oldest first beyond this). */
  readonly runsMax: number;
  /** Runs that are pending or running, in total and per job. */
  readonly activeRunsMax: number;
  readonly activeRunsPerJobMax: number;
  /** Idempotency keys remembered (manual keys and `after` upstream run ids). */
  readonly keysMax: number;
}

export const DEFAULT_LIMITS: TableLimits = Object.freeze({
  jobsMax: 1_000_000,
  runsMax: 2_000_000,
  activeRunsMax: 100_000,
  activeRunsPerJobMax: 1000,
  keysMax: 100_000,
});
