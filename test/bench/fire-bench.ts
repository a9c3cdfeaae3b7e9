// `npm run bench:fire -- --jobs 100000 --rate 1000 --seconds 30`
// A 3-node cluster with N stored jobs, `rate` of them due each second, each firing an `http`
// executor at a sink server in this process. The sink records arrival time and the run's
// {{scheduledAt}}; lateness = arrival − scheduled instant (one machine, one clock). Prints
// sustained fires/s, lateness p50/p99/max, and memory per job per node (RSS, heap; after
// loading minus before, divided by N).
//
// Jobs: F = rate × period firing jobs with cron `S/period * * * * *` (S = i mod period, so
// `rate` fire each second), the other N − F idle (`0 0 0 1 1 *`, stored and indexed, due once
// a year). period is 10 s when N < 60 × rate, else 60 s. `--instants spread` gives the firing
// jobs `@every {period}s` instead: anchored at their creation, so their instants spread over
// the second (cron's instants all fall on :SS.000, a burst of `rate` runs at one instant).
// Jobs are loaded with many concurrent
// PUTs to the leader; the idle ones first so that firing starts only at the end of loading.
import { createServer, Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from '../support/cli-args.js';
import { ProcessCluster, freePorts } from '../support/process-cluster.js';
import { httpJson } from '../../src/cli/http-client.js';
import { percentile } from './http-load.js';
import { createRawSink } from './raw-sink.js';
import { seedCluster, startSeededCluster, type SeedMember } from './seed-cluster.js';

const { values } = cliArgs('npm run bench:fire --', {
  options: {
    jobs: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '128' },
    slots: { type: 'string', default: '512' },
    keep: { type: 'boolean', default: false },
    /** raw: a minimal HTTP/1.1 responder on node:net (default); http: node:http. */
    sink: { type: 'string', default: 'raw' },
    /** aligned: cron, every run of a second at one instant (default); spread: `@every`, anchors spread. */
    instants: { type: 'string', default: 'aligned' },
    /**
     * Write the idle jobs into the data dirs as a snapshot before the agents start
     * (seed-cluster.ts) instead of PUTting them: 1,000,000 PUTs take 15+ minutes here. The
     * firing ones are still PUT once the cluster serves (seeded, they would owe every instant
     * since the seeding and start with a catch-up burst). Memory is then measured against a
     * separate empty cluster started first.
     */
    seed: { type: 'boolean', default: false },
    /** A module to preload into every agent (--import), e.g. a CPU profiler. */
    preload: { type: 'string' },
  },
});
const jobs = Number(values.jobs);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
const loadConcurrency = Number(values.concurrency);
const period = jobs >= rate * 60 ? 60 : 10;
const firing = Math.min(jobs, rate * period);
if (values.instants !== 'aligned' && values.instants !== 'spread') throw new Error('--instants must be aligned or spread');
const spread = values.instants === 'spread';


// ---- the sink
interface Arrival {
  readonly scheduledAtMs: number;
  readonly arrivedAtMs: number;
}
let recording = false;
// Targets are parsed after the run: time spent parsing one request would stamp the next late.
const targets: string[] = [];
const stamps: number[] = [];
let hits = 0;
function arrived(target: string, arrivedAtMs: number): void {
  hits++;
  if (!recording) return;
  targets.push(target);
  stamps.push(arrivedAtMs);
}
function arrivals(): Arrival[] {
  const out: Arrival[] = [];
  targets.forEach((target, i) => {
    const at = /[?&]at=([^&]*)/.exec(target)?.[1];
    if (at !== undefined) out.push({ scheduledAtMs: Date.parse(decodeURIComponent(at)), arrivedAtMs: stamps[i] ?? Number.NaN });
  });
  return out;
}
// The sink must not be the bottleneck it measures: see raw-sink.ts. `--sink http` uses node:http.
const sink = values.sink === 'http'
  ? createServer((req: IncomingMessage, res: ServerResponse) => {
    arrived(req.url ?? '/', Date.now());
    res.writeHead(204).end();
  })
  : createRawSink(arrived);
if (sink instanceof HttpServer) sink.keepAliveTimeout = 30_000;
await new Promise<void>((done) => sink.listen(0, '127.0.0.1', done));
const sinkPort = (sink.address() as { port: number }).port;

