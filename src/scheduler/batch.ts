// One fire pass: from the due jobs (the table's next-fire index, earliest first) and the
// queued manual/`after` fires, build at most FIRE_BATCH_MAX fires for one `fire` command.
// Placement runs in priority order (higher priority, then older instant), so when slots are
// short the important runs take them; emission runs per job in instant order, because the
// table records a job's instants only in increasing order. A run that cannot be placed waits
// (its job stays due in the table, which is the waiting queue) and holds back that job's
// later instants; skips before it are emitted regardless.
import assert from 'node:assert';
import { REASON_CHARS_MAX, type Fire, type Job, type JobTable, type QueuePriority, type QueuedManualFire, type Trigger } from '../statemachine/index.js';
import { DUE_SCAN_MAX, FIRE_BATCH_MAX, JOB_RECORDS_PER_PASS_MAX } from './options.js';
import { applyConcurrency, planInstants, type PlannedRecord, type PlanTiming } from './plan.js';
import { place, type LoadView, type Placement } from './placement.js';

/** Records collected per pass before placement; the bound on planning work per pass. */
export const PASS_RECORDS_MAX = 4 * FIRE_BATCH_MAX;
/**
 * Payload bytes of queued fires per batch: with ids and the rest (a few hundred bytes per
 * fire), a batch stays well under the table's 2 MiB COMMAND_BYTES_MAX.
 */
export const BATCH_PAYLOAD_BYTES_MAX = 1024 * 1024;
/** Active runs of one `replace` job killed per pass. */
const REPLACE_KILLS_PER_JOB_MAX = 64;

/** A manual or `after` fire waiting to be proposed. Its runId is fixed at enqueue, so a re-proposal is a duplicate, not a second run. */
export interface QueuedFire {
  readonly jobId: string;
  readonly runId: string;
  readonly trigger: 'manual' | 'after';
  /** Leader time of the request: the record's scheduledAt and its place in the queue. */
  readonly scheduledAt: number;
  readonly payload: string | null;
  readonly key: string | null;
  /** A queue job's submission priority. */
  readonly priority?: QueuePriority | null;
  /** A manual run's requester (token name), for the run's triggeredBy. */
  readonly triggeredBy?: string | null;
}

/** A manual fire the table holds waiting for capacity, as the fire queue holds it. */
export function waitingQueuedFire(o: QueuedManualFire): QueuedFire {
  return { jobId: o.jobId, runId: o.runId, trigger: 'manual', scheduledAt: o.scheduledAt, payload: o.payload, key: o.key, priority: o.priority, triggeredBy: o.triggeredBy };
}

export type BatchInput = {
  readonly table: JobTable;
  readonly timing: PlanTiming;
  /**
   * The horizon of `forbid` and `replace` jobs (configured lead + window): whether a previous
   * run is still active is judged, and a replaced run killed, as close to the instant as the
   * configured lead allows, not a longer lead ahead (see FireLoop.leadMs).
   */
  readonly strictFireLeadMs: number;
  readonly view: LoadView;
  readonly queued: readonly QueuedFire[];
  readonly queuedFireWaitMs: number;
  readonly newRunId: () => string;
  /** Runs whose kill is already being proposed (not to be proposed again). */
  readonly killsInFlight: ReadonlySet<string>;
};

export type BatchPlan = {
  readonly fires: Fire[];
  /** Active runs of `replace` jobs to kill before their next instant runs. */
  readonly kills: string[];
  /** Queued fires included in `fires`. */
  readonly taken: QueuedFire[];
  /** Queued fires whose job no longer exists. */
  readonly gone: QueuedFire[];
  /** Runs (scheduled or queued) left waiting for a slot. */
  readonly waiting: number;
  /** The queued fires among them. */
  readonly waitingQueued: QueuedFire[];
  /** The batch is full or planning stopped early: run another pass at once. */
  readonly more: boolean;
};

const utf8 = new TextEncoder();

type JobPlan = { readonly job: Job; readonly records: readonly PlannedRecord[]; readonly decisions: (Placement | null)[] };
type Candidate = {
  readonly priority: number; readonly orderAt: number; readonly jobId: string; readonly decide: (p: Placement) => void; readonly target: Job['target'];
  /** A queue job's run takes no node: it waits in its function's queue for a pull worker. */
  readonly queue: boolean;
};
const IN_QUEUE: Placement = { kind: 'nodes', nodes: [] };

export function buildBatch(input: BatchInput): BatchPlan {
  const { table, timing } = input;
  const kills: string[] = [];
  const { plans, truncated } = collectPlans(input, kills);
  const queuedJobs = input.queued.map((q) => table.getJob(q.jobId));
  const queuedDecisions: (Placement | null)[] = input.queued.map(() => null);
  placeAll(input.view, plans, input.queued, queuedJobs, queuedDecisions);

  const fires: Fire[] = [];
  let waiting = 0;
  let full = false;
  const push = (fire: Fire): boolean => {
    if (fires.length >= FIRE_BATCH_MAX) return (full = true), false;
    fires.push(fire);
    return true;
  };
  for (const plan of plans) {
    for (const [i, record] of plan.records.entries()) {
      const decision = plan.decisions[i] ?? null;
      if (decision?.kind === 'wait') {
        waiting += 1;
        break;
      }
      if (!push(scheduledFire(plan.job.id, record, decision, input.newRunId))) break;
    }
  }
  const taken: QueuedFire[] = [];
  const gone: QueuedFire[] = [];
  const waitingQueued: QueuedFire[] = [];
  let payloadBytes = 0;
  input.queued.forEach((q, i) => {
    const decision = queuedDecisions[i];
    if (queuedJobs[i] === null) return void gone.push(q);
    if (decision === undefined || decision === null) return;
    const bytes = q.payload === null ? 0 : utf8.encode(q.payload).length;
    if (payloadBytes + bytes > BATCH_PAYLOAD_BYTES_MAX) return void (full = true);
    payloadBytes += bytes;
    let fire: Fire;
    if (decision.kind === 'wait') {
      if (timing.nowMs - q.scheduledAt <= input.queuedFireWaitMs) {
        waitingQueued.push(q);
        return void (waiting += 1);
      }
      fire = queuedFire(q, { kind: 'none', reason: `no capacity: waited ${input.queuedFireWaitMs} ms for a free executor slot` });
    } else {
      fire = queuedFire(q, decision);
    }
    if (push(fire)) taken.push(q);
  });
  // Another pass at once only when this one made progress; otherwise it would find the same.
  return { fires, kills, taken, gone, waiting, waitingQueued, more: (full || truncated) && fires.length > 0 };
}

