import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, SERIES_PER_FAMILY_MAX } from './registry.js';

test('label sets: one series whatever the key order, keys sorted, values escaped, histogram buckets after the labels', () => {
  const r = new Registry();
  const requests = r.counter('t_requests_total', 'requests');
  requests.inc({ status: '200', route: 'PUT /v1/jobs/:id' });
  requests.inc({ route: 'PUT /v1/jobs/:id', status: '200' });
  requests.inc({ route: 'a"b\\c\nd', status: '500' });
  requests.inc();
  const seconds = r.histogram('t_seconds', 'seconds', [0.1]);
  seconds.observe(0.05, { route: 'x' });
  seconds.observe(0.5);
  const text = r.render();
  assert.match(text, /^t_requests_total\{route="PUT \/v1\/jobs\/:id",status="200"\} 2$/m);
  assert.match(text, /^t_requests_total\{route="a\\"b\\\\c\\nd",status="500"\} 1$/m);
  assert.match(text, /^t_requests_total 1$/m);
  assert.match(text, /^t_seconds_bucket\{route="x",le="0.1"\} 1$/m);
  assert.match(text, /^t_seconds_bucket\{le="0.1"\} 0$/m);
  assert.match(text, /^t_seconds_bucket\{le="\+Inf"\} 1$/m);
});

test('an incrementer adds to the same series as inc; past the family bound it changes nothing', () => {
  const r = new Registry();
  const requests = r.counter('t_requests_total', 'requests');
  const ok = requests.incrementer({ route: 'jobs.write', status: '200' });
  ok();
  ok(2);
  requests.inc({ status: '200', route: 'jobs.write' });
  assert.equal(requests.get({ route: 'jobs.write', status: '200' }), 4);

  const full = r.counter('t_full_total', 'full');
  for (let i = 0; i < SERIES_PER_FAMILY_MAX; i++) full.inc({ n: String(i) });
  const dropped = full.incrementer({ n: 'one too many' });
  dropped();
  assert.doesNotMatch(r.render(), /one too many/);
});
