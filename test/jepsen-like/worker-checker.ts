// Checks the pull-worker guarantees (api.md "Pull workers and functions") from what the
// in-process workers and submitters saw, plus the run records at the end:
//   - every acknowledged submission's run is recorded and ended; one that ended other than
//     `succeeded` did so per the retry policy (its retries used up, or a worker's
//     `fail` with `retry: false` for that very attempt was accepted);
//   - a run recorded `succeeded` carries the result of the worker that was handed its final
//     attempt, and no run is completed twice;
//   - no (run, attempt) is in two claim answers; a report is accepted only from the worker
//     that was handed that attempt, and never once a later attempt was handed out or the
//     run's success was acknowledged (two holders at once);
//   - the items of one claim answer are in priority order (high, normal, low), and items of
//     one job and one priority oldest first (the queue's FIFO within a priority);
//   - submissions with the same job and key answer one run.

export type Priority = 'high' | 'normal' | 'low';
const RANK: Readonly<Record<Priority, number>> = { high: 0, normal: 1, low: 2 };

export interface Submission {
  readonly client: string;
  readonly jobId: string;
  readonly key: string;
  readonly priority: Priority;
  /** null: no answer (the submission may or may not be in the log). */
  readonly runId: string | null;
  readonly callMs: number;
  readonly returnMs: number;
}

export interface ClaimAnswer {
  readonly worker: string;
  readonly callMs: number;
  readonly returnMs: number;
  readonly items: readonly { readonly runId: string; readonly attempt: number }[];
}

export interface WorkerReport {
  readonly worker: string;
  readonly kind: 'heartbeat' | 'complete' | 'fail';
  readonly runId: string;
  readonly attempt: number;
  /** For `fail`: whether the worker asked for a retry. */
  readonly retry: boolean;
  /** For `complete`: the result sent. */
  readonly result: string | null;
  readonly callMs: number;
  readonly returnMs: number;
  /** The HTTP status, or null when no answer came (unknown outcome). */
  readonly status: number | null;
}

export interface QueueRunRecord {
  readonly runId: string;
  readonly jobId: string;
  readonly status: string;
  readonly attempt: number;
  readonly priority: string | null;
  readonly result: string | null;
  /** The run's place in its job's creation order (larger: created later). */
  readonly created: number;
}

export interface WorkerCheckInput {
  readonly submissions: readonly Submission[];
  readonly claims: readonly ClaimAnswer[];
  readonly reports: readonly WorkerReport[];
  /** Every run record of the queue jobs at the end. */
  readonly records: readonly QueueRunRecord[];
  /** retry.max per queue job: a run has at most max + 1 attempts. */
  readonly retryMax: Readonly<Record<string, number>>;
}

export interface WorkerCheckResult {
  readonly ok: boolean;
  readonly submissions: { acknowledged: number; unknown: number; runs: number; coalesced: number };
  readonly statuses: Record<string, number>;
  readonly claims: number;
  /** Claim answers with two items or more: the ones the priority order is checked on. */
  readonly multiItemClaims: number;
  readonly attemptsHanded: number;
  readonly runsInSeveralAttempts: number;
  readonly missingRuns: string[];
  readonly notEnded: string[];
  readonly endedAgainstPolicy: string[];
  readonly wrongResults: string[];
  readonly completedTwice: string[];
  readonly claimedTwice: string[];
  readonly foreignReports: string[];
  readonly staleReports: string[];
  readonly claimedAfterSuccess: string[];
  readonly priorityOrder: string[];
  /** Claim answers where a newer run of a job came before an older one of the same priority. */
  readonly fifoOrder: string[];
  readonly keysSplit: string[];
}

const accepted = (r: WorkerReport) => r.status === 200;
const rankOf = (priority: string | null): number => (priority === 'high' || priority === 'normal' || priority === 'low' ? RANK[priority] : RANK.normal);

/**
 * Whether a run is done for good: succeeded, or final with no retry owed — its attempts used
 * up, or its worker's `fail` with `retry: false` for that attempt was not refused. A lost or
 * failed run with attempts left is owed a retry (it is not done yet).
 */
export function isDone(r: QueueRunRecord, reports: readonly WorkerReport[], retryMax: number): boolean {
  if (r.status === 'pending' || r.status === 'running') return false;
  if (r.status === 'succeeded' || r.attempt >= retryMax + 1) return true;
  return r.status === 'failed' && reports.some((x) => x.kind === 'fail' && !x.retry && x.runId === r.runId && x.attempt === r.attempt && x.status !== 409);
}

