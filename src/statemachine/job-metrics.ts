// Per-job outcome figures, counted as run results apply: final outcomes by status (after all
// retries), the last success, run durations and start lateness as histogram buckets. They are
// replicated state (in the snapshot), so every node shows the same figures and a node restored
// from a snapshot goes on from them instead of from zero. Cardinality is bounded: the first
// JOB_METRICS_JOBS_MAX jobs (in the order they first had an outcome) get series of their own,
// every other job is summed under OTHER_JOBS; a deleted job's series go and free their slot.
import { assert } from './assert.js';
import type { RunRecord, RunStatus } from './types.js';

export const JOB_METRICS_JOBS_MAX = 1000;
export const OTHER_JOBS = '_other';
/** Upper bounds (ms) of the duration histogram's buckets; +Inf is implied. */
export const DURATION_BUCKETS_MS: readonly number[] = [100, 500, 1000, 5000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 10_800_000];
/** Upper bounds (ms) of the lateness histogram's buckets (scheduled instant to first start). */
export const LATENESS_BUCKETS_MS: readonly number[] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000];
export const COUNTED_STATUSES = ['succeeded', 'failed', 'timed_out', 'killed', 'lost', 'skipped'] as const;
export type CountedStatus = (typeof COUNTED_STATUSES)[number];

/** Per-bucket (not cumulative) counts, then sum and count; integers (ms), so every replica adds alike. */
export type HistogramCounts = { readonly buckets: number[]; sumMs: number; count: number };

export type JobFigures = {
  readonly runs: Record<CountedStatus, number>;
  lastSuccessAt: number | null;
  readonly duration: HistogramCounts;
  readonly lateness: HistogramCounts;
};

export type JobMetricsState = {
  readonly jobsMax: number;
  /** job id (or OTHER_JOBS) → figures, in the order jobs got their slot. */
  readonly byJob: Map<string, JobFigures>;
};

export function createJobMetrics(jobsMax: number = JOB_METRICS_JOBS_MAX): JobMetricsState {
  return { jobsMax, byJob: new Map() };
}

function emptyFigures(): JobFigures {
  return {
    runs: { succeeded: 0, failed: 0, timed_out: 0, killed: 0, lost: 0, skipped: 0 },
    lastSuccessAt: null,
    duration: { buckets: DURATION_BUCKETS_MS.map(() => 0), sumMs: 0, count: 0 },
    lateness: { buckets: LATENESS_BUCKETS_MS.map(() => 0), sumMs: 0, count: 0 },
  };
}

function figuresOf(state: JobMetricsState, jobId: string): JobFigures {
  const own = state.byJob.get(jobId);
  if (own !== undefined) return own;
  const ownSlots = state.byJob.size - (state.byJob.has(OTHER_JOBS) ? 1 : 0);
  const key = ownSlots < state.jobsMax ? jobId : OTHER_JOBS;
  let figures = state.byJob.get(key);
  if (figures === undefined) {
    figures = emptyFigures();
    state.byJob.set(key, figures);
  }
  return figures;
}

function observe(h: HistogramCounts, bounds: readonly number[], valueMs: number): void {
  const i = bounds.findIndex((b) => valueMs <= b);
  if (i >= 0) h.buckets[i] = (h.buckets[i] ?? 0) + 1;
  h.sumMs += valueMs;
  h.count += 1;
}

function firstStart(run: RunRecord): number | null {
  let first: number | null = null;
  for (const e of run.executions) if (e.startedAt !== null && (first === null || e.startedAt < first)) first = e.startedAt;
  return first ?? run.startedAt;
}

function isCounted(status: RunStatus): status is CountedStatus {
  return COUNTED_STATUSES.some((s) => s === status);
}

/** The run started for the first time (its first attempt's first execution). */
export function countStart(state: JobMetricsState, run: RunRecord, startedAt: number): void {
  observe(figuresOf(state, run.jobId).lateness, LATENESS_BUCKETS_MS, Math.max(0, startedAt - run.scheduledAt));
}

/** The run reached its final outcome (after its retries), or was recorded skipped. */
export function countOutcome(state: JobMetricsState, run: RunRecord): void {
  if (!isCounted(run.status)) return;
  const figures = figuresOf(state, run.jobId);
  figures.runs[run.status] += 1;
  if (run.status === 'succeeded' && run.finishedAt !== null) figures.lastSuccessAt = Math.max(figures.lastSuccessAt ?? 0, run.finishedAt);
  const start = firstStart(run);
  if (run.status !== 'skipped' && start !== null && run.finishedAt !== null) observe(figures.duration, DURATION_BUCKETS_MS, Math.max(0, run.finishedAt - start));
}

/** A deleted job's series go (their slot is free for the next job); what `_other` summed stays. */
export function forgetJob(state: JobMetricsState, jobId: string): void {
  if (jobId !== OTHER_JOBS) state.byJob.delete(jobId);
}

// Snapshot rows: [jobId, [runs by COUNTED_STATUSES], lastSuccessAt, [duration buckets, sum, count], [lateness …]].
export function jobMetricsRows(state: JobMetricsState): unknown[][] {
  const hist = (h: HistogramCounts) => [h.buckets, h.sumMs, h.count];
  return [...state.byJob].map(([jobId, f]) => [jobId, COUNTED_STATUSES.map((s) => f.runs[s]), f.lastSuccessAt, hist(f.duration), hist(f.lateness)]);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function restoreHistogram(v: unknown, bounds: readonly number[], bad: (m: string) => Error): HistogramCounts {
  if (!Array.isArray(v) || v.length !== 3) throw bad('a job histogram is malformed');
  const [buckets, sumMs, count] = v;
  if (!Array.isArray(buckets) || buckets.length !== bounds.length || !buckets.every(isCount) || typeof sumMs !== 'number' || !isCount(count)) throw bad('a job histogram is malformed');
  return { buckets: [...buckets], sumMs, count };
}

export function restoreJobMetrics(value: unknown, bad: (m: string) => Error, jobsMax: number = JOB_METRICS_JOBS_MAX): JobMetricsState {
  const state = createJobMetrics(jobsMax);
  if (value === undefined) return state;
  if (!Array.isArray(value)) throw bad('job metrics are not a list');
  for (const row of value) {
    if (!Array.isArray(row) || row.length !== 5) throw bad('a job metrics row is malformed');
    const [jobId, runs, lastSuccessAt, duration, lateness] = row;
    if (typeof jobId !== 'string' || !Array.isArray(runs) || runs.length !== COUNTED_STATUSES.length || !runs.every(isCount)
      || !(lastSuccessAt === null || isCount(lastSuccessAt)) || state.byJob.has(jobId)) throw bad('a job metrics row is malformed');
    const figures = emptyFigures();
    COUNTED_STATUSES.forEach((s, i) => {
      const n = runs[i];
      assert(isCount(n), 'checked above');
      figures.runs[s] = n;
    });
    figures.lastSuccessAt = lastSuccessAt;
    state.byJob.set(jobId, { ...figures, duration: restoreHistogram(duration, DURATION_BUCKETS_MS, bad), lateness: restoreHistogram(lateness, LATENESS_BUCKETS_MS, bad) });
  }
  return state;
}
