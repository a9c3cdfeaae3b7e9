// Non-voting executor nodes with real agents: 3 voters and 2 `--role worker` members. Workers
// never vote and are never promoted, take placed runs, lose them (lost, retried elsewhere)
// when killed, and a worker silent past --remove-silent-workers-after is removed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';
import { cli, putJob, runNow, waitRun } from '../scheduler/process-support.js';

type Member = { id: string; role: string; voter: boolean; lastContactMs: number | null };

let cluster: ProcessCluster;
let dir: string;

async function members(): Promise<Member[]> {
  const answer = await cluster.call('n1', 'GET', '/v1/cluster');
  return (answer.body as { members: Member[] }).members;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chime-worker-nodes-'));
  cluster = await ProcessCluster.found(3, { dir, args: ['--remove-silent-workers-after', '6s'] });
  for (const id of ['w1', 'w2']) {
    await cluster.launch(id, '127.0.0.1:0', '127.0.0.1:0', ['--join', cluster.url('n1', ''), '--role', 'worker', '--tag', 'kind=worker', '--tag', `name=${id}`]);
  }
  await waitFor('both workers are members', async () => (await members()).filter((m) => m.role === 'worker').length === 2, 20_000, 100);
});

after(async () => {
  await cluster?.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('worker members on a real cluster', { concurrency: false, timeout: 120_000 }, () => {
  test('workers never vote, also once caught up; the cluster shows their role', async () => {
    // Long past the promotion check (every 200 ms) of caught-up learners.
    await new Promise((r) => setTimeout(r, 1500));
    const all = await members();
    assert.deepEqual(all.filter((m) => m.voter).map((m) => m.id).sort(), ['n1', 'n2', 'n3']);
    for (const id of ['w1', 'w2']) assert.deepEqual(all.find((m) => m.id === id) && [all.find((m) => m.id === id)?.role, all.find((m) => m.id === id)?.voter], ['worker', false]);
    const status = await cli(['cluster', 'members', '--server', cluster.url('n2', '')]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^w1\s+worker\s+no\s/m);
  });

  test('runs are placed on workers', async () => {
    await putJob(cluster, 'on-workers', { schedule: '@manual', target: { mode: 'tags', tags: { kind: 'worker' } }, executor: { type: 'shell', command: 'echo "$CHIME_NODE_ID"' } });
    const runId = await runNow(cluster, 'on-workers');
    const run = await waitRun(cluster, runId, 'to succeed on both workers', (r) => r.status === 'succeeded');
    assert.deepEqual(run.executions.map((e) => e.node).sort(), ['w1', 'w2']);
    assert.deepEqual(run.executions.map((e) => e.output.trim()).sort(), ['w1', 'w2']);
  });

  test('a killed worker: its run is lost after the lease and retried on the other; the silent worker is removed', async () => {
    await putJob(cluster, 'slow', {
      schedule: '@manual', target: { mode: 'tags', tags: { name: 'w1' } }, retry: { max: 1, backoffMs: 100 }, executor: { type: 'shell', command: 'sleep 30' },
    });
    const runId = await runNow(cluster, 'slow');
    await waitRun(cluster, runId, 'to run on w1', (r) => r.status === 'running');
    // Let the retry go anywhere a worker runs: w1 will be gone.
    await putJob(cluster, 'slow', {
      schedule: '@manual', target: { mode: 'tags', tags: { kind: 'worker' }, count: 1 }, retry: { max: 1, backoffMs: 100 }, executor: { type: 'shell', command: 'sleep 1' },
    });
    await cluster.signal('w1', 'SIGKILL');
    const done = await waitRun(cluster, runId, 'lost on w1, then retried on w2', (r) => r.attempt === 2 && r.status === 'succeeded', 40_000);
    assert.deepEqual(done.executions.map((e) => [e.attempt, e.node, e.status]), [[1, 'w1', 'lost'], [2, 'w2', 'succeeded']]);
    await waitFor('w1 reported silent', async () => ((await members()).find((m) => m.id === 'w1')?.lastContactMs ?? 0) > 2000, 10_000, 200).catch(() => {
      // It may already have been removed: that is reported below.
    });
    await waitFor('the silent worker removed', async () => !(await members()).some((m) => m.id === 'w1'), 30_000, 200);
    assert.ok((await members()).some((m) => m.id === 'w2' && m.role === 'worker'), 'the live worker stays');
    let removals = 0;
    for (const id of ['n1', 'n2', 'n3']) {
      const text = (await cluster.call(id, 'GET', '/metrics')).text;
      removals += Number(/^chime_cluster_silent_workers_removed_total (\d+)$/m.exec(text)?.[1] ?? '0');
    }
    assert.equal(removals, 1, 'the leader counted the removal');
  });

  test('membership changes sent at once through a follower all take effect: the leader holds each behind the one before', async () => {
    const leader = await cluster.waitForLeader();
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader) ?? 'n2';
    // Members that never start (port 9 is discard): the voters' quorum commits them all the same.
    const ids = ['x1', 'x2', 'x3', 'x4'];
    const added = await Promise.all(ids.map((id) => cluster.call(follower, 'POST', '/v1/cluster/members', { id, rpc: '127.0.0.1:9', role: 'worker' })));
    assert.deepEqual(added.map((a) => a.status), [202, 202, 202, 202], JSON.stringify(added.map((a) => a.body)));
    // n1, which answers members(), may apply the last of them a moment after the leader.
    await waitFor('all four are worker members', async () => JSON.stringify((await members()).filter((m) => ids.includes(m.id)).map((m) => [m.id, m.role])) === JSON.stringify(ids.map((id) => [id, 'worker'])), 10_000, 100);
    const removed = await Promise.all(ids.map((id) => cluster.call(follower, 'DELETE', `/v1/cluster/members/${id}`)));
    assert.deepEqual(removed.map((r) => r.status), [204, 204, 204, 204], JSON.stringify(removed.map((r) => r.body)));
    await waitFor('all four removed', async () => !(await members()).some((m) => ids.includes(m.id)), 10_000, 100);
  });

  test('promote and demote are the operator\'s explicit changes', async () => {
    const promoted = await cli(['cluster', 'promote', 'w2', '--server', cluster.url('n1', '')]);
    assert.equal(promoted.code, 0, promoted.stderr);
    await waitFor('w2 votes', async () => (await members()).some((m) => m.id === 'w2' && m.voter), 10_000, 100);
    const demoted = await cli(['cluster', 'demote', 'w2', '--server', cluster.url('n1', '')]);
    assert.equal(demoted.code, 0, demoted.stderr);
    await waitFor('w2 is a worker again', async () => (await members()).some((m) => m.id === 'w2' && !m.voter && m.role === 'worker'), 10_000, 100);
    assert.deepEqual((await members()).filter((m) => m.voter).map((m) => m.id).sort(), ['n1', 'n2', 'n3']);
  });
});
