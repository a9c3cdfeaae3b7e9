// The executor's own vocabulary. It imports nothing from the rest of chime: the agent adapts
// between the job table's types and these.

export interface ShellSpec {
  readonly type: 'shell';
  readonly command: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

export interface HttpSpec {
  readonly type: 'http';
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Inclusive range of statuses that count as success, e.g. [200, 299]. */
  readonly expectStatus: readonly [number, number];
}

export type ExecutorSpec = ShellSpec | HttpSpec;

/** What the leader sends once the fire entry naming this node is committed. */
export interface ExecuteRequest {
  /** The leader's log already records this execution as started here (see executor.execute). */
  readonly startedOnNode?: boolean;
  readonly runId: string;
  /** 1-based; a retry is a new attempt of the same run. */
  readonly attempt: number;
  /** The sender's Raft term; requests from a term older than the newest seen are refused. */
  readonly term: number;
  readonly jobId: string;
  readonly scheduledAtMs: number;
  readonly payload: string;
  /** Start no earlier than this instant; null starts at once. See sentAtMs for whose clock. */
  readonly notBeforeMs: number | null;
  /**
   * The leader's clock when it sent this execute. The run waits for notBeforeMs on this node's
   * clock and also for the leader's own distance to the instant (notBeforeMs − sentAtMs)
   * counted from the arrival here (transit only adds to it): a node whose clock runs ahead of
   * the leader's does not start early (with the 300 ms fire lead it could start up to 300 ms
   * before the instant).
   */
  readonly sentAtMs?: number;
  readonly timeoutMs: number;
  readonly spec: ExecutorSpec;
  /**
   * Values replaced by `***` wherever they appear in the run's captured output: the tail in
   * the report, the stored files and every stream read from them (a value split across two
   * chunks included). The agent fills it with the job's secret values; they are kept in
   * memory only, never written to disk.
   */
  readonly maskValues?: readonly string[];
}

/** A run's two output streams; `both` reads them interleaved in the order they were written. */
export type OutputStreamName = 'stdout' | 'stderr';
export type OutputSelection = OutputStreamName | 'both';

export type ExecuteResult = 'accepted' | 'duplicate' | 'stale_term' | 'no_slot' | 'invalid';

export type KillReason = 'request' | 'timeout' | 'replace';

export type FinishedStatus = 'succeeded' | 'failed' | 'timed_out' | 'killed';

export interface StartedReport {
  readonly kind: 'started';
  readonly runId: string;
  readonly attempt: number;
  readonly node: string;
  readonly atMs: number;
}

export interface FinishedReport {
  readonly kind: 'finished';
  readonly runId: string;
  readonly attempt: number;
  readonly node: string;
  readonly atMs: number;
  /** When the process or request started (null if it never did); absent in reports journaled by older versions. */
  readonly startedAtMs?: number | null;
  readonly status: FinishedStatus;
  readonly exitCode: number | null;
  readonly output: string;
  readonly outputTruncated: boolean;
  readonly error: string | null;
}

/** Sent for a run this node accepted but cannot vouch for: the executor restarted under it. */
export interface LostReport {
  readonly kind: 'lost';
  readonly runId: string;
  readonly attempt: number;
  readonly node: string;
  readonly atMs: number;
  readonly error: string;
}

/** A report that ends a run on this node; never dropped from the outbox before it is acknowledged. */
export type EndReport = FinishedReport | LostReport;
export type Report = StartedReport | EndReport;
export type ReportKind = Report['kind'];

/** What `running()` lists for heartbeats; `startedAtMs` is null while waiting for notBefore. */
export interface RunningRun {
  readonly runId: string;
  readonly attempt: number;
  readonly jobId: string;
  readonly startedAtMs: number | null;
}

export interface TimerHandle {
  cancel(): void;
}

/** The one way the executor waits; tests pass a virtual scheduler. */
export interface Timers {
  schedule(delayMs: number, fn: () => void): TimerHandle;
}

export interface ExecutorLimits {
  /** Remembered (runId, attempt) pairs for dedupe; must exceed slots + outboxReportsMax. */
  readonly rememberedRunsMax: number;
  /** Reports waiting for acknowledgement. */
  readonly outboxReportsMax: number;
  /** runId and jobId length in UTF-8 bytes. */
  readonly idBytesMax: number;
  readonly payloadBytesMax: number;
  readonly commandBytesMax: number;
  readonly envEntriesMax: number;
  /** Sum of names and values of spec.env. */
  readonly envBytesMax: number;
  readonly cwdBytesMax: number;
  readonly urlBytesMax: number;
  readonly headersMax: number;
  /** Sum of header names and values. */
  readonly headerBytesMax: number;
  readonly bodyBytesMax: number;
  /** Largest timeoutMs accepted (timers cannot wait longer than 2^31-1 ms). */
  readonly timeoutMsMax: number;
  /** How far in the future notBeforeMs may lie; a waiting run holds a slot. */
  readonly notBeforeLeadMsMax: number;
  /** An HTTP response body is read at most this far, then the read stops. */
  readonly httpBodyReadBytesMax: number;
  /** The journal is compacted once it grows past max(this, 2 × its last compacted size). */
  readonly journalCompactBytes: number;
  /** At most this many values in `maskValues`. */
  readonly maskValuesMax: number;
  /** Each mask value is 1..this many UTF-8 bytes; a stream holds back up to this − 1 bytes. */
  readonly maskValueBytesMax: number;
  /**
   * A run's stored output (stdout, stderr and the order index together) stops growing here;
   * a marker is written and the run goes on, its output still reaching the tail.
   */
  readonly runOutputBytesMax: number;
  /** All stored output on this node; the oldest ended runs' files are dropped beyond it. */
  readonly nodeOutputBytesMax: number;
  /** Runs (attempts) whose output this node keeps; the oldest ended ones are dropped beyond it. */
  readonly nodeOutputRunsMax: number;
  /**
   * Output of one run accepted but not yet on disk. At or above it the run's pipes (or HTTP
   * body) are paused until the disk catches up, instead of the node buffering without bound.
   */
  readonly outputWriteQueueBytesMax: number;
  /** Output readers open at once on this node. */
  readonly outputReadersMax: number;
}

export interface ExecutorOptions {
  readonly nodeId: string;
  /** Runs that may be accepted at once on this node (waiting for notBefore counts). */
  readonly slots: number;
  /** Milliseconds since the epoch; defaults to Date.now. */
  readonly now?: () => number;
  readonly timers?: Timers;
  /** Output tail kept per run; defaults to 64 KiB. */
  readonly outputBytesMax?: number;
  /** Between SIGTERM and SIGKILL of a run's process group; defaults to 5000. */
  readonly killGraceMs?: number;
  /**
   * Directory for every run's full stdout and stderr (e.g. `<data>/output`), or null to keep
   * only the tail in the report (the default; tests use it).
   */
  readonly outputDir?: string | null;
  /** Append-only journal file, or null for none (runs are then forgotten on restart). */
  readonly journalPath?: string | null;
  readonly limits?: Partial<ExecutorLimits>;
  /** Environment every shell run starts from; defaults to this process's environment. */
  readonly baseEnv?: Readonly<Record<string, string>>;
  /** Called whenever a report is queued, so the agent can send it at once. */
  readonly onReport?: (report: Report) => void;
}
