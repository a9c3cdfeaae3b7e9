// Pull workers against a real 3-node cluster: `chime worker` processes running a shell
// command per claimed run, submissions through leader kills, a worker killed mid-run, and
// the Python example worker (standard library only). Every command appends
// "RUN_ID ATTEMPT WORKER PAYLOAD" to a sink file outside the cluster: the observer of
// "each run exactly once".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';
import { CLI_MAIN, cli, putJob } from '../scheduler/process-support.js';

const EXAMPLE = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..', 'examples', 'python-worker.py');

type QueueRun = {
  runId: string; status: string; attempt: number; worker: string | null; result: string | null; payload: string | null;
  progress: { done: number; total: number } | null; executions: { node: string; attempt: number; status: string }[];
};

let cluster: ProcessCluster;
let dir: string;
let sink: string;
const workers: ChildProcess[] = [];

function servers(): string {
  return cluster.live().map((n) => `http://${n.http}`).join(',');
}

function startWorker(id: string, fn: string, command: string, concurrency = 2, wait = '5s', server = servers()): ChildProcess {
  const child = spawn(process.execPath, [CLI_MAIN, 'worker', '--function', fn, '--concurrency', String(concurrency), '--id', id, '--wait', wait, '--server', server, '--', 'sh', '-c', command], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.resume();
  workers.push(child);
  return child;
}

/** The sink lines: one per started command, "runId attempt worker payload". */
function sinkLines(): { runId: string; attempt: number; worker: string; payload: string }[] {
  if (!existsSync(sink)) return [];
  return readFileSync(sink, 'utf8').split('\n').filter(Boolean).map((line) => {
    const [runId = '', attempt = '0', worker = '', payload = ''] = line.split(' ');
    return { runId, attempt: Number(attempt), worker, payload };
  });
}

async function submit(jobId: string, body: Record<string, unknown>): Promise<string> {
  const answer = await waitFor(`submission to ${jobId}`, async () => {
    const node = cluster.live()[0]!.id;
    const a = await cluster.call(node, 'POST', `/v1/jobs/${jobId}/run`, body).catch(() => null);
    return a === null || a.status === 503 ? undefined : a;
  }, 20_000, 100);
  assert.equal(answer.status, 202, answer.text);
  return (answer.body as { runId: string }).runId;
}

async function getRun(runId: string): Promise<QueueRun> {
  const answer = await cluster.call(cluster.live()[0]!.id, 'GET', `/v1/runs/${runId}`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body as QueueRun;
}

function waitAll(runIds: readonly string[], what: string, check: (r: QueueRun) => boolean, timeoutMs = 60_000): Promise<QueueRun[]> {
  return waitFor(what, async () => {
    const runs = await Promise.all(runIds.map(getRun));
    return runs.every(check) ? runs : undefined;
  }, timeoutMs, 200);
}

// The command: record the start, then answer "done:PAYLOAD" on stdout (the result); a
// payload starting with "slow" sleeps first, long enough to kill its worker mid-run.
const COMMAND = 'p=$(cat); echo "$CHIME_RUN_ID $CHIME_ATTEMPT $CHIME_WORKER $p" >> "$SINK"; case "$p" in slow*) sleep 4;; esac; echo "progress" >&2; printf "done:%s" "$p"';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chime-workers-'));
  sink = join(dir, 'sink.txt');
  process.env['SINK'] = sink;
  cluster = await ProcessCluster.found(3, { dir });
  await putJob(cluster, 'q', { schedule: '@manual', executor: { type: 'queue', function: 'sq', leaseMs: 5000 }, retry: { max: 2, backoffMs: 100 } });
});

