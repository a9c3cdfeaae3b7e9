import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from './prng.js';
import { EventQueue } from '../sim/event-queue.js';

test('the same seed gives the same stream, a different seed a different one', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const sa = Array.from({ length: 100 }, () => a.nextU32());
  const sb = Array.from({ length: 100 }, () => b.nextU32());
  const sc = Array.from({ length: 100 }, () => c.nextU32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('seeds above 2^32 are not aliases of small ones', () => {
  assert.notEqual(new Prng(7).nextU32(), new Prng(7 + 2 ** 32).nextU32());
});

test('int stays in range and covers it roughly uniformly', () => {
  const r = new Prng(1);
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const x = r.int(10);
    assert.ok(x >= 0 && x < 10);
    counts[x] = (counts[x] as number) + 1;
  }
  for (const c of counts) assert.ok(c > 9_000 && c < 11_000, `bucket count ${c}`);
  assert.throws(() => r.int(0));
});

test('range, chance and float behave at their edges', () => {
  const r = new Prng(3);
  for (let i = 0; i < 1000; i++) {
    const x = r.range(5, 7);
    assert.ok(x >= 5 && x <= 7);
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
  }
  assert.equal(Array.from({ length: 1000 }, () => r.chance(0)).some(Boolean), false);
  assert.equal(Array.from({ length: 1000 }, () => r.chance(1)).every(Boolean), true);
});

test('a forked generator is deterministic and independent of the parent afterwards', () => {
  const a = new Prng(9);
  const b = new Prng(9);
  const fa = a.fork();
  const fb = b.fork();
  assert.equal(fa.nextU32(), fb.nextU32());
  assert.equal(a.nextU32(), b.nextU32());
});

test('the event queue orders by time, then by scheduling order', () => {
  const q = new EventQueue<string>(100);
  q.schedule(5, 'c');
  q.schedule(1, 'a');
  q.schedule(5, 'd');
  q.schedule(1, 'b');
  q.schedule(0, 'first');
  const out: string[] = [];
  for (let e = q.pop(); e !== null; e = q.pop()) out.push(`${e.timeMs}:${e.event}`);
  assert.deepEqual(out, ['0:first', '1:a', '1:b', '5:c', '5:d']);
  assert.equal(q.nowMs, 5);
});

test('the event queue is bounded and rejects negative delays', () => {
  const q = new EventQueue<number>(2);
  q.schedule(1, 1);
  q.schedule(1, 2);
  assert.throws(() => q.schedule(1, 3), /full/);
  assert.throws(() => q.schedule(-1, 3));
});
