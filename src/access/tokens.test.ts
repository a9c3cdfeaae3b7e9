// Token secrets, the Authorization header and the bootstrap file, one test per rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  AUTHORIZATION_CHARS_MAX, GENERATED_TOKEN_PATTERN, TOKEN_ID_PATTERN, TokenRegistry,
  bootstrapTokenCommand, bootstrapTokenFromFile, generateToken, hashToken, hashesEqual, newTokenCommand, parseAuthorization,
  queryTokenProblem, tokenCommandProblem, validateTokenRequest,
} from './index.js';
import { T0 } from '../../test/support/access-fixtures.js';

const parseDurationMs = (text: string): number | string => (/^\d+[mh]$/.test(text) ? Number(text.slice(0, -1)) * (text.endsWith('h') ? 3_600_000 : 60_000) : `"${text}" is not a duration`);

test('a generated token is chime_ and 256 random bits in base64url, with a separate id', () => {
  const a = generateToken();
  const b = generateToken();
  assert.match(a.secret, GENERATED_TOKEN_PATTERN);
  assert.equal(Buffer.from(a.secret.slice('chime_'.length), 'base64url').length, 32);
  assert.match(a.id, TOKEN_ID_PATTERN);
  assert.notEqual(a.secret, b.secret);
  assert.notEqual(a.id, b.id);
  assert.equal(a.hash, hashToken(a.secret));
  assert.ok(!a.secret.includes(a.id), 'the id is not part of the secret, so listing ids reveals nothing');
});

test('a leaked generated token is found by grep', () => {
  const { secret } = generateToken();
  const log = `2026-01-01 GET /v1/jobs Authorization: Bearer ${secret} 200`;
  assert.deepEqual(log.match(/chime_[A-Za-z0-9_-]{43}/g), [secret]);
});

test('only the SHA-256 of a secret is kept, compared in constant time', () => {
  assert.equal(hashToken('chime_abc'), createHash('sha256').update('chime_abc').digest('hex'));
  assert.equal(hashesEqual(hashToken('a'), hashToken('a')), true);
  assert.equal(hashesEqual(hashToken('a'), hashToken('b')), false);
  assert.equal(hashesEqual(hashToken('a'), 'abcd'), false);
  assert.equal(hashesEqual('', ''), false);
});

test('Authorization: only exactly one Bearer credential is read', () => {
  assert.deepEqual(parseAuthorization('Bearer chime_abc'), { ok: true, secret: 'chime_abc' });
  assert.deepEqual(parseAuthorization('bearer   chime_abc'), { ok: true, secret: 'chime_abc' });
  for (const none of [undefined, '']) {
    const parsed = parseAuthorization(none);
    assert.ok(!parsed.ok && parsed.code === 'TOKEN_MISSING');
  }
  for (const bad of ['Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearer "abc"', 'Token abc', 'Bearer abc\u0000', ' ', 'Bearer\tabc']) {
    const parsed = parseAuthorization(bad);
    assert.equal(parsed.ok, false, JSON.stringify(bad));
    if (!parsed.ok) assert.equal(parsed.code, 'TOKEN_MALFORMED', JSON.stringify(bad));
  }
  const several = parseAuthorization(['Bearer a', 'Bearer b']);
  assert.ok(!several.ok && several.code === 'TOKEN_MALFORMED');
});

test('an Authorization header over 512 characters is refused as malformed', () => {
  const longest = `Bearer ${'a'.repeat(AUTHORIZATION_CHARS_MAX - 'Bearer '.length)}`;
  assert.equal(parseAuthorization(longest).ok, true);
  const over = parseAuthorization(`${longest}a`);
  assert.ok(!over.ok && over.code === 'TOKEN_MALFORMED' && /512/.test(over.message));
  assert.ok(!parseAuthorization(`Bearer ${'a'.repeat(1_000_000)}`).ok);
});

test('a token in the query string is refused with a reason that says why', () => {
  for (const url of ['/v1/jobs?token=x', '/v1/jobs?access_token=x', '/v1/jobs?a=1&Access_Token=', '/?token']) {
    const problem = queryTokenProblem(url);
    assert.ok(problem !== null && problem.code === 'TOKEN_IN_QUERY' && /Authorization: Bearer/.test(problem.message), url);
  }
  for (const url of ['/v1/jobs', '/v1/jobs?cursor=token', '/v1/token?x=1', '/v1/jobs?tokens=1']) assert.equal(queryTokenProblem(url), null, url);
});

