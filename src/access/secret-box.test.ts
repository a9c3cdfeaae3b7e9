// Encryption at rest of secret values: AES-256-GCM under a key derived from --secrets-key-file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import { inspect } from 'node:util';
import { SEALED_PREFIX, isSealed, notifySecretField, openExecutorSecrets, openSecret, openSecretMap, sealExecutorSecrets, sealSecret, sealSecretMap, secretContext, secretsKeyFromFile, type SecretsKey } from './index.js';

function keyOf(content: string): SecretsKey {
  const result = secretsKeyFromFile(Buffer.from(content));
  assert.ok(result.ok);
  return result.key;
}

function printedKeyLeaks(key: SecretsKey): boolean {
  const hex = (key.key.export() as Buffer).toString('hex');
  return inspect(key, { depth: 5 }).includes(hex) || JSON.stringify(key).includes(hex);
}

const KEY = keyOf('x'.repeat(32));
const CTX = secretContext('nightly', 'secretEnv', 'API_KEY');

test('a key file needs at least 32 bytes of any content', () => {
  const short = secretsKeyFromFile(Buffer.alloc(31, 1));
  assert.ok(!short.ok && short.code === 'SECRETS_KEY_TOO_SHORT' && /31 bytes/.test(short.message));
  assert.ok(secretsKeyFromFile(Buffer.alloc(32, 0)).ok, 'any bytes, zeros included');
});

test('the key is HKDF-SHA256 of the file bytes with info "chime secrets v1"', () => {
  const bytes = Buffer.from('y'.repeat(40));
  const expected = Buffer.from(hkdfSync('sha256', bytes, new Uint8Array(0), 'chime secrets v1', 32));
  assert.deepEqual(keyOf('y'.repeat(40)).key.export(), expected);
  assert.ok(!printedKeyLeaks(keyOf('y'.repeat(40))), 'printing the key object shows no key bytes');
});

test('seal then open gives the value back; each seal has its own nonce', () => {
  const a = sealSecret(KEY, 'p@ssw0rd-ünïcode', CTX);
  const b = sealSecret(KEY, 'p@ssw0rd-ünïcode', CTX);
  assert.ok(a.startsWith(SEALED_PREFIX) && isSealed(a));
  assert.notEqual(a, b);
  assert.ok(!a.includes('p@ssw0rd'));
  assert.deepEqual(openSecret(KEY, a, CTX), { ok: true, value: 'p@ssw0rd-ünïcode' });
  assert.deepEqual(openSecret(KEY, b, CTX), { ok: true, value: 'p@ssw0rd-ünïcode' });
});

test('a wrong key is a clear error, not "tampered"', () => {
  const sealed = sealSecret(KEY, 'value-123', CTX);
  const result = openSecret(keyOf('z'.repeat(32)), sealed, CTX);
  assert.ok(!result.ok && result.code === 'SECRET_KEY_MISMATCH' && /secrets-key-file/.test(result.message));
  const trailingNewline = openSecret(keyOf(`${'x'.repeat(32)}\n`), sealed, CTX);
  assert.ok(!trailingNewline.ok && trailingNewline.code === 'SECRET_KEY_MISMATCH', 'the file is taken byte for byte');
});

test('tampering is detected: any changed byte of nonce, ciphertext or tag', () => {
  const sealed = sealSecret(KEY, 'value-123', CTX);
  const [prefix, body] = [sealed.slice(0, sealed.lastIndexOf(':') + 1), sealed.slice(sealed.lastIndexOf(':') + 1)];
  const bytes = Buffer.from(body, 'base64url');
  for (const at of [0, 11, 12, bytes.length - 17, bytes.length - 1]) {
    const changed = Buffer.from(bytes);
    changed[at] = (changed[at] as number) ^ 1;
    const result = openSecret(KEY, prefix + changed.toString('base64url'), CTX);
    assert.ok(!result.ok && result.code === 'SECRET_TAMPERED', `byte ${at}`);
  }
  const malformed = openSecret(KEY, 'enc:v1:short', CTX);
  assert.ok(!malformed.ok && malformed.code === 'SECRET_MALFORMED');
  const truncated = openSecret(KEY, `${prefix}AAAA`, CTX);
  assert.ok(!truncated.ok && truncated.code === 'SECRET_MALFORMED');
});

