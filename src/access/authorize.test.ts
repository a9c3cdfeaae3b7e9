// One test per rule of api.md's "Access control", named after the rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, ANONYMOUS_PRINCIPAL, AUTHORIZATION_CHARS_MAX, PUBLIC_PRINCIPAL, TokenRegistry, type AccessDecision } from './index.js';
import { T0, bearer, createCommand, registryWithRoles, request } from '../../test/support/access-fixtures.js';

function denied(decision: AccessDecision): { status: number; code: string; wwwAuthenticate: string | undefined } {
  assert.equal(decision.ok, false, 'expected a refusal');
  if (decision.ok) throw new Error('unreachable');
  return { status: decision.status, code: decision.code, wwwAuthenticate: decision.wwwAuthenticate };
}

test('a cluster without tokens lets every caller do everything, as anonymous', () => {
  const decision = authorize(request('tokens.admin', { method: 'POST', url: '/v1/tokens' }), TokenRegistry.create(), T0);
  assert.deepEqual(decision, { ok: true, principal: ANONYMOUS_PRINCIPAL });
});

test('a cluster without tokens ignores an Authorization header it cannot check', () => {
  const decision = authorize(request('jobs.write', { method: 'PUT', authorizationHeader: 'Bearer whatever' }), TokenRegistry.create(), T0);
  assert.deepEqual(decision, { ok: true, principal: ANONYMOUS_PRINCIPAL });
});

test('a cluster without tokens refuses a Host that is neither loopback nor its own (DNS rebinding)', () => {
  const empty = TokenRegistry.create();
  assert.deepEqual(denied(authorize(request('jobs.read', { host: 'evil.example:8400' }), empty, T0)), { status: 403, code: 'HOST_NOT_ALLOWED', wwwAuthenticate: undefined });
  for (const host of ['127.0.0.1:8400', 'localhost:8400', '[::1]:8400', 'app.localhost:8400', '10.0.0.5:8400', undefined]) {
    assert.equal(authorize(request('jobs.read', { host }), empty, T0).ok, true, `host ${host}`);
  }
});

test('the Host answers a node remembers stay right, also for more distinct hosts than it keeps', () => {
  const empty = TokenRegistry.create();
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 300; i++) {
      assert.equal(authorize(request('jobs.read', { host: `127.0.0.${i % 250}:${8000 + i}` }), empty, T0).ok, true);
      assert.equal(authorize(request('jobs.read', { host: `evil${i}.example:8400` }), empty, T0).ok, false);
    }
  }
});

test('once a cluster has tokens, a /v1 request without one is 401 TOKEN_MISSING with WWW-Authenticate: Bearer', () => {
  const d = denied(authorize(request('jobs.read'), registryWithRoles(), T0));
  assert.equal(d.status, 401);
  assert.equal(d.code, 'TOKEN_MISSING');
  assert.match(d.wwwAuthenticate ?? '', /^Bearer\b/);
});

test('GET /v1/health and GET /v1/ready need no token', () => {
  for (const url of ['/v1/health', '/v1/ready']) {
    assert.deepEqual(authorize(request('public', { url }), registryWithRoles(), T0), { ok: true, principal: PUBLIC_PRINCIPAL });
  }
});

test('public routes answer even with a wrong token (health must never fail for auth)', () => {
  assert.equal(authorize(request('public', { authorizationHeader: 'Bearer nope' }), registryWithRoles(), T0).ok, true);
});

test('an unknown token is 401 TOKEN_INVALID', () => {
  const d = denied(authorize(request('jobs.read', { authorizationHeader: bearer('nobody') }), registryWithRoles(), T0));
  assert.deepEqual([d.status, d.code], [401, 'TOKEN_INVALID']);
  assert.match(d.wwwAuthenticate ?? '', /^Bearer .*error="invalid_token"/);
});

test('a revoked token is 401 TOKEN_INVALID', () => {
  const registry = registryWithRoles();
  const page = registry.list();
  assert.ok(page.ok);
  const viewer = page.items.find((t) => t.name === 'viewer');
  assert.ok(viewer);
  assert.equal(authorize(request('jobs.read', { authorizationHeader: bearer('viewer') }), registry, T0).ok, true);
  assert.equal(registry.apply({ type: 'revokeToken', id: viewer.id }).ok, true);
  const d = denied(authorize(request('jobs.read', { authorizationHeader: bearer('viewer') }), registry, T0));
  assert.deepEqual([d.status, d.code], [401, 'TOKEN_INVALID']);
});

