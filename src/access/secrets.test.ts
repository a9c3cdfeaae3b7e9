// Secret maps: redaction on reads, "***" round trips on writes, masking of captured output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SECRET_MASK, maskOutput, mergeExecutorSecrets, mergeSecrets, redactExecutor, redactSpec, secretValuesOf } from './index.js';

const shell = { type: 'shell', command: 'deploy', env: { A: '1' }, secretEnv: { API_KEY: 'k-123456', DB_PASS: 'hunter22' } } as const;
const http = { type: 'http', url: 'https://x', secretHeaders: { Authorization: 'Bearer s3cr3t-value' } } as const;

test('reads show "***" for each secret value, and nothing else changes', () => {
  assert.deepEqual(redactExecutor(shell), { ...shell, secretEnv: { API_KEY: '***', DB_PASS: '***' } });
  assert.deepEqual(redactExecutor(http).secretHeaders, { Authorization: '***' });
  const job = { id: 'j', schedule: '@daily', executor: shell };
  const shown = redactSpec(job);
  assert.equal(shown.executor.secretEnv.API_KEY, SECRET_MASK);
  assert.equal(job.executor.secretEnv.API_KEY, 'k-123456', 'the stored spec is not changed');
  assert.ok(!JSON.stringify(shown).includes('k-123456'));
  const plain = { type: 'shell', command: 'x' };
  assert.equal(redactExecutor(plain), plain, 'an executor without secrets is returned as is');
});

test('a write that sends "***" back keeps the stored value', () => {
  const merged = mergeSecrets({ API_KEY: '***', DB_PASS: 'new-password' }, shell.secretEnv, 'executor.secretEnv');
  assert.deepEqual(merged, { ok: true, secrets: { API_KEY: 'k-123456', DB_PASS: 'new-password' } });
});

test('keys the write leaves out are dropped', () => {
  assert.deepEqual(mergeSecrets({ API_KEY: '***' }, shell.secretEnv, 'executor.secretEnv'), { ok: true, secrets: { API_KEY: 'k-123456' } });
});

test('"***" for a key with no stored value is a field error at executor.secretEnv.KEY', () => {
  const merged = mergeSecrets({ NEW_KEY: '***' }, shell.secretEnv, 'executor.secretEnv');
  assert.ok(!merged.ok && merged.code === 'INVALID_SECRET');
  assert.deepEqual(merged.errors?.map((e) => e.path), ['executor.secretEnv.NEW_KEY']);
  const none = mergeSecrets({ API_KEY: '***' }, undefined, 'executor.secretEnv');
  assert.ok(!none.ok && none.errors?.[0]?.path === 'executor.secretEnv.API_KEY');
  const proto = mergeSecrets({ toString: '***' }, {}, 'executor.secretEnv');
  assert.ok(!proto.ok, 'inherited properties are not stored values');
});

test('a secret value shorter than 6 characters is a field error', () => {
  const merged = mergeSecrets({ A: '12345', B: '123456' }, undefined, 'executor.secretHeaders');
  assert.ok(!merged.ok);
  assert.deepEqual(merged.errors, [{ path: 'executor.secretHeaders.A', message: 'a secret value must be at least 6 characters' }]);
});

test('a value that looks sealed is refused (only the node seals)', () => {
  const merged = mergeSecrets({ A: 'enc:v1:abcdefgh:xyz' }, undefined, 'executor.secretEnv');
  assert.ok(!merged.ok && merged.errors?.[0]?.path === 'executor.secretEnv.A');
});

test('both maps of an executor merge by field: a kept value never moves between secretEnv and secretHeaders', () => {
  const stored = { type: 'shell', secretEnv: { TOKEN: 'env-secret' } };
  const ok = mergeExecutorSecrets({ type: 'shell', secretEnv: { TOKEN: '***' } }, stored);
  assert.ok(ok.ok && ok.executor.secretEnv?.TOKEN === 'env-secret');
  const moved = mergeExecutorSecrets({ type: 'http', secretHeaders: { TOKEN: '***' } }, stored);
  assert.ok(!moved.ok && moved.errors?.[0]?.path === 'executor.secretHeaders.TOKEN');
  const created = mergeExecutorSecrets({ type: 'shell', secretEnv: { X: '***' } }, null);
  assert.ok(!created.ok);
});

test('a secret value in captured output is replaced by "***"', () => {
  const values = secretValuesOf(shell);
  assert.deepEqual(values.sort(), ['hunter22', 'k-123456']);
  assert.equal(maskOutput('key=k-123456 pass=hunter22 again k-123456\n', values), 'key=*** pass=*** again ***\n');
  assert.equal(maskOutput('nothing here', values), 'nothing here');
});

test('masking: the longest value wins, regex characters are literal, replacements make no new matches', () => {
  assert.equal(maskOutput('abcdefgh', ['abcdef', 'abcdefgh']), '***');
  assert.equal(maskOutput('a.b*c+d?e a-b-c-d-e', ['a.b*c+d?e']), '*** a-b-c-d-e');
  assert.equal(maskOutput('xx******yy', ['******', '***yy*']), 'xx***yy');
  assert.equal(maskOutput('short abc', ['abc', '']), 'short abc', 'values under the minimum are never masked');
});
