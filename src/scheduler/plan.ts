// Which records a due job gets now: pure, from the job's owed instant, the leader's clock and
// the options. A job whose oldest owed instant is less than catchUpMs old (a failover gap, a
// slow proposal, a just-due instant) fires every instant as `schedule`. A job owing older
// instants went through an outage: its missed instants follow the misfire policy as a whole,
// so `fire-once` means one run however many instants were missed.
import assert from 'node:assert';
import { instantsBetween, parseSchedule, type Job, type Trigger } from '../statemachine/index.js';

export type PlannedRecord =
  | { readonly kind: 'run'; readonly scheduledAt: number; readonly trigger: Trigger }
  | { readonly kind: 'skip'; readonly scheduledAt: number; readonly trigger: Trigger; readonly reason: string };

export type PlanTiming = { readonly nowMs: number; readonly fireLeadMs: number; readonly catchUpMs: number };

export const SKIP_REASONS = {
  policySkip: 'misfire policy skip: missed while no leader could fire it',
  fireOnce: 'misfire policy fire-once: a newer missed instant runs instead',
  outsideWindow: 'misfire: missed by more than the misfire window',
  forbid: 'concurrency forbid: a previous run is still active',
} as const;

/**
 * Records for `job` in instant order, at most `recordsMax`; instants beyond wait for the next
 * pass. Skips always precede runs, so a run that has to wait for a slot never holds back a
 * skip the job owes before it.
 */
export function planInstants(job: Job, timing: PlanTiming, recordsMax: number): PlannedRecord[] {
  assert.ok(recordsMax >= 1, 'a plan needs room for one record');
  const first = job.nextFireAt;
  const horizonMs = timing.nowMs + timing.fireLeadMs;
  if (first === null || first > horizonMs) return [];
  const parsed = parseSchedule(job.schedule);
  if (!parsed.ok) return [];
  // One more than fits tells whether instants remain beyond this pass.
  const instants = [first, ...instantsBetween(parsed.schedule, job.timezone, first, horizonMs, job.createdAt, recordsMax)];
  const truncated = instants.length > recordsMax;
  if (truncated) instants.length = recordsMax;
  if (timing.nowMs - first < timing.catchUpMs) return instants.map((scheduledAt) => ({ kind: 'run', scheduledAt, trigger: 'schedule' }));
  return planOutage(job, instants, truncated, timing.nowMs);
}

function planOutage(job: Job, instants: readonly number[], truncated: boolean, nowMs: number): PlannedRecord[] {
  const windowStartMs = nowMs - job.misfire.windowMs;
  // The newest missed instant is known only when the list reaches past it.
  let newestMissed: number | null = null;
  if (!truncated || instants.some((t) => t > nowMs)) {
    for (const t of instants) if (t <= nowMs) newestMissed = t;
  }
  return instants.map((scheduledAt): PlannedRecord => {
    if (scheduledAt > nowMs) return { kind: 'run', scheduledAt, trigger: 'schedule' };
    if (scheduledAt < windowStartMs) return { kind: 'skip', scheduledAt, trigger: 'misfire', reason: SKIP_REASONS.outsideWindow };
    switch (job.misfire.policy) {
      case 'skip':
        return { kind: 'skip', scheduledAt, trigger: 'misfire', reason: SKIP_REASONS.policySkip };
      case 'fire-all':
        return { kind: 'run', scheduledAt, trigger: 'misfire' };
      case 'fire-once':
        return scheduledAt === newestMissed
          ? { kind: 'run', scheduledAt, trigger: 'misfire' }
          : { kind: 'skip', scheduledAt, trigger: 'misfire', reason: SKIP_REASONS.fireOnce };
    }
  });
}

/**
 * Applies the job's concurrency policy to a plan, given whether a run of it is active now.
 * forbid with an active run: every run becomes a skip (the table would record the same).
 * forbid/replace: at most one run per pass, so the next pass sees it active (and, for
 * replace, kills it) before the next instant runs.
 */
export function applyConcurrency(plan: readonly PlannedRecord[], concurrency: Job['concurrency'], hasActive: boolean): PlannedRecord[] {
  if (concurrency === 'allow') return [...plan];
  if (concurrency === 'forbid' && hasActive) {
    return plan.map((r) => (r.kind === 'run' ? { kind: 'skip', scheduledAt: r.scheduledAt, trigger: r.trigger, reason: SKIP_REASONS.forbid } : r));
  }
  const firstRun = plan.findIndex((r) => r.kind === 'run');
  return firstRun < 0 ? [...plan] : plan.slice(0, firstRun + 1);
}
