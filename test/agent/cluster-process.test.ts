// Process-level tests: real `chime agent` processes on OS-chosen loopback ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';

const MAIN = resolve(fileURLToPath(import.meta.url), '..', '..', '..', 'src', 'cli', 'main.js');
const run = promisify(execFile);

function chime(...args: string[]) {
  return run(process.execPath, [MAIN, ...args], { timeout: 20_000 });
}

const spec = (n: number) => ({ schedule: '@manual', executor: { type: 'shell', command: `echo ${n}` } });

interface View {
  leader: string | null;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  members: { id: string; role: string; voter: boolean }[];
}

async function withCluster(count: number, body: (c: ProcessCluster) => Promise<void>, args: string[] = [], how: 'found' | 'grow' = 'grow'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chime-proc-'));
  const cluster = await (how === 'found' ? ProcessCluster.found(count, { dir, args }) : ProcessCluster.grow(count, { dir, args }));
  try {
    await body(cluster);
  } finally {
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function putJob(c: ProcessCluster, via: string, id: string, n: number): Promise<number> {
  return (await c.call(via, 'PUT', `/v1/jobs/${id}`, spec(n))).status;
}

test('three founded agents elect one leader, answer /v1/cluster alike, and `chime cluster status` prints it', async () => {
  await withCluster(3, async (c) => {
    const leader = await c.waitForLeader();
    const views = await Promise.all(['n1', 'n2', 'n3'].map(async (id) => (await c.call(id, 'GET', '/v1/cluster')).body as View));
    for (const view of views) assert.equal(view.leader, leader);
    // A follower reaches its fellow follower only once one of them dialled the other: until
    // then it shows n1 "unreachable (was follower)", so wait for the status it settles on.
    const stdout = await waitFor('n2 to show n1 reachable', async () => {
      const out = (await chime('cluster', 'status', '--server', `http://${c.nodes.get('n2')?.http}`)).stdout;
      return /n1\s+(leader|follower)\s+yes/.test(out) ? out : undefined;
    }, 10_000, 200);
    assert.match(stdout, new RegExp(`leader ${leader}`));
    assert.match(stdout, /n1\s+(leader|follower)\s+yes/);
  }, [], 'found');
});

test('kill -9 of the leader: a new leader is elected, and the old one rejoins as a follower and catches up', async () => {
  await withCluster(3, async (c) => {
    const first = await c.waitForLeader();
    for (let i = 0; i < 5; i++) assert.equal(await putJob(c, first, `a${i}`, i), 201);
    await c.signal(first, 'SIGKILL');
    const second = await c.waitForLeader();
    assert.notEqual(second, first);
    for (let i = 0; i < 5; i++) assert.equal(await putJob(c, second, `b${i}`, i), 201);
    await c.restart(first);
    await waitFor('the old leader to catch up', async () => {
      const view = (await c.call(first, 'GET', '/v1/cluster')).body as View;
      const lead = (await c.call(second, 'GET', '/v1/cluster')).body as View;
      return view.leader === second && view.appliedIndex >= lead.commitIndex;
    });
    const jobs = (await c.call(first, 'GET', '/v1/jobs?stale=true')).body as { items: { id: string }[] };
    assert.equal(jobs.items.length, 10);
  });
});

test('a fourth node joins with `chime cluster add` as a learner, becomes a voter, and is removed again', async () => {
  await withCluster(3, async (c) => {
    const leader = await c.waitForLeader();
    await putJob(c, leader, 'before-join', 1);
    const n4 = await c.launch('n4', '127.0.0.1:0', '127.0.0.1:0');
    const { rpc, http } = n4;
    await chime('cluster', 'add', 'n4', '--rpc', rpc, '--http', http, '--server', `http://${c.nodes.get('n1')?.http}`);
    await waitFor('n4 to become a voter', async () => ((await c.call(leader, 'GET', '/v1/cluster')).body as View).members.some((m) => m.id === 'n4' && m.voter));
    await waitFor('n4 to apply the log', async () => ((await c.call('n4', 'GET', '/v1/jobs?stale=true')).body as { items: unknown[] }).items.length === 1);
    await chime('cluster', 'remove', 'n4', '--server', `http://${c.nodes.get('n2')?.http}`);
    await waitFor('n4 to leave the membership', async () => !((await c.call(leader, 'GET', '/v1/cluster')).body as View).members.some((m) => m.id === 'n4'));
  });
});

test('`chime cluster transfer-leader` hands leadership to the named voter', async () => {
  await withCluster(3, async (c) => {
    const leader = await c.waitForLeader();
    const target = ['n1', 'n2', 'n3'].find((id) => id !== leader) as string;
    const { stdout } = await chime('cluster', 'transfer-leader', '--to', target, '--server', `http://${c.nodes.get(target)?.http}`);
    assert.match(stdout, new RegExp(`to ${target}`));
    assert.equal(await c.waitForLeader(), target);
  });
});

test('a kill -9 of every node and a restart keeps every acknowledged write', async () => {
  await withCluster(3, async (c) => {
    const leader = await c.waitForLeader();
    const acked: string[] = [];
    for (let i = 0; i < 30; i++) {
      const via = ['n1', 'n2', 'n3'][i % 3] as string;
      if ((await putJob(c, via, `job-${i}`, i)) === 201) acked.push(`job-${i}`);
    }
    assert.equal(acked.length, 30);
    // Each node counts the answers it gave its clients (10 each); the leader also those of
    // the writes the others forwarded to it (it ran their route): 30 in all on a leader
    // that did not change, at most 50.
    let counted = 0;
    for (const id of ['n1', 'n2', 'n3']) {
      const metrics = (await c.call(id, 'GET', '/metrics')).text;
      const count = Number(/^chime_http_requests_total\{route="PUT \/v1\/jobs\/:id",status="201"\} (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(count >= 10, `${id} counted ${count}`);
      counted += count;
    }
    assert.ok(counted >= 30 && counted <= 50, `${counted} answers counted`);
    void leader;
    await c.stopAll('SIGKILL');
    for (const id of ['n1', 'n2', 'n3']) await c.restart(id);
    const newLeader = await c.waitForLeader();
    const jobs = (await c.call(newLeader, 'GET', '/v1/jobs?limit=1000')).body as { items: { id: string }[] };
    assert.deepEqual(jobs.items.map((j) => j.id).sort(), acked.sort());
  });
});

test('a node restarted after falling far behind the compacted log is caught up by a snapshot', async () => {
  await withCluster(
    3,
    async (c) => {
      const leader = await c.waitForLeader();
      const behind = ['n1', 'n2', 'n3'].find((id) => id !== leader) as string;
      await c.signal(behind, 'SIGKILL');
      for (let i = 0; i < 120; i++) assert.equal(await putJob(c, leader, `far-${i}`, i), 201);
      await c.restart(behind);
      await waitFor('the lagging node to apply everything', async () => ((await c.call(behind, 'GET', '/v1/jobs?stale=true&limit=1000')).body as { items: unknown[] }).items.length === 120);
      const metrics = (await c.call(behind, 'GET', '/metrics')).text;
      assert.match(metrics, /chime_raft_snapshots_restored_total [1-9]/);
    },
    ['--snapshot-entries', '20'],
  );
});
