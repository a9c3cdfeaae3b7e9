// kill -9 of the leader while clients write through the followers: the only failures are the
// writes that were on their way to the dead leader (503 OUTCOME_UNKNOWN, at most one per
// client), and every write sent once the followers noticed is held until a new leader is
// known and then succeeds. Every acknowledged write is then on the new leader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/process-cluster.js';
import { raw, shellSpec, startCluster } from './support.js';

const WRITERS = 8;
const NODES = ['n1', 'n2', 'n3'];
/** Time the followers get to notice the dead leader's connections closing. */
const NOTICE_MS = 500;

test('kill -9 of the leader: writes through followers fail only when their outcome is unknown', async (t) => {
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
    const failures = [...outcomes].filter(([key]) => key !== '201');
    assert.ok(failures.every(([key]) => key === '503 OUTCOME_UNKNOWN'), `only unknown outcomes fail: ${JSON.stringify(failures)}`);
    assert.ok(failures.reduce((sum, [, n]) => sum + n, 0) <= WRITERS, 'at most the writes in flight at the kill');
    assert.deepEqual(lateFailures, [], 'writes sent after the followers noticed are held and succeed');
    // The acknowledged writes are there on the new leader.
    const sample = acknowledged.filter((_, i) => i % 7 === 0);
    for (const id of sample) assert.equal((await cluster.call(newLeader, 'GET', `/v1/jobs/${id}`)).status, 200, id);
  } finally {
    await close();
  }
});
