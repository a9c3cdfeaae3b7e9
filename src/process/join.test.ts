// Joining a cluster: a refusal that passes by itself (a membership change still pending on the
// leader) is asked again; a refusal that will not pass is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../log/index.js';
import { joinCluster } from './join.js';

/** A cluster stand-in that answers each POST with the next of `answers` (the last repeats). */
async function answering(answers: ReadonlyArray<[number, unknown]>): Promise<{ url: string; asked: () => number; close: () => Promise<void> }> {
  let asked = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const [status, body] = answers[Math.min(asked, answers.length - 1)] ?? [500, null];
      asked += 1;
      res.writeHead(status, { 'content-type': 'application/problem+json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked: () => asked, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const member = { id: 'n4', rpc: '127.0.0.1:1', http: '127.0.0.1:2' };

test('a join refused because a membership change is still pending is asked again until accepted', async (t) => {
  const pending = { status: 409, code: 'CONF_CHANGE_PENDING', detail: 'a membership change (index 211) is not applied yet' };
  const cluster = await answering([[409, pending], [409, pending], [202, { id: 'n4', status: 'learner' }]]);
  t.after(() => cluster.close());
  await joinCluster(cluster.url, member, silentLogger);
  assert.equal(cluster.asked(), 3);
});

test('a join refused for good (a bad request) is not asked again', async (t) => {
  const cluster = await answering([[400, { status: 400, code: 'INVALID_REQUEST', detail: 'the member id is invalid' }], [202, {}]]);
  t.after(() => cluster.close());
  await joinCluster(cluster.url, member, silentLogger);
  assert.equal(cluster.asked(), 1);
});
