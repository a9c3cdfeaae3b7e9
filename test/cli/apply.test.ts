// chime apply / diff / export / job next / job put --dry-run against a real 3-node cluster,
// through a follower: files in, one log entry, what changed named per job; bad input named by
// file and field, with nothing applied.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcessCluster } from '../support/process-cluster.js';
import { cli, startCluster } from '../api/support.js';

let cluster: ProcessCluster;
let close: () => Promise<void>;
let server: string;
let dir: string;

before(async () => {
  ({ cluster, close } = await startCluster());
  const leader = await cluster.waitForLeader();
  const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader) ?? 'n1';
  server = `http://${cluster.nodes.get(follower)?.http}`;
  dir = mkdtempSync(join(tmpdir(), 'chime-apply-'));
});
after(async () => {
  await close();
  rmSync(dir, { recursive: true, force: true });
});

const job = (id: string, command: string, extra: Record<string, unknown> = {}) => ({ id, schedule: '0 0 3 * * *', executor: { type: 'shell', command }, ...extra });

test('apply -f DIR creates every job in one step, again reports them unchanged, and a change as configured', async () => {
  const jobs = join(dir, 'jobs');
  mkdirSync(jobs);
  writeFileSync(join(jobs, 'a.json'), JSON.stringify(job('nightly-a', 'echo a')));
  writeFileSync(join(jobs, 'more.json'), JSON.stringify([job('nightly-b', 'echo b'), job('nightly-c', 'echo c')]));
  const first = await cli('apply', '-f', jobs, '--server', server);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(first.stdout.trim().split('\n'), ['job nightly-a created', 'job nightly-b created', 'job nightly-c created']);
  const again = await cli('apply', '-f', jobs, '--server', server);
  assert.deepEqual(again.stdout.trim().split('\n'), ['job nightly-a unchanged', 'job nightly-b unchanged', 'job nightly-c unchanged']);
  writeFileSync(join(jobs, 'a.json'), JSON.stringify(job('nightly-a', 'echo changed')));
  const diff = await cli('diff', '-f', jobs, '--server', server);
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stdout, /~ job nightly-a \(a\.json\):\n\s+executor: .*"echo a".* → .*"echo changed"/);
  assert.doesNotMatch(diff.stdout, /nightly-b/);
  const dry = await cli('apply', '-f', jobs, '--dry-run', '--server', server);
  assert.match(dry.stdout, /job nightly-a configured \(dry run\)/);
  const applied = await cli('apply', '-f', jobs, '--server', server);
  assert.match(applied.stdout, /job nightly-a configured/);
  assert.match((await cli('diff', '-f', jobs, '--server', server)).stdout, /no changes/);
});

test('a bad job in any file applies nothing, and the error names the file, the job and the field', async () => {
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify([job('fine-1', 'echo ok'), job('broken-1', 'echo x', { schedule: 'every tuesday' })]));
  const result = await cli('apply', '-f', file, '--server', server);
  assert.equal(result.code, 1);
  assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
  assert.match(result.stderr, /bad\.json \[1\]: job broken-1: schedule: .*nothing was applied/);
  assert.equal((await cli('job', 'get', 'fine-1', '--server', server)).code, 1, 'the good job of the batch was not applied either');
  const noId = join(dir, 'noid.json');
  writeFileSync(noId, JSON.stringify({ schedule: '@daily', executor: { type: 'shell', command: 'true' } }));
  const usage = await cli('apply', '-f', noId, '--server', server);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /noid\.json: every job in a file needs its "id"/);
});

test('export prints the specs only, and apply -f takes the export back unchanged', async () => {
  const exported = await cli('export', '--server', server);
  assert.equal(exported.code, 0, exported.stderr);
  const specs: unknown = JSON.parse(exported.stdout);
  assert.ok(Array.isArray(specs) && specs.length >= 3);
  for (const spec of specs) {
    assert.equal(typeof spec, 'object');
    for (const field of ['createdAt', 'updatedAt', 'revision', 'nextFireAt']) assert.equal(field in spec, false, `no server field ${field}`);
  }
  const file = join(dir, 'export.json');
  writeFileSync(file, exported.stdout);
  const back = await cli('apply', '-f', file, '--server', server);
  assert.equal(back.code, 0, back.stderr);
  assert.ok(back.stdout.trim().split('\n').every((line) => line.endsWith(' unchanged')), back.stdout);
});

test('job next lists the next instants in the job\'s zone; job put --dry-run stores nothing; a past @at is warned', async () => {
  assert.equal((await cli('job', 'put', 'tz-job', '--schedule', '0 30 2 * * *', '--timezone', 'Europe/Berlin', '--shell', 'true', '--server', server)).code, 0);
  const next = await cli('job', 'next', 'tz-job', '-n', '3', '--server', server);
  assert.equal(next.code, 0, next.stderr);
  const lines = next.stdout.trim().split('\n');
  assert.equal(lines.length, 3);
  for (const line of lines) assert.match(line, /T02:30:00(\.000)?\+0[12]:00$/, `an ISO time at 02:30 with Berlin's offset: ${line}`);
  const dry = await cli('job', 'put', 'dry-job', '--schedule', '@daily', '--shell', 'true', '--dry-run', '--server', server);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /job dry-job would be created \(dry run/);
  assert.equal((await cli('job', 'get', 'dry-job', '--server', server)).code, 1);
  const past = await cli('job', 'put', 'past-job', '--schedule', '@at 2020-01-01T00:00:00Z', '--shell', 'true', '--server', server);
  assert.match(past.stderr, /warning: @at 2020-01-01T00:00:00Z is in the past/);
});