test('a sealed value moved to another job or key does not open', () => {
  const sealed = sealSecret(KEY, 'value-123', CTX);
  for (const ctx of [secretContext('other', 'secretEnv', 'API_KEY'), secretContext('nightly', 'secretHeaders', 'API_KEY'), secretContext('nightly', 'secretEnv', 'OTHER')]) {
    const result = openSecret(KEY, sealed, ctx);
    assert.ok(!result.ok && result.code === 'SECRET_TAMPERED');
  }
});

test('an executor is sealed at the edge and opened on the executing node; kept values stay sealed as they were', () => {
  const executor = { type: 'shell', command: 'x', secretEnv: { API_KEY: 'value-123' }, secretHeaders: undefined };
  const sealed = sealExecutorSecrets(KEY, 'nightly', { type: 'shell', command: 'x', secretEnv: { API_KEY: 'value-123' } });
  assert.ok(isSealed(sealed.secretEnv.API_KEY));
  const resealed = sealExecutorSecrets(KEY, 'nightly', sealed);
  assert.equal(resealed.secretEnv.API_KEY, sealed.secretEnv.API_KEY, 'an already sealed value is not sealed twice');
  const opened = openExecutorSecrets(KEY, 'nightly', sealed);
  assert.ok(opened.ok && opened.executor.secretEnv.API_KEY === 'value-123');
  assert.equal(executor.secretEnv.API_KEY, 'value-123');
  const noKey = openExecutorSecrets(null, 'nightly', sealed);
  assert.ok(!noKey.ok && noKey.code === 'SECRET_KEY_MISMATCH' && /executor\.secretEnv\.API_KEY/.test(noKey.message));
  const plain = openExecutorSecrets(null, 'nightly', { secretEnv: { A: 'plain-value' } });
  assert.ok(plain.ok && plain.executor.secretEnv.A === 'plain-value', 'values stored before the key existed pass');
});

test('a notify target\'s secret headers open only at the job and position they were sealed for', () => {
  const sealed = sealSecretMap(KEY, 'nightly', notifySecretField(0), { 'X-Api-Key': 'webhook-secret-1' });
  assert.ok(isSealed(sealed['X-Api-Key'] ?? ''));
  assert.deepEqual(openSecretMap(KEY, 'nightly', notifySecretField(0), sealed), { ok: true, map: { 'X-Api-Key': 'webhook-secret-1' } });
  for (const [jobId, field] of [['nightly', notifySecretField(1)], ['other', notifySecretField(0)], ['nightly', 'secretHeaders']] as const) {
    const opened = openSecretMap(KEY, jobId, field, sealed);
    assert.equal(opened.ok ? 'opened' : opened.code, 'SECRET_TAMPERED', `${jobId} ${field}`);
  }
  const noKey = openSecretMap(null, 'nightly', notifySecretField(0), sealed, 'notify[0].secretHeaders');
  assert.equal(noKey.ok ? 'opened' : noKey.code, 'SECRET_KEY_MISMATCH');
  assert.match(noKey.ok ? '' : noKey.message, /^notify\[0\]\.secretHeaders\.X-Api-Key /);
  // Sealing again leaves sealed values alone (kept ones), plain ones pass opening as they are.
  assert.deepEqual(sealSecretMap(KEY, 'nightly', notifySecretField(0), sealed), sealed);
  assert.deepEqual(openSecretMap(null, 'nightly', notifySecretField(0), { A: 'plain-value' }), { ok: true, map: { A: 'plain-value' } });
});
