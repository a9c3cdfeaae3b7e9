import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkKvHistory, type KvOperation } from './linearizability.js';

const INF = Infinity;
function put(clientId: string, key: string, value: string, callMs: number, returnMs: number): KvOperation {
  return { clientId, kind: 'put', key, value, callMs, returnMs };
}
function get(clientId: string, key: string, value: string | null, callMs: number, returnMs: number): KvOperation {
  return { clientId, kind: 'get', key, value, callMs, returnMs };
}
function del(clientId: string, key: string, callMs: number, returnMs: number): KvOperation {
  return { clientId, kind: 'delete', key, value: null, callMs, returnMs };
}

test('sequential put then get of the same value is linearizable', () => {
  const r = checkKvHistory([put('a', 'x', '1', 0, 10), get('b', 'x', '1', 20, 30)]);
  assert.equal(r.ok, true);
});

test('a stale read after a completed overwrite is not linearizable', () => {
  const r = checkKvHistory([put('a', 'x', '1', 0, 10), put('a', 'x', '2', 20, 30), get('b', 'x', '1', 40, 50)]);
  assert.equal(r.ok, false);
  if (r.ok === false) assert.equal(r.key, 'x');
});

test('a read of a value never written is not linearizable', () => {
  assert.equal(checkKvHistory([put('a', 'x', '1', 0, 10), get('b', 'x', '7', 20, 30)]).ok, false);
});

test('a read of the initial empty value before any write is fine, after a completed write it is not', () => {
  assert.equal(checkKvHistory([get('b', 'x', null, 0, 5), put('a', 'x', '1', 10, 20)]).ok, true);
  assert.equal(checkKvHistory([put('a', 'x', '1', 0, 10), get('b', 'x', null, 20, 30)]).ok, false);
});

test('a lost write: acknowledged, then reads go back to the older value', () => {
  const h = [put('a', 'x', '1', 0, 10), put('b', 'x', '2', 20, 30), get('c', 'x', '2', 35, 40), get('c', 'x', '1', 50, 60)];
  assert.equal(checkKvHistory(h).ok, false);
});

test('concurrent writes may take effect in either order', () => {
  const base = [put('a', 'x', '1', 0, 100), put('b', 'x', '2', 10, 90)];
  assert.equal(checkKvHistory([...base, get('c', 'x', '1', 200, 210)]).ok, true);
  assert.equal(checkKvHistory([...base, get('c', 'x', '2', 200, 210)]).ok, true);
  // But two reads after both writes cannot disagree.
  assert.equal(checkKvHistory([...base, get('c', 'x', '1', 200, 210), get('d', 'x', '2', 220, 230)]).ok, false);
});

test('a read concurrent with a write may see either value, but not flip back', () => {
  const h = [put('a', 'x', '1', 0, 10), put('b', 'x', '2', 20, 100)];
  assert.equal(checkKvHistory([...h, get('c', 'x', '1', 30, 40), get('c', 'x', '2', 50, 60)]).ok, true);
  assert.equal(checkKvHistory([...h, get('c', 'x', '2', 30, 40), get('c', 'x', '1', 50, 60)]).ok, false);
});

test('a timed-out write may be seen later, long after its call', () => {
  const h = [put('a', 'x', '1', 0, 10), put('b', 'x', '2', 20, INF), get('c', 'x', '1', 500, 510), get('c', 'x', '2', 900, 910)];
  assert.equal(checkKvHistory(h).ok, true);
});

test('a timed-out write may never take effect', () => {
  assert.equal(checkKvHistory([put('a', 'x', '1', 0, 10), put('b', 'x', '2', 20, INF), get('c', 'x', '1', 500, 510)]).ok, true);
});

test('a timed-out write cannot be seen before it was called', () => {
  assert.equal(checkKvHistory([get('c', 'x', '2', 0, 10), put('b', 'x', '2', 20, INF)]).ok, false);
});

test('once a timed-out write is seen, it cannot disappear again', () => {
  const h = [put('a', 'x', '1', 0, 10), put('b', 'x', '2', 20, INF), get('c', 'x', '2', 500, 510), get('c', 'x', '1', 600, 610)];
  assert.equal(checkKvHistory(h).ok, false);
});

test('delete makes the key absent', () => {
  assert.equal(checkKvHistory([put('a', 'x', '1', 0, 10), del('a', 'x', 20, 30), get('b', 'x', null, 40, 50)]).ok, true);
  assert.equal(checkKvHistory([put('a', 'x', '1', 0, 10), del('a', 'x', 20, 30), get('b', 'x', '1', 40, 50)]).ok, false);
});

test('keys are independent: a violation on one key is reported with that key', () => {
  const h = [put('a', 'x', '1', 0, 10), put('a', 'y', '9', 0, 10), get('b', 'x', '1', 20, 30), get('b', 'y', null, 20, 30)];
  const r = checkKvHistory(h);
  assert.equal(r.ok, false);
  if (r.ok === false) assert.equal(r.key, 'y');
});

test('a long history with many concurrent clients and timeouts stays tractable', () => {
  // Build a history that is linearizable by construction: each op takes effect at a
  // point inside its interval, in a global order, against a real register.
  let value: string | null = null;
  const h: KvOperation[] = [];
  let t = 0;
  for (let i = 0; i < 600; i++) {
    t += 3;
    const callMs = t - (i % 5);
    const isPut = i % 3 !== 0;
    if (isPut) {
      value = `v${i}`;
      h.push(put(`c${i % 7}`, 'k', value, callMs, i % 17 === 0 ? INF : t + (i % 4)));
    } else {
      h.push(get(`c${i % 7}`, 'k', value, callMs, t + (i % 4)));
    }
  }
  const started = Date.now();
  const r = checkKvHistory(h);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.ok(Date.now() - started < 5000);
});

test('the search gives up with ok: unknown when its step budget is exhausted', () => {
  const h: KvOperation[] = [];
  for (let i = 0; i < 40; i++) h.push(put(`c${i}`, 'k', `v${i}`, 0, 1000));
  h.push(get('r', 'k', 'nope', 2000, 2001));
  const r = checkKvHistory(h, { stepsMaxPerKey: 1000 });
  assert.equal(r.ok, 'unknown');
});
