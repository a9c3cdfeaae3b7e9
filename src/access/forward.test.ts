// A forwarded request keeps the caller's identity and cannot gain another: the follower
// re-sends the caller's Authorization header as is, and the leader checks it like any request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, forwardedRequestHeaders, nodeOriginsOf, type AccessRequest } from './index.js';
import { T0, bearer, registryWithRoles, request } from '../../test/support/access-fixtures.js';

const LEADER_HTTP = '10.0.0.7:8400';

/** The request the leader sees when a follower forwards `incoming`. */
function forwarded(incoming: Record<string, string>, base: AccessRequest): AccessRequest {
  const headers = forwardedRequestHeaders(incoming);
  return { ...base, authorizationHeader: headers['authorization'], origin: headers['origin'], host: LEADER_HTTP, nodeOrigins: nodeOriginsOf([LEADER_HTTP]) };
}

test('a follower forwards only Authorization, Content-Type and Accept', () => {
  const headers = forwardedRequestHeaders({
    authorization: 'Bearer chime_x', 'content-type': 'application/json', accept: '*/*', origin: 'http://10.0.0.5:8400',
    cookie: 'a=b', host: '10.0.0.5:8400', 'x-chime-principal': 'admin', 'x-forwarded-user': 'admin', 'x-chime-role': 'admin',
  });
  assert.deepEqual(headers, { authorization: 'Bearer chime_x', 'content-type': 'application/json', accept: '*/*' });
});

test('a forwarded write keeps the caller\'s identity: the leader finds the same principal', () => {
  const registry = registryWithRoles();
  const incoming = { authorization: bearer('operator'), origin: 'http://10.0.0.5:8400' };
  const atFollower = authorize(request('jobs.write', { method: 'PUT', authorizationHeader: incoming.authorization, origin: incoming.origin }), registry, T0);
  const atLeader = authorize(forwarded(incoming, request('jobs.write', { method: 'PUT' })), registry, T0);
  assert.ok(atFollower.ok && atLeader.ok);
  assert.deepEqual(atLeader.principal, atFollower.principal);
});

test('a forwarded write is not checked again for its Origin (the receiving node did)', () => {
  // Same origin at the follower; the leader would call it foreign, but Origin is not forwarded.
  const incoming = { authorization: bearer('admin'), origin: 'http://10.0.0.5:8400' };
  assert.equal(authorize(request('jobs.write', { method: 'POST', authorizationHeader: incoming.authorization, origin: incoming.origin, host: LEADER_HTTP, nodeOrigins: nodeOriginsOf([LEADER_HTTP]) }), registryWithRoles(), T0).ok, false);
  assert.equal(authorize(forwarded(incoming, request('jobs.write', { method: 'POST' })), registryWithRoles(), T0).ok, true);
});

test('a forwarded principal cannot be elevated: identity headers are dropped and the leader re-checks the role', () => {
  const registry = registryWithRoles();
  const incoming = { authorization: bearer('viewer'), 'x-chime-principal': '{"name":"admin","role":"admin"}', 'x-chime-role': 'admin' };
  const atLeader = authorize(forwarded(incoming, request('tokens.admin', { method: 'POST', url: '/v1/tokens' })), registry, T0);
  assert.ok(!atLeader.ok && atLeader.code === 'FORBIDDEN');
});

test('a forwarded principal cannot be forged: without the caller\'s token the leader sees no one', () => {
  const registry = registryWithRoles();
  const atLeader = authorize(forwarded({ 'x-chime-principal': 'admin', 'x-chime-forwarded': '1' }, request('jobs.write', { method: 'PUT' })), registry, T0);
  assert.ok(!atLeader.ok && atLeader.code === 'TOKEN_MISSING');
});

test('a token revoked on the leader stops a forwarded request even if the follower still knows it', () => {
  const follower = registryWithRoles();
  const leader = registryWithRoles();
  const page = leader.list();
  assert.ok(page.ok);
  const operator = page.items.find((t) => t.name === 'operator');
  assert.ok(operator);
  assert.ok(leader.apply({ type: 'revokeToken', id: operator.id }).ok);
  const incoming = { authorization: bearer('operator') };
  assert.equal(authorize(request('jobs.write', { method: 'PUT', authorizationHeader: incoming.authorization }), follower, T0).ok, true);
  const atLeader = authorize(forwarded(incoming, request('jobs.write', { method: 'PUT' })), leader, T0);
  assert.ok(!atLeader.ok && atLeader.code === 'TOKEN_INVALID');
});
