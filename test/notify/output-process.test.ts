// Run output through real agents: a run that writes 10 MB to stdout (and lines to stderr)
// streams to a client following it through a node that did not run it, byte for byte, while
// it runs; stderr comes separately; and once the executing node is gone, any node answers
// with the run record's tail and a note saying where the full output was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';
import { cli } from '../api/support.js';

// 104,860 lines of 100 bytes: just over 10 MiB (10,486,000 bytes).
const LINES = 104_860;
const LINE_BYTES = 100;
const BATCHES = 20;

function stdoutLine(i: number): string {
  const head = `line ${String(i).padStart(8, '0')} `;
  return head + 'x'.repeat(LINE_BYTES - head.length - 1) + '\n';
}

function expectedStdout(): Buffer {
  return Buffer.from(Array.from({ length: LINES }, (_, i) => stdoutLine(i)).join(''));
}

function expectedStderr(): string {
  return Array.from({ length: BATCHES }, (_, b) => `batch ${b} done\n`).join('');
}

/** The writer: LINES lines of stdout in BATCHES batches 100 ms apart, a stderr line per batch. */
const SCRIPT = `
const per = ${LINES / BATCHES};
let b = 0;
function line(i) { const h = 'line ' + String(i).padStart(8, '0') + ' '; return h + 'x'.repeat(${LINE_BYTES} - h.length - 1) + '\\n'; }
function batch() {
  if (b === ${BATCHES}) return;
  let text = '';
  for (let i = b * per; i < (b + 1) * per; i++) text += line(i);
  process.stdout.write(text, () => { process.stderr.write('batch ' + b + ' done\\n', () => { b++; setTimeout(batch, 100); }); });
}
batch();
`;

type Stream = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; firstChunkAtMs: number | null };

