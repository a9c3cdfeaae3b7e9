// One jepsen-like run: start the cluster behind proxies, create the scheduler jobs, run the
// register clients, the durability writer and the run poller while the nemesis injects
// faults, heal, kill -9 every node and restart them all, then check everything.
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkKvHistory, type LinearizabilityResult } from '../sim/linearizability.js';
import { Prng } from '../support/prng.js';
import { waitFor } from '../support/process-cluster.js';
import { JepsenCluster } from './cluster.js';
import { Nemesis, type FaultEvent, type NemesisKind, type Outage } from './nemesis.js';
import { jobIdOfKey, runRegisterClient, interpret, type RecordedOp } from './register-workload.js';
import { checkScheduler, parseSink, type RunRecord, type SchedulerCheckResult } from './scheduler-checker.js';
import { SCHEDULER_JOBS, fetchJobIds, fetchRuns, schedulerJobSpec } from './scheduler-workload.js';
import { checkDurability, type DurabilityResult } from './durability-checker.js';
import { configureClient, httpJson } from '../../src/cli/http-client.js';
import { checkWorkers, isDone, type WorkerCheckResult } from './worker-checker.js';
import { WORKER_JOBS, WORKER_RETRY_MAX, drainWorkers, fetchQueueRuns, runSubmitter, runWorkers, workerJobSpec, type WorkerContext, type WorkerHistory } from './worker-workload.js';

export interface RunOptions {
  readonly nodes: number;
  readonly timeSec: number;
  readonly nemesis: readonly NemesisKind[];
  readonly seed: number;
  readonly dir: string;
  readonly keep?: boolean;
  /** Clients read with `?stale=true` (local state, no ReadIndex): the checker must catch it. */
  readonly staleReads?: boolean;
  readonly clients?: number;
  readonly keys?: number;
  /** Skip the scheduler workload (the weakened-build test only needs registers). */
  readonly scheduler?: boolean;
  /** Run the pull-worker workload (queue jobs, submitters, pull workers that die). */
  readonly workers?: boolean;
  readonly quietMs?: readonly [number, number];
  readonly holdMs?: readonly [number, number];
  /** How long the `outage` nemesis keeps every node down (default 75 s). */
  readonly outageMs?: number;
  readonly log?: (s: string) => void;
  /** Run with an admin token and peer mutual TLS on (every client call carries the token). */
  readonly secure?: boolean;
}

export interface RunReport {
  readonly ok: boolean;
  readonly seed: number;
  readonly dir: string;
  readonly operations: { total: number; unknown: number; byKind: Record<string, number> };
  readonly faults: number;
  readonly faultsByKind: Record<string, number>;
  readonly register: LinearizabilityResult;
  readonly scheduler: SchedulerCheckResult | null;
  readonly durability: DurabilityResult;
  readonly workers: WorkerCheckResult | null;
  readonly workloadErrors: string[];
}

const now = () => performance.timeOrigin + performance.now();