export function checkWorkers(input: WorkerCheckInput): WorkerCheckResult {
  const records = new Map(input.records.map((r) => [r.runId, r]));
  const acked = input.submissions.flatMap((s) => (s.runId === null ? [] : [{ ...s, runId: s.runId }]));
  const missingRuns = [...new Set(acked.map((s) => s.runId))].filter((id) => !records.has(id));
  const notEnded = input.records.filter((r) => r.status === 'pending' || r.status === 'running').map((r) => `${r.jobId} ${r.runId}#${r.attempt} ${r.status}`);

  // Who was handed each attempt, and when the answer arrived.
  const holder = new Map<string, { worker: string; returnMs: number }>();
  const claimedTwice: string[] = [];
  const priorityOrder: string[] = [];
  const fifoOrder: string[] = [];
  const describe = (claim: ClaimAnswer): string => `${claim.worker} at ${new Date(claim.returnMs).toISOString()}: ${claim.items.map((it) => `${it.runId}(${records.get(it.runId)?.priority ?? '?'})`).join(', ')}`;
  for (const claim of input.claims) {
    for (const item of claim.items) {
      const pair = `${item.runId}#${item.attempt}`;
      const before = holder.get(pair);
      if (before !== undefined) claimedTwice.push(`${pair} handed to ${before.worker} and ${claim.worker}`);
      else holder.set(pair, { worker: claim.worker, returnMs: claim.returnMs });
    }
    const ranks = claim.items.map((i) => rankOf(records.get(i.runId)?.priority ?? null));
    for (let i = 1; i < ranks.length; i++) {
      if ((ranks[i] ?? 1) < (ranks[i - 1] ?? 1)) {
        priorityOrder.push(describe(claim));
        break;
      }
    }
    // Oldest first within one job and one priority: the only order both sides can see (the
    // queue orders all of a function's runs by creation, which a job's run list shows).
    const newest = new Map<string, number>();
    for (const item of claim.items) {
      const r = records.get(item.runId);
      if (r === undefined) continue;
      const lane = `${r.jobId} ${rankOf(r.priority)}`;
      if ((newest.get(lane) ?? -Infinity) > r.created) {
        fifoOrder.push(describe(claim));
        break;
      }
      newest.set(lane, r.created);
    }
  }
  const attemptsByRun = new Map<string, number[]>();
  for (const claim of input.claims) for (const item of claim.items) attemptsByRun.set(item.runId, [...(attemptsByRun.get(item.runId) ?? []), item.attempt]);

  const foreignReports: string[] = [];
  const staleReports: string[] = [];
  const completedAt = new Map<string, number>();
  const completions = new Map<string, number>();
  for (const r of input.reports.filter(accepted)) {
    const pair = `${r.runId}#${r.attempt}`;
    const held = holder.get(pair);
    if (held === undefined || held.worker !== r.worker) foreignReports.push(`${r.kind} ${pair} by ${r.worker} accepted; handed to ${held?.worker ?? 'nobody'}`);
    // A later attempt handed out (answer received) before this report was even sent.
    const later = input.claims.find((c) => c.returnMs < r.callMs && c.items.some((i) => i.runId === r.runId && i.attempt > r.attempt));
    if (later !== undefined) staleReports.push(`${r.kind} ${pair} by ${r.worker} accepted after ${later.worker} was handed a later attempt`);
    if (r.kind === 'complete') {
      completions.set(r.runId, (completions.get(r.runId) ?? 0) + 1);
      completedAt.set(r.runId, Math.min(completedAt.get(r.runId) ?? Infinity, r.returnMs));
    }
  }
  const completedTwice = [...completions].filter(([, n]) => n > 1).map(([runId, n]) => `${runId} completed x${n}`);
  const claimedAfterSuccess: string[] = [];
  for (const claim of input.claims) {
    for (const item of claim.items) {
      const done = completedAt.get(item.runId);
      if (done !== undefined && done < claim.callMs) claimedAfterSuccess.push(`${item.runId}#${item.attempt} handed to ${claim.worker} after its success was acknowledged`);
    }
  }

  const endedAgainstPolicy: string[] = [];
  const wrongResults: string[] = [];
  for (const r of input.records) {
    if (r.status === 'pending' || r.status === 'running') continue;
    const pair = `${r.runId}#${r.attempt}`;
    if (r.status === 'succeeded') {
      // The success must be a `complete` of the final attempt by its holder, with its result.
      const held = holder.get(pair);
      const sent = input.reports.filter((x) => x.kind === 'complete' && x.runId === r.runId && x.attempt === r.attempt && x.worker === held?.worker && x.status !== 409);
      if (held === undefined || !sent.some((x) => x.result === r.result)) wrongResults.push(`${pair} succeeded with ${JSON.stringify(r.result)}; handed to ${held?.worker ?? 'nobody'}, who sent ${sent.map((x) => JSON.stringify(x.result)).join(', ') || 'no complete'}`);
      continue;
    }
    if (!isDone(r, input.reports, input.retryMax[r.jobId] ?? 0)) endedAgainstPolicy.push(`${pair} ended ${r.status} with ${(input.retryMax[r.jobId] ?? 0) + 1 - r.attempt} attempts left`);
  }

  const runsByKey = new Map<string, Set<string>>();
  for (const s of acked) {
    const k = `${s.jobId} ${s.key}`;
    runsByKey.set(k, (runsByKey.get(k) ?? new Set<string>()).add(s.runId));
  }
  const keysSplit = [...runsByKey].filter(([, ids]) => ids.size > 1).map(([k, ids]) => `${k}: ${[...ids].join(', ')}`);

  const statuses: Record<string, number> = {};
  for (const r of input.records) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const distinctRuns = new Set(acked.map((s) => s.runId)).size;
  const problems = [missingRuns, notEnded, endedAgainstPolicy, wrongResults, completedTwice, claimedTwice, foreignReports, staleReports, claimedAfterSuccess, priorityOrder, fifoOrder, keysSplit];
  return {
    ok: problems.every((p) => p.length === 0),
    submissions: { acknowledged: acked.length, unknown: input.submissions.length - acked.length, runs: distinctRuns, coalesced: acked.length - distinctRuns },
    statuses,
    claims: input.claims.filter((c) => c.items.length > 0).length,
    multiItemClaims: input.claims.filter((c) => c.items.length > 1).length,
    attemptsHanded: holder.size,
    runsInSeveralAttempts: [...attemptsByRun.values()].filter((a) => new Set(a).size > 1).length,
    missingRuns,
    notEnded,
    endedAgainstPolicy,
    wrongResults,
    completedTwice,
    claimedTwice,
    foreignReports,
    staleReports,
    claimedAfterSuccess,
    priorityOrder,
    fifoOrder,
    keysSplit,
  };
}
