// The token registry as a piece of the replicated state: deterministic, bounded, snapshot-able.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenRegistry, hashToken, type CreateTokenCommand, type TokenApplyResult } from './index.js';
import { T0, createCommand, registryWithRoles, secretOf } from '../../test/support/access-fixtures.js';

function code(result: TokenApplyResult): string {
  return result.ok ? 'ok' : result.code;
}

test('createToken stores the token; lookup by hash finds it; views never show the hash', () => {
  const registry = TokenRegistry.create();
  const command = createCommand('root', 'admin');
  const result = registry.apply(command);
  assert.ok(result.ok && result.kind === 'tokenCreated' && result.created);
  assert.equal(registry.lookupHash(hashToken(secretOf('root')))?.id, command.id);
  assert.equal(registry.lookupHash(hashToken('other')), null);
  assert.ok(!('hash' in result.token));
  const page = registry.list();
  assert.ok(page.ok && page.items.every((t) => !('hash' in t)));
  assert.ok(!('hash' in (registry.get(command.id) ?? {})));
});

test('the same createToken applied twice is a no-op (a retried proposal)', () => {
  const registry = TokenRegistry.create();
  const command = createCommand('root', 'admin');
  registry.apply(command);
  const again = registry.apply({ ...command, createdAt: T0 + 1 });
  assert.ok(again.ok && again.kind === 'tokenCreated' && !again.created);
  assert.equal(registry.size, 1);
});

test('an id, a secret or a name already held is refused', () => {
  const registry = registryWithRoles();
  const admin = registry.list();
  assert.ok(admin.ok);
  const adminId = admin.items[0]?.id as string;
  assert.equal(code(registry.apply(createCommand('fresh', 'viewer', { id: adminId }))), 'TOKEN_EXISTS');
  assert.equal(code(registry.apply(createCommand('fresh', 'viewer', { hash: hashToken(secretOf('viewer')) }))), 'TOKEN_EXISTS');
  assert.equal(code(registry.apply(createCommand('viewer', 'viewer', { hash: hashToken('x') }))), 'TOKEN_NAME_TAKEN');
});

test('the first token must be an admin token without expiry, so nobody is locked out', () => {
  const registry = TokenRegistry.create();
  assert.equal(code(registry.apply(createCommand('v', 'viewer'))), 'FIRST_TOKEN_NOT_ADMIN');
  assert.equal(code(registry.apply(createCommand('a', 'admin', { expiresAt: T0 + 1000 }))), 'FIRST_TOKEN_NOT_ADMIN');
  assert.equal(registry.size, 0);
  assert.equal(code(registry.apply(createCommand('a', 'admin'))), 'ok');
  assert.equal(code(registry.apply(createCommand('v', 'viewer'))), 'ok');
});

test('revokeToken removes the token; an unknown id is TOKEN_NOT_FOUND', () => {
  const registry = registryWithRoles();
  const viewer = registry.lookupHash(hashToken(secretOf('viewer')));
  assert.ok(viewer);
  const result = registry.apply({ type: 'revokeToken', id: viewer.id, at: T0 });
  assert.ok(result.ok && result.kind === 'tokenRevoked' && result.token.name === 'viewer');
  assert.equal(registry.lookupHash(viewer.hash), null);
  assert.equal(code(registry.apply({ type: 'revokeToken', id: viewer.id })), 'TOKEN_NOT_FOUND');
});

test('the last admin token without expiry cannot be revoked; once another exists it can', () => {
  const registry = registryWithRoles();
  const admin = registry.lookupHash(hashToken(secretOf('admin')));
  assert.ok(admin);
  assert.equal(code(registry.apply({ type: 'revokeToken', id: admin.id })), 'LAST_ADMIN_TOKEN');
  registry.apply(createCommand('admin-2', 'admin', { expiresAt: T0 + 10 }));
  assert.equal(code(registry.apply({ type: 'revokeToken', id: admin.id })), 'LAST_ADMIN_TOKEN', 'an expiring admin does not count');
  registry.apply(createCommand('admin-3', 'admin'));
  assert.equal(code(registry.apply({ type: 'revokeToken', id: admin.id })), 'ok');
  registry.assertInvariants();
});

test('a cluster that has tokens never goes back to having none', () => {
  const registry = registryWithRoles();
  const page = registry.list();
  assert.ok(page.ok);
  for (const t of page.items) registry.apply({ type: 'revokeToken', id: t.id });
  assert.equal(registry.hasTokens, true);
  assert.equal(registry.size, 1);
});