after(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await cluster?.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('pull workers on a real 3-node cluster', { concurrency: false, timeout: 180_000 }, () => {
  const early: string[] = [];

  test('runs queued while the leader is killed are neither lost nor run twice', async () => {
    for (let i = 0; i < 10; i++) early.push(await submit('q', { payload: `early-${i}` }));
    const leader = await cluster.waitForLeader();
    await cluster.signal(leader, 'SIGKILL');
    await waitFor('a new leader', async () => {
      const id = await cluster.waitForLeader().catch(() => null);
      return id !== null && id !== leader ? id : undefined;
    }, 20_000, 200);
    await cluster.restart(leader);
    await cluster.waitForLeader();
    const queued = await waitAll(early, 'queued runs after the leader change', (r) => r.status === 'pending');
    assert.equal(queued.length, 10);
  });

  test('two chime workers drain the queue and 20 submissions through another leader kill: each run exactly once', async () => {
    startWorker('wa', 'sq', COMMAND);
    startWorker('wb', 'sq', COMMAND);
    const later: string[] = [];
    const priorities = ['high', 'normal', 'low'];
    for (let i = 0; i < 20; i++) later.push(await submit('q', { payload: `p-${i}`, priority: priorities[i % 3] }));
    const all = [...early, ...later];
    await waitFor('a few runs done', async () => (await Promise.all(all.map(getRun))).filter((r) => r.status === 'succeeded').length >= 5, 30_000, 100);
    const leader = await cluster.waitForLeader();
    await cluster.signal(leader, 'SIGKILL');
    await cluster.restart(leader);
    const runs = await waitAll(all, 'every run to succeed', (r) => r.status === 'succeeded');
    for (const r of runs) {
      assert.equal(r.result, `done:${r.payload}`);
      assert.match(r.executions.at(-1)?.node ?? '', /^w[ab]$/);
      // A claim whose answer died with the leader is lost after its lease and claimed again:
      // its earlier attempts never reached a worker, so they never ran.
      for (const e of r.executions.slice(0, -1)) assert.equal(e.status, 'lost', `${r.runId}: only unanswered claims are lost`);
    }
    const lines = sinkLines().filter((l) => all.includes(l.runId));
    assert.equal(new Set(lines.map((l) => l.runId)).size, all.length, 'every run started');
    assert.equal(lines.length, all.length, 'each command started exactly once, through two leader kills');
    assert.ok(new Set(lines.map((l) => l.worker)).size === 2, 'both workers took runs');
    // The succeeded attempt carries the worker's stderr; an earlier lost claim has none.
    const output = (await cluster.call('n1', 'GET', `/v1/runs/${all[0]}`)).body as { executions: { output: string }[] };
    assert.match(output.executions.at(-1)?.output ?? '', /progress/);
    const fns = await cluster.call('n2', 'GET', '/v1/functions');
    const sq = (fns.body as { items: { name: string; queued: number; running: number; workers: number }[] }).items.find((f) => f.name === 'sq');
    assert.deepEqual(sq && [sq.queued, sq.running, sq.workers], [0, 0, 2]);
    const listed = await cli(['workers', '--server', servers()]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^wa\s+sq\s/m);
    assert.match(listed.stdout, /^wb\s+sq\s/m);
    const functions = await cli(['functions', '--server', servers()]);
    assert.match(functions.stdout, /^sq\s+0\s/m);
  });

  test('a worker killed mid-run: the lease runs out, the attempt is lost, the other worker retries it', async () => {
    const runId = await submit('q', { payload: 'slow-1' });
    const held = await waitAll([runId], 'the slow run to be claimed', (r) => r.status === 'running' && r.worker !== null, 20_000);
    const holder = held[0]!.worker;
    const victim = workers.find((w) => w.spawnargs.includes(holder ?? '-'));
    assert.ok(victim, `the holder ${holder} is one of ours`);
    victim.kill('SIGKILL');
    const [done] = await waitAll([runId], 'the retried run to succeed', (r) => r.status === 'succeeded', 40_000);
    assert.equal(done?.attempt, 2);
    assert.deepEqual(done?.executions.map((e) => [e.attempt, e.node, e.status]), [[1, holder, 'lost'], [2, holder === 'wa' ? 'wb' : 'wa', 'succeeded']]);
    assert.equal(done?.result, 'done:slow-1');
  });

  test('a worker killed while its claim is parked does not take the next run', async () => {
    await putJob(cluster, 'q2', { schedule: '@manual', executor: { type: 'queue', function: 'sq2', leaseMs: 5000 }, retry: { max: 2, backoffMs: 100 } });
    const parkedOn = async (): Promise<number> => {
      const leader = await cluster.waitForLeader();
      const items = ((await cluster.call(leader, 'GET', '/v1/functions')).body as { items: { name: string; waiting: number }[] }).items;
      return items.find((f) => f.name === 'sq2')?.waiting ?? 0;
    };
    // Through a follower, with a claim wait far longer than the checks below.
    const leader = await cluster.waitForLeader();
    const follower = cluster.live().find((n) => n.id !== leader);
    assert.ok(follower);
    const doomed = startWorker('wc', 'sq2', COMMAND, 1, '60s', `http://${follower.http}`);
    await waitFor('wc parked a claim', async () => (await parkedOn()) === 1, 20_000, 100);
    doomed.kill('SIGKILL');
    await waitFor('the dead claim is dropped (the follower hung up on the leader too)', async () => (await parkedOn()) === 0, 15_000, 100);
    startWorker('wd', 'sq2', COMMAND, 1);
    const runId = await submit('q2', { payload: 'after-kill' });
    const [run] = await waitAll([runId], 'the run to succeed', (r) => r.status === 'succeeded', 30_000);
    assert.deepEqual(run?.executions.map((e) => [e.attempt, e.node, e.status]), [[1, 'wd', 'succeeded']]);
  });

  test('a late call for an attempt no longer held is 409 ATTEMPT_NOT_HELD; bad worker input is 400 with field paths', async () => {
    const answer = await cluster.call('n1', 'POST', `/v1/runs/${early[0]}/complete`, { worker: 'wa', attempt: 1, result: 'again' });
    assert.equal(answer.status, 409, answer.text);
    assert.equal((answer.body as { code: string }).code, 'ATTEMPT_NOT_HELD');
    const paths = async (path: string, body: unknown): Promise<string[]> => {
      const a = await cluster.call('n2', 'POST', path, body);
      assert.equal(a.status, 400, a.text);
      return (a.body as { errors: { path: string }[] }).errors.map((e) => e.path).sort();
    };
    assert.deepEqual(await paths('/v1/workers/claim', { worker: 'a b', functions: [], max: 0, waitMs: 61_000 }), ['functions', 'max', 'waitMs', 'worker']);
    assert.deepEqual(await paths(`/v1/runs/${early[0]}/heartbeat`, { worker: 'wa', progress: { done: -1 }, output: 'x'.repeat(70_000) }), ['attempt', 'output', 'progress']);
    assert.deepEqual(await paths(`/v1/runs/${early[0]}/fail`, { worker: 'wa', attempt: 1, retry: 'no' }), ['error', 'retry']);
    assert.deepEqual(await paths(`/v1/runs/${early[0]}/complete`, { worker: 'wa', attempt: 1, result: 'r'.repeat(70_000) }), ['result']);
    assert.deepEqual(await paths('/v1/jobs/q/run', { priority: 'urgent' }), ['priority']);
    await putJob(cluster, 'plain', { schedule: '@manual', executor: { type: 'shell', command: 'true' } });
    assert.deepEqual(await paths('/v1/jobs/plain/run', { priority: 'high' }), ['priority'], 'priority is for queue jobs');
  });

  test('the Python example worker (standard library only) takes runs and a foreground submission waits for its result', { skip: spawnSync('python3', ['--version']).status !== 0 ? 'no python3' : false }, async () => {
    await putJob(cluster, 'wc', { schedule: '@manual', executor: { type: 'queue', function: 'wordcount' } });
    const py = spawn('python3', [EXAMPLE, '--server', servers(), '--function', 'wordcount', '--wait-ms', '5000'], { stdio: ['ignore', 'ignore', 'pipe'] });
    py.stderr?.resume();
    workers.push(py);
    const answer = await cluster.call('n2', 'POST', '/v1/jobs/wc/run?wait=30s', { payload: 'one two three four' }, 40_000);
    assert.equal(answer.status, 200, answer.text);
    const run = answer.body as QueueRun;
    assert.equal(run.status, 'succeeded');
    assert.equal(run.result, '{"words": 4}');
    assert.deepEqual(run.progress, { done: 2, total: 4 });
    py.kill('SIGTERM');
  });
});
