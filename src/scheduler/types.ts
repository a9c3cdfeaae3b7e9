// The scheduler's seams. It reads the applied job table, proposes commands, and sends orders
// to executor nodes only through SchedulerHost, which the agent implements; tests implement
// it with a virtual clock and an in-memory table. Nothing here reads a real clock.
import type { ApplyResult, Command, Executor, JobTable, KillReason, QueuePriority, RunRecord } from '../statemachine/index.js';

export interface TimerHandle {
  cancel(): void;
}

/** One executor node as the leader sees it, from membership and heartbeats. */
export interface ExecutorNode {
  readonly id: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Runs the node may hold at once (its --slots). */
  readonly slots: number;
  /** Runs the node's last heartbeat listed (waiting for notBefore counts). */
  readonly runningCount: number;
  /** A heartbeat arrived within the lease. */
  readonly alive: boolean;
  /** Leader clock when the last heartbeat arrived, or null if none since this node led. */
  readonly lastHeartbeatMs: number | null;
}

/** What the agent turns into the executor's ExecuteRequest (same field names). */
export interface ExecuteOrder {
  readonly runId: string;
  readonly attempt: number;
  readonly term: number;
  readonly jobId: string;
  readonly scheduledAtMs: number;
  readonly payload: string;
  readonly notBeforeMs: number | null;
  /** The leader's clock at sending: the executor waits notBeforeMs − sentAtMs from arrival (its own clock may be skewed). */
  readonly sentAtMs: number;
  /**
   * The log already records this execution as started on the receiving node. A node that
   * has no memory of it (its data was lost or it was replaced under the same id) must report
   * it lost rather than run it a second time.
   */
  readonly startedOnNode?: boolean;
  readonly timeoutMs: number;
  readonly spec: Executor;
}

export interface SchedulerHost {
  /** Leader wall clock, ms since the epoch. */
  nowMs(): number;
  /** Read-only view of the applied state. Never mutate it. */
  table(): JobTable;
  /** This node's id (target `leader`). */
  selfNodeId(): string;
  /** Through Raft; resolves with the apply result once applied, rejects when it cannot know (not leader, timeout, full). */
  propose(command: Command): Promise<ApplyResult>;
  /** A unique run id matching RUN_ID_PATTERN (the agent uses crypto.randomUUID). */
  newRunId(): string;
  /** [0, 1), for jitter and tie breaks. */
  random(): number;
  executors(): readonly ExecutorNode[];
  sendExecute(node: string, order: ExecuteOrder): void;
  sendKill(node: string, runId: string, attempt: number, reason: KillReason): void;
  setTimer(delayMs: number, fn: () => void): TimerHandle;
}

/** An executor's report, as the agent received it (the executor's Report shape). */
export type ExecutorReport =
  | { readonly kind: 'started'; readonly runId: string; readonly attempt: number; readonly node: string; readonly atMs: number }
  | {
    readonly kind: 'finished'; readonly runId: string; readonly attempt: number; readonly node: string; readonly atMs: number;
    readonly startedAtMs?: number | null; readonly status: 'succeeded' | 'failed' | 'timed_out' | 'killed'; readonly exitCode: number | null; readonly output: string;
    readonly outputTruncated: boolean; readonly error: string | null;
  }
  | { readonly kind: 'lost'; readonly runId: string; readonly attempt: number; readonly node: string; readonly atMs: number; readonly error: string };

/** What an executor answered to an execute (the executor's ExecuteResult). */
export type ExecuteRefusal = 'no_slot' | 'invalid' | 'stale_term';

export type RunNowOptions = { readonly payload?: string | null; readonly key?: string | null; readonly priority?: QueuePriority | null; readonly triggeredBy?: string | null };

export type RunNowResult = {
  readonly runId: string;
  /** The key (or, for a retried request, the run id) named a run that already existed. */
  readonly duplicate: boolean;
  /**
   * 'run' when it was dispatched, 'skipped' when recorded as skipped (the run record says
   * why), 'waiting' when recorded waiting for a free executor slot (it fires under this run
   * id once one frees, under this leader or the next).
   */
  readonly status: 'run' | 'skipped' | 'duplicate' | 'waiting';
};

export type AwaitRunResult = {
  /** True when the run reached a final status; false when the wait timed out first. */
  readonly done: boolean;
  /** The record as it stands, or null when the run is unknown (never existed or evicted). */
  readonly run: RunRecord | null;
};