function get(url: string): Promise<Stream> {
  return new Promise((done, fail) => {
    const req = request(url, (res) => {
      const chunks: Buffer[] = [];
      let firstChunkAtMs: number | null = null;
      res.on('data', (c: Buffer) => {
        firstChunkAtMs ??= Date.now();
        chunks.push(c);
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), firstChunkAtMs }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end();
  });
}

type RunView = { status: string; finishedAt: string | null; executions: { node: string; startedAt: string | null }[] };

function isRunView(v: unknown): v is RunView {
  return typeof v === 'object' && v !== null && 'status' in v && 'executions' in v && Array.isArray(v.executions);
}

test('10 MiB of output streams byte-exact to a follower through another node while the run runs; the tail when the node is gone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-output-'));
  const script = join(dir, 'writer.cjs');
  writeFileSync(script, SCRIPT);
  const cluster = await ProcessCluster.found(3, { dir });
  try {
    const leader = await cluster.waitForLeader();
    const put = await cluster.call(leader, 'PUT', '/v1/jobs/writer', { schedule: '@manual', executor: { type: 'shell', command: `'${process.execPath}' '${script}'` } });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const started = await cluster.call(leader, 'POST', '/v1/jobs/writer/run', {});
    assert.equal(started.status, 202);
    const runId = String(typeof started.body === 'object' && started.body !== null && 'runId' in started.body ? started.body.runId : '');
    const running = await waitFor('the run to start', async () => {
      const body = (await cluster.call(leader, 'GET', `/v1/runs/${runId}`)).body;
      return isRunView(body) && body.status === 'running' ? body : undefined;
    }, 10_000);
    const executor = running.executions[0]?.node ?? assert.fail('no execution');
    const via = ['n1', 'n2', 'n3'].find((n) => n !== executor) ?? assert.fail('no other node');
    // Nodes learn each other's HTTP addresses from hellos (every second): a node that did not
    // hear the executing node's yet would answer with the tail.
    await waitFor(`${via} to know ${executor}'s HTTP address`, async () => {
      const body = (await cluster.call(via, 'GET', '/v1/cluster')).body;
      const members = typeof body === 'object' && body !== null && 'members' in body && Array.isArray(body.members) ? body.members : [];
      return members.some((m: unknown) => typeof m === 'object' && m !== null && 'id' in m && m.id === executor && 'http' in m && typeof m.http === 'string' && m.http !== '');
    }, 10_000);

    const followed = await get(cluster.url(via, `/v1/runs/${runId}/output?stream=stdout&follow=true`));
    assert.equal(followed.status, 200);
    assert.equal(followed.headers['chime-output-source'], 'stored', String(followed.headers['chime-output-note']));
    assert.equal(followed.headers['chime-output-node'], executor);
    const expected = expectedStdout();
    assert.equal(followed.body.length, expected.length);
    assert.ok(followed.body.equals(expected), 'stdout byte for byte');
    const done = (await cluster.call(leader, 'GET', `/v1/runs/${runId}`)).body;
    assert.ok(isRunView(done) && done.status === 'succeeded' && done.finishedAt !== null);
    assert.ok(followed.firstChunkAtMs !== null && followed.firstChunkAtMs < Date.parse(done.finishedAt), 'the first bytes arrived while the run ran');

    const stderr = await get(cluster.url(via, `/v1/runs/${runId}/output?stream=stderr`));
    assert.equal(stderr.body.toString('utf8'), expectedStderr());
    const logs = await cli('run', 'logs', runId, '--stderr', `--server=${cluster.url(via, '')}`);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, expectedStderr());

    // The executing node is gone: another node serves the record's tail, and says so.
    await cluster.signal(executor, 'SIGKILL');
    const survivor = ['n1', 'n2', 'n3'].find((n) => n !== executor) ?? assert.fail('no survivor');
    await cluster.waitForLeader();
    const tail = await get(cluster.url(survivor, `/v1/runs/${runId}/output?stream=stdout`));
    assert.equal(tail.status, 200);
    assert.equal(tail.headers['chime-output-source'], 'tail');
    assert.match(String(tail.headers['chime-output-note']), new RegExp(`on node ${executor}`));
    assert.ok(tail.body.length > 0 && tail.body.length <= 64 * 1024);
    t.diagnostic(`streamed ${followed.body.length} bytes from ${executor} via ${via}`);
  } finally {
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a manual run that waits for a free slot is answered at once with its run id; followed, its output streams once it runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-output-'));
  // One slot per node and jobs that run on the leader: a second run waits for the first.
  const cluster = await ProcessCluster.found(3, { dir, args: ['--slots', '1'] });
  try {
    const leader = await cluster.waitForLeader();
    const onLeader = { mode: 'leader' };
    assert.equal((await cluster.call(leader, 'PUT', '/v1/jobs/blocker', { schedule: '@manual', target: onLeader, executor: { type: 'shell', command: 'sleep 60' } })).status, 201);
    assert.equal((await cluster.call(leader, 'PUT', '/v1/jobs/greeter', { schedule: '@manual', target: onLeader, executor: { type: 'shell', command: 'echo hello from the queue' } })).status, 201);
    const field = (body: unknown, name: string): unknown => (typeof body === 'object' && body !== null && name in body ? (body as Record<string, unknown>)[name] : undefined);
    const blocker = String(field((await cluster.call(leader, 'POST', '/v1/jobs/blocker/run', {})).body, 'runId'));
    await waitFor('the blocker to run', async () => {
      const body = (await cluster.call(leader, 'GET', `/v1/runs/${blocker}`)).body;
      return isRunView(body) && body.status === 'running';
    }, 10_000);
    const via = ['n1', 'n2', 'n3'].find((n) => n !== leader) ?? assert.fail('no follower');
    // Through a follower: the request is forwarded, and answered while the run waits.
    const fired = await cluster.call(via, 'POST', '/v1/jobs/greeter/run', {});
    assert.equal(fired.status, 202, JSON.stringify(fired.body));
    assert.equal(field(fired.body, 'status'), 'waiting');
    const greeter = String(field(fired.body, 'runId'));
    const waiting = await waitFor('the waiting run to be readable on the follower', async () => {
      const answer = await cluster.call(via, 'GET', `/v1/runs/${greeter}`);
      return answer.status === 200 ? answer.body : undefined;
    }, 10_000);
    assert.ok(isRunView(waiting) && waiting.status === 'pending' && waiting.executions.length === 0, JSON.stringify(waiting));
    assert.match(String(field(waiting, 'reason')), /free executor slot/);
    const listed = field((await cluster.call(via, 'GET', '/v1/jobs/greeter/runs?limit=5')).body, 'items');
    assert.ok(Array.isArray(listed) && field(listed[0], 'runId') === greeter && field(listed[0], 'status') === 'pending', `the job's runs start with the waiting one: ${JSON.stringify(listed)}`);
    const found = field((await cluster.call(via, 'GET', '/v1/runs?status=pending&trigger=manual')).body, 'items');
    assert.ok(Array.isArray(found) && found.some((r) => field(r, 'runId') === greeter), 'the search finds it');
    const onNode = field((await cluster.call(via, 'GET', `/v1/runs?node=${leader}`)).body, 'items');
    assert.ok(Array.isArray(onNode) && !onNode.some((r) => field(r, 'runId') === greeter), 'it runs on no node yet');
    // Killed while it waits: recorded skipped, with the reason.
    const kill = await cluster.call(via, 'POST', `/v1/runs/${greeter}/kill`, {});
    assert.equal(kill.status, 202, JSON.stringify(kill.body));
    assert.equal(field(kill.body, 'status'), 'skipped');
    assert.match(String(field(kill.body, 'reason')), /killed by request while it waited/);

    const next = await cluster.call(via, 'POST', '/v1/jobs/greeter/run', {});
    assert.equal(field(next.body, 'status'), 'waiting');
    const followed = get(cluster.url(via, `/v1/runs/${String(field(next.body, 'runId'))}/output?stream=stdout&follow=true`));
    let ended = false;
    void followed.then(() => { ended = true; });
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(ended, false, 'the followed stream of a waiting run stays open');
    assert.equal((await cluster.call(leader, 'POST', `/v1/runs/${blocker}/kill`, {})).status, 202);
    const answer = await followed;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['chime-output-source'], 'stored', String(answer.headers['chime-output-note']));
    assert.equal(answer.body.toString('utf8'), 'hello from the queue\n');
    const done = (await cluster.call(leader, 'POST', `/v1/jobs/greeter/run?wait=20s`, {})).body;
    assert.equal(field(done, 'status'), 'succeeded', 'with the slot free, a run with ?wait= ends in the request');
  } finally {
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
