// apiSender's retry rule: a 503 that knows no leader goes to the next server; a 503 saying the
// write's outcome is unknown comes back at once, so a write is never applied twice by the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { apiSender } from './http-client.js';

async function server(status: number, body: unknown, hits: string[], name: string): Promise<{ url: string; close: () => Promise<void> }> {
  const s: Server = createServer((req, res) => {
    hits.push(`${name} ${req.method}`);
    req.resume();
    res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const address = s.address();
  assert.ok(address !== null && typeof address === 'object');
  return { url: `http://127.0.0.1:${address.port}`, close: () => new Promise((resolve) => s.close(() => resolve())) };
}

test('a 503 without a leader moves on to the next server; a 503 with an unknown outcome does not', async () => {
  const hits: string[] = [];
  const noLeader = await server(503, { code: 'NO_LEADER', status: 503, detail: 'no leader' }, hits, 'a');
  const unknown = await server(503, { code: 'OUTCOME_UNKNOWN', status: 503, detail: 'may or may not' }, hits, 'b');
  const ok = await server(201, { id: 'x' }, hits, 'c');
  try {
    assert.equal((await apiSender([noLeader.url, ok.url])('PUT', '/v1/jobs/x', {})).status, 201);
    assert.deepEqual(hits.splice(0), ['a PUT', 'c PUT']);
    const answer = await apiSender([unknown.url, ok.url])('POST', '/v1/jobs/x/run', {});
    assert.equal(answer.status, 503);
    assert.deepEqual(hits.splice(0), ['b POST'], 'the write was not sent a second time');
  } finally {
    await Promise.all([noLeader.close(), unknown.close(), ok.close()]);
  }
});

test('a write whose connection broke after it was sent is not sent to the next server; a read is, and so is a refused connection', async () => {
  const hits: string[] = [];
  const broken = createServer((req, res) => {
    hits.push(`broken ${req.method}`);
    res.socket?.destroy();
  });
  await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
  const address = broken.address();
  assert.ok(address !== null && typeof address === 'object');
  const brokenUrl = `http://127.0.0.1:${address.port}`;
  const ok = await server(200, { id: 'x' }, hits, 'ok');
  // A port nothing listens on: the one just closed.
  const closed = await server(200, {}, [], 'gone');
  await closed.close();
  try {
    await assert.rejects(apiSender([brokenUrl, ok.url])('PUT', '/v1/jobs/x', {}), /cannot reach/);
    assert.deepEqual(hits.splice(0), ['broken PUT']);
    assert.equal((await apiSender([brokenUrl, ok.url])('GET', '/v1/jobs/x')).status, 200);
    assert.deepEqual(hits.splice(0), ['broken GET', 'ok GET']);
    assert.equal((await apiSender([closed.url, ok.url])('PUT', '/v1/jobs/x', {})).status, 200);
    assert.deepEqual(hits.splice(0), ['ok PUT']);
  } finally {
    await Promise.all([new Promise((resolve) => broken.close(resolve)), ok.close()]);
  }
});
