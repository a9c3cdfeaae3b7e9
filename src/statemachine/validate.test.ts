import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateJobSpec, formatFieldErrors } from './validate.js';
import { EMPTY_RECORD, MISFIRE_DEFAULT, RETRY_DEFAULT, TARGET_ANY } from './defaults.js';
import * as L from './limits.js';

const base = { schedule: '0 30 2 * * *', executor: { type: 'shell', command: 'echo hi' } };

function errorsOf(input: unknown, id = 'job-1'): string[] {
  const r = validateJobSpec(id, input);
  assert.equal(r.ok, false, 'expected a validation failure');
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('a minimal spec gets every default, sharing the frozen default objects', () => {
  const r = validateJobSpec('job-1', base);
  assert.ok(r.ok);
  const s = r.spec;
  assert.equal(s.timezone, 'UTC');
  assert.equal(s.enabled, true);
  assert.equal(s.concurrency, 'forbid');
  assert.equal(s.timeoutMs, L.TIMEOUT_MS_DEFAULT);
  assert.equal(s.priority, 5);
  assert.equal(s.history, 100);
  assert.equal(s.description, '');
  assert.equal(s.target, TARGET_ANY);
  assert.equal(s.misfire, MISFIRE_DEFAULT);
  assert.equal(s.retry, RETRY_DEFAULT);
  assert.equal(s.labels, EMPTY_RECORD);
  assert.deepEqual(s.executor, { type: 'shell', command: 'echo hi', env: {}, cwd: '/' });
  assert.ok(Object.isFrozen(s));
});

test('the full example of api.md is accepted as it is', () => {
  const example = {
    id: 'nightly-backup', schedule: '0 30 2 * * *', timezone: 'Europe/Berlin', enabled: true,
    executor: { type: 'shell', command: 'pg_dump app > /backups/app.sql', env: {}, cwd: '/' }, target: { mode: 'any' },
    concurrency: 'forbid', misfire: { policy: 'fire-once', windowMs: 3600000 }, timeoutMs: 600000,
    retry: { max: 2, backoffMs: 1000, maxBackoffMs: 60000 }, priority: 5, after: [], history: 100, labels: {}, description: '',
    notify: [],
  };
  const r = validateJobSpec('nightly-backup', example);
  assert.ok(r.ok, JSON.stringify(r));
  // Fields added since (afterMode) come back with their defaults.
  assert.deepEqual({ ...r.spec }, { ...example, afterMode: 'any' });
});

test('afterMode: any (the default) or all', () => {
  const ok = validateJobSpec('job-1', { ...base, after: ['up'], afterMode: 'all' });
  assert.ok(ok.ok && ok.spec.afterMode === 'all');
  const plain = validateJobSpec('job-1', base);
  assert.ok(plain.ok && plain.spec.afterMode === 'any');
  assert.deepEqual(errorsOf({ ...base, afterMode: 'every' }), ['afterMode: must be one of "any", "all"']);
});

test('http executor defaults and checks', () => {
  const r = validateJobSpec('h', { schedule: '@hourly', executor: { type: 'http', url: 'https://example.com/x' } });
  assert.ok(r.ok);
  assert.deepEqual(r.spec.executor, { type: 'http', method: 'GET', url: 'https://example.com/x', headers: {}, body: '', expectStatus: [200, 299] });
  assert.deepEqual(errorsOf({ schedule: '@hourly', executor: { type: 'http', url: 'ftp://x', method: 'FETCH', expectStatus: [300, 200] } }), [
    'executor.method: must be one of "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"',
    'executor.url: must match http(s)://…',
    'executor.expectStatus: lo 300 is above hi 200',
  ]);
  assert.deepEqual(errorsOf({ schedule: '@hourly', executor: { type: 'http', url: 'http://x', command: 'no' } }), ['executor.command: unknown field']);
});

test('unknown fields are rejected at every level with their path', () => {
  assert.deepEqual(errorsOf({ ...base, executor: { type: 'shell', commnd: 'x', command: 'y' } }), ['executor.commnd: unknown field']);
  assert.deepEqual(errorsOf({ ...base, colour: 'red' }), ['colour: unknown field']);
  assert.deepEqual(errorsOf({ ...base, retry: { max: 1, tries: 2 } }), ['retry.tries: unknown field']);
  assert.deepEqual(errorsOf({ ...base, misfire: { policy: 'skip', window: 1 } }), ['misfire.window: unknown field']);
  assert.deepEqual(errorsOf({ ...base, target: { mode: 'any', count: 2 } }), ['target.count: is only allowed with mode "tags"']);
});

test('schedule and timezone errors are precise', () => {
  assert.deepEqual(errorsOf({ ...base, schedule: '61 * * * *' }), ['schedule: minute 61 is out of range 0-59']);
  assert.deepEqual(errorsOf({ ...base, schedule: '0 0 25 * * *' }), ['schedule: hour 25 is out of range 0-23']);
  assert.deepEqual(errorsOf({ ...base, schedule: '0 0 0 0 * *' }), ['schedule: day of month 0 is out of range 1-31']);
  assert.deepEqual(errorsOf({ ...base, timezone: 'Mars/Olympus' }), ['timezone: unknown zone "Mars/Olympus"']);
  assert.deepEqual(errorsOf({ ...base, schedule: '@every 100ms' }), ['schedule: @every interval must be at least 1s']);
  assert.deepEqual(errorsOf({ executor: base.executor }), ['schedule: is required']);
  assert.deepEqual(errorsOf({ schedule: '@daily' }), ['executor: is required']);
});

test('wrong types and out-of-range values', () => {
  const errors = errorsOf({
    ...base, enabled: 'yes', concurrency: 'sometimes', timeoutMs: 10, priority: 10, history: 0, retry: { max: 11, backoffMs: 5000, maxBackoffMs: 1000 },
    misfire: { policy: 'always', windowMs: -1 }, description: 5, labels: { 'bad key!': 'v' }, target: { mode: 'tags', tags: {} },
  });
  assert.deepEqual(errors, [
    'enabled: must be true or false',
    'target.tags: must name at least one tag',
    'concurrency: must be one of "allow", "forbid", "replace"',
    'misfire.policy: must be one of "fire-once", "fire-all", "skip"',
    `misfire.windowMs: -1 is out of range 0-${L.MISFIRE_WINDOW_MS_MAX}`,
    `timeoutMs: 10 is out of range ${L.TIMEOUT_MS_MIN}-${L.TIMEOUT_MS_MAX}`,
    `retry.max: 11 is out of range 0-${L.RETRY_MAX_MAX}`,
    'priority: 10 is out of range 0-9',
    'history: 0 is out of range 1-1000',
    'labels.bad key!: name must match [A-Za-z0-9._/-]{1,63}',
    'description: must be a string',
  ]);
  assert.deepEqual(errorsOf({ ...base, retry: { backoffMs: 5000, maxBackoffMs: 1000 } }), ['retry.maxBackoffMs: must be at least retry.backoffMs (5000)']);
  assert.deepEqual(errorsOf('not an object'), ['(spec): must be an object']);
  assert.deepEqual(errorsOf({ ...base, executor: { type: 'ssh' } }), ['executor.type: must be one of "shell", "http", "queue"']);
});

test('ids, after and the id in the body', () => {
  assert.deepEqual(errorsOf(base, 'bad id'), ['id: must match [A-Za-z0-9._-]{1,128}']);
  assert.deepEqual(errorsOf(base, 'x'.repeat(129)), ['id: must match [A-Za-z0-9._-]{1,128}']);
  assert.deepEqual(errorsOf({ ...base, id: 'other' }), ['id: "other" does not match the id in the path "job-1"']);
  assert.deepEqual(errorsOf({ ...base, after: ['job-1', 'a b', 'up', 'up'] }), [
    'after[0]: a job cannot run after itself', 'after[1]: must be a job id matching [A-Za-z0-9._-]{1,128}', 'after[3]: "up" is listed twice',
  ]);
  assert.deepEqual(errorsOf({ ...base, after: Array.from({ length: L.AFTER_MAX + 1 }, (_, i) => `j${i}`) }), [`after: must have at most ${L.AFTER_MAX} entries`]);
});

test('size limits: spec, command, env, headers, body, labels, description', () => {
  assert.deepEqual(errorsOf({ ...base, description: 'x'.repeat(L.SPEC_JSON_BYTES_MAX) }), [`(spec): must be at most ${L.SPEC_JSON_BYTES_MAX} bytes as JSON`]);
  assert.deepEqual(errorsOf({ ...base, executor: { type: 'shell', command: 'x'.repeat(L.COMMAND_CHARS_MAX + 1) } }), [`executor.command: must be at most ${L.COMMAND_CHARS_MAX} characters`]);
  const env = Object.fromEntries(Array.from({ length: L.ENV_ENTRIES_MAX + 1 }, (_, i) => [`V${i}`, 'x']));
  assert.deepEqual(errorsOf({ ...base, executor: { type: 'shell', command: 'x', env } }), [`executor.env: must have at most ${L.ENV_ENTRIES_MAX} entries`]);
  assert.deepEqual(errorsOf({ ...base, executor: { type: 'shell', command: 'x', env: { A: 'x'.repeat(L.ENV_BYTES_MAX) } } }), [`executor.env: must total at most ${L.ENV_BYTES_MAX} bytes`]);
  assert.deepEqual(errorsOf({ ...base, executor: { type: 'shell', command: 'x', env: { '1A': 'x', __proto__x: 'y' } } }), ['executor.env.1A: name must match [A-Za-z_][A-Za-z0-9_]*']);
  assert.deepEqual(errorsOf({ ...base, executor: { type: 'shell', command: 'x', cwd: 'relative' } }), ['executor.cwd: must match an absolute path']);
  assert.deepEqual(errorsOf({ ...base, executor: { type: 'http', url: 'http://x', body: 'é'.repeat(L.BODY_BYTES_MAX / 2 + 1) } }), [`executor.body: must be at most ${L.BODY_BYTES_MAX} bytes`]);
  const labels = Object.fromEntries(Array.from({ length: L.LABELS_ENTRIES_MAX + 1 }, (_, i) => [`k${i}`, 'v']));
  assert.deepEqual(errorsOf({ ...base, labels }), [`labels: must have at most ${L.LABELS_ENTRIES_MAX} entries`]);
  assert.deepEqual(errorsOf({ ...base, description: 'x'.repeat(L.DESCRIPTION_CHARS_MAX + 1) }), [`description: must be at most ${L.DESCRIPTION_CHARS_MAX} characters`]);
  assert.deepEqual(errorsOf({ ...base, labels: JSON.parse('{"__proto__": "x"}') }), ['labels.__proto__: is a reserved name']);
});

test('read-only job fields are ignored so GET → PUT round-trips; errors format as path: message', () => {
  assert.ok(validateJobSpec('job-1', { ...base, createdAt: 1, revision: 7, nextFireAt: null }).ok);
  assert.equal(formatFieldErrors([{ path: 'schedule', message: 'minute 61 is out of range 0-59' }]), 'schedule: minute 61 is out of range 0-59');
});

test('tags target keeps tags and count', () => {
  const r = validateJobSpec('t', { ...base, target: { mode: 'tags', tags: { zone: 'eu' }, count: 2 } });
  assert.ok(r.ok);
  assert.deepEqual(r.spec.target, { mode: 'tags', tags: { zone: 'eu' }, count: 2 });
  assert.deepEqual(errorsOf({ ...base, target: { mode: 'tags', tags: { zone: 'eu' }, count: 0 } }), [`target.count: 0 is out of range 1-${L.EXECUTORS_MAX}`]);
});
