// Every bound and timing of the scheduler, with its default. Timings are options (tests and
// operators tune them); bounds are named constants, so no queue or loop grows without limit.
import { FIRES_PER_BATCH_MAX, FUNCTION_SERIES_MAX } from '../statemachine/index.js';

/** Fires in one `fire` command (the table accepts at most FIRES_PER_BATCH_MAX). */
export const FIRE_BATCH_MAX = FIRES_PER_BATCH_MAX;
/** Records one job may add in one pass (catch-up of a long outage goes on in later passes). */
export const JOB_RECORDS_PER_PASS_MAX = 1000;
/**
 * Due jobs examined per pass. Jobs waiting for a free slot stay due in the table and are
 * examined again next pass; this is the bound of that implicit waiting queue.
 */
export const DUE_SCAN_MAX = 10_000;
/** Manual fires waiting for a slot (beyond this runNow is refused); also the most owed `after` fires one pass reads from the table. */
export const QUEUED_FIRES_MAX = 10_000;
/** awaitRun callers waiting at once. */
export const RUN_WAITERS_MAX = 10_000;
/** Follow-up entries (start checks, timeout deadlines, kill waits): up to 4 per active run (the table allows 100,000). */
export const FOLLOW_UPS_MAX = 400_000;
/** Retries the in-memory queue holds; more are loaded from the table's index as it drains. */
export const RETRY_QUEUE_MAX = 10_000;
/** Active runs re-dispatched (or checked for a lost node) per maintenance step. */
export const REDISPATCH_PER_STEP_MAX = 1000;
export const LOST_PER_STEP_MAX = 1000;
/** Report, kill and lost proposals in flight at once; a report beyond it is not acknowledged (the executor resends). */
export const PROPOSALS_IN_FLIGHT_MAX = 4096;
/** Claims (pull workers' long-polls) one leader holds at once; more are refused with 429. */
export const CLAIM_WAITERS_MAX = 1000;
/** The longest a claim waits for work (api.md: at most 60 s). */
export const CLAIM_WAIT_MS_MAX = 60_000;
/** Parked claims look at their queues at least this often (a missed wake costs no more). */
export const CLAIM_RECHECK_MS = 1000;
/** Lease expiries proposed per maintenance step. */
export const LEASE_EXPIRIES_PER_STEP_MAX = 1000;
/** Recent fire proposal times the adaptive lead looks at: at most this many, of the last window. */
export const FIRE_PROPOSE_SAMPLES = 16;
export const FIRE_PROPOSE_WINDOW_MS = 5000;
/** Per-function metric series: at most FUNCTION_SERIES_MAX names, the rest summed under OTHER_FUNCTIONS. */
export const OTHER_FUNCTIONS = '_other';
/** Upper bounds (ms) of the claim latency histogram (queued, or due, to claimed); +Inf is implied. */
export const CLAIM_LATENCY_BUCKETS_MS: readonly number[] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30_000, 300_000];
export { FUNCTION_SERIES_MAX };
/** Lateness samples kept for metrics (a ring). */
export const LATENESS_SAMPLES_MAX = 1024;

export interface SchedulerOptions {
  /**
   * Fires are committed at least this long before their instant; executors start at
   * notBefore. When fire proposals take longer to apply, the lead grows with them (see
   * FireLoop.leadMs), up to fireLeadMaxMs.
   */
  readonly fireLeadMs: number;
  /**
   * The shortest lead of `allow` jobs (at least fireLeadMs). Committing a fire is not all that
   * happens before the start: every node applies it, the executors journal the run and build
   * its request. With cron's bursts (a thousand runs at :00) that takes longer than the commit,
   * and what is not done before the instant is done after it, delaying the start.
   */
  readonly allowFireLeadMs: number;
  /** The most the lead grows to. A waiting run holds an executor slot, so a long lead costs capacity. */
  readonly fireLeadMaxMs: number;
  /**
   * A pass woken fireLeadMs before an instant also takes every instant due within this window
   * after it, so instants a few ms apart share one proposal instead of one each.
   */
  readonly fireWindowMs: number;
  /** A job whose oldest owed instant is later than this fires every missed instant (a failover gap); older gaps follow the misfire policy. */
  readonly catchUpMs: number;
  /** A node silent this long (since its last heartbeat or since this leader started) has lost its runs. */
  readonly leaseMs: number;
  /** The backstop kill comes this long after startedAt + timeoutMs. */
  readonly timeoutGraceMs: number;
  /** After a kill (or a start check that found no start) how long to wait for the executor's report before recording the execution lost. */
  readonly killWaitMs: number;
  /** A pending execution not started this long after its notBefore is sent its execute again. */
  readonly startCheckMs: number;
  /** How often the maintenance step runs (lost detection, re-arming, capacity re-checks). */
  readonly maintenanceMs: number;
  /** Delay before re-proposing after a failed proposal. */
  readonly proposeRetryMs: number;
  /** A manual or `after` fire waits this long for a free slot, then is recorded skipped. */
  readonly queuedFireWaitMs: number;
  /** Retry backoff jitter: the delay is scaled by a factor in [1 - j, 1 + j]. */
  readonly retryJitter: number;
  /** Executor reports arriving within this window share one runReports entry. */
  readonly reportBatchMs: number;
}

export const DEFAULT_OPTIONS: SchedulerOptions = Object.freeze({
  fireLeadMs: 100,
  allowFireLeadMs: 300,
  fireLeadMaxMs: 500,
  fireWindowMs: 50,
  catchUpMs: 60_000,
  leaseMs: 5000,
  timeoutGraceMs: 30_000,
  killWaitMs: 30_000,
  startCheckMs: 5000,
  maintenanceMs: 1000,
  proposeRetryMs: 200,
  queuedFireWaitMs: 600_000,
  retryJitter: 0.1,
  reportBatchMs: 2,
});

export function resolveOptions(partial: Partial<SchedulerOptions> = {}): SchedulerOptions {
  const options = { ...DEFAULT_OPTIONS, ...partial };
  for (const [name, value] of Object.entries(options)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new RangeError(`scheduler option ${name} must be a finite number >= 0`);
  }
  if (options.retryJitter >= 1) throw new RangeError('scheduler option retryJitter must be below 1');
  if (options.maintenanceMs < 1) throw new RangeError('scheduler option maintenanceMs must be at least 1');
  if (options.fireLeadMaxMs < options.fireLeadMs) throw new RangeError('scheduler option fireLeadMaxMs must be at least fireLeadMs');
  if (options.allowFireLeadMs < options.fireLeadMs || options.allowFireLeadMs > options.fireLeadMaxMs) throw new RangeError('scheduler option allowFireLeadMs must lie between fireLeadMs and fireLeadMaxMs');
  return Object.freeze(options);
}
