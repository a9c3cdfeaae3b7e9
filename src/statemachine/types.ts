// The shapes of the job table: job specs with every default resolved, the stored job with
// its replicated metadata, and run records. Times are milliseconds since the Unix epoch
// (UTC); the API turns them into ISO-8601 strings.

export type ShellExecutor = {
  readonly type: 'shell';
  readonly command: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /**
   * Environment whose values no read shows (api.md, "Secrets"): plain, or sealed
   * (`enc:v1:…`) by the API node when the cluster has --secrets-key-file. Absent: none.
   */
  readonly secretEnv?: Readonly<Record<string, string>>;
};

export type HttpExecutor = {
  readonly type: 'http';
  readonly method: HttpMethod;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Inclusive range of HTTP status codes counted as success. */
  readonly expectStatus: readonly [number, number];
  /** Headers whose values no read shows, as secretEnv. */
  readonly secretHeaders?: Readonly<Record<string, string>>;
};

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** A run waits in the function's queue until a pull worker claims it (docs/workers.md). */
export type QueueExecutor = {
  readonly type: 'queue';
  readonly function: string;
  /** How long a claim holds an attempt without a heartbeat. */
  readonly leaseMs: number;
};

export type Executor = ShellExecutor | HttpExecutor | QueueExecutor;

/** A submission's place in its function's queue: higher is claimed first, then oldest first. */
export const QUEUE_PRIORITIES = ['high', 'normal', 'low'] as const;
export type QueuePriority = (typeof QUEUE_PRIORITIES)[number];

export type Progress = { readonly done: number; readonly total: number };

/**
 * The queue side of a run of a queue job. `worker` holds the current attempt from its claim
 * until it completes, fails, is killed or its lease runs out; null while the run waits.
 */
export type QueueState = {
  readonly function: string;
  readonly priority: QueuePriority;
  worker: string | null;
  /** The node the claim came through. */
  node: string | null;
  leaseMs: number;
  leaseUntil: number | null;
  progress: Progress | null;
  result: string | null;
  /** The worker said the failure is final: no automatic retry. */
  noRetry: boolean;
};

/** A pull worker as the log last saw it (a claim or a report). */
export type WorkerEntry = {
  readonly worker: string;
  readonly functions: readonly string[];
  readonly node: string;
  readonly lastSeenAt: number;
};

export type Target =
  | { readonly mode: 'any' }
  | { readonly mode: 'leader' }
  | { readonly mode: 'all' }
  /** Nodes whose tags include every pair of `tags`; `count` caps how many (absent: all of them). */
  | { readonly mode: 'tags'; readonly tags: Readonly<Record<string, string>>; readonly count?: number };

export const CONCURRENCY_POLICIES = ['allow', 'forbid', 'replace'] as const;
/** `any`: each upstream success triggers the job; `all`: once every upstream has succeeded since the job's last run. */
export const AFTER_MODES = ['any', 'all'] as const;
export type AfterMode = (typeof AFTER_MODES)[number];
export type Concurrency = (typeof CONCURRENCY_POLICIES)[number];

export const MISFIRE_POLICIES = ['fire-once', 'fire-all', 'skip'] as const;
export type MisfirePolicy = (typeof MISFIRE_POLICIES)[number];

export type Misfire = { readonly policy: MisfirePolicy; readonly windowMs: number };

export type Retry = { readonly max: number; readonly backoffMs: number; readonly maxBackoffMs: number };