export async function runJepsen(options: RunOptions): Promise<RunReport> {
  const log = options.log ?? (() => {});
  mkdirSync(options.dir, { recursive: true });
  const prng = new Prng(options.seed);
  const sink = join(options.dir, 'sink.txt');
  const token = options.secure === true ? `chime_jepsen-${'k'.repeat(37)}` : null;
  // The workloads' calls go through httpJson's defaults: they carry the token from here on.
  if (token !== null) configureClient({ token, ca: null });
  const cluster = await JepsenCluster.start({ dir: options.dir, nodes: options.nodes, ...(token === null ? {} : { secure: { token } }) });
  if (token !== null) {
    // The run is only worth its name if access control is really on.
    const anonymous = await httpJson('GET', `${cluster.httpOf(await cluster.waitForLeader())}/v1/jobs`, undefined, 5000, { token: null, ca: null });
    if (anonymous.status !== 401) throw new Error(`a secure run, but a call without a token answered ${anonymous.status}`);
  }
  const history: RecordedOp[] = [];
  const workloadErrors: string[] = [];
  const nemesis = new Nemesis(cluster, { kinds: options.nemesis, prng: prng.fork(), now, log, quietMs: options.quietMs ?? [2000, 5000], holdMs: options.holdMs ?? [3000, 8000], ...(options.outageMs === undefined ? {} : { outageMs: options.outageMs }) });
  // Outside the try: should the nemesis or a check throw, the workloads must still stop, or
  // their loops keep the process (and a CI run) alive after the test has failed.
  let stopped = false;
  try {
    const withScheduler = options.scheduler !== false;
    if (withScheduler) await createSchedulerJobs(cluster, sink);
    const withWorkers = options.workers === true;
    if (withWorkers) for (const job of WORKER_JOBS) await createJob(cluster, job.id, workerJobSpec(job.fn));
    const windowStartMs = Date.now() + 2000;
    const keys = Array.from({ length: options.keys ?? 3 }, (_, i) => `k${i}`);
    const nodes = () => cluster.ids.map((id) => ({ id, http: cluster.processes.nodes.get(id)?.http ?? '' }));
    const clientCount = options.clients ?? options.nodes + 1;
    const guard = (what: string, p: Promise<void>) => p.catch((error: unknown) => void workloadErrors.push(`${what}: ${String(error)}`));
    const clients = Array.from({ length: clientCount }, (_, i) => guard(`client c${i}`, runRegisterClient({ keys, nodes, staleReads: options.staleReads === true, timeoutMs: 4000, prng: prng.fork(), clientId: `c${i}`, now, record: (op) => history.push(op), stopped: () => stopped })));
    const ackedJobs: string[] = [];
    const observedRunIds = new Set<string>();
    const writer = guard('durability writer', durabilityWriter(cluster, prng.fork(), ackedJobs, () => stopped));
    const poller = withScheduler ? guard('run poller', runPoller(cluster, prng.fork(), observedRunIds, () => stopped)) : Promise.resolve();
    const workerHistory: WorkerHistory = { submissions: [], claims: [], reports: [] };
    const workerCtx: WorkerContext = { cluster, prng: prng.fork(), now, history: workerHistory, stopped: () => stopped, fail: (what) => void workloadErrors.push(`worker workload: ${what}`) };
    let incarnations = 0;
    const workerLoads = withWorkers ? [
      guard('submitter s1', runSubmitter({ ...workerCtx, prng: prng.fork() }, 's1')),
      guard('submitter s2', runSubmitter({ ...workerCtx, prng: prng.fork() }, 's2')),
      guard('pull workers', runWorkers(workerCtx).then((n) => void (incarnations = n))),
    ] : [];
    const faultsUntil = now() + options.timeSec * 1000;
    await nemesis.run(() => now() >= faultsUntil);
    await nemesis.healActive();
    await healEverything(cluster, nemesis);
    await cluster.waitForLeader(60_000);
    stopped = true;
    await Promise.all([...clients, writer, poller, ...workerLoads]);
    const windowEndMs = Date.now() - 2000;
    log('faults over; killing every node and restarting them all');
    await fullRestart(cluster, nemesis);
    const leader = await cluster.waitForLeader(60_000);
    // The queues drain after the restart, alongside the other checks' waits: every
    // acknowledged submission must have survived it, and attempts held before it run out.
    const workersChecked = withWorkers ? guardedCheck(drainQueues(cluster, workerCtx, incarnations, log).then(async () => checkWorkers({ ...workerHistory, records: await fetchQueueRuns(cluster, await cluster.waitForLeader(10_000)), retryMax: Object.fromEntries(WORKER_JOBS.map((j) => [j.id, WORKER_RETRY_MAX])) })), workloadErrors) : Promise.resolve(null);
    await finalReads(cluster, leader, keys, history);
    const register = checkKvHistory(history, { stepsMaxPerKey: 5_000_000 });
    const jobIds = await waitFor('the job list after the restart', () => fetchJobIds(cluster, leader), 30_000, 500);
    const durability = checkDurability({ acked: [...ackedJobs, ...(withScheduler ? SCHEDULER_JOBS.map((j) => j.id) : [])], present: jobIds });
    const scheduler = withScheduler ? await checkSchedulerRun(cluster, sink, windowStartMs, windowEndMs, observedRunIds, nemesis.outages) : null;
    const workers = await workersChecked;
    const report = summarize(options, history, nemesis.timeline, register, scheduler, durability, workers, workloadErrors);
    writeReport(options.dir, history, nemesis.timeline, report);
    if (withWorkers) writeFileSync(join(options.dir, 'workers.jsonl'), [...workerHistory.submissions.map((s) => ({ op: 'submit', ...s })), ...workerHistory.claims.map((c) => ({ op: 'claim', ...c })), ...workerHistory.reports.map((r) => ({ op: 'report', ...r }))].map((e) => JSON.stringify(e, (_, v: unknown) => (v === Infinity ? null : v))).join('\n') + '\n');
    return report;
  } catch (error) {
    // What the nemesis did up to the failure (its notes say what each fault saw), kept in
    // the run's folder for whoever reads the failure.
    writeTimeline(options.dir, nemesis.timeline);
    throw error;
  } finally {
    stopped = true;
    await cluster.stop();
    if (options.keep !== true) for (const id of cluster.allIds) rmSync(join(options.dir, id), { recursive: true, force: true });
  }
}

