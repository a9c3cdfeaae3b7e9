// The pull-worker workload: two queue jobs (two functions), submitters that post runs with
// priorities and repeated keys through any node, and in-process pull workers that claim,
// heartbeat, complete or fail through any node. Worker incarnations die after a few seconds
// holding whatever they claimed (left to lease expiry), and some abandon a claimed run
// without a word. Everything answered is recorded for worker-checker.ts.
import { httpJson, type HttpAnswer } from '../../src/cli/http-client.js';
import type { Prng } from '../support/prng.js';
import type { JepsenCluster } from './cluster.js';
import { fetchRuns } from './scheduler-workload.js';
import type { ClaimAnswer, Priority, QueueRunRecord, Submission, WorkerReport } from './worker-checker.js';

export const WORKER_JOBS: readonly { id: string; fn: string }[] = [
  { id: 'queue-a', fn: 'fn-a' },
  { id: 'queue-b', fn: 'fn-b' },
];
export const WORKER_RETRY_MAX = 10;
/** Short, so that a killed worker's attempts come back within a few seconds. */
const LEASE_MS = 2000;
const HEARTBEAT_EVERY_MS = 600;
/**
 * Runs kept per job (the history limit, 1000): the submitters together stop before it, since
 * an older run pushed out of the history could not be checked (it would read as missing).
 */
const SUBMISSIONS_PER_JOB_MAX = 900;
/** Workers alive at a time; each incarnation lives 3–12 s. */
const WORKER_SLOTS = 4;
/** The most runs one worker holds at once (a drain worker always takes that many). */
const DRAIN_CONCURRENCY = 4;
const REQUEST_TIMEOUT_MS = 4000;
const PRIORITIES: readonly Priority[] = ['high', 'normal', 'low'];

export function workerJobSpec(fn: string): Record<string, unknown> {
  return { schedule: '@manual', executor: { type: 'queue', function: fn, leaseMs: LEASE_MS }, retry: { max: WORKER_RETRY_MAX, backoffMs: 100, maxBackoffMs: 500 }, history: 1000 };
}

export interface WorkerHistory {
  readonly submissions: Submission[];
  readonly claims: ClaimAnswer[];
  readonly reports: WorkerReport[];
}