test('an expired token is 401 TOKEN_EXPIRED, from its expiresAt on (judged by the caller\'s clock)', () => {
  const registry = registryWithRoles();
  assert.equal(registry.apply(createCommand('short', 'operator', { expiresAt: T0 + 60_000 })).ok, true);
  const req = request('jobs.read', { authorizationHeader: bearer('short') });
  assert.equal(authorize(req, registry, T0 + 59_999).ok, true);
  const d = denied(authorize(req, registry, T0 + 60_000));
  assert.deepEqual([d.status, d.code], [401, 'TOKEN_EXPIRED']);
  assert.match(d.wwwAuthenticate ?? '', /invalid_token/);
});

test('a role without the right is 403 FORBIDDEN, not 401', () => {
  const d = denied(authorize(request('jobs.write', { method: 'PUT', authorizationHeader: bearer('viewer') }), registryWithRoles(), T0));
  assert.deepEqual([d.status, d.code, d.wwwAuthenticate], [403, 'FORBIDDEN', undefined]);
});

test('a valid token with the right yields its principal', () => {
  const decision = authorize(request('jobs.write', { method: 'PUT', authorizationHeader: bearer('operator') }), registryWithRoles(), T0);
  assert.equal(decision.ok, true);
  if (decision.ok) assert.deepEqual({ name: decision.principal.name, role: decision.principal.role }, { name: 'operator', role: 'operator' });
});

test('the Bearer scheme is case-insensitive', () => {
  assert.equal(authorize(request('jobs.read', { authorizationHeader: bearer('viewer').replace('Bearer', 'bearer') }), registryWithRoles(), T0).ok, true);
});

test('another scheme than Bearer is 401 TOKEN_MALFORMED', () => {
  const d = denied(authorize(request('jobs.read', { authorizationHeader: 'Basic YWRtaW46YWRtaW4=' }), registryWithRoles(), T0));
  assert.deepEqual([d.status, d.code], [401, 'TOKEN_MALFORMED']);
  assert.match(d.wwwAuthenticate ?? '', /invalid_request/);
});

test('a huge Authorization header is refused before it is parsed', () => {
  const header = `Bearer ${'a'.repeat(AUTHORIZATION_CHARS_MAX)}`;
  const d = denied(authorize(request('jobs.read', { authorizationHeader: header }), registryWithRoles(), T0));
  assert.deepEqual([d.status, d.code], [401, 'TOKEN_MALFORMED']);
});

test('a token in the query string is refused (400 TOKEN_IN_QUERY), even with a good header and on public routes', () => {
  const registry = registryWithRoles();
  for (const url of ['/v1/jobs?token=abc', '/v1/jobs?limit=5&access_token=abc', '/v1/health?TOKEN=x']) {
    const d = denied(authorize(request('jobs.read', { url, authorizationHeader: bearer('admin') }), registry, T0));
    assert.deepEqual([d.status, d.code], [400, 'TOKEN_IN_QUERY'], url);
  }
  assert.equal(denied(authorize(request('public', { url: '/v1/health?token=x' }), registry, T0)).code, 'TOKEN_IN_QUERY');
  assert.equal(denied(authorize(request('jobs.read', { url: '/v1/jobs?token=x' }), TokenRegistry.create(), T0)).code, 'TOKEN_IN_QUERY');
  assert.equal(authorize(request('jobs.read', { url: '/v1/jobs?tokens=1&cursor=token', authorizationHeader: bearer('admin') }), registry, T0).ok, true);
});

test('/metrics needs any role\'s token, and none with --metrics-open', () => {
  const registry = registryWithRoles();
  assert.equal(denied(authorize(request('metrics.read', { url: '/metrics' }), registry, T0)).code, 'TOKEN_MISSING');
  for (const name of ['admin', 'operator', 'viewer', 'worker']) {
    assert.equal(authorize(request('metrics.read', { url: '/metrics', authorizationHeader: bearer(name) }), registry, T0).ok, true, name);
  }
  assert.deepEqual(authorize(request('metrics.read', { url: '/metrics', metricsOpen: true }), registry, T0), { ok: true, principal: PUBLIC_PRINCIPAL });
});

