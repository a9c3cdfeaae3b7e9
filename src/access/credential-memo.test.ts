// The memo of accepted Authorization headers must never change a decision: revokes, expiry,
// roles and a replaced registry are judged on every request as without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialMemo, TokenRegistry, authorize, type AccessDecision } from './index.js';
import { T0, bearer, createCommand, registryWithRoles, request } from '../../test/support/access-fixtures.js';

function code(decision: AccessDecision): string {
  return decision.ok ? 'ok' : decision.code;
}

test('an accepted header is remembered, a refused one is not', () => {
  const memo = new CredentialMemo();
  const registry = registryWithRoles();
  assert.equal(code(authorize(request('jobs.read', { authorizationHeader: bearer('nobody') }), registry, T0, memo)), 'TOKEN_INVALID');
  assert.equal(code(authorize(request('jobs.read', { authorizationHeader: 'Basic YWRtaW46YWRtaW4=' }), registry, T0, memo)), 'TOKEN_MALFORMED');
  assert.equal(memo.size, 0);
  assert.equal(code(authorize(request('jobs.read', { authorizationHeader: bearer('viewer') }), registry, T0, memo)), 'ok');
  assert.equal(memo.size, 1);
  assert.equal(memo.recall(bearer('viewer'))?.record.name, 'viewer');
});

test('a revoked token is refused on the next request though its header was remembered, and forgotten', () => {
  const memo = new CredentialMemo();
  const registry = registryWithRoles();
  const req = request('jobs.read', { authorizationHeader: bearer('viewer') });
  assert.equal(code(authorize(req, registry, T0, memo)), 'ok');
  const page = registry.list();
  assert.ok(page.ok);
  const id = page.items.find((t) => t.name === 'viewer')?.id;
  assert.ok(id !== undefined);
  assert.equal(registry.apply({ type: 'revokeToken', id }).ok, true);
  assert.equal(code(authorize(req, registry, T0, memo)), 'TOKEN_INVALID');
  assert.equal(memo.recall(bearer('viewer')), undefined);
});

test('expiry and role are judged on every request, memo or not', () => {
  const memo = new CredentialMemo();
  const registry = registryWithRoles();
  assert.equal(registry.apply(createCommand('short', 'viewer', { expiresAt: T0 + 1000 })).ok, true);
  const read = request('jobs.read', { authorizationHeader: bearer('short') });
  assert.equal(code(authorize(read, registry, T0, memo)), 'ok');
  assert.equal(code(authorize(request('jobs.write', { method: 'PUT', authorizationHeader: bearer('short') }), registry, T0, memo)), 'FORBIDDEN');
  assert.equal(code(authorize(read, registry, T0 + 1000, memo)), 'TOKEN_EXPIRED');
});

test('a registry replaced (a snapshot restored) is asked afresh: a token it lacks is refused', () => {
  const memo = new CredentialMemo();
  const req = request('jobs.read', { authorizationHeader: bearer('operator') });
  assert.equal(code(authorize(req, registryWithRoles(), T0, memo)), 'ok');
  const other = TokenRegistry.create();
  assert.equal(other.apply(createCommand('admin', 'admin')).ok, true);
  assert.equal(code(authorize(req, other, T0, memo)), 'TOKEN_INVALID');
  // The same token in a restored registry is a new record: checked in full again, then remembered.
  const restored = TokenRegistry.restore(registryWithRoles().snapshot());
  assert.ok(restored.ok);
  assert.equal(code(authorize(req, restored.registry, T0, memo)), 'ok');
  assert.equal(memo.recall(bearer('operator'))?.record, restored.registry.lookupHash(memo.recall(bearer('operator'))?.hash ?? ''));
});

test('decisions with the memo equal those without it over a mix of requests', () => {
  const memo = new CredentialMemo(2);
  const registry = registryWithRoles();
  const headers = [bearer('admin'), bearer('viewer'), bearer('worker'), bearer('nobody'), undefined, 'Bearer', `${bearer('admin')} extra`, bearer('operator')];
  for (let round = 0; round < 3; round++) {
    for (const authorizationHeader of headers) {
      for (const permission of ['jobs.read', 'jobs.write', 'tokens.admin', 'workers.pull'] as const) {
        const req = request(permission, { method: permission === 'jobs.read' ? 'GET' : 'POST', authorizationHeader });
        assert.deepEqual(authorize(req, registry, T0, memo), authorize(req, registry, T0), `${String(authorizationHeader)} ${permission}`);
      }
    }
  }
  assert.ok(memo.size <= 2, 'the memo keeps its bound');
});

test('the memo holds at most entriesMax headers, dropping the oldest', () => {
  const memo = new CredentialMemo(2);
  const registry = registryWithRoles();
  for (const name of ['admin', 'viewer', 'worker']) assert.equal(code(authorize(request('metrics.read', { authorizationHeader: bearer(name) }), registry, T0, memo)), 'ok');
  assert.equal(memo.size, 2);
  assert.equal(memo.recall(bearer('admin')), undefined);
  assert.notEqual(memo.recall(bearer('worker')), undefined);
  assert.throws(() => new CredentialMemo(0));
});
