import { test } from 'node:test';
import assert from 'node:assert/strict';
import { specFromFlags } from './job-command.js';

test('job put --after and --after-mode set the spec fields; --after-mode alone is a usage error', () => {
  const base = { schedule: '@manual', shell: 'true' };
  assert.deepEqual(specFromFlags({ ...base, after: 'a,b', 'after-mode': 'all' }), {
    schedule: '@manual', executor: { type: 'shell', command: 'true' }, after: ['a', 'b'], afterMode: 'all',
  });
  assert.deepEqual(specFromFlags({ ...base, after: 'a' }), { schedule: '@manual', executor: { type: 'shell', command: 'true' }, after: ['a'] });
  assert.throws(() => specFromFlags({ ...base, 'after-mode': 'all' }), /--after-mode needs --after/);
  assert.throws(() => specFromFlags({ file: 'x.json', after: 'a' }), /--file excludes the shorthand flags \(--after\)/);
});