function collectPlans(input: BatchInput, kills: string[]): { plans: JobPlan[]; truncated: boolean } {
  const { table, timing } = input;
  const due = table.jobsDueBy(timing.nowMs + timing.fireLeadMs, DUE_SCAN_MAX);
  const plans: JobPlan[] = [];
  let collected = 0;
  for (const job of due) {
    if (collected >= PASS_RECORDS_MAX) return { plans, truncated: true };
    const jobTiming = job.concurrency === 'allow' ? timing : { ...timing, fireLeadMs: Math.min(timing.fireLeadMs, input.strictFireLeadMs) };
    const planned = planInstants(job, jobTiming, Math.min(JOB_RECORDS_PER_PASS_MAX, PASS_RECORDS_MAX - collected));
    if (planned.length === 0) continue;
    const active = job.concurrency === 'allow' ? [] : table.activeRunsOfJob(job.id, REPLACE_KILLS_PER_JOB_MAX);
    const records = applyConcurrency(planned, job.concurrency, active.length > 0);
    if (job.concurrency === 'replace' && records.some((r) => r.kind === 'run')) {
      for (const run of active) if (run.killRequested === null && !input.killsInFlight.has(run.runId)) kills.push(run.runId);
    }
    collected += records.length;
    plans.push({ job, records, decisions: records.map(() => null) });
  }
  return { plans, truncated: false };
}

/** Decides placement for every run candidate, most important first. */
function placeAll(view: LoadView, plans: readonly JobPlan[], queued: readonly QueuedFire[], queuedJobs: readonly (Job | null)[], out: (Placement | null)[]): void {
  const candidates: Candidate[] = [];
  for (const plan of plans) {
    plan.records.forEach((r, i) => {
      if (r.kind !== 'run') return;
      candidates.push({
        priority: plan.job.priority, orderAt: r.scheduledAt, jobId: plan.job.id, target: plan.job.target, decide: (p) => (plan.decisions[i] = p),
        queue: plan.job.executor.type === 'queue',
      });
    });
  }
  queued.forEach((q, i) => {
    const job = queuedJobs[i];
    if (job === null || job === undefined) return;
    // Queued fires are independent of each other and of the job's scheduled instants.
    candidates.push({ priority: job.priority, orderAt: q.scheduledAt, jobId: `\u0000${q.runId}`, target: job.target, decide: (p) => (out[i] = p), queue: job.executor.type === 'queue' });
  });
  candidates.sort((a, b) => b.priority - a.priority || a.orderAt - b.orderAt || (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0));
  const blocked = new Set<string>();
  for (const c of candidates) {
    if (blocked.has(c.jobId)) {
      c.decide({ kind: 'wait', why: 'an earlier instant of the job waits' });
      continue;
    }
    const placement = c.queue ? IN_QUEUE : place(c.target, view);
    if (placement.kind === 'wait') blocked.add(c.jobId);
    c.decide(placement);
  }
}

function scheduledFire(jobId: string, record: PlannedRecord, decision: Placement | null, newRunId: () => string): Fire {
  const base = { jobId, runId: newRunId(), scheduledAt: record.scheduledAt, trigger: record.trigger };
  if (record.kind === 'skip') return { ...base, executors: [], outcome: 'skip', reason: reasonText(record.reason) };
  assert.ok(decision !== null && decision.kind !== 'wait', 'a run is emitted only once placed');
  if (decision.kind === 'none') return { ...base, executors: [], outcome: 'skip', reason: reasonText(decision.reason) };
  return { ...base, executors: [...decision.nodes], notBefore: record.scheduledAt, outcome: 'run' };
}

export function queuedFire(q: QueuedFire, decision: Exclude<Placement, { kind: 'wait' }>): Fire {
  const trigger: Trigger = q.trigger;
  const base = {
    jobId: q.jobId, runId: q.runId, scheduledAt: q.scheduledAt, trigger, payload: q.payload, key: q.key, ...(q.priority == null ? {} : { priority: q.priority }),
    ...(q.triggeredBy === undefined || q.triggeredBy === null ? {} : { triggeredBy: q.triggeredBy }),
  };
  if (decision.kind === 'none') return { ...base, executors: [], outcome: 'skip', reason: reasonText(decision.reason) };
  return { ...base, executors: [...decision.nodes], notBefore: null, outcome: 'run' };
}

function reasonText(reason: string): string {
  return reason.length <= REASON_CHARS_MAX ? reason : `${reason.slice(0, REASON_CHARS_MAX - 1)}…`;
}
