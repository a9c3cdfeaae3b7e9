import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Report } from '../executor/index.js';
import type { ExecuteOrder } from '../scheduler/index.js';
import { ITEMS_PER_MESSAGE_MAX, MESSAGE_BYTES_MAX, MessageBatcher, StartedHold, orderBytes } from './report-relay.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('a batcher sends what one turn collected, per destination, in bounded chunks', async () => {
  const sent: [string, number[]][] = [];
  const batcher = new MessageBatcher<number>((to, items) => sent.push([to, items]), (n) => (n < 0 ? MESSAGE_BYTES_MAX : 10));
  for (let i = 0; i < 1200; i++) batcher.push('a', i);
  batcher.push('b', 7);
  assert.equal(sent.length, 0, 'nothing before the turn ends');
  await turn();
  assert.deepEqual(sent.map(([to, items]) => `${to}:${items.length}`), [`a:${ITEMS_PER_MESSAGE_MAX}`, `a:${ITEMS_PER_MESSAGE_MAX}`, 'a:200', 'b:1']);
  assert.deepEqual(sent.flatMap(([to, items]) => (to === 'a' ? items : [])), Array.from({ length: 1200 }, (_, i) => i), 'in order');
  sent.length = 0;
  // By size: an item as large as a message goes alone; small ones around it share.
  for (const n of [1, 2, -1, 3]) batcher.push('c', n);
  await turn();
  assert.deepEqual(sent.map(([, items]) => items), [[1, 2], [-1], [3]]);
});

test('an order\'s size counts an http body and a shell environment', () => {
  const base = { runId: 'r', attempt: 1, term: 1, jobId: 'j', scheduledAtMs: 0, payload: '', notBeforeMs: null, sentAtMs: 0, timeoutMs: 1000 };
  const small = orderBytes({ ...base, spec: { type: 'http', method: 'GET', url: 'http://x/', headers: {}, body: '', expectStatus: [200, 299] } } as ExecuteOrder);
  const big = orderBytes({ ...base, spec: { type: 'http', method: 'POST', url: 'http://x/', headers: {}, body: 'b'.repeat(1 << 20), expectStatus: [200, 299] } } as ExecuteOrder);
  const env = orderBytes({ ...base, spec: { type: 'shell', command: 'true', cwd: '/', env: { A: 'v'.repeat(100_000) } } } as ExecuteOrder);
  assert.ok(small < 1024 && big >= MESSAGE_BYTES_MAX && env >= 100_000, `${small} ${big} ${env}`);
});

function started(runId: string): Report {
  return { kind: 'started', runId, attempt: 1, node: 'n1', atMs: 1 };
}
function finished(runId: string): Report {
  return { kind: 'finished', runId, attempt: 1, node: 'n1', atMs: 2, startedAtMs: 1, status: 'succeeded', exitCode: 0, output: '', outputTruncated: false, error: null };
}

test('a started report is held; an end that comes first replaces it, else it goes out when due', async () => {
  const released: string[] = [];
  const hold = new StartedHold(30, 2, (r) => released.push(`${r.kind}:${r.runId}`));
  hold.offer(started('short'));
  hold.offer(started('long'));
  assert.equal(hold.isHeld(started('short')), true);
  hold.offer(finished('short'));
  assert.deepEqual(released, ['finished:short'], 'the end goes out at once, its start never');
  assert.equal(hold.skipped, 1);
  assert.equal(hold.isHeld(started('short')), false);
  const deadline = Date.now() + 5000;
  while (!released.includes('started:long') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(released, ['finished:short', 'started:long']);
  // Once sent, a started report is not taken back: its end goes out as well.
  hold.offer(finished('long'));
  assert.deepEqual(released, ['finished:short', 'started:long', 'finished:long']);
  assert.equal(hold.skipped, 1);
});

test('beyond heldMax started reports go out at once; releaseAll empties the hold', () => {
  const released: string[] = [];
  const hold = new StartedHold(60_000, 2, (r) => released.push(r.runId));
  for (const id of ['a', 'b', 'c']) hold.offer(started(id));
  assert.deepEqual(released, ['c']);
  hold.releaseAll();
  assert.deepEqual(released, ['c', 'a', 'b']);
  assert.equal(hold.isHeld(started('a')), false);
});