test('bootstrap file: one line, surrounding whitespace not part of it', () => {
  const secret = 'a'.repeat(40);
  for (const content of [secret, `${secret}\n`, `  ${secret}\r\n`, `\n${secret}\n\n`]) {
    const parsed = bootstrapTokenFromFile(content);
    assert.ok(parsed.ok, JSON.stringify(content));
    assert.equal(parsed.secret, secret);
    assert.equal(parsed.hash, hashToken(secret));
  }
});

test('bootstrap file: at least 32 characters, else a clear error', () => {
  assert.equal(bootstrapTokenFromFile('b'.repeat(32)).ok, true);
  const short = bootstrapTokenFromFile(`${'b'.repeat(31)}\n`);
  assert.ok(!short.ok && short.code === 'BOOTSTRAP_TOKEN_INVALID' && /31 characters.*at least 32/.test(short.message));
  const empty = bootstrapTokenFromFile(' \n');
  assert.ok(!empty.ok && /empty/.test(empty.message));
});

test('bootstrap file: two lines, or characters a Bearer header cannot carry, are refused', () => {
  const two = bootstrapTokenFromFile(`${'a'.repeat(32)}\n${'b'.repeat(32)}`);
  assert.ok(!two.ok && /one line/.test(two.message));
  const spaced = bootstrapTokenFromFile(`${'a'.repeat(20)} ${'b'.repeat(20)}`);
  assert.ok(!spaced.ok && /Authorization/.test(spaced.message));
  const long = bootstrapTokenFromFile('a'.repeat(AUTHORIZATION_CHARS_MAX));
  assert.ok(!long.ok && /at most/.test(long.message));
});

test('the bootstrap token is named bootstrap, role admin, never expires, and is the same command on every node', () => {
  const content = `${'z'.repeat(48)}\n`;
  const a = bootstrapTokenCommand(content, T0);
  const b = bootstrapTokenCommand(content, T0 + 5);
  assert.ok(a.ok && b.ok);
  assert.deepEqual({ id: a.command.id, name: a.command.name, role: a.command.role, expiresAt: a.command.expiresAt, createdBy: a.command.createdBy }, { id: 'bootstrap', name: 'bootstrap', role: 'admin', expiresAt: null, createdBy: 'system' });
  assert.equal(tokenCommandProblem(a.command), null);
  const registry = TokenRegistry.create();
  assert.ok(registry.apply(a.command).ok);
  const again = registry.apply(b.command);
  assert.ok(again.ok && again.kind === 'tokenCreated' && again.created === false, 'a second node proposing it changes nothing');
  assert.equal(registry.size, 1);
});

test('POST /v1/tokens body: name, role and ttl are checked with field paths', () => {
  const ok = validateTokenRequest({ name: 'ci', role: 'operator', ttl: '24h' }, parseDurationMs);
  assert.deepEqual(ok, { ok: true, request: { name: 'ci', role: 'operator', ttlMs: 86_400_000 } });
  assert.deepEqual(validateTokenRequest({ name: 'ci', role: 'viewer' }, parseDurationMs), { ok: true, request: { name: 'ci', role: 'viewer', ttlMs: null } });
  const bad = validateTokenRequest({ name: 'no spaces', role: 'root', ttl: 'soon', extra: 1 }, parseDurationMs);
  assert.ok(!bad.ok);
  assert.deepEqual(bad.errors?.map((e) => e.path).sort(), ['extra', 'name', 'role', 'ttl']);
  const reserved = validateTokenRequest({ name: 'anonymous', role: 'viewer' }, parseDurationMs);
  assert.ok(!reserved.ok && reserved.errors?.[0]?.message.includes('reserved'));
});

test('a new token command carries the hash, never the secret, and its expiry from the proposer\'s clock', () => {
  const { command, secret } = newTokenCommand({ name: 'ci', role: 'operator', ttlMs: 60_000 }, 'admin', T0);
  assert.equal(tokenCommandProblem(command), null);
  assert.equal(command.hash, hashToken(secret));
  assert.ok(!JSON.stringify(command).includes(secret));
  assert.deepEqual([command.createdAt, command.expiresAt, command.createdBy], [T0, T0 + 60_000, 'admin']);
});
