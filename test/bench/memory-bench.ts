// `npm run bench:memory [-- --jobs 1000000] [-- --due 0] [-- --settle 30] [-- --agent-env K=V] [-- --keep]`
// Memory per stored job on a 3-node cluster. For 0 jobs (the baseline) and then for N jobs:
// seeds the data dirs with a snapshot of N mixed jobs (seed-cluster.ts), starts three
// `chime agent` processes on them, waits until every node is ready and has applied the
// snapshot, checks that the cluster works (a PUT, a GET, linearizable list pages), lets it
// settle, then reads each node's RSS (/proc/PID/status VmRSS) and V8 heap used
// (`nodejs_heap_used_bytes` on /metrics), the smallest of `reads` reads a second apart.
// Prints MiB per node and (N-figure − baseline) / N bytes per job, and start-up times.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from '../support/cli-args.js';
import { ProcessCluster, freePorts } from '../support/process-cluster.js';
import { jobId } from './job-mix.js';
import { seedCluster, startSeededCluster, type SeedMember } from './seed-cluster.js';

const { values } = cliArgs('npm run bench:memory --', {
  options: {
    jobs: { type: 'string', default: '1000000' },
    due: { type: 'string', default: '0' },
    settle: { type: 'string', default: '30' },
    reads: { type: 'string', default: '5' },
    dir: { type: 'string', default: '' },
    keep: { type: 'boolean', default: false },
    'skip-baseline': { type: 'boolean', default: false },
    /** KEY=VALUE for the agents' environment (repeatable), e.g. MALLOC_ARENA_MAX=2. */
    'agent-env': { type: 'string', multiple: true, default: [] },
  },
});
const jobs = Number(values.jobs);
const duePerSecond = Number(values.due);
const settleMs = Number(values.settle) * 1000;
const reads = Number(values.reads);
const root = values.dir === '' ? mkdtempSync(join(tmpdir(), 'chime-memory-')) : values.dir;
const IDS = ['n1', 'n2', 'n3'];
const agentEnv = Object.fromEntries(values['agent-env'].map((pair) => {
  const at = pair.indexOf('=');
  if (at <= 0) throw new Error(`--agent-env expects KEY=VALUE, got "${pair}"`);
  return [pair.slice(0, at), pair.slice(at + 1)];
}));

interface NodeFigures {
  readonly id: string;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  readonly listeningMs: number;
}