interface Context {
  readonly cluster: JepsenCluster;
  readonly prng: Prng;
  readonly now: () => number;
  readonly history: WorkerHistory;
  readonly stopped: () => boolean;
  /** A call answered in a way the protocol does not allow: a workload error. */
  readonly fail: (what: string) => void;
  /** After the faults: take as much as allowed and finish quickly, so the backlog ends in time. */
  readonly draining?: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function anyNode(ctx: Context): string {
  return ctx.cluster.httpOf(ctx.cluster.ids[ctx.prng.int(ctx.cluster.ids.length)] ?? 'n1');
}

async function call(method: string, url: string, body: unknown, timeoutMs: number): Promise<HttpAnswer | null> {
  try {
    return await httpJson(method, url, body, timeoutMs);
  } catch {
    return null; // no answer: unknown outcome
  }
}

/** Distinct keys submitted to a job by every submitter so far: each may have made a run. */
function keysSubmitted(history: WorkerHistory, jobId: string): number {
  const keys = new Set<string>();
  for (const s of history.submissions) if (s.jobId === jobId) keys.add(s.key);
  return keys.size;
}

/** One submitter: new keys, and repeats of its earlier keys (which must answer the same run). */
export async function runSubmitter(ctx: Context, client: string): Promise<void> {
  const keysByJob = new Map<string, string[]>();
  let pending: { jobId: string; key: string } | null = null;
  for (let seq = 0; !ctx.stopped(); seq++) {
    const jobId: string = pending?.jobId ?? WORKER_JOBS[ctx.prng.int(WORKER_JOBS.length)]?.id ?? 'queue-a';
    const keys = keysByJob.get(jobId) ?? [];
    if (pending === null && keysSubmitted(ctx.history, jobId) >= SUBMISSIONS_PER_JOB_MAX) {
      if (WORKER_JOBS.every((job) => keysSubmitted(ctx.history, job.id) >= SUBMISSIONS_PER_JOB_MAX)) return;
      continue;
    }
    // An unanswered submission is sent again with its key: it must not make a second run.
    const key: string = pending?.key ?? (keys.length > 0 && ctx.prng.chance(0.25) ? (keys[ctx.prng.int(keys.length)] ?? `${client}-${seq}`) : `${client}-${seq}`);
    const priority: Priority = PRIORITIES[ctx.prng.int(PRIORITIES.length)] ?? 'normal';
    const callMs = ctx.now();
    const answer = await call('POST', `${anyNode(ctx)}/v1/jobs/${jobId}/run`, { key, priority, payload: `${client}:${seq}` }, REQUEST_TIMEOUT_MS);
    const body: unknown = answer?.body;
    const runId = answer !== null && (answer.status === 202 || answer.status === 200) && typeof body === 'object' && body !== null && typeof Reflect.get(body, 'runId') === 'string' ? String(Reflect.get(body, 'runId')) : null;
    if (answer !== null && answer.status >= 400 && answer.status < 500 && answer.status !== 429 && answer.status !== 421) throw new Error(`submission refused: ${answer.status} ${answer.text.slice(0, 200)}`);
    ctx.history.submissions.push({ client, jobId, key, priority, runId, callMs, returnMs: runId === null ? Infinity : ctx.now() });
    if (!keys.includes(key)) keys.push(key);
    keysByJob.set(jobId, keys);
    pending = runId === null ? { jobId, key } : null;
    await sleep(ctx.prng.chance(0.3) ? 0 : 20 + ctx.prng.int(150)); // bursts make a backlog, so claims take batches
  }
}

interface Held {
  readonly runId: string;
  readonly attempt: number;
}

/** The worker slots: each runs incarnations one after another until the workload stops. */
export async function runWorkers(ctx: Context): Promise<number> {
  let incarnations = 0;
  await Promise.all(Array.from({ length: WORKER_SLOTS }, async () => {
    while (!ctx.stopped()) await workerIncarnation(ctx, `w${++incarnations}`, ctx.now() + 3000 + ctx.prng.int(9000));
  }));
  return incarnations;
}

/** The workers that drain the queues after the faults: they live until everything ended. */
export async function drainWorkers(ctx: Context, first: number, done: () => boolean): Promise<void> {
  await Promise.all(Array.from({ length: WORKER_SLOTS }, (_, i) => workerIncarnation({ ...ctx, stopped: done, draining: true }, `w${first + i + 1}`, Infinity)));
}

async function workerIncarnation(ctx: Context, worker: string, diesAtMs: number): Promise<void> {
  const alive = () => !ctx.stopped() && ctx.now() < diesAtMs;
  const running = new Set<Promise<void>>();
  const concurrency = ctx.draining === true ? DRAIN_CONCURRENCY : 1 + ctx.prng.int(DRAIN_CONCURRENCY);
  while (alive()) {
    if (running.size >= concurrency) {
      await Promise.race(running);
      continue;
    }
    const functions = ctx.prng.chance(0.7) ? WORKER_JOBS.map((j) => j.fn) : [WORKER_JOBS[ctx.prng.int(WORKER_JOBS.length)]?.fn ?? 'fn-a'];
    const waitMs = 500 + ctx.prng.int(1500);
    const callMs = ctx.now();
    const answer = await call('POST', `${anyNode(ctx)}/v1/workers/claim`, { worker, functions, max: concurrency - running.size, waitMs }, waitMs + REQUEST_TIMEOUT_MS);
    const items = answer?.status === 200 ? claimItems(answer.body) : null;
    if (items === null) {
      await sleep(100 + ctx.prng.int(200));
      continue;
    }
    // Recorded even when this incarnation died meanwhile: those attempts were handed to it.
    ctx.history.claims.push({ worker, callMs, returnMs: ctx.now(), items });
    if (!alive()) return;
    for (const held of items) {
      const p = work(ctx, worker, held, alive).catch((error: unknown) => ctx.fail(String(error))).finally(() => running.delete(p));
      running.add(p);
    }
  }
  // Dying: whatever is still running is abandoned mid-run (its lease runs out).
}

function claimItems(body: unknown): Held[] | null {
  const items: unknown = typeof body === 'object' && body !== null ? Reflect.get(body, 'items') : null;
  if (!Array.isArray(items)) return null;
  const out: Held[] = [];
  for (const item of items) {
    const runId: unknown = typeof item === 'object' && item !== null ? Reflect.get(item, 'runId') : null;
    const attempt: unknown = typeof item === 'object' && item !== null ? Reflect.get(item, 'attempt') : null;
    if (typeof runId !== 'string' || typeof attempt !== 'number') return null;
    out.push({ runId, attempt });
  }
  return out;
}

async function report(ctx: Context, worker: string, held: Held, kind: WorkerReport['kind'], extra: { retry?: boolean; result?: string }): Promise<number | null> {
  const callMs = ctx.now();
  const body = { worker, attempt: held.attempt, ...(kind === 'complete' ? { result: extra.result } : {}), ...(kind === 'fail' ? { error: 'flaky', retry: extra.retry } : {}) };
  const answer = await call('POST', `${anyNode(ctx)}/v1/runs/${held.runId}/${kind}`, body, REQUEST_TIMEOUT_MS);
  const status = answer === null || answer.status >= 500 || answer.status === 429 || answer.status === 421 ? null : answer.status;
  if (status !== null && status !== 200 && status !== 409) throw new Error(`${kind} of ${held.runId}#${held.attempt} by ${worker}: ${answer?.status} ${answer?.text.slice(0, 200)}`);
  ctx.history.reports.push({ worker, kind, runId: held.runId, attempt: held.attempt, retry: extra.retry ?? true, result: extra.result ?? null, callMs, returnMs: status === null ? Infinity : ctx.now(), status });
  return status;
}

async function work(ctx: Context, worker: string, held: Held, alive: () => boolean): Promise<void> {
  if (ctx.prng.chance(0.05)) return; // abandons the run without a word: its lease runs out
  // Draining, a run takes a quarter second at most: a backlog of hundreds of runs (a fault
  // phase's submissions) at 1.25 s each could outlast the drain's deadline on a slow machine.
  const durationMs = ctx.prng.int(ctx.draining === true ? 250 : 2500);
  const startedMs = ctx.now();
  while (ctx.now() - startedMs < durationMs) {
    await sleep(Math.min(HEARTBEAT_EVERY_MS, durationMs));
    if (!alive()) return;
    if ((await report(ctx, worker, held, 'heartbeat', {})) === 409) return; // no longer ours
  }
  const roll = ctx.prng.int(100);
  const kind = roll < 85 ? 'complete' : 'fail';
  const extra = kind === 'complete' ? { result: `${worker}:${held.runId}:${held.attempt}` } : { retry: roll < 97 };
  // An unanswered report is sent again: a second `complete` of one attempt must be refused.
  for (let tries = 0; tries < 5 && alive(); tries++) {
    const status = await report(ctx, worker, held, kind, extra);
    if (status !== null) return;
    await sleep(200);
  }
}

/** Every queue run record through `node`, in the checker's shape. */
export async function fetchQueueRuns(cluster: JepsenCluster, node: string): Promise<QueueRunRecord[]> {
  const out: QueueRunRecord[] = [];
  for (const job of WORKER_JOBS) {
    // Newest first: the last in the list was created first.
    const runs = await fetchRuns(cluster, node, job.id, 10_000);
    runs.forEach((run, i) => {
      const priority: unknown = Reflect.get(run, 'priority');
      const result: unknown = Reflect.get(run, 'result');
      out.push({ runId: run.runId, jobId: run.jobId, status: run.status, attempt: run.attempt, priority: typeof priority === 'string' ? priority : null, result: typeof result === 'string' ? result : null, created: runs.length - i });
    });
  }
  return out;
}

export type { Context as WorkerContext };