async function createSchedulerJobs(cluster: JepsenCluster, sink: string): Promise<void> {
  for (const job of SCHEDULER_JOBS) await createJob(cluster, job.id, schedulerJobSpec(job, sink));
}

async function createJob(cluster: JepsenCluster, jobId: string, spec: Record<string, unknown>): Promise<void> {
  await waitFor(`creating ${jobId}`, async () => {
    const leader = await cluster.waitForLeader();
    const answer = await cluster.processes.call(leader, 'PUT', `/v1/jobs/${jobId}`, spec);
    return answer.status === 201 || answer.status === 200;
  }, 30_000, 200);
}

/** A check that throws is a workload error, after the other checks had their turn. */
function guardedCheck<T>(p: Promise<T>, errors: string[]): Promise<T | null> {
  return p.catch((error: unknown) => (errors.push(`worker check: ${String(error)}`), null));
}

/** After the faults: fresh workers that never die drain both queues until every queue run ended. */
async function drainQueues(cluster: JepsenCluster, ctx: WorkerContext, incarnations: number, log: (s: string) => void): Promise<void> {
  log('draining the worker queues');
  let drained = false;
  const drainers = drainWorkers(ctx, incarnations, () => drained);
  try {
    await waitFor('every queue run to end', async () => {
      const leader = await cluster.waitForLeader(10_000);
      const runs = await fetchQueueRuns(cluster, leader);
      return runs.every((r) => isDone(r, ctx.history.reports, WORKER_RETRY_MAX));
    }, 120_000, 500);
  } finally {
    drained = true;
    await drainers;
  }
}

async function durabilityWriter(cluster: JepsenCluster, prng: Prng, acked: string[], stopped: () => boolean): Promise<void> {
  for (let seq = 0; !stopped(); seq++) {
    const id = cluster.ids[prng.int(cluster.ids.length)] as string;
    const jobId = `dur-${seq}`;
    try {
      const answer = await httpJson('PUT', `${cluster.httpOf(id)}/v1/jobs/${jobId}`, { schedule: '@manual', executor: { type: 'shell', command: 'true' } }, 4000);
      if (answer.status === 201 || answer.status === 200) acked.push(jobId);
    } catch {
      // unknown outcome: not acknowledged, so not owed
    }
    await new Promise((r) => setTimeout(r, 100 + prng.int(200)));
  }
}

async function runPoller(cluster: JepsenCluster, prng: Prng, seen: Set<string>, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    const id = cluster.ids[prng.int(cluster.ids.length)] as string;
    for (const job of SCHEDULER_JOBS) {
      try {
        for (const run of await fetchRuns(cluster, id, job.id, 3000)) seen.add(run.runId);
      } catch {
        break; // that node cannot answer right now
      }
    }
    await new Promise((r) => setTimeout(r, 1000 + prng.int(1000)));
  }
}