interface PhaseResult {
  readonly jobs: number;
  readonly nodes: NodeFigures[];
  readonly leader: string;
  readonly seedMs: number;
  readonly readyMs: number;
  readonly snapshotBytes: number;
  readonly tableSnapshotBytes: number;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

async function metric(cluster: ProcessCluster, id: string, name: string): Promise<number> {
  const res = await fetch(cluster.url(id, '/metrics'));
  const text = await res.text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (m === null) throw new Error(`${id}: no ${name} in /metrics`);
  return Number(m[1]);
}

async function expectStatus(cluster: ProcessCluster, id: string, method: string, path: string, body: unknown, ok: number[]): Promise<unknown> {
  const answer = await cluster.call(id, method, path, body, 60_000);
  if (!ok.includes(answer.status)) throw new Error(`${method} ${path} on ${id}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/**
 * A PUT through a follower (replacing the last seeded job: a table of a million jobs is at
 * its limit), GETs and two list pages on every node: the cluster serves at this size.
 */
async function verify(cluster: ProcessCluster, leader: string, count: number): Promise<void> {
  const follower = IDS.find((id) => id !== leader) ?? leader;
  const probeId = count > 0 ? jobId(count - 1) : 'bench-probe';
  const probe = { schedule: '0 0 3 * * *', timezone: 'Europe/Berlin', executor: { type: 'shell', command: 'echo probe' } };
  await expectStatus(cluster, follower, 'PUT', `/v1/jobs/${probeId}`, probe, count > 0 ? [200] : [201]);
  for (const id of IDS) {
    const job = await expectStatus(cluster, id, 'GET', `/v1/jobs/${probeId}`, undefined, [200]) as { schedule?: string };
    if (job.schedule !== probe.schedule) throw new Error(`${id}: GET returned ${JSON.stringify(job)}`);
    const page = await expectStatus(cluster, id, 'GET', '/v1/jobs?limit=100', undefined, [200]) as { items: { id: string }[]; nextCursor: string | null };
    const expected = Math.min(100, Math.max(1, count));
    if (page.items.length !== expected) throw new Error(`${id}: list page has ${page.items.length} items, expected ${expected}`);
    if (page.nextCursor !== null) {
      const next = await expectStatus(cluster, id, 'GET', `/v1/jobs?limit=100&cursor=${encodeURIComponent(page.nextCursor)}`, undefined, [200]) as { items: { id: string }[] };
      if ((next.items[0]?.id ?? '') <= (page.items[page.items.length - 1]?.id ?? '')) throw new Error(`${id}: second list page does not continue the first`);
    }
  }
  if (count === 0) await expectStatus(cluster, leader, 'DELETE', `/v1/jobs/${probeId}`, undefined, [204]);
}

async function phase(count: number): Promise<PhaseResult> {
  const dir = join(root, `jobs-${count}`);
  rmSync(dir, { recursive: true, force: true });
  const ports = await freePorts(IDS.length * 2);
  const members: SeedMember[] = IDS.map((id, i) => ({ id, rpc: `127.0.0.1:${ports[2 * i]}`, http: `127.0.0.1:${ports[2 * i + 1]}` }));
  let t = performance.now();
  const seed = await seedCluster({
    dir, members, jobs: count, dueJobs: Math.min(count, duePerSecond * 60),
    onProgress: (done) => console.log(`  seeding: ${done} jobs built`),
  });
  const seedMs = performance.now() - t;
  console.log(`  seeded ${count} jobs in ${(seedMs / 1000).toFixed(1)} s (build ${(seed.buildMs / 1000).toFixed(1)} s, write ${(seed.writeMs / 1000).toFixed(1)} s); snapshot ${mib(seed.snapshotBytes)} at index ${seed.index}`);
  (globalThis as { gc?: () => void }).gc?.();
  const cluster = new ProcessCluster({ dir, env: agentEnv });
  try {
    t = performance.now();
    const { leader, listeningMs: listening } = await startSeededCluster(cluster, members, seed.index);
    const readyMs = performance.now() - t;
    console.log(`  started: listening after ${IDS.map((id) => `${id} ${((listening.get(id) ?? 0) / 1000).toFixed(1)} s`).join(', ')}; all ready after ${(readyMs / 1000).toFixed(1)} s; leader ${leader}`);
    await verify(cluster, leader, count);
    console.log('  verified: a PUT via a follower, then a GET and two linearizable list pages on every node');
    await sleep(settleMs);
    const nodes: NodeFigures[] = [];
    const samples = new Map<string, { rss: number[]; heap: number[]; external: number[] }>(IDS.map((id) => [id, { rss: [], heap: [], external: [] }]));
    for (let r = 0; r < reads; r++) {
      for (const id of IDS) {
        const pid = cluster.nodes.get(id)?.child?.pid;
        if (pid === undefined) throw new Error(`${id} is not running`);
        const s = samples.get(id)!;
        s.rss.push(rssOf(pid));
        s.heap.push(await metric(cluster, id, 'nodejs_heap_used_bytes'));
        s.external.push(await metric(cluster, id, 'nodejs_external_memory_bytes'));
      }
      await sleep(1000);
    }
    const fires = await metric(cluster, leader, 'chime_scheduler_fires_total').catch(() => NaN);
    console.log(`  leader ${leader}: ${fires} fires since it took over (idle jobs fire too: a million daily jobs make a few per second)`);
    for (const id of IDS) {
      const s = samples.get(id)!;
      nodes.push({ id, rssBytes: Math.min(...s.rss), heapUsedBytes: Math.min(...s.heap), externalBytes: Math.min(...s.external), listeningMs: listening.get(id) ?? 0 });
    }
    return { jobs: count, nodes, leader, seedMs, readyMs, snapshotBytes: seed.snapshotBytes, tableSnapshotBytes: seed.tableBytes };
  } finally {
    await cluster.stopAll('SIGKILL');
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
}

function report(base: PhaseResult | null, full: PhaseResult): void {
  const n = full.jobs;
  console.log(`\n${n} jobs, 3 nodes (leader ${full.leader}); snapshot ${mib(full.snapshotBytes)} (${(full.snapshotBytes / Math.max(1, n)).toFixed(0)} B/job; job table ${(full.tableSnapshotBytes / Math.max(1, n)).toFixed(0)} B/job)`);
  console.log(`start-up: every node listening (snapshot restored) after ${(Math.max(...full.nodes.map((x) => x.listeningMs)) / 1000).toFixed(1)} s, all ready after ${(full.readyMs / 1000).toFixed(1)} s`);
  console.log('node  | RSS baseline -> with jobs, per job      | heap used baseline -> with jobs, per job | external (buffers)');
  for (const node of full.nodes) {
    const b = base?.nodes.find((x) => x.id === node.id);
    const per = (with_: number, without: number | undefined): string => without === undefined || n === 0 ? '' : `, ${((with_ - without) / n).toFixed(0)} B/job`;
    const role = node.id === full.leader ? ' (leader)' : '';
    console.log(`${node.id}${role.padEnd(9)} | ${b === undefined ? '' : `${mib(b.rssBytes)} -> `}${mib(node.rssBytes)}${per(node.rssBytes, b?.rssBytes)}`
      + ` | ${b === undefined ? '' : `${mib(b.heapUsedBytes)} -> `}${mib(node.heapUsedBytes)}${per(node.heapUsedBytes, b?.heapUsedBytes)}`
      + ` | ${b === undefined ? '' : `${mib(b.externalBytes)} -> `}${mib(node.externalBytes)}${per(node.externalBytes, b?.externalBytes)}`);
  }
}

async function main(): Promise<void> {
  console.log(`memory bench: ${jobs} jobs (${duePerSecond} due/s), settle ${settleMs / 1000} s, ${reads} reads, agent env ${JSON.stringify(agentEnv)}; node ${process.version}; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}; data in ${root}`);
  const base = values['skip-baseline'] ? null : (console.log('baseline: 0 jobs'), await phase(0));
  console.log(`with ${jobs} jobs`);
  const full = await phase(jobs);
  report(base, full);
  console.log(`load at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  if (!values.keep && values.dir === '') rmSync(root, { recursive: true, force: true });
}

await main();
