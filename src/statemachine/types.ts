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

export type Executor = ShellExecutor | HttpExecutor;

export type Target =
  | { readonly mode: 'any' }
  | { readonly mode: 'leader' }
  | { readonly mode: 'all' }
  /** Nodes whose tags include every pair of `tags`; `count` caps how many (absent: all of them). */
  | { readonly mode: 'tags'; readonly tags: Readonly<Record<string, string>>; readonly count?: number };

export const CONCURRENCY_POLICIES = ['allow', 'forbid', 'replace'] as const;
export type Concurrency = (typeof CONCURRENCY_POLICIES)[number];

export const MISFIRE_POLICIES = ['fire-once', 'fire-all', 'skip'] as const;
export type MisfirePolicy = (typeof MISFIRE_POLICIES)[number];

export type Misfire = { readonly policy: MisfirePolicy; readonly windowMs: number };

export type Retry = { readonly max: number; readonly backoffMs: number; readonly maxBackoffMs: number };

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
  readonly history: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly description: string;
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
  /** Who asked for a manual run (the token's name, api.md "Audit"); absent for every other run. */
  readonly triggeredBy?: string;
};

export const ACTIVE_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>(['pending', 'running']);

export function isActiveStatus(status: RunStatus): boolean {
  return status === 'pending' || status === 'running';
}