// ---- memory
interface Memory {
  readonly rss: number;
  readonly heap: number;
}
async function memoryOf(c: ProcessCluster, id: string): Promise<Memory> {
  // Heap used includes garbage since the last GC: the smallest of a few reads is closest to live.
  let best: Memory = { rss: Number.POSITIVE_INFINITY, heap: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 5; i++) {
    const text = (await httpJson('GET', c.url(id, '/metrics'), undefined, 30_000)).text;
    const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    const pid = c.nodes.get(id)?.child?.pid;
    // RSS from /proc is the kernel's view; the agent's own figure is the same number.
    const rssKb = pid === undefined ? Number.NaN : Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    best = { rss: Math.min(best.rss, rssKb * 1024), heap: Math.min(best.heap, read('nodejs_heap_used_bytes')) };
    await new Promise((r) => setTimeout(r, 400));
  }
  return best;
}
const ids = ['n1', 'n2', 'n3'];
/** CPU time (user + system) of each agent process so far, in ms, from /proc (clock ticks of 10 ms). */
function cpuMsOf(c: ProcessCluster): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) {
    const pid = c.nodes.get(id)?.child?.pid;
    const fields = pid === undefined ? [] : readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    out[id] = 10 * (Number(fields[11]) + Number(fields[12]));
  }
  return out;
}
const memoryAll = async (c: ProcessCluster) => Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await memoryOf(c, id)] as const))) as Record<string, Memory>;

// ---- loading
function jobSpec(i: number): Record<string, unknown> {
  const fires = i >= jobs - firing;
  const k = i - (jobs - firing);
  const cron = period === 60 ? `${k % 60} * * * * *` : `${k % period}/${period} * * * * *`;
  const schedule = !fires ? '0 0 0 1 1 *' : spread ? `@every ${period}s` : cron;
  return {
    schedule,
    history: 1,
    concurrency: 'allow',
    executor: { type: 'http', method: 'GET', url: `http://127.0.0.1:${sinkPort}/hit?at={{scheduledAt}}&job={{jobId}}` },
  };
}

/** PUTs jobs `from` … jobs − 1 to the leader. */
async function load(c: ProcessCluster, from = 0): Promise<number> {
  const started = performance.now();
  let next = from;
  let failures = 0;
  let leader = await c.waitForLeader();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= jobs) return;
      for (let tries = 0; ; tries++) {
        const answer = await httpJson('PUT', c.url(leader, `/v1/jobs/job-${i}`), jobSpec(i), 30_000).catch(() => null);
        if (answer !== null && (answer.status === 201 || answer.status === 200)) break;
        failures++;
        if (tries > 20) throw new Error(`job-${i}: ${answer?.status} ${answer?.text}`);
        await new Promise((r) => setTimeout(r, 200));
        leader = await c.waitForLeader(60_000).catch(() => leader);
      }
      if ((i + 1 - from) % 50_000 === 0) console.log(`  loaded ${i + 1 - from} jobs (${((i + 1 - from) / ((performance.now() - started) / 1000)).toFixed(0)}/s)`);
    }
  };
  await Promise.all(Array.from({ length: loadConcurrency }, worker));
  if (failures > 0) console.log(`  ${failures} PUTs retried`);
  return (performance.now() - started) / 1000;
}

async function schedulerLine(c: ProcessCluster): Promise<string> {
  const leader = await c.waitForLeader();
  const text = (await httpJson('GET', c.url(leader, '/metrics'), undefined, 30_000)).text;
  const read = (name: string) => /^(\S+) (\S+)$/m.exec(text.split('\n').filter((l) => l.startsWith(`${name} `)).join('\n'))?.[2] ?? '?';
  const sum = (name: string) => Number(/^(\S+) (\S+)$/m.exec(text.split('\n').filter((l) => l.startsWith(`${name} `)).join('\n'))?.[2] ?? Number.NaN);
  const commitMeanMs = (1000 * sum('chime_raft_commit_seconds_sum')) / sum('chime_raft_commit_seconds_count');
  const fireProposeMeanMs = (1000 * sum('chime_scheduler_fire_propose_seconds_sum')) / sum('chime_scheduler_fire_propose_seconds_count');
  const q = (quantile: string) => (1000 * Number(new RegExp(`^chime_scheduler_fire_lateness_seconds\\{quantile="${quantile}"\\} (\\S+)$`, 'm').exec(text)?.[1])).toFixed(0);
  return `leader ${leader}: commit_mean_ms=${commitMeanMs.toFixed(1)} fire_propose_mean_ms=${fireProposeMeanMs.toFixed(1)} fire_propose_max_ms=${(1000 * sum('chime_scheduler_fire_propose_seconds_max')).toFixed(0)} fire_lead_ms=${(1000 * sum('chime_scheduler_fire_lead_seconds')).toFixed(0)} fire_commit_vs_instant_ms(recent) p50=${q('0.5')} p99=${q('0.99')} fires=${read('chime_scheduler_fires_total')} batches=${read('chime_scheduler_fire_batches_total')} skipped=${read('chime_scheduler_skipped_total')} proposal_failures=${read('chime_scheduler_proposal_failures_total')} waiting_for_capacity=${read('chime_scheduler_waiting_for_capacity')}`;
}

