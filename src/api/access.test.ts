// The one access check of the server, in process: every route passes authorize() before its
// handler runs or its body is read; refusals are problem+json with the contract's statuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { TokenRegistry, type Permission } from '../access/index.js';
import { accessOf, bearer, registryWithRoles } from '../../test/support/access-fixtures.js';
import { jsonLogger } from '../log/index.js';
import { ApiServer, type Route } from './server.js';
import { sendJson } from './problem.js';
import type { AccessControl } from './services.js';

type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: any };

function call(address: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const at = address.lastIndexOf(':');
  return new Promise((done, fail) => {
    const req = request({ host: address.slice(0, at), port: Number(address.slice(at + 1)), method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        done({ status: res.statusCode ?? 0, headers: res.headers, body: text === '' ? null : JSON.parse(text) });
      });
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** Routes that answer who asked; `bodies` counts handlers that read a body. */
function echoRoutes(seen: { bodies: number; handled: number }): Route[] {
  const echo = (method: Route['method'], path: string, permission: Permission, write: boolean): Route => ({
    method, path, permission, write,
    handle: async (ctx) => {
      seen.handled++;
      if (write) {
        await ctx.body();
        seen.bodies++;
      }
      sendJson(ctx.res, 200, { name: ctx.principal.name, role: ctx.principal.role, audit: write ? ctx.audit('t') : null });
    },
  });
  return [
    echo('GET', '/v1/health', 'public', false),
    echo('GET', '/v1/jobs', 'jobs.read', false),
    echo('PUT', '/v1/jobs/:id', 'jobs.write', true),
    echo('POST', '/v1/tokens', 'tokens.admin', true),
    echo('GET', '/metrics', 'metrics.read', false),
  ];
}

async function withServer(access: AccessControl, run: (address: string, seen: { bodies: number; handled: number }) => Promise<void>): Promise<void> {
  const api = new ApiServer({ logger: jsonLogger('t', 'api', () => {}, 'error') });
  const address = await api.listen('127.0.0.1', 0);
  const seen = { bodies: 0, handled: 0 };
  api.serve({ nodeId: 't', isLeader: () => true, leader: () => 't', leaderHttp: () => null, appliedIndex: () => 0 }, echoRoutes(seen), { send: () => false, reachable: () => false }, access);
  try {
    await run(address, seen);
  } finally {
    await api.close();
  }
}

test('a route without a valid permission, or a public write, cannot be served', async () => {
  const api = new ApiServer({ logger: jsonLogger('t', 'api', () => {}, 'error') });
  const gate = { nodeId: 't', isLeader: () => true, leader: () => 't', leaderHttp: () => null, appliedIndex: () => 0 };
  const handle = async (): Promise<void> => {};
  const bad: Route[] = [{ method: 'PUT', path: '/v1/jobs/:id', permission: 'public', write: true, handle }];
  assert.throws(() => api.serve(gate, bad, { send: () => false, reachable: () => false }, accessOf()), /a write cannot be public/);
  const twice: Route[] = [{ method: 'GET', path: '/x', permission: 'jobs.read', write: false, handle }, { method: 'GET', path: '/x', permission: 'jobs.read', write: false, handle }];
  assert.throws(() => api.serve(gate, twice, { send: () => false, reachable: () => false }, accessOf()), /declared twice/);
  await api.close();
});

test('with tokens: none → 401 with WWW-Authenticate before the body is read; a viewer write → 403; an operator write passes', async () => {
  await withServer(accessOf(registryWithRoles()), async (address, seen) => {
    const none = await call(address, 'PUT', '/v1/jobs/a', { 'content-type': 'application/json' }, '{}');
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'TOKEN_MISSING');
    assert.equal(none.headers['content-type'], 'application/problem+json');
    assert.match(String(none.headers['www-authenticate']), /^Bearer realm="chime"/);
    const unknown = await call(address, 'GET', '/v1/jobs', { authorization: 'Bearer chime_nobody-knows-this-one-xxxxxxxxxxxxxxxxxxxxxxxx' });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.code, 'TOKEN_INVALID');
    assert.match(String(unknown.headers['www-authenticate']), /invalid_token/);
    const viewer = await call(address, 'PUT', '/v1/jobs/a', { authorization: bearer('viewer'), 'content-type': 'application/json' }, '{}');
    assert.equal(viewer.status, 403);
    assert.equal(viewer.body.code, 'FORBIDDEN');
    assert.equal(viewer.headers['www-authenticate'], undefined);
    assert.equal(seen.bodies, 0, 'no refused request had its body read');
    const operator = await call(address, 'PUT', '/v1/jobs/a', { authorization: bearer('operator'), 'content-type': 'application/json' }, '{}');
    assert.equal(operator.status, 200);
    assert.equal(operator.body.name, 'operator');
    assert.deepEqual({ ...operator.body.audit, at: 0 }, { at: 0, actor: 'operator', method: 'PUT', path: '/v1/jobs/a', target: 't' });
    assert.equal((await call(address, 'POST', '/v1/tokens', { authorization: bearer('operator') })).status, 403);
    assert.equal((await call(address, 'POST', '/v1/tokens', { authorization: bearer('admin') })).status, 200);
    assert.equal((await call(address, 'GET', '/metrics', { authorization: bearer('worker') })).status, 200);
    assert.equal((await call(address, 'GET', '/v1/jobs', { authorization: bearer('worker') })).status, 403);
    assert.equal((await call(address, 'GET', '/v1/health')).status, 200, 'health needs no token');
    const inQuery = await call(address, 'GET', '/v1/jobs?token=abc', { authorization: bearer('admin') });
    assert.equal(inQuery.status, 400);
    assert.equal(inQuery.body.code, 'TOKEN_IN_QUERY');
  });
});

test('a write with a foreign Origin → 403, tokens or not; reads and the node\'s own origin pass', async () => {
  for (const registry of [TokenRegistry.create(), registryWithRoles()]) {
    await withServer(accessOf(registry, '127.0.0.1:1'), async (address) => {
      const auth = registry.hasTokens ? { authorization: bearer('admin') } : {};
      const foreign = await call(address, 'PUT', '/v1/jobs/a', { ...auth, origin: 'https://evil.example', 'content-type': 'application/json' }, '{}');
      assert.equal(foreign.status, 403);
      assert.equal(foreign.body.code, 'FOREIGN_ORIGIN');
      assert.equal((await call(address, 'PUT', '/v1/jobs/a', { ...auth, origin: 'null' }, '{}')).status, 403);
      assert.equal((await call(address, 'PUT', '/v1/jobs/a', { ...auth, origin: `http://${address}` }, '{}')).status, 200);
      assert.equal((await call(address, 'GET', '/v1/jobs', { ...auth, origin: 'https://evil.example' })).status, 200);
    });
  }
});

test('without tokens: anonymous admin on a loopback Host only; an unready registry answers 503', async () => {
  await withServer(accessOf(), async (address) => {
    const open = await call(address, 'POST', '/v1/tokens', {});
    assert.equal(open.status, 200);
    assert.equal(open.body.name, 'anonymous');
    const rebound = await call(address, 'GET', '/v1/jobs', { host: 'attacker.example:80' });
    assert.equal(rebound.status, 403);
    assert.equal(rebound.body.code, 'HOST_NOT_ALLOWED');
  });
  await withServer(accessOf(TokenRegistry.create(), '127.0.0.1:1', false), async (address, seen) => {
    const answer = await call(address, 'GET', '/v1/jobs');
    assert.equal(answer.status, 503);
    assert.equal(answer.body.code, 'AUTH_NOT_READY');
    assert.equal((await call(address, 'GET', '/v1/health')).status, 200, 'public routes do not wait for the registry');
    assert.equal(seen.handled, 1);
  });
});

test('a token with too many requests in flight gets 429 with Retry-After; its slots come back when answers finish', async () => {
  const api = new ApiServer({ logger: jsonLogger('t', 'api', () => {}, 'error'), inFlight: { connection: 8, token: 2 } });
  const address = await api.listen('127.0.0.1', 0);
  const waiting: (() => void)[] = [];
  let started = 0;
  api.serve({ nodeId: 't', isLeader: () => true, leader: () => 't', leaderHttp: () => null, appliedIndex: () => 0 }, [{
    method: 'GET', path: '/v1/jobs', permission: 'jobs.read', write: false,
    handle: async (ctx) => {
      started++;
      await new Promise<void>((resolve) => waiting.push(resolve));
      sendJson(ctx.res, 200, {});
    },
  }], { send: () => false, reachable: () => false }, accessOf(registryWithRoles()));
  try {
    const held = [call(address, 'GET', '/v1/jobs', { authorization: bearer('viewer'), connection: 'close' }), call(address, 'GET', '/v1/jobs', { authorization: bearer('viewer'), connection: 'close' })];
    const deadline = Date.now() + 5000;
    while (started < 2 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    assert.equal(started, 2);
    const third = await call(address, 'GET', '/v1/jobs', { authorization: bearer('viewer'), connection: 'close' });
    assert.equal(third.status, 429);
    assert.equal(third.body.code, 'TOO_MANY_IN_FLIGHT');
    assert.equal(third.headers['retry-after'], '1');
    // Another token is not held up by this one.
    const other = call(address, 'GET', '/v1/jobs', { authorization: bearer('operator'), connection: 'close' });
    while (started < 3 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    assert.equal(started, 3);
    for (const release of waiting.splice(0)) release();
    assert.deepEqual((await Promise.all([...held, other])).map((a) => a.status), [200, 200, 200]);
    const again = call(address, 'GET', '/v1/jobs', { authorization: bearer('viewer'), connection: 'close' });
    while (started < 4 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    for (const release of waiting.splice(0)) release();
    assert.equal((await again).status, 200, 'the slots were given back');
  } finally {
    for (const release of waiting.splice(0)) release();
    await api.close();
  }
});