test('a node that has not replayed its log answers 503 on authenticated routes, never lets anyone in', () => {
  // An empty registry on a replaying node may just not have applied the tokens yet.
  const d = denied(authorize(request('jobs.read', { registryReady: false }), TokenRegistry.create(), T0));
  assert.deepEqual([d.status, d.code], [503, 'AUTH_NOT_READY']);
  assert.equal(denied(authorize(request('jobs.read', { registryReady: false, authorizationHeader: bearer('admin') }), registryWithRoles(), T0)).code, 'AUTH_NOT_READY');
  assert.equal(authorize(request('public', { registryReady: false }), TokenRegistry.create(), T0).ok, true);
});

test('a write whose Origin names another origin is 403 FOREIGN_ORIGIN, tokens or not', () => {
  for (const registry of [TokenRegistry.create(), registryWithRoles()]) {
    const d = denied(authorize(request('jobs.write', { method: 'PUT', origin: 'https://evil.example', authorizationHeader: bearer('admin') }), registry, T0));
    assert.deepEqual([d.status, d.code], [403, 'FOREIGN_ORIGIN']);
  }
});

test('Origin: null is foreign', () => {
  assert.equal(denied(authorize(request('jobs.write', { method: 'POST', origin: 'null', authorizationHeader: bearer('admin') }), registryWithRoles(), T0)).code, 'FOREIGN_ORIGIN');
});

test('the Host the request came with is an own origin, over http and https', () => {
  const registry = registryWithRoles();
  for (const [host, origin] of [['chime.internal:8400', 'http://chime.internal:8400'], ['chime.internal:8400', 'https://chime.internal:8400'], ['Chime.Internal', 'https://chime.internal'], ['[::1]:8400', 'http://[::1]:8400'], ['chime.internal:80', 'http://chime.internal']]) {
    assert.equal(authorize(request('jobs.write', { method: 'PUT', host, origin, authorizationHeader: bearer('admin') }), registry, T0).ok, true, `${host} ${origin}`);
  }
});

test('the node\'s --http address is an own origin whatever Host says', () => {
  assert.equal(authorize(request('jobs.write', { method: 'DELETE', host: 'proxy.example', origin: 'http://10.0.0.5:8400', authorizationHeader: bearer('admin') }), registryWithRoles(), T0).ok, true);
});

test('an Origin that differs from the Host only by port or scheme-less form is foreign', () => {
  const registry = registryWithRoles();
  for (const origin of ['http://10.0.0.5:8401', 'http://10.0.0.5:8400/', 'http://10.0.0.5:8400/path', '10.0.0.5:8400', 'file://', 'http://10.0.0.5.evil.example:8400']) {
    assert.equal(denied(authorize(request('jobs.write', { method: 'POST', origin, authorizationHeader: bearer('admin') }), registry, T0)).code, 'FOREIGN_ORIGIN', origin);
  }
});

test('a Host header that is not host[:port] gives no own origin', () => {
  const d = denied(authorize(request('jobs.write', { method: 'POST', host: 'evil.example/@10.0.0.6', origin: 'http://evil.example', authorizationHeader: bearer('admin') }), registryWithRoles(), T0));
  assert.equal(d.code, 'FOREIGN_ORIGIN');
});

test('reads are not refused for their Origin', () => {
  for (const method of ['GET', 'HEAD', 'OPTIONS']) {
    assert.equal(authorize(request('jobs.read', { method, origin: 'https://evil.example', authorizationHeader: bearer('viewer') }), registryWithRoles(), T0).ok, true, method);
  }
});

test('a foreign-origin write is refused before its token is judged (nothing about the token leaks)', () => {
  assert.equal(denied(authorize(request('jobs.write', { method: 'PUT', origin: 'https://evil.example' }), registryWithRoles(), T0)).code, 'FOREIGN_ORIGIN');
});