const dir = mkdtempSync(join(tmpdir(), 'chime-firebench-'));
const env: Record<string, string> = values.preload === undefined ? {} : { NODE_OPTIONS: `--import=${values.preload}` };
const agentArgs = ['--slots', values.slots, '--log-level', 'warn'];
console.log(`fire bench: jobs=${jobs} firing=${firing} (every ${period} s, instants ${values.instants}) rate=${rate}/s seconds=${seconds} slots=${values.slots} sink=${values.sink}${values.seed ? ' seeded' : ''}`);

/** A cluster holding the jobs, and each node's memory before they were added. */
async function clusterWithJobs(): Promise<{ cluster: ProcessCluster; baseline: Record<string, Memory> }> {
  if (!values.seed) {
    const cluster = await ProcessCluster.found(3, { dir, args: agentArgs, env });
    await new Promise((r) => setTimeout(r, 1000));
    const baseline = await memoryAll(cluster);
    const loadSeconds = await load(cluster);
    console.log(`loaded ${jobs} jobs in ${loadSeconds.toFixed(1)} s (${(jobs / loadSeconds).toFixed(0)} PUT/s, concurrency ${loadConcurrency})`);
    return { cluster, baseline };
  }
  const empty = await ProcessCluster.found(3, { dir: join(dir, 'empty'), args: agentArgs, env });
  await new Promise((r) => setTimeout(r, 1000));
  const baseline = await memoryAll(empty);
  await empty.stopAll();
  const ports = await freePorts(ids.length * 2);
  const members: SeedMember[] = ids.map((id, i) => ({ id, rpc: `127.0.0.1:${ports[2 * i]}`, http: `127.0.0.1:${ports[2 * i + 1]}` }));
  let t = performance.now();
  const idle = jobs - firing;
  const seed = await seedCluster({ dir: join(dir, 'seeded'), members, jobs: idle, spec: jobSpec, onProgress: (done) => console.log(`  seeding: ${done} jobs built`) });
  console.log(`seeded ${idle} idle jobs in ${((performance.now() - t) / 1000).toFixed(1)} s; snapshot ${(seed.snapshotBytes / 2 ** 20).toFixed(1)} MiB at index ${seed.index}`);
  const cluster = new ProcessCluster({ dir: join(dir, 'seeded'), args: agentArgs, env });
  t = performance.now();
  await startSeededCluster(cluster, members, seed.index);
  console.log(`all nodes serving ${((performance.now() - t) / 1000).toFixed(1)} s after start`);
  const loadSeconds = await load(cluster, idle);
  console.log(`loaded ${firing} firing jobs in ${loadSeconds.toFixed(1)} s (${(firing / loadSeconds).toFixed(0)} PUT/s, concurrency ${loadConcurrency})`);
  return { cluster, baseline };
}

