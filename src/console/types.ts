// The API's shapes as the console reads them (api.md). Fields newer than some servers are optional.

export interface Member {
  readonly id: string;
  readonly rpc: string;
  readonly http: string;
  readonly role: string;
  readonly voter: boolean;
  readonly matchIndex: number | null;
  readonly lastContactMs: number | null;
}

export interface Cluster {
  readonly id: string;
  readonly leader: string | null;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly members: readonly Member[];
}

export interface Job {
  readonly id: string;
  readonly schedule: string;
  readonly timezone: string;
  readonly enabled: boolean;
  readonly executor: { readonly type: string; readonly command?: string | undefined; readonly method?: string | undefined; readonly url?: string | undefined; readonly function?: string | undefined };
  readonly target: { readonly mode: string; readonly tags?: Readonly<Record<string, string>> | undefined; readonly count?: number | undefined };
  readonly retry?: { readonly max: number; readonly backoffMs: number; readonly maxBackoffMs: number } | undefined;
  readonly misfire?: { readonly policy: string; readonly windowMs?: number | undefined } | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly description: string;
  readonly nextFireAt: string | null;
  readonly lastScheduledAt: string | null;
  readonly createdAt: string | null;
  readonly updatedAt: string | null;
  readonly updatedBy?: string | undefined;
  readonly notify?: readonly unknown[] | undefined;
  readonly [field: string]: unknown;
}

export interface Execution {
  readonly node: string;
  readonly attempt?: number | undefined;
  readonly status: string;
  readonly exitCode: number | null;
  readonly output: string;
  readonly outputTruncated?: boolean | undefined;
  readonly error: string | null;
  readonly startedAt?: string | null | undefined;
  readonly finishedAt?: string | null | undefined;
}

export interface Run {
  readonly runId: string;
  readonly jobId: string;
  readonly scheduledAt: string;
  readonly trigger: string;
  readonly attempt: number;
  readonly status: string;
  readonly firedAt: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly executions: readonly Execution[];
  readonly payload?: string | null | undefined;
  readonly key?: string | null | undefined;
  readonly reason?: string | null | undefined;
  readonly durationMs?: number | null | undefined;
  readonly lateMs?: number | null | undefined;
  readonly progress?: { readonly done: number; readonly total: number } | null | undefined;
  readonly result?: unknown;
  readonly triggeredBy?: string | undefined;
}

export interface Upcoming {
  readonly jobId: string;
  readonly at: string;
  readonly local: string;
}

export interface FunctionInfo {
  readonly name: string;
  readonly queued: number;
  readonly running: number;
  readonly workers: number;
}

export interface WorkerInfo {
  readonly worker: string;
  readonly functions: readonly string[];
  readonly node: string;
  readonly lastSeenAt: string;
  readonly running: number;
}

export interface Delivery {
  readonly eventId: string;
  readonly event: string;
  readonly jobId: string;
  readonly runId: string;
  readonly url: string;
  readonly status: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly lastAttemptAt: string | null;
}

export interface AuditEntry {
  readonly at: string;
  readonly actor: string;
  readonly method: string;
  readonly path: string;
  readonly target?: string | null | undefined;
}

/** What the router hands a page: the path's parameters and the hash's query. */
export interface PageContext {
  readonly params: readonly string[];
  readonly query: URLSearchParams;
}