async function healEverything(cluster: JepsenCluster, nemesis: Nemesis): Promise<void> {
  cluster.healLinks();
  for (const id of cluster.ids) await cluster.resume(id);
  for (const id of cluster.ids) if (!cluster.isUp(id)) await cluster.restart(id);
  nemesis.note('heal', 'links up, every node resumed and running');
}

async function fullRestart(cluster: JepsenCluster, nemesis: Nemesis): Promise<void> {
  nemesis.note('full-restart', 'kill -9 every node');
  for (const id of cluster.ids) await cluster.kill(id);
  await Promise.all(cluster.ids.map((id) => cluster.restart(id)));
  nemesis.note('full-restart', 'every node restarted');
}

/** One linearizable read per key after the restart: the history's last word on durability. */
async function finalReads(cluster: JepsenCluster, leader: string, keys: readonly string[], history: RecordedOp[]): Promise<void> {
  for (const key of keys) {
    await waitFor(`final read of ${key}`, async () => {
      const callMs = now();
      const answer = await httpJson('GET', `${cluster.httpOf(leader)}/v1/jobs/${jobIdOfKey(key)}`, undefined, 5000);
      const op = interpret('get', key, null, answer, '');
      if (op === null) return false;
      history.push({ clientId: 'final', kind: 'get', key, value: op.value, callMs, returnMs: now(), node: leader, outcome: op.outcome });
      return true;
    }, 30_000, 200);
  }
}

async function checkSchedulerRun(cluster: JepsenCluster, sink: string, windowStartMs: number, windowEndMs: number, observed: ReadonlySet<string>, outages: readonly Outage[]): Promise<SchedulerCheckResult> {
  const records: RunRecord[] = [];
  // Runs whose executor died end lost after a lease and are retried: wait until the window settles.
  await waitFor('every run in the window to end', async () => {
    const leader = await cluster.waitForLeader(10_000);
    records.length = 0;
    for (const job of SCHEDULER_JOBS) records.push(...(await fetchRuns(cluster, leader, job.id, 10_000)));
    return records.every((r) => Date.parse(r.scheduledAt) > windowEndMs || (r.status !== 'pending' && r.status !== 'running'));
  }, 120_000, 1000);
  const sinkLines = existsSync(sink) ? parseSink(readFileSync(sink, 'utf8')) : [];
  return checkScheduler({ jobs: SCHEDULER_JOBS, windowStartMs, windowEndMs, records, sink: sinkLines, observedRunIds: observed, outages });
}

function summarize(options: RunOptions, history: readonly RecordedOp[], timeline: readonly FaultEvent[], register: LinearizabilityResult, scheduler: SchedulerCheckResult | null, durability: DurabilityResult, workers: WorkerCheckResult | null, workloadErrors: string[]): RunReport {
  const byKind: Record<string, number> = {};
  for (const op of history) byKind[op.kind] = (byKind[op.kind] ?? 0) + 1;
  const unknown = history.filter((op) => op.returnMs === Infinity).length;
  const faultsByKind: Record<string, number> = {};
  for (const e of timeline) if (e.phase === 'start') faultsByKind[e.kind] = (faultsByKind[e.kind] ?? 0) + 1;
  const ok = register.ok === true && (scheduler?.ok ?? true) && durability.ok && (workers?.ok ?? true) && workloadErrors.length === 0;
  return { ok, seed: options.seed, dir: options.dir, operations: { total: history.length, unknown, byKind }, faults: timeline.filter((e) => e.phase === 'start').length, faultsByKind, register, scheduler, durability, workers, workloadErrors };
}

function writeReport(dir: string, history: readonly RecordedOp[], timeline: readonly FaultEvent[], report: RunReport): void {
  writeFileSync(join(dir, 'history.jsonl'), history.map((op) => JSON.stringify({ ...op, returnMs: op.returnMs === Infinity ? null : op.returnMs })).join('\n') + '\n');
  writeTimeline(dir, timeline);
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(report, null, 2) + '\n');
}

function writeTimeline(dir: string, timeline: readonly FaultEvent[]): void {
  writeFileSync(join(dir, 'timeline.jsonl'), timeline.map((e) => JSON.stringify({ ...e, at: new Date(e.atMs).toISOString() })).join('\n') + '\n');
}