/** The events a job's notify target may ask for (api.md, "Notifications"). */
export const NOTIFY_EVENTS = ['failed', 'timed_out', 'lost', 'killed', 'skipped', 'missed', 'recovered', 'succeeded', 'started'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** One webhook of a job: which events go to `url`, with extra headers. */
export type NotifyTarget = {
  readonly on: readonly NotifyEvent[];
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Headers whose values reads never show (api.md, "Secrets"). */
  readonly secretHeaders: Readonly<Record<string, string>>;
};

/** Every field of api.md's Job with defaults resolved. Objects equal to a default are the shared frozen default. */
export type JobSpec = {
  readonly id: string;
  readonly schedule: string;
  readonly timezone: string;
  readonly enabled: boolean;
  readonly executor: Executor;
  readonly target: Target;
  readonly concurrency: Concurrency;
  readonly misfire: Misfire;
  readonly timeoutMs: number;
  readonly retry: Retry;
  /** 0..9, higher runs first when executor slots are short. */
  readonly priority: number;
  readonly after: readonly string[];
  readonly afterMode: AfterMode;
  readonly history: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly description: string;
  /** Webhooks told of the job's run events, at most NOTIFY_TARGETS_MAX. */
  readonly notify: readonly NotifyTarget[];
};

/** Replicated metadata of a stored job. */
export type JobMeta = {
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Raft index of the entry that created the job. */
  readonly createRevision: number;
  /** Raft index of the entry that last changed the job's spec or enabled flag. */
  readonly revision: number;
  /** The newest scheduled instant recorded for the job (fired or skipped), or null. */
  readonly lastScheduledAt: number | null;
  /** The next instant the scheduler owes, or null (disabled, @manual, or no instant left). */
  readonly nextFireAt: number | null;
  /** Who made the last change (the token's name, api.md "Audit"); absent when no request's audit record named one. */
  readonly updatedBy?: string;
};

export type Job = JobSpec & JobMeta;

export const TRIGGERS = ['schedule', 'manual', 'retry', 'after', 'misfire'] as const;
export type Trigger = (typeof TRIGGERS)[number];

export const RUN_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'timed_out', 'killed', 'lost', 'skipped'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The statuses an executor may report when an execution ends. */
export const FINAL_EXECUTION_STATUSES = ['succeeded', 'failed', 'timed_out', 'killed', 'lost'] as const;
export type FinalExecutionStatus = (typeof FINAL_EXECUTION_STATUSES)[number];
export type ExecutionStatus = 'pending' | 'running' | FinalExecutionStatus;

export const KILL_REASONS = ['request', 'timeout', 'replace'] as const;
export type KillReason = (typeof KILL_REASONS)[number];

/** One node's try at one attempt of a run. */
export type Execution = {
  node: string;
  attempt: number;
  status: ExecutionStatus;
  exitCode: number | null;
  output: string;
  outputTruncated: boolean;
  error: string | null;
  startedAt: number | null;
  finishedAt: number | null;
};

/**
 * One run: exactly one record per (job, scheduled instant). A retry is the same record with
 * `attempt` + 1, so (runId, attempt) names one execution round.
 */
export type RunRecord = {
  readonly runId: string;
  readonly jobId: string;
  /** Order of creation in the whole table; newest-first listings and cursors use it. */
  readonly seq: number;
  readonly scheduledAt: number;
  readonly trigger: Trigger;
  attempt: number;
  status: RunStatus;
  readonly firedAt: number;
  /** Start and end of the current attempt (reset by a retry). */
  startedAt: number | null;
  finishedAt: number | null;
  /** Executions of every attempt, oldest first. */
  readonly executions: Execution[];
  readonly payload: string | null;
  readonly key: string | null;
  /** The nodes chosen by the leader for the current attempt. */
  executors: readonly string[];
  /** The executor must not start the current attempt before this instant. */
  notBefore: number | null;
  killRequested: KillReason | null;
  /** Why the run was skipped (`skipped` status only). */
  readonly reason: string | null;
  /** Runs of queue jobs only: their queue, claim and result; null for runs nodes execute. */
  readonly queue: QueueState | null;
  /** Who asked for a manual run (the token's name, api.md "Audit"); absent for every other run. */
  readonly triggeredBy?: string;
};

export const ACTIVE_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>(['pending', 'running']);

export function isActiveStatus(status: RunStatus): boolean {
  return status === 'pending' || status === 'running';
}

export const NOTIFY_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type NotifyDeliveryStatus = (typeof NOTIFY_DELIVERY_STATUSES)[number];

/**
 * One event owed to one notify target, recorded when the run result that causes it is
 * applied, so that every replica (and so every future leader) knows what is owed. The fields
 * of the webhook body are copied in at that moment: the run record may be evicted long
 * before a slow receiver acknowledges.
 */
export type NotificationRecord = {
  /** `runId:event:target`: the same on every replica, and the receiver's deduplication key. */
  readonly eventId: string;
  /** Order of recording in the whole table. */
  readonly seq: number;
  readonly event: NotifyEvent;
  readonly jobId: string;
  readonly runId: string;
  /** Index of the target in the job's notify list when the event was recorded. */
  readonly target: number;
  readonly url: string;
  readonly createdAt: number;
  readonly attempt: number;
  readonly runStatus: RunStatus;
  readonly scheduledAt: number;
  readonly finishedAt: number | null;
  readonly node: string | null;
  readonly exitCode: number | null;
  readonly outputTail: string;
  status: NotifyDeliveryStatus;
  attempts: number;
  lastError: string | null;
  lastAttemptAt: number | null;
  /** The leader does not try again before this instant (backoff; the leader's clock, in the command). */
  nextAttemptAt: number;
};
