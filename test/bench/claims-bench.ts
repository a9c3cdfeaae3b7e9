// `npm run bench:claims -- --workers 4 --task-ms 1 --seconds 10 --runs 8000`
// Pull-worker throughput on a 3-node cluster: the queue is filled first (submissions to the
// leader), then `workers` in-process pull workers loop claim (one run) → a `task-ms` task →
// complete, every call to one node: first the leader, then a follower (which forwards each
// call to the leader). Prints, per route, claims/s (claims answered with a run) and the claim
// latency p50/p99/max (request sent to answer received; the claim is in the log by then),
// and the complete call's latency (also a write) for comparison.
// Every call is a plain HTTP request (src/cli/http-client.ts), as a worker in another language
// would make. The queue must not run dry during a phase: before each, it is topped up to
// `--runs` queued runs (at most a function's queue limit, 10,000), spread over jobs of one
// function (a job keeps at most 1000 runs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from '../support/cli-args.js';
import { httpJson } from '../../src/cli/http-client.js';
import { FUNCTION_QUEUED_MAX } from '../../src/statemachine/index.js';
import { isMap } from '../../src/guards/index.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { percentile } from './http-load.js';

const { values } = cliArgs('npm run bench:claims --', {
  options: {
    workers: { type: 'string', default: '4' },
    'task-ms': { type: 'string', default: '1' },
    seconds: { type: 'string', default: '10' },
    runs: { type: 'string', default: '8000' },
    keep: { type: 'boolean', default: false },
  },
});
const workers = Number(values.workers);
const taskMs = Number(values['task-ms']);
const seconds = Number(values.seconds);
const runsPerPhase = Number(values.runs);
if (!Number.isSafeInteger(runsPerPhase) || runsPerPhase < 1 || runsPerPhase > FUNCTION_QUEUED_MAX) {
  console.error(`--runs takes 1..${FUNCTION_QUEUED_MAX} (a function's queue limit)`);
  process.exit(2);
}
/** Runs per job: under the job history limit (1000), so no queued run is evicted. */
const RUNS_PER_JOB_MAX = 900;
const SUBMIT_CONCURRENCY = 16;
const FUNCTION = 'bench';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs of the function queued now (what an earlier phase left is counted, not queued again). */
async function queuedNow(base: string): Promise<number> {
  const answer = await httpJson('GET', `${base}/v1/functions`);
  if (answer.status !== 200) throw new Error(`GET /v1/functions: ${answer.status} ${answer.text}`);
  const body: unknown = answer.body;
  const items = isMap(body) && Array.isArray(body['items']) ? body['items'] : [];
  const mine: unknown = items.find((f: unknown) => isMap(f) && f['name'] === FUNCTION);
  const queued = isMap(mine) ? mine['queued'] : 0;
  return typeof queued === 'number' ? queued : 0;
}

/** Tops the function's queue up to `--runs` queued runs. */
async function fill(base: string, phase: string): Promise<void> {
  const wanted = runsPerPhase - (await queuedNow(base));
  if (wanted <= 0) return;
  const jobs = Math.ceil(wanted / RUNS_PER_JOB_MAX);
  for (let j = 0; j < jobs; j++) {
    const answer = await httpJson('PUT', `${base}/v1/jobs/${phase}-${j}`, { schedule: '@manual', executor: { type: 'queue', function: FUNCTION, leaseMs: 60_000 }, retry: { max: 0 }, history: 1000 });
    if (answer.status !== 201 && answer.status !== 200) throw new Error(`PUT ${phase}-${j}: ${answer.status} ${answer.text}`);
  }
  let next = 0;
  await Promise.all(Array.from({ length: SUBMIT_CONCURRENCY }, async () => {
    for (let i = next++; i < wanted; i = next++) {
      const answer = await httpJson('POST', `${base}/v1/jobs/${phase}-${i % jobs}/run`, { payload: String(i) });
      if (answer.status !== 202) throw new Error(`submission: ${answer.status} ${answer.text}`);
    }
  }));
}

interface PhaseResult {
  claimsPerSec: number;
  claims: number;
  latencyMs: { p50: number; p99: number; max: number };
  completeMs: { p50: number; p99: number };
  emptyClaims: number;
}

async function phase(base: string): Promise<PhaseResult> {
  const latencies: number[] = [];
  const completes: number[] = [];
  let emptyClaims = 0;
  let counting = false;
  let stop = false;
  const loop = async (worker: string): Promise<void> => {
    while (!stop) {
      const sent = performance.now();
      const answer = await httpJson('POST', `${base}/v1/workers/claim`, { worker, functions: [FUNCTION], max: 1, waitMs: 1000 });
      const tookMs = performance.now() - sent;
      if (answer.status !== 200) throw new Error(`claim: ${answer.status} ${answer.text}`);
      const items: unknown = typeof answer.body === 'object' && answer.body !== null ? Reflect.get(answer.body, 'items') : null;
      const item: unknown = Array.isArray(items) ? items[0] : undefined;
      if (typeof item !== 'object' || item === null) {
        emptyClaims += 1;
        continue;
      }
      if (counting) latencies.push(tookMs);
      await sleep(taskMs);
      const completing = performance.now();
      const done = await httpJson('POST', `${base}/v1/runs/${String(Reflect.get(item, 'runId'))}/complete`, { worker, attempt: Reflect.get(item, 'attempt'), result: 'ok' });
      if (counting) completes.push(performance.now() - completing);
      if (done.status !== 200) throw new Error(`complete: ${done.status} ${done.text}`);
    }
  };
  const loops = Array.from({ length: workers }, (_, i) => loop(`bench-w${i + 1}`));
  await sleep(1000); // warm-up: connections, JIT
  counting = true;
  const started = performance.now();
  await sleep(seconds * 1000);
  counting = false;
  const elapsedSec = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(loops);
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  const completeSorted = [...completes].sort((a, b) => a - b);
  return { claimsPerSec: Math.round(latencies.length / elapsedSec), claims: latencies.length, latencyMs: { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)), max: round(sorted.at(-1) ?? 0) }, completeMs: { p50: round(percentile(completeSorted, 0.5)), p99: round(percentile(completeSorted, 0.99)) }, emptyClaims };
}

const dir = mkdtempSync(join(tmpdir(), 'chime-claims-bench-'));
const cluster = await ProcessCluster.found(3, { dir });
try {
  const leader = await cluster.waitForLeader();
  const follower = cluster.live().find((n) => n.id !== leader)?.id;
  if (follower === undefined) throw new Error('no follower');
  console.log(`claims bench: 3 nodes, ${workers} workers, ${taskMs} ms tasks, one run per claim, ${seconds} s per route, ${runsPerPhase} runs queued first`);
  for (const [route, node] of [['leader', leader], ['follower', follower]] as const) {
    await fill(cluster.url(leader, ''), route);
    const r = await phase(cluster.url(node, ''));
    console.log(`through the ${route} (${node}): ${r.claimsPerSec} claims/s (${r.claims} claims); claim latency ms p50 ${r.latencyMs.p50} p99 ${r.latencyMs.p99} max ${r.latencyMs.max}; complete ms p50 ${r.completeMs.p50} p99 ${r.completeMs.p99}; empty claims ${r.emptyClaims}${r.emptyClaims > 0 ? ' (the queue ran dry: raise --runs)' : ''}`);
  }
} finally {
  await cluster.stopAll();
  if (values.keep !== true) rmSync(dir, { recursive: true, force: true });
}
