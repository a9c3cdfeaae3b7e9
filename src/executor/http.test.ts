import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { truncationMarker } from './tail-buffer.js';
import { findReport, httpRequest, newExecutor, waitFinished, waitFor } from '../../test/support/executor-runs.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

const seen: Seen[] = [];
const hanging = new Set<ServerResponse>();
let bigBodyBytesSent = 0;
let endlessClosed = false;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
    const path = (req.url ?? '').split('?')[0];
    if (path === '/hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (path === '/status/503') {
      res.writeHead(503, 'Service Unavailable').end('try later');
      return;
    }
    if (path === '/big') {
      // 1 MiB in 16 KiB chunks, then a recognizable end.
      res.writeHead(200, 'OK');
      const chunk = Buffer.alloc(16 * 1024, 'x');
      for (let i = 0; i < 64; i++) res.write(chunk);
      res.end('THE-END');
      return;
    }
    if (path === '/endless') {
      res.writeHead(200, 'OK');
      res.on('close', () => { endlessClosed = true; });
      const chunk = Buffer.alloc(64 * 1024, 'y');
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk)) bigBodyBytesSent += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
      return;
    }
    res.writeHead(200, 'OK', { 'content-type': 'text/plain' }).end('hello');
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('placeholders are substituted in url (encoded), headers and body; a 2xx succeeds', async () => {
  const executor = newExecutor({ nodeId: 'n3' });
  const req = httpRequest(`${base}/hook/{{jobId}}?p={{payload}}&at={{scheduledAt}}`, {
    jobId: 'job-h', payload: 'a b&c', attempt: 2,
    spec: { method: 'POST', headers: { 'x-chime-run': '{{runId}}/{{attempt}}', 'content-type': 'application/json' }, body: '{"node":"{{nodeId}}","payload":"{{payload}}"}' },
  });
  assert.equal(executor.execute(req), 'accepted');
  const report = await waitFinished(executor, req.runId, 2);
  assert.equal(report.status, 'succeeded');
  assert.equal(report.output, 'HTTP 200 OK\nhello');
  assert.equal(report.exitCode, null);
  const request = seen.find((s) => s.headers['x-chime-run'] === `${req.runId}/2`);
  assert.ok(request, 'the server saw the request');
  assert.equal(request.method, 'POST');
  assert.equal(request.url, '/hook/job-h?p=a%20b%26c&at=2026-11-24T01%3A30%3A00.005Z');
  assert.equal(request.body, '{"node":"n3","payload":"a b&c"}');
  assert.ok(findReport(executor, req.runId, 'started', 2));
});

test('a status outside expectStatus fails; a range that includes it succeeds', async () => {
  const executor = newExecutor();
  const failing = httpRequest(`${base}/status/503`);
  const accepting = httpRequest(`${base}/status/503`, { spec: { expectStatus: [500, 503] } });
  assert.equal(executor.execute(failing), 'accepted');
  assert.equal(executor.execute(accepting), 'accepted');
  const failed = await waitFinished(executor, failing.runId);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.output, 'HTTP 503 Service Unavailable\ntry later');
  assert.match(failed.error ?? '', /503 outside expected 200..299/);
  assert.equal((await waitFinished(executor, accepting.runId)).status, 'succeeded');
});

test('a large body keeps the status line and the last bytes within the output cap', async () => {
  const executor = newExecutor({ outputBytesMax: 1024 });
  const req = httpRequest(`${base}/big`);
  assert.equal(executor.execute(req), 'accepted');
  const report = await waitFinished(executor, req.runId);
  assert.equal(report.status, 'succeeded');
  assert.equal(report.outputTruncated, true);
  const statusLine = 'HTTP 200 OK\n';
  const bodyBytes = 64 * 16 * 1024 + 'THE-END'.length;
  const keptBytes = 1024 - statusLine.length;
  assert.equal(report.output, statusLine + truncationMarker(bodyBytes - keptBytes) + 'x'.repeat(keptBytes - 7) + 'THE-END');
});

test('an endless body is read only up to the read bound, then the read stops', async () => {
  const executor = newExecutor({ outputBytesMax: 1024, limits: { httpBodyReadBytesMax: 512 * 1024 } });
  const req = httpRequest(`${base}/endless`);
  assert.equal(executor.execute(req), 'accepted');
  const report = await waitFinished(executor, req.runId);
  assert.equal(report.status, 'succeeded');
  assert.equal(report.outputTruncated, true);
  assert.match(report.output, /…\[stopped reading the body after \d+ bytes\]$/);
  await waitFor('the server to see the response closed', () => endlessClosed);
  assert.ok(bigBodyBytesSent < 64 * 1024 * 1024, 'the server did not get to send an unbounded body');
});

test('a server that never answers times out; a kill aborts the request', async () => {
  const executor = newExecutor();
  const slow = httpRequest(`${base}/hang`, { timeoutMs: 200 });
  const killed = httpRequest(`${base}/hang`);
  assert.equal(executor.execute(slow), 'accepted');
  assert.equal(executor.execute(killed), 'accepted');
  const timedOut = await waitFinished(executor, slow.runId);
  assert.equal(timedOut.status, 'timed_out');
  assert.match(timedOut.error ?? '', /timed out after 200 ms/);
  await waitFor('the hanging request to reach the server', () => seen.filter((s) => s.url === '/hang').length >= 2);
  assert.equal(executor.kill(killed.runId, 'request'), 'killing');
  assert.equal((await waitFinished(executor, killed.runId)).status, 'killed');
  assert.equal(executor.running().length, 0);
});

test('a refused connection fails the run with the network error', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const executor = newExecutor();
  const req = httpRequest(`http://127.0.0.1:${port}/`);
  assert.equal(executor.execute(req), 'accepted');
  const report = await waitFinished(executor, req.runId);
  assert.equal(report.status, 'failed');
  assert.match(report.error ?? '', /ECONNREFUSED/);
  assert.equal(report.output, '');
});

test('a header value that placeholders make invalid fails the run instead of throwing', async () => {
  const executor = newExecutor();
  const req = httpRequest(`${base}/`, { payload: 'line\nbreak', spec: { headers: { 'x-p': '{{payload}}' } } });
  assert.equal(executor.execute(req), 'accepted');
  const report = await waitFinished(executor, req.runId);
  assert.equal(report.status, 'failed');
  assert.ok(report.error !== null && report.error.length > 0);
});
