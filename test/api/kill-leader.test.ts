// kill -9 of the leader during a stream of concurrent writes through all nodes: every write
// that was acknowledged is afterwards present, with its content, on every node. A write that
// timed out or failed may or may not be there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/process-cluster.js';
import { raw, shellSpec, startCluster } from './support.js';

const WRITERS = 12;
const NODES = ['n1', 'n2', 'n3'];

interface Page {
  items: { id: string; executor: { command: string } }[];
  nextCursor: string | null;
}

test('kill -9 of the leader during concurrent writes loses no acknowledged write', async (t) => {
  const { cluster, close } = await startCluster();
  try {
    const first = await cluster.waitForLeader();
    const acknowledged = new Map<string, string>();
    const outcomes = new Map<string, number>();
    let stop = false;
    let sent = 0;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const id = `w${w}-${i}`;
        const via = NODES[(w + i) % NODES.length] as string;
        if (cluster.nodes.get(via)?.child === null) continue;
        const command = `echo ${id} ${sent++}`;
        const answer = await cluster.call(via, 'PUT', `/v1/jobs/${id}`, shellSpec(command), 3000).catch(() => null);
        const key = answer === null ? 'error' : String(answer.status);
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        if (answer !== null && (answer.status === 201 || answer.status === 200)) acknowledged.set(id, command);
        else await new Promise((r) => setTimeout(r, 20));
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await waitFor('some writes before the kill', () => acknowledged.size >= 100, 20_000);
    await cluster.signal(first, 'SIGKILL');
    const atKill = acknowledged.size;
    await waitFor('writes acknowledged by a new leader', () => acknowledged.size >= atKill + 100, 20_000);
    stop = true;
    await Promise.all(writers);
    await cluster.restart(first);
    const leader = await cluster.waitForLeader();
    assert.ok(acknowledged.size > atKill);
    // Failover answers are 503s (retryable) or client timeouts, never a server bug.
    assert.ok(!outcomes.has('500'), `no 500 answers: ${JSON.stringify([...outcomes])}`);
    t.diagnostic(`acknowledged ${acknowledged.size} (${atKill} before the kill); answers ${JSON.stringify([...outcomes])}`);
    // Every node, once caught up with the leader's commit, holds every acknowledged write.
    const commit = ((await cluster.call(leader, 'GET', '/v1/cluster')).body as { commitIndex: number }).commitIndex;
    for (const id of NODES) {
      await waitFor(`${id} to apply up to ${commit}`, async () => ((await cluster.call(id, 'GET', '/v1/cluster')).body as { appliedIndex: number }).appliedIndex >= commit, 20_000);
      const stored = new Map<string, string>();
      let cursor: string | null = null;
      do {
        const answer = await cluster.call(id, 'GET', `/v1/jobs?stale=true&limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
        assert.equal(answer.status, 200);
        const page = answer.body as Page;
        for (const job of page.items) stored.set(job.id, job.executor.command);
        cursor = page.nextCursor;
      } while (cursor !== null);
      const missing = [...acknowledged].filter(([jobId, command]) => stored.get(jobId) !== command);
      assert.deepEqual(missing, [], `${id} lacks ${missing.length} of ${acknowledged.size} acknowledged writes (outcomes ${JSON.stringify([...outcomes])})`);
    }
    // A leader left alone (both followers killed) answers a write 503 with Retry-After,
    // soon: it steps down and fails its pending writes instead of waiting out their timeout.
    await Promise.all(NODES.filter((id) => id !== leader).map((id) => cluster.signal(id, 'SIGKILL')));
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      const lonely = await raw(cluster.nodes.get(leader)!.http, 'PUT', `/v1/jobs/lonely-${i}`, { 'content-type': 'application/json' }, JSON.stringify(shellSpec('x')), 20_000);
      const ms = performance.now() - started;
      assert.equal(lonely.status, 503, lonely.text);
      assert.ok(['LEADERSHIP_LOST', 'NO_LEADER', 'NOT_LEADER'].includes((lonely.body as { code: string }).code), lonely.text);
      assert.match(String(lonely.headers['retry-after']), /^[1-9][0-9]*$/);
      assert.ok(ms < 8000, `answered after ${ms.toFixed(0)} ms`);
    }
  } finally {
    await close();
  }
});
