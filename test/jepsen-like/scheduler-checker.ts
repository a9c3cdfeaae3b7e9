// Checks the scheduler's guarantees from the run records and an outside sink the jobs append
// to (one line per execution: job, scheduled instant, runId, attempt, node, wall ms):
//   - every instant of every job within the window has exactly one run record (G1, G2);
//   - no (runId, attempt) executed twice (G3) and every run that was not skipped executed
//     at least once; a run recorded `succeeded` executed that very attempt;
//   - a run recorded `skipped` never executed;
//   - no run record seen during the test is missing at the end (G4).
// Plus figures: lateness (execution start minus instant) and the largest execution gaps.

export interface SchedulerJob {
  readonly id: string;
  /** Instants are anchor + k * periodMs; anchor is derived from the records for `@every`. */
  readonly periodMs: number;
  readonly anchored: boolean;
  readonly misfire: 'fire-all' | 'fire-once' | 'skip';
}

export interface RunRecord {
  readonly runId: string;
  readonly jobId: string;
  readonly scheduledAt: string;
  readonly attempt: number;
  readonly status: string;
}

export interface SinkLine {
  readonly jobId: string;
  readonly scheduledAt: string;
  readonly runId: string;
  readonly attempt: number;
  readonly node: string;
  readonly atMs: number;
}

export interface SchedulerCheckInput {
  readonly jobs: readonly SchedulerJob[];
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  /** Every job's records at the end (newest attempt of each run). */
  readonly records: readonly RunRecord[];
  readonly sink: readonly SinkLine[];
  /** runIds seen in any poll during the test. */
  readonly observedRunIds: ReadonlySet<string>;
  /** Full outages (every node down), wall clock; longer than catch-up, so misfire policies apply. */
  readonly outages?: readonly { readonly startMs: number; readonly endMs: number }[];
}

export interface SchedulerCheckResult {
  readonly ok: boolean;
  readonly instants: number;
  readonly missing: string[];
  readonly duplicateRecords: string[];
  readonly executedTwice: string[];
  readonly notExecuted: string[];
  readonly succeededNotExecuted: string[];
  readonly skippedButExecuted: string[];
  readonly lostRecords: string[];
  readonly policyViolations: string[];
  readonly statuses: Record<string, number>;
  readonly latenessMs: { p50: number; p99: number; max: number; min: number };
  readonly largestGapsMs: number[];
  /** Runs that executed in more than one attempt (a retry after a lost executor: at least once, G3). */
  readonly runsExecutedInSeveralAttempts: number;
}

export function parseSink(text: string): SinkLine[] {
  const lines: SinkLine[] = [];
  for (const line of text.split('\n')) {
    const [jobId, scheduledAt, runId, attempt, node, atMs] = line.trim().split(' ');
    if (jobId === undefined || atMs === undefined || scheduledAt === undefined || runId === undefined || node === undefined) continue;
    lines.push({ jobId, scheduledAt, runId, attempt: Number(attempt), node, atMs: Number(atMs) });
  }
  return lines;
}

function instantsOf(job: SchedulerJob, records: readonly RunRecord[], startMs: number, endMs: number): number[] {
  let anchor = 0;
  if (job.anchored) {
    const first = records.find((r) => r.jobId === job.id);
    if (first === undefined) return [];
    anchor = Date.parse(first.scheduledAt) % job.periodMs;
  }
  const out: number[] = [];
  const first = Math.ceil((startMs - anchor) / job.periodMs) * job.periodMs + anchor;
  for (let t = first; t <= endMs; t += job.periodMs) out.push(t);
  return out;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] as number;
}

