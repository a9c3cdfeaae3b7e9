import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TailBuffer, truncationMarker } from './tail-buffer.js';
import { shellEnv, substitute, placeholderValues } from './placeholders.js';
import { ReportOutbox } from './outbox.js';
import { RunLedger } from './ledger.js';
import { validateExecuteRequest } from './validate.js';
import { LIMITS_DEFAULT } from './limits.js';
import { httpRequestParts } from './http-run.js';
import { replay, encodeRecord } from './journal-records.js';
import { shellRequest, httpRequest, ManualTimers } from '../../test/support/executor-runs.js';
import { StartWaves } from './start-waves.js';
import type { FinishedReport, StartedReport } from './types.js';

test('tail buffer keeps the last bytes, marks the cut and holds at most cap + one chunk', () => {
  const tail = new TailBuffer(10);
  tail.push(Buffer.from('abc'));
  assert.deepEqual(tail.render(), { text: 'abc', truncated: false, truncatedBytes: 0 });
  for (let i = 0; i < 100; i++) tail.push(Buffer.from('0123456'));
  const out = tail.render();
  assert.equal(out.text, truncationMarker(3 + 700 - 10) + '4560123456');
  assert.equal(out.truncatedBytes, 693);
  tail.push(Buffer.alloc(1000, 'z'));
  assert.equal(tail.render().text, truncationMarker(1693) + 'z'.repeat(10));
  assert.equal(tail.totalBytes, 1703);
});

test('tail buffer starts the kept text on a whole UTF-8 character', () => {
  const tail = new TailBuffer(4);
  tail.push(Buffer.from('aé€')); // 1 + 2 + 3 bytes; the last 4 start inside é
  const out = tail.render();
  assert.equal(out.text, truncationMarker(3) + '€');
  assert.equal(out.truncatedBytes, 3);
});

test('placeholders are replaced once, URL values encoded, unknown names kept', () => {
  const values = placeholderValues({ jobId: 'j', runId: 'r 1', scheduledAtMs: Date.UTC(2026, 0, 2, 3, 4, 5, 6), attempt: 2, nodeId: 'n1', payload: '{{jobId}}&x' });
  assert.equal(substitute('{{runId}}/{{attempt}}/{{scheduledAt}}/{{payload}}/{{other}}', values), 'r 1/2/2026-01-02T03:04:05.006Z/{{jobId}}&x/{{other}}');
  assert.equal(substitute('?p={{payload}}&r={{runId}}', values, encodeURIComponent), '?p=%7B%7BjobId%7D%7D%26x&r=r%201');
  const spec = httpRequest('http://h/{{jobId}}?p={{payload}}', { spec: { headers: { 'x-run': '{{runId}}' }, body: '{"p":"{{payload}}"}', method: 'POST' } }).spec;
  assert.equal(spec.type, 'http');
  if (spec.type !== 'http') return;
  const parts = httpRequestParts(spec, {
    jobId: 'j', runId: 'r', scheduledAtMs: 0, attempt: 1, nodeId: 'n', payload: 'a b',
  });
  assert.deepEqual(parts, { url: 'http://h/j?p=a%20b', headers: { 'x-run': 'r' }, body: '{"p":"a b"}' });
});

test('shell env: CHIME_* win over the job env, which wins over the base env', () => {
  const env = shellEnv({ PATH: '/bin', A: 'base' }, { A: 'job', CHIME_RUN_ID: 'forged' }, { jobId: 'j', runId: 'r', scheduledAtMs: 0, attempt: 3, nodeId: 'n', payload: 'p' });
  assert.equal(env['A'], 'job');
  assert.equal(env['PATH'], '/bin');
  assert.equal(env['CHIME_RUN_ID'], 'r');
  assert.equal(env['CHIME_ATTEMPT'], '3');
  assert.equal(env['CHIME_SCHEDULED_AT'], '1970-01-01T00:00:00.000Z');
});

function started(runId: string): StartedReport {
  return { kind: 'started', runId, attempt: 1, node: 'n', atMs: 0 };
}
function finished(runId: string): FinishedReport {
  return { kind: 'finished', runId, attempt: 1, node: 'n', atMs: 0, status: 'succeeded', exitCode: 0, output: '', outputTruncated: false, error: null };
}

test('outbox drops the oldest started report first and never an end report', () => {
  const outbox = new ReportOutbox(3);
  assert.ok(outbox.pushStarted(started('a')));
  assert.ok(outbox.pushStarted(started('b')));
  outbox.pushEnd(finished('x'));
  outbox.pushEnd(finished('y')); // full: 'a' goes
  assert.deepEqual(outbox.pending().map((r) => `${r.kind}:${r.runId}`), ['started:b', 'finished:x', 'finished:y']);
  outbox.pushEnd(finished('z')); // full: 'b' goes
  assert.equal(outbox.pushStarted(started('c')), false, 'no room among end reports');
  assert.deepEqual(outbox.pending().map((r) => r.runId), ['x', 'y', 'z']);
  assert.equal(outbox.acknowledge('x', 1, 'lost'), false, 'kind must match');
  assert.equal(outbox.acknowledge('x', 1, 'finished'), true);
  assert.equal(outbox.acknowledge('x', 1, 'finished'), false);
  assert.equal(outbox.endCount, 2);
});

test('acknowledging an end report also drops that run\'s started report', () => {
  const outbox = new ReportOutbox(10);
  outbox.pushStarted(started('a'));
  outbox.pushEnd(finished('a'));
  outbox.acknowledge('a', 1, 'finished');
  assert.equal(outbox.size, 0);
});

