import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { httpCall, type HttpCallRequest } from './http-client.js';
import { httpRequest, newExecutor, waitFinished, waitFor } from '../../test/support/executor-runs.js';

const sockets = new Set<Socket>();
let socketsOpened = 0;
const requestsSeen: string[] = [];
const server = createServer((req, res) => {
  requestsSeen.push(req.url ?? '');
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const path = (req.url ?? '').split('?')[0] ?? '';
    const echo = `${req.method} ${req.url} ct=${req.headers['content-type'] ?? '-'} auth=${req.headers.authorization ?? '-'} body=${body}`;
    if (path === '/hang') return;
    if (path.startsWith('/redirect/')) {
      const [, , code, ...rest] = path.split('/');
      res.writeHead(Number(code), { location: `/${rest.join('/')}` }).end();
      return;
    }
    if (path === '/loop') return void res.writeHead(302, { location: '/loop' }).end();
    if (path === '/status') return void res.writeHead(Number(new URL(req.url ?? '', 'http://x').searchParams.get('s')), 'Custom Text').end(echo);
    res.writeHead(200, 'OK').end(echo);
  });
});
server.on('connection', (socket) => {
  socketsOpened++;
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

type Result = { status: number | null; statusText: string; body: string; error: Error | null };

function call(request: Partial<HttpCallRequest> & { url: string }, abortAfterMs?: number): Promise<Result> {
  return new Promise((resolve) => {
    const result: Result = { status: null, statusText: '', body: '', error: null };
    const handle = httpCall({ method: 'GET', headers: {}, body: '', ...request }, {
      onStatus: (status, text) => { result.status = status; result.statusText = text; },
      onChunk: (chunk) => { result.body += chunk.toString(); return true; },
      onEnd: (error) => { result.error = error; resolve(result); },
    });
    if (abortAfterMs !== undefined) setTimeout(() => handle.abort('stopped by the test'), abortAfterMs);
  });
}

test('sequential calls to one origin reuse a kept-alive connection', async () => {
  const before = socketsOpened;
  for (let i = 0; i < 5; i++) {
    const r = await call({ url: `${base}/ok?i=${i}` });
    assert.equal(r.error, null);
    assert.equal(r.status, 200);
    assert.equal(r.body, `GET /ok?i=${i} ct=- auth=- body=`);
  }
  assert.equal(socketsOpened - before, 1, 'one connection for five calls');
});

test('a string body gets fetch\'s default content-type unless one is given', async () => {
  const plain = await call({ url: `${base}/ok`, method: 'POST', body: 'hi' });
  assert.equal(plain.body, 'POST /ok ct=text/plain;charset=UTF-8 auth=- body=hi');
  const json = await call({ url: `${base}/ok`, method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
  assert.equal(json.body, 'POST /ok ct=application/json auth=- body={}');
});

test('redirects are followed; 303 turns a POST into a GET without body, 307 keeps both', async () => {
  const see = await call({ url: `${base}/redirect/303/ok`, method: 'POST', body: 'x' });
  assert.equal(see.status, 200);
  assert.equal(see.body, 'GET /ok ct=- auth=- body=');
  const temp = await call({ url: `${base}/redirect/307/ok`, method: 'POST', body: 'x', headers: { authorization: 'Bearer t' } });
  assert.equal(temp.body, 'POST /ok ct=text/plain;charset=UTF-8 auth=Bearer t body=x');
  const loop = await call({ url: `${base}/loop` });
  assert.match(loop.error?.message ?? '', /more than 20 redirects/);
});

test('the final status and its text are reported as they are', async () => {
  const r = await call({ url: `${base}/status?s=418` });
  assert.equal(r.error, null);
  assert.equal(r.status, 418);
  assert.equal(r.statusText, 'Custom Text');
});

test('abort ends a hanging call with an error, once, after abort returned', async () => {
  const started = performance.now();
  const r = await call({ url: `${base}/hang` }, 50);
  assert.equal(r.status, null);
  assert.equal(r.error?.message, 'stopped by the test');
  assert.ok(performance.now() - started < 5000);
});

test('bad input fails the call instead of throwing', async () => {
  assert.match((await call({ url: 'not a url' })).error?.message ?? '', /invalid URL/);
  assert.ok((await call({ url: `${base}/ok`, headers: { 'x-bad': 'a\nb' } })).error !== null);
});

test('executor: a status outside expectStatus fails with the status line kept; a timeout ends the call as timed_out', async () => {
  const executor = newExecutor();
  const teapot = httpRequest(`${base}/status?s=418`);
  const inRange = httpRequest(`${base}/status?s=418`, { spec: { expectStatus: [400, 499] } });
  const slow = httpRequest(`${base}/hang`, { timeoutMs: 100 });
  for (const req of [teapot, inRange, slow]) assert.equal(executor.execute(req), 'accepted');
  const failed = await waitFinished(executor, teapot.runId);
  assert.equal(failed.status, 'failed');
  assert.match(failed.output, /^HTTP 418 Custom Text\nGET \/status/);
  assert.equal(failed.error, 'status 418 outside expected 200..299');
  assert.equal((await waitFinished(executor, inRange.runId)).status, 'succeeded');
  const timedOut = await waitFinished(executor, slow.runId);
  assert.equal(timedOut.status, 'timed_out');
  assert.match(timedOut.error ?? '', /timed out after 100 ms/);
  assert.equal(executor.running().length, 0);
});

function prepare(request: Partial<HttpCallRequest> & { url: string }): { handle: ReturnType<typeof httpCall>; result: Promise<Result> } {
  let handle: ReturnType<typeof httpCall> | null = null;
  const result = new Promise<Result>((resolve) => {
    const r: Result = { status: null, statusText: '', body: '', error: null };
    handle = httpCall({ method: 'GET', headers: {}, body: '', ...request }, {
      onStatus: (status, text) => { r.status = status; r.statusText = text; },
      onChunk: (chunk) => { r.body += chunk.toString(); return true; },
      onEnd: (error) => { r.error = error; resolve(r); },
    }, true);
  });
  assert.ok(handle !== null);
  return { handle, result };
}

test('a prepared call takes a connection but sends nothing until send()', async () => {
  server.closeAllConnections();
  await new Promise((resolve) => setTimeout(resolve, 50)); // the client sees its idle sockets closed
  const before = socketsOpened;
  const { handle, result } = prepare({ url: `${base}/ok?prepared=1`, method: 'POST', body: 'p' });
  await waitFor('the prepared call to connect', () => socketsOpened > before);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(!requestsSeen.includes('/ok?prepared=1'), 'nothing was sent before send()');
  handle.send();
  const r = await result;
  assert.equal(r.error, null);
  assert.equal(r.body, 'POST /ok?prepared=1 ct=text/plain;charset=UTF-8 auth=- body=p');
  handle.send(); // a second send does nothing
});

test('a prepared call whose connection closed before send() is built again on a new one', async () => {
  const { handle, result } = prepare({ url: `${base}/ok?again=1` });
  await waitFor('the prepared call to connect', () => sockets.size > 0);
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
  handle.send();
  const r = await result;
  assert.equal(r.error, null);
  assert.equal(r.body, 'GET /ok?again=1 ct=- auth=- body=');
  assert.equal(requestsSeen.filter((u) => u === '/ok?again=1').length, 1);
  // A bad header of a prepared call fails only once it is sent.
  const bad = prepare({ url: `${base}/ok`, headers: { 'x-bad': 'a\nb' } });
  let ended = false;
  void bad.result.then(() => { ended = true; });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(ended, false);
  bad.handle.send();
  assert.ok((await bad.result).error !== null);
});

test('executor: an http run waiting for notBefore is sent at its instant, not before; a kill while it waits sends nothing', async () => {
  const executor = newExecutor();
  const notBeforeMs = Date.now() + 300;
  const waiting = httpRequest(`${base}/ok?nb=1`, { notBeforeMs });
  const killed = httpRequest(`${base}/ok?nb=2`, { notBeforeMs });
  assert.equal(executor.execute(waiting), 'accepted');
  assert.equal(executor.execute(killed), 'accepted');
  // Without a journal both are prepared (request built, connection taken) inside execute().
  assert.equal(executor.kill(killed.runId, 'request'), 'killing');
  const killedReport = await waitFinished(executor, killed.runId);
  assert.equal(killedReport.status, 'killed');
  assert.equal(killedReport.startedAtMs, null);
  const report = await waitFinished(executor, waiting.runId);
  assert.equal(report.status, 'succeeded');
  // Timers run on the monotonic clock; Date.now() may read a millisecond or two behind it.
  assert.ok((report.startedAtMs ?? 0) >= notBeforeMs - 2, `started at notBefore (${(report.startedAtMs ?? 0) - notBeforeMs} ms)`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(requestsSeen.filter((u) => u.startsWith('/ok?nb=')), ['/ok?nb=1']);
});

test('executor: a run of a wave killed after its request was launched, before its start, ends killed as started and is sent once', async () => {
  const notBeforeMs = Date.now() + 300;
  const first = httpRequest(`${base}/ok?wave=1`, { notBeforeMs });
  const second = httpRequest(`${base}/ok?wave=2`, { notBeforeMs });
  // The first run's started report (second pass of the wave) kills the second, whose request
  // the first pass already wrote.
  const executor = newExecutor({
    onReport: (report) => {
      if (report.kind === 'started' && report.runId === first.runId) executor.kill(second.runId, 'request');
    },
  });
  assert.equal(executor.execute(first), 'accepted');
  assert.equal(executor.execute(second), 'accepted');
  const killed = await waitFinished(executor, second.runId);
  assert.equal(killed.status, 'killed');
  assert.ok(killed.startedAtMs !== null, 'its request left: it started');
  assert.equal((await waitFinished(executor, first.runId)).status, 'succeeded');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(requestsSeen.filter((u) => u === '/ok?wave=2').length <= 1, 'sent at most once');
  assert.deepEqual(requestsSeen.filter((u) => u === '/ok?wave=1'), ['/ok?wave=1']);
});
