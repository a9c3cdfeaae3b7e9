// kill -9 of the leader while clients write through the followers: no client sees an error.
// The writes that were on their way to the dead leader are sent again to the next one under
// their write ids, and take effect once (each job created once: 201, first revision); every
// write sent once the followers noticed is held until a new leader is known and then
// succeeds. Every acknowledged write is then on the new leader. And a follower that stops
// (SIGTERM) answers the write it forwarded before it closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/process-cluster.js';
import { raw, shellSpec, startCluster } from './support.js';

const WRITERS = 8;
const NODES = ['n1', 'n2', 'n3'];
/** Time the followers get to notice the dead leader's connections closing. */
const NOTICE_MS = 500;

test('kill -9 of the leader: writes through followers do not fail, and each takes effect once', async (t) => {
  const { cluster, close } = await startCluster();
  try {
    const leader = await cluster.waitForLeader();
    const followers = NODES.filter((id) => id !== leader);
    const outcomes = new Map<string, number>();
    const lateFailures: string[] = [];
    const acknowledged: string[] = [];
    let killedAtMs = Infinity;
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const via = followers[(w + i) % followers.length] ?? leader;
        const id = `k${w}-${i}`;
        const startedMs = performance.now();
        const answer = await raw(cluster.nodes.get(via)!.http, 'PUT', `/v1/jobs/${id}`, { 'content-type': 'application/json' }, JSON.stringify(shellSpec(`echo ${id}`)), 10_000)
          .then((a) => (a.status === 201 ? '201' : `${a.status} ${(a.body as { code?: string } | null)?.code ?? a.text.slice(0, 80)}`), (error: unknown) => `error ${String(error).slice(0, 80)}`);
        outcomes.set(answer, (outcomes.get(answer) ?? 0) + 1);
        if (answer === '201') acknowledged.push(id);
        else if (startedMs > killedAtMs + NOTICE_MS) lateFailures.push(`${id} via ${via}: ${answer}`);
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await waitFor('writes before the kill', () => acknowledged.length >= 100, 20_000);
    killedAtMs = performance.now();
    await cluster.signal(leader, 'SIGKILL');
    const atKill = acknowledged.length;
    await waitFor('writes through a new leader', () => acknowledged.length >= atKill + 100, 20_000);
    stop = true;
    await Promise.all(writers);
    const newLeader = await cluster.waitForLeader();
    t.diagnostic(`answers ${JSON.stringify([...outcomes])}; new leader ${newLeader}`);
    // A second effect of a re-sent create would answer 200 (the job existed): every answer is the one create.
    const failures = [...outcomes].filter(([key]) => key !== '201');
    assert.deepEqual(failures, [], 'no write fails, none took effect twice');
    assert.deepEqual(lateFailures, [], 'writes sent after the followers noticed are held and succeed');
    for (const id of followers) {
      const metrics = await cluster.call(id, 'GET', '/metrics');
      t.diagnostic(`${id} re-sent: ${metrics.text.split('\n').filter((l) => l.startsWith('chime_forward_lost_total')).join('; ')}`);
    }
    // The acknowledged writes are there on the new leader, each at its first revision.
    const sample = acknowledged.filter((_, i) => i % 7 === 0);
    for (const id of sample) {
      const job = await cluster.call(newLeader, 'GET', `/v1/jobs/${id}`);
      assert.equal(job.status, 200, id);
      const { revision, createRevision } = job.body as { revision: number; createRevision: number };
      assert.equal(revision, createRevision, `${id} was written once`);
    }
  } finally {
    await close();
  }
});

test('SIGTERM of a follower while a write it forwarded waits on the leader: the client gets the answer, later requests are refused as not run', async () => {
  const { cluster, close } = await startCluster();
  try {
    const leader = await cluster.waitForLeader();
    const follower = NODES.find((id) => id !== leader) ?? leader;
    const http = cluster.nodes.get(follower)!.http;
    assert.equal((await raw(http, 'PUT', '/v1/jobs/slow', { 'content-type': 'application/json' }, JSON.stringify(shellSpec('sleep 1')))).status, 201);
    // The leader holds this answer until the run ends (about a second).
    const waiting = raw(http, 'POST', '/v1/jobs/slow/run?wait=20s', { 'content-type': 'application/json' }, '{}', 20_000);
    await waitFor('the run to start', async () => ((await cluster.call(leader, 'GET', '/v1/jobs/slow/runs')).body as { items: unknown[] }).items.length > 0, 10_000);
    const stopped = cluster.signal(follower, 'SIGTERM');
    // A request that reaches it once it is stopping is refused (not run: safe to send
    // elsewhere), or finds the port closed; one that came before the signal runs as usual.
    const late = await raw(http, 'PUT', '/v1/jobs/late', { 'content-type': 'application/json' }, JSON.stringify(shellSpec('true'))).catch((error: unknown) => String(error));
    if (typeof late === 'string') assert.match(late, /ECONNREFUSED/);
    else if (late.status !== 201) {
      assert.equal(late.status, 503);
      assert.equal((late.body as { code: string }).code, 'SHUTTING_DOWN');
    }
    const answer = await waiting;
    assert.equal(answer.status, 200, answer.text);
    assert.equal((answer.body as { status: string }).status, 'succeeded');
    await stopped;
  } finally {
    await close();
  }
});