test('ledger evicts the oldest settled pair only', () => {
  const ledger = new RunLedger(3);
  ledger.record('a', 1, 'active');
  ledger.record('b', 1, 'settled');
  ledger.record('c', 1, 'ended');
  ledger.record('d', 1, 'active');
  assert.equal(ledger.has('b', 1), false);
  assert.ok(ledger.has('a', 1) && ledger.has('c', 1) && ledger.has('d', 1));
  ledger.record('a', 1, 'active');
  ledger.record('c', 1, 'active');
  assert.equal(ledger.state('c', 1), 'ended', 'states never go back');
});

test('validation refuses bad requests with a reason and never throws', () => {
  const limits = LIMITS_DEFAULT;
  const ok = validateExecuteRequest(shellRequest('true'), limits, 0);
  assert.ok(ok.ok);
  const cases: [unknown, RegExp][] = [
    [null, /object/],
    [{ ...shellRequest('true'), attempt: 0 }, /attempt/],
    [{ ...shellRequest('true'), term: -1 }, /term/],
    [{ ...shellRequest('true'), timeoutMs: 0 }, /timeoutMs/],
    [{ ...shellRequest('true'), runId: '' }, /runId/],
    [{ ...shellRequest('true'), payload: 'x'.repeat(limits.payloadBytesMax + 1) }, /payload/],
    [{ ...shellRequest('true'), notBeforeMs: limits.notBeforeLeadMsMax + 1 }, /notBeforeMs/],
    [{ ...shellRequest('true'), notBeforeMs: 10 * limits.notBeforeLeadMsMax, sentAtMs: 8 * limits.notBeforeLeadMsMax }, /notBeforeMs lies more than/],
    [{ ...shellRequest('true'), sentAtMs: -1 }, /sentAtMs/],
    [shellRequest(''), /command/],
    [shellRequest('true', { spec: { env: { A: 1 } as never } }), /env/],
    [shellRequest('true', { spec: { type: 'ftp' } as never }), /spec.type/],
    [httpRequest('ftp://x'), /url/],
    [httpRequest('http://x', { spec: { method: 'GET', body: 'b' } }), /body/],
    [httpRequest('http://x', { spec: { expectStatus: [300, 200] } }), /expectStatus/],
    [httpRequest('http://x', { spec: { headers: { 'bad name': 'v' } } }), /header/],
  ];
  for (const [value, reason] of cases) {
    const result = validateExecuteRequest(value, limits, 0);
    assert.equal(result.ok, false, `accepted ${JSON.stringify(value)?.slice(0, 80)}`);
    if (!result.ok) assert.match(result.error, reason);
  }
});

test('journal replay: states move forward only, torn lines are skipped', () => {
  const text = [
    encodeRecord({ t: 'accept', runId: 'a', attempt: 1, term: 3 }),
    encodeRecord({ t: 'accept', runId: 'b', attempt: 1, term: 4 }),
    encodeRecord({ t: 'end', report: finished('b') }),
    encodeRecord({ t: 'accept', runId: 'c', attempt: 1, term: 4 }),
    encodeRecord({ t: 'end', report: finished('c') }),
    encodeRecord({ t: 'ack', runId: 'c', attempt: 1 }),
    encodeRecord({ t: 'accept', runId: 'c', attempt: 1, term: 4 }),
    '{"t":"accept","runId":"d","att',
  ].join('');
  const result = replay(text);
  assert.equal(result.newestTerm, 4);
  assert.equal(result.skippedLines, 1);
  assert.deepEqual(result.runs.map((r) => [r.runId, r.state]), [['a', 'active'], ['b', 'ended'], ['c', 'settled']]);
});

test('start waves: one timer per instant starts its runs in acceptance order; a cancelled or killed run does not start', () => {
  const timers = new ManualTimers(1_000);
  const started: string[] = [];
  const handles = new Map<string, { cancel(): void }>();
  const waves = new StartWaves<string>(timers, timers.now, (item) => {
    started.push(item);
    if (item === 'a1') handles.get('a3')?.cancel(); // a start that kills a run waiting beside it
  });
  for (const [item, atMs] of [['a1', 1_100], ['b1', 1_200], ['a2', 1_100], ['a3', 1_100], ['a4', 1_100], ['b2', 1_200]] as const) handles.set(item, waves.add(atMs, atMs, item));
  assert.equal(timers.pending, 2, 'one timer per instant');
  handles.get('a4')?.cancel();
  timers.advance(99);
  assert.deepEqual(started, []);
  timers.advance(1);
  assert.deepEqual(started, ['a1', 'a2'], 'a3 was killed by a1, a4 cancelled before');
  handles.get('b1')?.cancel();
  handles.get('b2')?.cancel();
  assert.equal(waves.size, 0, 'an instant whose runs were all cancelled is forgotten');
  assert.equal(timers.pending, 0, 'and its timer cancelled');
  timers.advance(500);
  assert.deepEqual(started, ['a1', 'a2']);
  waves.add(1_500, 1_500, 'c1');
  timers.advance(0);
  assert.deepEqual(started, ['a1', 'a2', 'c1'], 'a wave whose instant has passed starts at once');
});

test('start waves with launch: every run of the instant is launched before any is started', () => {
  const timers = new ManualTimers(1_000);
  const events: string[] = [];
  const handles = new Map<string, { cancel(): void }>();
  const waves = new StartWaves<string>(timers, timers.now, (item) => {
    events.push(`start ${item}`);
    if (item === 'a1') handles.get('a3')?.cancel(); // launched with the wave, then taken out by a1's start
  }, (item) => events.push(`launch ${item}`));
  for (const item of ['a1', 'a2', 'a3', 'a4']) handles.set(item, waves.add(1_100, 1_100, item));
  handles.get('a4')?.cancel();
  timers.advance(100);
  assert.deepEqual(events, ['launch a1', 'launch a2', 'launch a3', 'start a1', 'start a2']);
});
