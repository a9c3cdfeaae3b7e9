import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { httpCall, type HttpCallRequest } from './http-client.js';
import { httpRequest, newExecutor, waitFinished } from './test-support.js';

const sockets = new Set<Socket>();
let socketsOpened = 0;
const server = createServer((req, res) => {
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
