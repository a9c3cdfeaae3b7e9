// The job API through every node of a real 3-node cluster: CRUD, paging, forwarding,
// linearizable and stale reads, and the job CLI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcessCluster } from '../support/process-cluster.js';
import { waitFor } from '../support/process-cluster.js';
import { assertProblem, cli, raw, shellSpec, startCluster } from './support.js';

const NODES = ['n1', 'n2', 'n3'] as const;
let cluster: ProcessCluster;
let close: () => Promise<void>;
let leader: string;
let followers: string[];

interface JobBody {
  id: string;
  enabled: boolean;
  schedule: string;
  description: string;
  executor: { type: string; command?: string; url?: string };
  revision: number;
}
interface Page {
  items: JobBody[];
  nextCursor: string | null;
}

before(async () => {
  ({ cluster, close } = await startCluster());
  leader = await cluster.waitForLeader();
  followers = NODES.filter((id) => id !== leader);
});
after(async () => close());

test('PUT creates (201) and replaces (200) through every node, answering with the stored job', async () => {
  for (const via of NODES) {
    const id = `crud-${via}`;
    const created = await cluster.call(via, 'PUT', `/v1/jobs/${id}`, shellSpec('echo one'));
    assert.equal(created.status, 201, created.text);
    const job = created.body as JobBody;
    assert.equal(job.id, id);
    assert.equal(job.executor.command, 'echo one');
    assert.equal(job.enabled, true);
    const replaced = await cluster.call(via, 'PUT', `/v1/jobs/${id}`, shellSpec('echo two', { description: 'second' }));
    assert.equal(replaced.status, 200, replaced.text);
    assert.equal((replaced.body as JobBody).executor.command, 'echo two');
    assert.ok((replaced.body as JobBody).revision > job.revision);
    for (const reader of NODES) {
      const got = await cluster.call(reader, 'GET', `/v1/jobs/${id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, replaced.body, `GET on ${reader} shows the job PUT answered with`);
    }
  }
});

test('PUT ?dryRun=true validates on the server and stores nothing', async () => {
  for (const via of NODES) {
    const id = `dry-${via}`;
    const dry = await cluster.call(via, 'PUT', `/v1/jobs/${id}?dryRun=true`, shellSpec('echo dry'));
    assert.equal(dry.status, 200, dry.text);
    const body = dry.body as { dryRun: boolean; created: boolean; job: JobBody };
    assert.equal(body.dryRun, true);
    assert.equal(body.created, true, 'it would be created');
    assert.equal(body.job.executor.command, 'echo dry');
    assert.equal((await cluster.call(via, 'GET', `/v1/jobs/${id}`)).status, 404, 'nothing was stored');
    assertProblem(await cluster.call(via, 'PUT', `/v1/jobs/${id}?dryRun=true`, { schedule: 'not a schedule', executor: { type: 'shell', command: 'x' } }), 400, 'INVALID_SPEC');
  }
});

test('DELETE answers 204 through every node; the job is gone everywhere; a second DELETE is 404', async () => {
  for (const via of NODES) {
    const id = `del-${via}`;
    assert.equal((await cluster.call(leader, 'PUT', `/v1/jobs/${id}`, shellSpec('true'))).status, 201);
    const deleted = await cluster.call(via, 'DELETE', `/v1/jobs/${id}`);
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    for (const reader of NODES) assertProblem(await cluster.call(reader, 'GET', `/v1/jobs/${id}`), 404, 'JOB_NOT_FOUND');
    assertProblem(await cluster.call(via, 'DELETE', `/v1/jobs/${id}`), 404, 'JOB_NOT_FOUND');
  }
});

test('pause and resume through every node flip enabled and answer with the job', async () => {
  assert.equal((await cluster.call(leader, 'PUT', '/v1/jobs/pausable', shellSpec('true', { schedule: '@every 1h' }))).status, 201);
  for (const via of NODES) {
    const paused = await cluster.call(via, 'POST', '/v1/jobs/pausable/pause');
    assert.equal(paused.status, 200, paused.text);
    assert.equal((paused.body as JobBody).enabled, false);
    for (const reader of NODES) assert.equal(((await cluster.call(reader, 'GET', '/v1/jobs/pausable')).body as JobBody).enabled, false);
    const resumed = await cluster.call(via, 'POST', '/v1/jobs/pausable/resume');
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal((resumed.body as JobBody).enabled, true);
  }
  assertProblem(await cluster.call(followers[0] ?? leader, 'POST', '/v1/jobs/never-made/pause'), 404, 'JOB_NOT_FOUND');
});

test('a follower answers a write exactly as the leader would (success and each error)', async () => {
  const follower = followers[0] ?? leader;
  const viaFollower = await cluster.call(follower, 'PUT', '/v1/jobs/fwd', shellSpec('echo fwd'));
  assert.equal(viaFollower.status, 201);
  assert.deepEqual((await cluster.call(leader, 'GET', '/v1/jobs/fwd')).body, viaFollower.body);
  const bad = { schedule: '61 * * * *', executor: { type: 'shell', command: 'x' } };
  const cases: [string, string, unknown][] = [
    ['PUT', '/v1/jobs/fwd-bad', bad],
    ['DELETE', '/v1/jobs/fwd-missing', undefined],
    ['POST', '/v1/jobs/fwd-missing/resume', undefined],
    ['PUT', `/v1/jobs/${'x'.repeat(129)}`, shellSpec('x')],
  ];
  for (const [method, path, body] of cases) {
    const a = await raw(cluster.nodes.get(leader)!.http, method, path, { 'content-type': 'application/json' }, body === undefined ? undefined : JSON.stringify(body));
    const b = await raw(cluster.nodes.get(follower)!.http, method, path, { 'content-type': 'application/json' }, body === undefined ? undefined : JSON.stringify(body));
    assert.equal(b.status, a.status, `${method} ${path}`);
    assert.equal(b.headers['content-type'], a.headers['content-type']);
    assert.equal(b.text, a.text, `${method} ${path}: same body from follower and leader`);
    assert.ok(a.status >= 400);
  }
});

test('a read on one node right after a write acknowledged by another sees it (linearizable)', async () => {
  for (let i = 0; i < 30; i++) {
    const writer = NODES[i % 3] as string;
    const reader = NODES[(i + 1 + (i % 2)) % 3] as string;
    const put = await cluster.call(writer, 'PUT', `/v1/jobs/lin-${i}`, shellSpec(`echo ${i}`));
    assert.equal(put.status, 201);
    const got = await cluster.call(reader, 'GET', `/v1/jobs/lin-${i}`);
    assert.equal(got.status, 200, `write on ${writer}, read on ${reader}: ${got.text}`);
    assert.equal((got.body as JobBody).executor.command, `echo ${i}`);
    // A replace must be seen too, not just existence, and by a list as well as a get.
    await cluster.call(writer, 'PUT', `/v1/jobs/lin-${i}`, shellSpec(`echo again ${i}`));
    const again = (await cluster.call(reader, 'GET', `/v1/jobs/lin-${i}`)).body as JobBody;
    assert.equal(again.executor.command, `echo again ${i}`);
    const page = (await cluster.call(reader, 'GET', '/v1/jobs?limit=1000')).body as Page;
    assert.equal(page.items.find((j) => j.id === `lin-${i}`)?.executor.command, `echo again ${i}`);
  }
});

test('?stale=true answers from local state and converges to the write', async () => {
  const put = await cluster.call(leader, 'PUT', '/v1/jobs/stale-one', shellSpec('echo stale'));
  assert.equal(put.status, 201);
  for (const reader of NODES) {
    const got = await waitFor(`stale read on ${reader}`, async () => {
      const a = await cluster.call(reader, 'GET', '/v1/jobs/stale-one?stale=true');
      return a.status === 200 ? a : undefined;
    }, 5000);
    assert.deepEqual(got.body, put.body);
    const page = (await cluster.call(reader, 'GET', '/v1/jobs?stale=true&limit=1000')).body as Page;
    assert.ok(page.items.some((j) => j.id === 'stale-one'));
  }
});

test('GET /v1/jobs pages with limit and cursor over several pages, in id order, on every node', async () => {
  const ids = Array.from({ length: 23 }, (_, i) => `page-${String(i).padStart(2, '0')}`);
  const puts = await Promise.all(ids.map((id, i) => cluster.call(NODES[i % 3] as string, 'PUT', `/v1/jobs/${id}`, shellSpec(`echo ${id}`))));
  for (const put of puts) assert.equal(put.status, 201);
  for (const reader of NODES) {
    const all: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer = await cluster.call(reader, 'GET', `/v1/jobs?limit=10${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      assert.equal(answer.status, 200, answer.text);
      const page = answer.body as Page;
      assert.ok(page.items.length <= 10);
      if (page.nextCursor !== null) assert.equal(page.items.length, 10, 'only the last page is short');
      all.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor;
      pages++;
      assert.ok(pages < 100, 'paging terminates');
    } while (cursor !== null);
    assert.ok(pages >= 3, `${pages} pages`);
    assert.deepEqual(all, [...all].sort(), 'id order');
    assert.equal(new Set(all).size, all.length, 'no job twice');
    assert.deepEqual(all.filter((id) => id.startsWith('page-')), ids, `every job once on ${reader}`);
  }
  assertProblem(await cluster.call(leader, 'GET', '/v1/jobs?limit=0'), 400, 'INVALID_REQUEST');
  assertProblem(await cluster.call(leader, 'GET', '/v1/jobs?limit=1001'), 400, 'INVALID_REQUEST');
  assertProblem(await cluster.call(leader, 'GET', '/v1/jobs?cursor=not-a-cursor'), 400, 'INVALID_CURSOR');
});

test('CLI: job put --file, shorthands, get, list, pause, resume, delete, --json; errors and exit codes', async () => {
  const server = `http://${cluster.nodes.get(followers[1] ?? leader)!.http}`;
  const dir = mkdtempSync(join(tmpdir(), 'chime-cli-'));
  try {
    const file = join(dir, 'spec.json');
    writeFileSync(file, JSON.stringify(shellSpec('echo from-file', { description: 'from a file' })));
    let r = await cli('job', 'put', 'cli-file', '--file', file, '--server', server);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created job cli-file/);
    r = await cli('job', 'put', 'cli-file', '--file', file, '--server', server);
    assert.match(r.stdout, /replaced job cli-file/);

    r = await cli('job', 'put', 'cli-shell', '--schedule', '*/5 * * * *', '--shell', 'echo short', '--timezone', 'Europe/Berlin', '--server', server, '--json');
    assert.equal(r.code, 0, r.stderr);
    const shell = JSON.parse(r.stdout) as JobBody & { timezone: string };
    assert.equal(shell.schedule, '*/5 * * * *');
    assert.equal(shell.timezone, 'Europe/Berlin');
    assert.deepEqual([shell.executor.type, shell.executor.command], ['shell', 'echo short']);

    r = await cli('job', 'put', 'cli-http', '--schedule', '@hourly', '--http-url', 'http://127.0.0.1:9/hook', '--server', server);
    assert.equal(r.code, 0, r.stderr);
    const http = (await cluster.call(leader, 'GET', '/v1/jobs/cli-http')).body as JobBody;
    assert.deepEqual([http.executor.type, http.executor.url], ['http', 'http://127.0.0.1:9/hook']);

    r = await cli('job', 'get', 'cli-file', '--server', server);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^id\s+cli-file$/m);
    assert.match(r.stdout, /^schedule\s+@manual \(UTC\)$/m);
    assert.match(r.stdout, /^executor\s+shell: echo from-file$/m);
    assert.match(r.stdout, /^retry\s+0 times, backoff 1\.00s up to 1m00s$/m);
    r = await cli('job', 'get', 'cli-file', '--server', server, '--json');
    assert.equal((JSON.parse(r.stdout) as JobBody).description, 'from a file');

    r = await cli('job', 'list', '--server', server, '--limit', '2', '--json');
    const page = JSON.parse(r.stdout) as Page;
    assert.equal(page.items.length, 2);
    assert.equal(typeof page.nextCursor, 'string');
    r = await cli('job', 'list', '--server', server, '--limit', '2');
    assert.match(r.stdout, /more: --cursor \S+/);
    r = await cli('job', 'list', '--server', server, '--limit', '1000', '--stale');
    assert.match(r.stdout, /cli-shell/);

    r = await cli('job', 'pause', 'cli-file', '--server', server);
    assert.match(r.stdout, /cli-file\s+@manual\s+no/);
    r = await cli('job', 'resume', 'cli-file', '--server', server, '--json');
    assert.equal((JSON.parse(r.stdout) as JobBody).enabled, true);
    r = await cli('job', 'delete', 'cli-file', '--server', server);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /deleted job cli-file/);

    // A failed operation: one line on stderr, exit code 1.
    for (const args of [
      ['job', 'get', 'cli-file'],
      ['job', 'put', 'cli-bad', '--schedule', '61 * * * *', '--shell', 'x'],
      ['job', 'get', 'bad id!'],
    ]) {
      r = await cli(...args, '--server', server);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.equal(r.stdout, '');
    }
    r = await cli('job', 'put', 'cli-bad', '--schedule', '61 * * * *', '--shell', 'x', '--server', server);
    assert.match(r.stderr, /schedule: minute 61 is out of range 0-59/);
    r = await cli('job', 'get', 'x', '--server', 'http://127.0.0.1:1');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach/);

    // Bad usage: exit code 2.
    for (const args of [
      ['job'],
      ['job', 'frobnicate', 'x'],
      ['job', 'get'],
      ['job', 'put', 'x', '--shell', 'echo'],
      ['job', 'put', 'x', '--schedule', '@daily'],
      ['job', 'put', 'x', '--schedule', '@daily', '--shell', 'a', '--http-url', 'http://x'],
      ['job', 'put', 'x', '--file', join(dir, 'missing.json')],
      ['job', 'list', '--no-such-flag'],
    ]) {
      r = await cli(...args, '--server', server);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.trim().length > 0);
    }
    r = await cli('job', '--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: chime job/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
