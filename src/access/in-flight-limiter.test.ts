// Per-connection and per-token bounds on requests in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_IN_FLIGHT_LIMITS, InFlightLimiter } from './index.js';

test('beyond a connection\'s limit a request is refused with 429 TOO_MANY_IN_FLIGHT, naming the limit', () => {
  const limiter = new InFlightLimiter({ connection: 2, token: 10 });
  const a = limiter.tryAcquire({ connection: 'c1', token: 't1' });
  const b = limiter.tryAcquire({ connection: 'c1', token: 't1' });
  assert.ok(a.ok && b.ok);
  const c = limiter.tryAcquire({ connection: 'c1', token: 't1' });
  assert.ok(!c.ok && c.code === 'TOO_MANY_IN_FLIGHT' && c.limit === 'connection');
  assert.ok(limiter.tryAcquire({ connection: 'c2', token: 't1' }).ok, 'another connection is not affected');
});

test('a token\'s limit spans its connections', () => {
  const limiter = new InFlightLimiter(DEFAULT_IN_FLIGHT_LIMITS);
  for (let i = 0; i < DEFAULT_IN_FLIGHT_LIMITS.token; i++) assert.ok(limiter.tryAcquire({ connection: `c${i}`, token: 't' }).ok);
  const over = limiter.tryAcquire({ connection: 'fresh', token: 't' });
  assert.ok(!over.ok && over.limit === 'token');
  assert.equal(limiter.inFlight('connection', 'fresh'), 0, 'a refused request takes nothing');
});

test('release gives slots back once, however often it is called, and forgets idle keys', () => {
  const limiter = new InFlightLimiter({ connection: 1, token: 5 });
  const a = limiter.tryAcquire({ connection: 'c', token: 't' });
  assert.ok(a.ok);
  a.release();
  a.release();
  assert.equal(limiter.inFlight('token', 't'), 0);
  assert.equal(limiter.keyCount('connection'), 0);
  assert.ok(limiter.tryAcquire({ connection: 'c', token: 't' }).ok);
});

test('the number of tracked keys is bounded', () => {
  const limiter = new InFlightLimiter({ connection: 64 }, 3);
  for (const c of ['a', 'b', 'c']) assert.ok(limiter.tryAcquire({ connection: c }).ok);
  const d = limiter.tryAcquire({ connection: 'd' });
  assert.ok(!d.ok);
  assert.ok(limiter.tryAcquire({ connection: 'a' }).ok, 'a tracked key still gets slots');
  assert.ok(limiter.tryAcquire({}).ok, 'a request with no keys is not limited');
});