test('the registry is bounded: when full, tokens expired at the command\'s time are dropped, else TOO_MANY_TOKENS', () => {
  const registry = TokenRegistry.create({ tokensMax: 3 });
  registry.apply(createCommand('root', 'admin'));
  registry.apply(createCommand('brief', 'viewer', { expiresAt: T0 + 100 }));
  registry.apply(createCommand('long', 'viewer', { expiresAt: T0 + 10_000 }));
  assert.equal(code(registry.apply(createCommand('early', 'viewer', { createdAt: T0 + 50 }))), 'TOO_MANY_TOKENS');
  const later = registry.apply(createCommand('later', 'viewer', { createdAt: T0 + 100 }));
  assert.ok(later.ok && later.kind === 'tokenCreated');
  assert.equal(later.droppedIds.length, 1);
  assert.equal(registry.get(later.droppedIds[0] as string), null);
  assert.equal(registry.size, 3);
  registry.assertInvariants();
});

test('garbage from the log is refused as INVALID_TOKEN_COMMAND, never thrown', () => {
  const registry = registryWithRoles();
  const good = createCommand('x', 'viewer');
  const bad: unknown[] = [
    null, 42, [], { type: 'dropTables' }, { ...good, role: 'root' }, { ...good, hash: 'ABC' }, { ...good, name: 'has space' },
    { ...good, name: 'anonymous' }, { ...good, expiresAt: good.createdAt }, { ...good, createdAt: -1 }, { ...good, extra: 1 },
    { type: 'revokeToken', id: 'Bad Id' }, { type: 'revokeToken', id: 'abc', at: 'now' },
  ];
  for (const value of bad) assert.equal(code(registry.apply(value)), 'INVALID_TOKEN_COMMAND', JSON.stringify(value));
  registry.assertInvariants();
});

test('expiry is judged against the caller\'s clock, from expiresAt on', () => {
  const registry = registryWithRoles();
  registry.apply(createCommand('temp', 'viewer', { expiresAt: T0 + 1000 }));
  const record = registry.lookupHash(hashToken(secretOf('temp')));
  assert.ok(record);
  assert.equal(record.expiresAt, T0 + 1000, 'the registry keeps an expired token; authorize refuses it');
});

test('list pages tokens oldest first by a stable cursor', () => {
  const registry = TokenRegistry.create();
  registry.apply(createCommand('root', 'admin', { createdAt: T0 }));
  for (let i = 0; i < 5; i++) registry.apply(createCommand(`t${i}`, 'viewer', { createdAt: T0 + 10 - i }));
  const names: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 10; pages++) {
    const page = registry.list({ limit: 2, cursor });
    assert.ok(page.ok);
    names.push(...page.items.map((t) => t.name));
    cursor = page.nextCursor;
    if (cursor === null) break;
  }
  assert.deepEqual(names, ['root', 't4', 't3', 't2', 't1', 't0']);
  const bad = registry.list({ cursor: 'j1.x' });
  assert.ok(!bad.ok && bad.code === 'INVALID_CURSOR');
});

test('the same commands give the same snapshot on every replica, and restore gives it back', () => {
  const commands: CreateTokenCommand[] = [createCommand('root', 'admin'), createCommand('ci', 'operator', { expiresAt: T0 + 5 }), createCommand('w', 'worker')];
  const a = TokenRegistry.create();
  const b = TokenRegistry.create();
  for (const c of commands) {
    a.apply(c);
    b.apply(c);
  }
  a.apply({ type: 'revokeToken', id: commands[1]?.id as string });
  b.apply({ type: 'revokeToken', id: commands[1]?.id as string });
  assert.deepEqual(a.snapshot(), b.snapshot());
  const snapshot = JSON.parse(JSON.stringify(a.snapshot())) as unknown;
  const restored = TokenRegistry.restore(snapshot);
  assert.ok(restored.ok);
  assert.deepEqual(restored.registry.snapshot(), a.snapshot());
  assert.equal(restored.registry.lookupHash(hashToken(secretOf('w')))?.role, 'worker');
  assert.ok(a.snapshot().tokens.every((row) => Array.isArray(row)), 'plain arrays, for msgpack');
});

test('restore refuses a snapshot that breaks a shape or an invariant', () => {
  const good = registryWithRoles().snapshot();
  const rows = good.tokens;
  const cases: unknown[] = [
    null, { v: 2, tokens: [] }, { v: 1, tokens: 'x' }, { v: 1, tokens: [[1, 2]] },
    { v: 1, tokens: [rows[0], rows[0]] },
    { v: 1, tokens: rows.slice(1) },
    { v: 1, tokens: [[...(rows[0] as readonly unknown[]).slice(0, 2), 'root', ...(rows[0] as readonly unknown[]).slice(3)]] },
  ];
  for (const value of cases) {
    const result = TokenRegistry.restore(value);
    assert.ok(!result.ok && result.code === 'INVALID_SNAPSHOT', JSON.stringify(value));
  }
  const tooMany = TokenRegistry.restore(good, { tokensMax: 2 });
  assert.ok(!tooMany.ok);
  assert.ok(TokenRegistry.restore({ v: 1, tokens: [] }).ok);
});