export function checkScheduler(input: SchedulerCheckInput): SchedulerCheckResult {
  const byInstant = new Map<string, RunRecord[]>();
  for (const r of input.records) {
    const key = `${r.jobId} ${new Date(Date.parse(r.scheduledAt)).toISOString()}`;
    byInstant.set(key, [...(byInstant.get(key) ?? []), r]);
  }
  const executions = new Map<string, number>();
  const executedRuns = new Set<string>();
  const attemptsByRun = new Map<string, Set<number>>();
  for (const line of input.sink) {
    attemptsByRun.set(line.runId, (attemptsByRun.get(line.runId) ?? new Set<number>()).add(line.attempt));
    const pair = `${line.runId}#${line.attempt}`;
    executions.set(pair, (executions.get(pair) ?? 0) + 1);
    executedRuns.add(line.runId);
  }
  const missing: string[] = [];
  const duplicateRecords: string[] = [];
  const notExecuted: string[] = [];
  let instants = 0;
  for (const job of input.jobs) {
    for (const t of instantsOf(job, input.records, input.windowStartMs, input.windowEndMs)) {
      instants++;
      const key = `${job.id} ${new Date(t).toISOString()}`;
      const runs = byInstant.get(key) ?? [];
      if (runs.length === 0) missing.push(key);
      if (runs.length > 1) duplicateRecords.push(`${key} (${runs.map((r) => r.runId).join(', ')})`);
      for (const r of runs) if (r.status !== 'skipped' && !executedRuns.has(r.runId)) notExecuted.push(`${key} ${r.runId} ${r.status}`);
    }
  }
  // Duplicates outside the window count too: G2 holds at every instant.
  for (const [key, runs] of byInstant) if (runs.length > 1 && !duplicateRecords.some((d) => d.startsWith(key))) duplicateRecords.push(`${key} (${runs.map((r) => r.runId).join(', ')})`);
  const executedTwice = [...executions].filter(([, n]) => n > 1).map(([pair, n]) => `${pair} x${n}`);
  const succeededNotExecuted = input.records.filter((r) => r.status === 'succeeded' && !executions.has(`${r.runId}#${r.attempt}`)).map((r) => `${r.jobId} ${r.scheduledAt} ${r.runId}#${r.attempt}`);
  const skippedButExecuted = input.records.filter((r) => r.status === 'skipped' && executedRuns.has(r.runId)).map((r) => `${r.jobId} ${r.scheduledAt} ${r.runId}`);
  const present = new Set(input.records.map((r) => r.runId));
  const lostRecords = [...input.observedRunIds].filter((id) => !present.has(id));
  const statuses: Record<string, number> = {};
  for (const r of input.records) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const lateness = input.sink.map((l) => l.atMs - Date.parse(l.scheduledAt)).sort((a, b) => a - b);
  const inWindow = (l: SinkLine) => Date.parse(l.scheduledAt) >= input.windowStartMs && Date.parse(l.scheduledAt) <= input.windowEndMs;
  const starts = input.sink.filter(inWindow).map((l) => l.atMs).sort((a, b) => a - b);
  const gaps = starts.slice(1).map((t, i) => t - (starts[i] as number)).sort((a, b) => b - a).slice(0, 5);
  const policyViolations = checkMisfirePolicies(input);
  const ok = policyViolations.length +
    missing.length + duplicateRecords.length + executedTwice.length + notExecuted.length + succeededNotExecuted.length + skippedButExecuted.length + lostRecords.length === 0;
  return {
    ok,
    instants,
    missing,
    duplicateRecords,
    executedTwice,
    notExecuted,
    succeededNotExecuted,
    skippedButExecuted,
    lostRecords,
    policyViolations,
    statuses,
    latenessMs: { p50: percentile(lateness, 0.5), p99: percentile(lateness, 0.99), max: lateness.at(-1) ?? 0, min: lateness[0] ?? 0 },
    largestGapsMs: gaps,
    runsExecutedInSeveralAttempts: [...attemptsByRun.values()].filter((attempts) => attempts.size > 1).length,
  };
}

/** Margin around an outage's edges: fires just before the kill and the restart's own instants. */
const OUTAGE_EDGE_MS = 1500;

/**
 * G6: instants well inside a full outage follow the job's misfire policy — `skip`: all
 * skipped; `fire-all` (window longer than the outage): none skipped; `fire-once`: at most
 * one of them runs.
 */
function checkMisfirePolicies(input: SchedulerCheckInput): string[] {
  const out: string[] = [];
  for (const outage of input.outages ?? []) {
    for (const job of input.jobs) {
      const inside = input.records.filter((r) => r.jobId === job.id && Date.parse(r.scheduledAt) >= outage.startMs + OUTAGE_EDGE_MS && Date.parse(r.scheduledAt) <= outage.endMs - OUTAGE_EDGE_MS);
      const ran = inside.filter((r) => r.status !== 'skipped');
      const label = `${job.id} (${job.misfire}) in the outage ${new Date(outage.startMs).toISOString()}..${new Date(outage.endMs).toISOString()}`;
      if (job.misfire === 'skip' && ran.length > 0) out.push(`${label}: ${ran.length} of ${inside.length} instants ran`);
      if (job.misfire === 'fire-all' && ran.length < inside.length) out.push(`${label}: ${inside.length - ran.length} of ${inside.length} instants skipped`);
      if (job.misfire === 'fire-once' && ran.length > 1) out.push(`${label}: ${ran.length} instants ran`);
    }
  }
  return out;
}
