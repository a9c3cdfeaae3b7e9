// chime job run --wait follows the run through its retries and exits 0 / 1 / 3; a repeated
// key is reported as a duplicate; -o yaml|json on reads; a dead member shows as unreachable.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessCluster } from '../support/process-cluster.js';
import { cli, startCluster } from '../api/support.js';

let cluster: ProcessCluster;
let close: () => Promise<void>;
let server: string;
let leader: string;

before(async () => {
  ({ cluster, close } = await startCluster());
  leader = await cluster.waitForLeader();
  server = `http://${cluster.nodes.get(leader)?.http}`;
});
after(async () => close());

async function put(id: string, command: string, extra: string[] = []): Promise<void> {
  const result = await cli('job', 'put', id, '--schedule', '@manual', '--shell', command, ...extra, '--server', server);
  assert.equal(result.code, 0, result.stderr);
}

test('--wait exits 0 when the run succeeded, printing its status and output tail', async () => {
  await put('ok-job', 'echo all good');
  const result = await cli('job', 'run', 'ok-job', '--wait', '--server', server);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /: succeeded after 1 attempt/);
  assert.match(result.stdout, /output:\nall good/);
});

test('--wait follows a failing run through every retry and exits 1 with the final status', async () => {
  const spec = { schedule: '@manual', executor: { type: 'shell', command: 'echo attempt $CHIME_ATTEMPT; exit 7' }, retry: { max: 2, backoffMs: 100, maxBackoffMs: 100 } };
  assert.equal((await cluster.call(leader, 'PUT', '/v1/jobs/flaky-job', spec)).status, 201);
  const result = await cli('job', 'run', 'flaky-job', '--wait', '--server', server);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /: failed after 3 attempts/);
  assert.match(result.stdout, /attempt 3 on n\d: failed \(exit 7\)/);
  assert.match(result.stdout, /output:\nattempt 3/);
});

test('--wait --timeout exits 3 when the timeout passes first', async () => {
  await put('slow-job', 'sleep 30');
  const result = await cli('job', 'run', 'slow-job', '--wait', '--timeout', '1s', '--server', server);
  assert.equal(result.code, 3, result.stdout + result.stderr);
  assert.match(result.stdout, /still going: the --timeout passed first/);
  const bad = await cli('job', 'run', 'slow-job', '--timeout', '1s', '--server', server);
  assert.equal(bad.code, 2);
});

test('the same key twice is reported as a duplicate, not started again', async () => {
  await put('keyed-job', 'true');
  const first = await cli('job', 'run', 'keyed-job', '--key', 'k-1', '--server', server);
  assert.match(first.stdout, /^started run \S+/);
  const second = await cli('job', 'run', 'keyed-job', '--key', 'k-1', '--server', server);
  assert.equal(second.code, 0);
  assert.match(second.stdout, /already exists for key k-1 \(duplicate: not started again\)/);
  assert.equal(second.stdout.split(' ')[1], first.stdout.trim().split(' ')[2], 'the same run id');
});

test('-o yaml and -o json print the same document; a dead member shows as unreachable', async () => {
  const json = await cli('job', 'get', 'ok-job', '-o', 'json', '--server', server);
  const yaml = await cli('job', 'get', 'ok-job', '-o', 'yaml', '--server', server);
  const doc: unknown = JSON.parse(json.stdout);
  assert.ok(typeof doc === 'object' && doc !== null);
  assert.match(yaml.stdout, /^id: ok-job$/m);
  assert.match(yaml.stdout, /^executor:\n {2}type: shell$/m);
  const victim = ['n1', 'n2', 'n3'].find((id) => id !== leader) ?? 'n1';
  await cluster.signal(victim, 'SIGKILL');
  const deadline = performance.now() + 15_000;
  let status = '';
  while (performance.now() < deadline) {
    status = (await cli('cluster', 'status', '--server', server)).stdout;
    if (new RegExp(`^${victim}\\s+unreachable`, 'm').test(status)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.match(status, new RegExp(`^${victim}\\s+unreachable \\(was follower\\)`, 'm'));
});

test('job put shorthand flags set every common field', async () => {
  const result = await cli('job', 'put', 'short-job', '--schedule', '@daily', '--shell', 'true', '--tz', 'Europe/Berlin', '--retry', '2', '--backoff', '5s', '--timeout', '1m',
    '--concurrency', 'forbid', '--target', 'zone=b,gpu=yes', '--priority', '7', '--misfire', 'skip', '--label', 'team=a', '--label', 'tier=1', '--server', server);
  assert.equal(result.code, 0, result.stderr);
  const job = (await cluster.call(leader, 'GET', '/v1/jobs/short-job')).body as Record<string, unknown>;
  assert.equal(job['timezone'], 'Europe/Berlin');
  assert.deepEqual(job['retry'], { max: 2, backoffMs: 5000, maxBackoffMs: 60_000 });
  assert.equal(job['timeoutMs'], 60_000);
  assert.equal(job['concurrency'], 'forbid');
  assert.deepEqual(job['target'], { mode: 'tags', tags: { zone: 'b', gpu: 'yes' } });
  assert.equal(job['priority'], 7);
  assert.equal((job['misfire'] as { policy: string }).policy, 'skip');
  assert.deepEqual(job['labels'], { team: 'a', tier: '1' });
  const mixed = await cli('job', 'put', 'x', '--file', '/dev/null', '--retry', '1', '--server', server);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /--file excludes the shorthand flags \(--retry\)/);
});