const { cluster, baseline } = await clusterWithJobs();
try {
  // An `@every` job first fires one period after its creation.
  await new Promise((r) => setTimeout(r, (spread ? Math.max(warmupSeconds, period) : warmupSeconds) * 1000));
  recording = true;
  const windowStartMs = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  const windowEndMs = windowStartMs + seconds * 1000;
  await new Promise((r) => setTimeout(r, windowStartMs - Date.now()));
  const cpuBefore = cpuMsOf(cluster);
  const sinkCpuBefore = process.cpuUsage();
  const hitsBefore = hits;
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  await new Promise((r) => setTimeout(r, windowEndMs - Date.now()));
  const cpuAfter = cpuMsOf(cluster);
  const sinkCpu = process.cpuUsage(sinkCpuBefore);
  const hitsInWindow = hits - hitsBefore;
  const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  await new Promise((r) => setTimeout(r, 3000));
  recording = false;
  const loaded = await memoryAll(cluster);
  const inWindow = arrivals().filter((a) => a.scheduledAtMs >= windowStartMs && a.scheduledAtMs < windowEndMs);
  const lateness = inWindow.map((a) => a.arrivedAtMs - a.scheduledAtMs).sort((a, b) => a - b);
  const expected = rate * seconds;
  console.log(`fires_in_window=${inWindow.length} expected=${expected} fires_per_s=${(inWindow.length / seconds).toFixed(0)}`);
  const cpuMs = ids.map((id) => (cpuAfter[id] ?? 0) - (cpuBefore[id] ?? 0));
  const cpuTotalMs = cpuMs.reduce((a, b) => a + b, 0);
  console.log(`agent_cpu_in_window: ${ids.map((id, i) => `${id}=${(cpuMs[i]! / (seconds * 10)).toFixed(0)}%`).join(' ')} total=${(cpuTotalMs / 1000).toFixed(1)} s for ${hitsInWindow} sink hits = ${(cpuTotalMs / Math.max(1, hitsInWindow)).toFixed(2)} ms CPU per fire; loadavg ${loadBefore} -> ${loadAfter}`);
  console.log(`sink (this process) cpu_in_window=${((sinkCpu.user + sinkCpu.system) / 1000 / seconds / 10).toFixed(0)}% = ${((sinkCpu.user + sinkCpu.system) / 1000 / Math.max(1, hitsInWindow)).toFixed(3)} ms per request`);
  console.log(`lateness_ms p50=${percentile(lateness, 0.5)} p99=${percentile(lateness, 0.99)} max=${lateness.at(-1) ?? 'n/a'} min=${lateness[0] ?? 'n/a'}`);
  // A tail made by a few bad instants (a GC, a snapshot) looks different from one every instant has.
  const byInstant = new Map<number, number[]>();
  for (const a of inWindow) byInstant.set(a.scheduledAtMs, [...(byInstant.get(a.scheduledAtMs) ?? []), a.arrivedAtMs - a.scheduledAtMs]);
  const instantMax = [...byInstant.values()].map((l) => Math.max(...l)).sort((a, b) => a - b);
  if (!spread) console.log(`lateness_ms of the last run of each instant: min=${instantMax[0] ?? 'n/a'} p50=${percentile(instantMax, 0.5)} max=${instantMax.at(-1) ?? 'n/a'} (${instantMax.length} instants)`);
  for (const id of ids) {
    const b = baseline[id]!;
    const l = loaded[id]!;
    console.log(`memory ${id}: rss ${(b.rss / 2 ** 20).toFixed(0)} -> ${(l.rss / 2 ** 20).toFixed(0)} MiB (${((l.rss - b.rss) / jobs).toFixed(0)} B/job), heap ${(b.heap / 2 ** 20).toFixed(0)} -> ${(l.heap / 2 ** 20).toFixed(0)} MiB (${((l.heap - b.heap) / jobs).toFixed(0)} B/job)`);
  }
  console.log(await schedulerLine(cluster));
  // The executors' own view: scheduled instant → process (or request) start, all nodes.
  const buckets = new Map<string, number>();
  for (const id of ids) {
    const text = (await httpJson('GET', cluster.url(id, '/metrics'), undefined, 30_000)).text;
    for (const m of text.matchAll(/^chime_executor_start_lateness_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) buckets.set(m[1]!, (buckets.get(m[1]!) ?? 0) + Number(m[2]));
  }
  console.log(`executor start lateness (cumulative, whole run): ${[...buckets].map(([le, n]) => `<=${le}s:${n}`).join(' ')}`);
  let startedSkipped = 0;
  const raftLines: string[] = [];
  for (const id of ids) {
    const text = (await httpJson('GET', cluster.url(id, '/metrics'), undefined, 30_000)).text;
    const read = (name: string) => /^(\S+) (\S+)$/m.exec(text.split('\n').filter((l) => l.startsWith(`${name} `)).join('\n'))?.[2] ?? '?';
    startedSkipped += Number(read('chime_executor_started_reports_skipped_total'));
    raftLines.push(`${id} term=${read('chime_raft_term')} leader_changes=${read('chime_raft_leader_changes_total')} snapshots_taken=${read('chime_raft_snapshots_taken_total')} snapshot_handoffs=${read('chime_raft_snapshot_handoffs_total')}`);
  }
  // A leader change or a snapshot of a big table in the window shows in the tail.
  console.log(`raft: ${raftLines.join(', ')}`);
  console.log(`started reports not sent (the finished report carried the start): ${startedSkipped} of ${hits} runs`);
  console.log(`sink hits total=${hits}`);
} finally {
  await cluster.stopAll();
  sink.close();
  if (values.keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
