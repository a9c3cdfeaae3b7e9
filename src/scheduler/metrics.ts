// Plain counters and gauges the agent exports (Prometheus names are the agent's choice).
// Counters only grow for the life of the Scheduler object; gauges describe the current term.
import { CLAIM_LATENCY_BUCKETS_MS, FUNCTION_SERIES_MAX, LATENESS_SAMPLES_MAX, OTHER_FUNCTIONS } from './options.js';

export class SchedulerMetrics {
  /** Run records proposed to execute and recorded as `run`. */
  fires = 0;
  /** Records that came back `skipped` (misfire, forbid, no eligible node, no capacity, table limits). */
  skipped = 0;
  /** Fires the table found already recorded (a re-proposal after a failure, a repeated key). */
  duplicates = 0;
  /** Fires the table rejected (e.g. the job was deleted meanwhile). */
  rejectedFires = 0;
  /** Passes of the fire loop over the table and its queues (one per wake, however many changes it covers). */
  firePasses = 0;
  /** `fire` commands proposed and how many fires they held in total. */
  fireBatches = 0;
  fireBatchFires = 0;
  fireBatchMax = 0;
  /** Proposals that failed (not leader, timeout, full) and were retried or dropped. */
  proposalFailures = 0;
  retriesProposed = 0;
  retriesRecorded = 0;
  /** Executions the scheduler declared lost (lease or kill wait); executor-reported losses are not counted here. */
  lostDeclared = 0;
  timeoutKills = 0;
  replaceKills = 0;
  requestKills = 0;
  executesSent = 0;
  executesResent = 0;
  killsSent = 0;
  reportsProposed = 0;
  reportsRefused = 0;
  afterFiresQueued = 0;
  /** Manual fires recorded in the log as waiting for capacity (queueFires), so that they outlive this leader. */
  manualFiresRecordedWaiting = 0;
  /** Pull workers: claims answered (with or without runs), runs handed out, claims refused (too many waiting), leases that ran out. */
  claimsAnswered = 0;
  runsClaimed = 0;
  claimsRefused = 0;
  /** Claims whose worker hung up before they were answered. */
  claimsAbandoned = 0;
  leaseExpiries = 0;
  /** Per function (at most FUNCTION_SERIES_MAX names, the rest under `_other`): leases that ran out this term. */
  readonly leaseExpiriesByFunction = new Map<string, number>();
  /** Per function (bounded like leaseExpiriesByFunction): queued-to-claimed times of claimed attempts this term, per bucket (not cumulative). */
  readonly claimLatencyByFunction = new Map<string, { readonly buckets: number[]; sumMs: number; count: number }>();
  /** Claims refused because the worker holds WORKER_HELD_MAX attempts; submissions refused because the function's queue is full. */
  claimsRefusedHeld = 0;
  functionQueueRefused = 0;
  /** Entries dropped because a bounded queue was full. */
  queueDrops = 0;
  /** Gauges. */
  queuedFires = 0;
  /** `after` fires the table owes (an upstream succeeded; the downstream's fire is not recorded yet). */
  owedAfterFires = 0;
  /** Manual fires the table holds waiting for capacity. */
  owedManualFires = 0;
  waitingForCapacity = 0;
  retryQueue = 0;
  followUps = 0;
  runWaiters = 0;
  claimWaiters = 0;
  proposalsInFlight = 0;
  /** The fire lead in use (grows when fire proposals are slow). */
  fireLeadMs = 0;
  leading = false;
  /** Lateness of records that run: leader clock when the fire applied minus scheduledAt (negative = before the instant). */
  latenessCount = 0;
  latenessSumMs = 0;
  latenessMaxMs = 0;
  readonly latenessSamplesMs: number[] = [];
  private latenessNext = 0;
  /** `fire` proposals: time from propose to apply (the commit latency the fire lead must hide). */
  fireProposeCount = 0;
  fireProposeSumMs = 0;
  fireProposeMaxMs = 0;

  recordFirePropose(ms: number): void {
    this.fireProposeCount += 1;
    this.fireProposeSumMs += ms;
    this.fireProposeMaxMs = Math.max(this.fireProposeMaxMs, ms);
  }

  /** The q-quantile of the recent lateness samples, or null without samples. */
  latenessQuantileMs(q: number): number | null {
    if (this.latenessSamplesMs.length === 0) return null;
    const sorted = [...this.latenessSamplesMs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * q))] ?? null;
  }

  recordLateness(ms: number): void {
    this.latenessCount += 1;
    this.latenessSumMs += ms;
    this.latenessMaxMs = Math.max(this.latenessMaxMs, ms);
    if (this.latenessSamplesMs.length < LATENESS_SAMPLES_MAX) this.latenessSamplesMs.push(ms);
    else this.latenessSamplesMs[this.latenessNext] = ms;
    this.latenessNext = (this.latenessNext + 1) % LATENESS_SAMPLES_MAX;
  }

  countLeaseExpiry(fn: string): void {
    const name = this.leaseExpiriesByFunction.has(fn) || this.leaseExpiriesByFunction.size < FUNCTION_SERIES_MAX ? fn : OTHER_FUNCTIONS;
    this.leaseExpiriesByFunction.set(name, (this.leaseExpiriesByFunction.get(name) ?? 0) + 1);
  }

  /** A claim handed out an attempt that had waited `waitedMs` in its function's queue. */
  recordClaimLatency(fn: string, waitedMs: number): void {
    const name = this.claimLatencyByFunction.has(fn) || this.claimLatencyByFunction.size < FUNCTION_SERIES_MAX ? fn : OTHER_FUNCTIONS;
    let h = this.claimLatencyByFunction.get(name);
    if (h === undefined) this.claimLatencyByFunction.set(name, (h = { buckets: CLAIM_LATENCY_BUCKETS_MS.map(() => 0), sumMs: 0, count: 0 }));
    const i = CLAIM_LATENCY_BUCKETS_MS.findIndex((b) => waitedMs <= b);
    if (i >= 0) h.buckets[i] = (h.buckets[i] ?? 0) + 1;
    h.sumMs += waitedMs;
    h.count += 1;
  }
}
