// `npm run bench:restart [-- --jobs 100000] [-- --tail 10000] [-- --rounds 3] [-- --profile DIR]`
// Restart time of a node whose data holds `jobs` jobs in the snapshot plus a `tail`-entry
// log after it: a one-node cluster takes a snapshot every `jobs` entries, is loaded through
// the API (the last `tail` writes replace existing jobs, so they stay in the log), then is
// killed with SIGKILL; we time from spawning `chime agent` until GET /v1/ready answers 200
// and GET /v1/jobs?limit=1 answers a page. `--data DIR` keeps the loaded data in DIR and
// reuses it on the next run (loading 110,000 jobs takes a minute or two).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from '../support/cli-args.js';
import { httpJson } from '../../src/cli/http-client.js';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';
import { cpuMs, runLoad } from './http-load.js';

const { values } = cliArgs('npm run bench:restart --', {
  options: {
    jobs: { type: 'string', default: '100000' },
    tail: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
    profile: { type: 'string', default: '' },
    data: { type: 'string', default: '' },
  },
});
const jobs = Number(values.jobs);
const tail = Number(values.tail);
const rounds = Number(values.rounds);

function spec(n: number): Buffer {
  const base = { schedule: '@every 1h', executor: { type: 'shell', command: `echo restart ${n}` }, labels: { bench: 'restart' }, description: '' };
  const pad = 300 - Buffer.byteLength(JSON.stringify(base));
  return Buffer.from(JSON.stringify({ ...base, description: 'x'.repeat(Math.max(0, pad)) }));
}

/** Sends `count` PUTs numbered from `from`; ids wrap at `jobs`, so the tail replaces jobs. */
async function load(cluster: ProcessCluster, from: number, count: number): Promise<void> {
  const base = cluster.url('n1', '');
  for (let done = 0; done < count; ) {
    const batch = Math.min(count - done, 20_000);
    const offset = from + done;
    const result = await runLoad(Number(values.concurrency), 3600, (n) => {
      const id = (offset + n) % jobs;
      return { url: new URL(`${base}/v1/jobs/job-${String(id).padStart(6, '0')}`), method: 'PUT', body: spec(id) };
    }, batch);
    if (result.failed > 0) throw new Error(`${result.failed} writes failed: ${result.firstError}`);
    done += batch;
    console.log(`loaded ${from + done} writes (${result.perSecond.toFixed(0)}/s)`);
  }
}

const dir = values.data === '' ? mkdtempSync(join(tmpdir(), 'chime-restart-')) : values.data;
const reuse = values.data !== '' && existsSync(join(dir, 'n1.json'));
const nodeArgs = values.profile === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${values.profile}`];
const cluster = new ProcessCluster({ dir, args: ['--snapshot-entries', String(jobs)], nodeArgs });
try {
  console.log(`restart bench: ${jobs} jobs in the snapshot, ${tail}-entry tail, ${cpus().length} cpus (${cpus()[0]?.model ?? '?'}), node ${process.version}`);
  if (reuse) {
    const saved = JSON.parse(readFileSync(join(dir, 'n1.json'), 'utf8')) as { rpc: string; http: string };
    await cluster.launch('n1', saved.rpc, saved.http);
    await cluster.waitForLeader(60_000);
  } else {
    const node = await cluster.launch('n1', '127.0.0.1:0', '127.0.0.1:0', ['--peers', 'n1=127.0.0.1:0']);
    await cluster.waitForLeader();
    await load(cluster, 0, jobs + tail);
    if (values.data !== '') writeFileSync(join(dir, 'n1.json'), JSON.stringify({ rpc: node.rpc, http: node.http }));
  }
  const view = (await cluster.call('n1', 'GET', '/v1/cluster')).body as { commitIndex: number };
  const metrics = (await cluster.call('n1', 'GET', '/metrics')).text;
  const snapshots = /^chime_raft_snapshots_taken_total (\d+)/m.exec(metrics)?.[1] ?? '?';
  console.log(`commit index ${view.commitIndex}, snapshots taken ${snapshots}`);
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    await cluster.signal('n1', 'SIGKILL');
    const spawned = performance.now();
    await cluster.restart('n1');
    const listeningMs = performance.now() - spawned;
    await waitFor('ready', async () => (await httpJson('GET', cluster.url('n1', '/v1/ready'), undefined, 2000)).status === 200, 60_000, 5);
    const readyMs = performance.now() - spawned;
    const page = await httpJson('GET', cluster.url('n1', '/v1/jobs?limit=1'), undefined, 10_000);
    if (page.status !== 200 || (page.body as { items: unknown[] }).items.length !== 1) throw new Error(`list after restart: ${page.status} ${page.text.slice(0, 200)}`);
    const servingMs = performance.now() - spawned;
    // CPU the agent used until now: unlike wall time it does not grow when other processes
    // crowd the machine.
    const usedCpuMs = cpuMs([cluster.nodes.get('n1')?.child?.pid ?? 0]);
    const count = (await cluster.call('n1', 'GET', '/v1/cluster')).body as { appliedIndex: number };
    samples.push(servingMs);
    console.log(`round ${round + 1}: listening ${listeningMs.toFixed(0)} ms, ready ${readyMs.toFixed(0)} ms, serving a job list ${servingMs.toFixed(0)} ms, agent cpu ${usedCpuMs} ms (applied index ${count.appliedIndex}, load average ${loadavg()[0]?.toFixed(1)})`);
  }
  samples.sort((a, b) => a - b);
  console.log(`restart jobs=${jobs} tail=${tail} rounds=${rounds} median_ms=${(samples[Math.floor(samples.length / 2)] ?? 0).toFixed(0)} max_ms=${(samples.at(-1) ?? 0).toFixed(0)} target_ms=3000`);
} finally {
  await cluster.stopAll(values.profile === '' ? 'SIGKILL' : 'SIGTERM');
  if (values.data === '') rmSync(dir, { recursive: true, force: true });
}
