// The seeder writes data dirs that real agents start on as an established cluster. It
// depends on the agent's snapshot framing and the storage API, so a change there shows here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, freePorts, waitFor } from '../support/process-cluster.js';
import { jobId } from './job-mix.js';
import { seedCluster } from './seed-cluster.js';

test('a seeded 3-node cluster starts as established members and serves the seeded jobs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-seed-'));
  const ports = await freePorts(6);
  const members = ['n1', 'n2', 'n3'].map((id, i) => ({ id, rpc: `127.0.0.1:${ports[2 * i]}`, http: `127.0.0.1:${ports[2 * i + 1]}` }));
  const seed = await seedCluster({ dir, members, jobs: 300, dueJobs: 0 });
  assert.equal(seed.index, 300);
  const cluster = new ProcessCluster({ dir });
  try {
    await Promise.all(members.map((m) => cluster.launch(m.id, m.rpc, m.http)));
    const leader = await cluster.waitForLeader(30_000);
    for (const m of members) {
      await waitFor(`${m.id} applied the snapshot`, async () => ((await cluster.call(m.id, 'GET', '/v1/cluster?stale=true')).body as { appliedIndex: number }).appliedIndex >= seed.index, 30_000);
    }
    const view = (await cluster.call(leader, 'GET', '/v1/cluster')).body as { members: { id: string; voter: boolean; rpc: string }[] };
    assert.deepEqual(view.members.map((m) => [m.id, m.voter, m.rpc]).sort(), members.map((m) => [m.id, true, m.rpc]));
    const follower = members.find((m) => m.id !== leader)!.id;
    const job = await cluster.call(follower, 'GET', `/v1/jobs/${jobId(299)}`);
    assert.equal(job.status, 200);
    const page = (await cluster.call(follower, 'GET', '/v1/jobs?limit=1000')).body as { items: { id: string }[] };
    assert.equal(page.items.length, 300);
    const put = await cluster.call(follower, 'PUT', '/v1/jobs/extra', { schedule: '@hourly', executor: { type: 'shell', command: 'true' } });
    assert.equal(put.status, 201);
  } finally {
    await cluster.stopAll('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
