// Hand-made histories each checker must accept or reject: proof that the checkers can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HttpAnswer } from '../../src/cli/http-client.js';
import { checkKvHistory, type KvOperation } from '../sim/linearizability.js';
import { checkDurability } from './durability-checker.js';
import { interpret } from './register-workload.js';
import { checkWorkers, type Priority, type Submission, type WorkerCheckInput, type WorkerReport } from './worker-checker.js';
import { checkScheduler, parseSink, type RunRecord, type SchedulerCheckInput, type SinkLine } from './scheduler-checker.js';

const op = (clientId: string, kind: KvOperation['kind'], value: string | null, callMs: number, returnMs: number, key = 'k0'): KvOperation => ({ clientId, kind, key, value, callMs, returnMs });

test('register: a stale read after an acknowledged write is rejected', () => {
  const history = [op('c1', 'put', 'a', 0, 10), op('c1', 'put', 'b', 20, 30), op('c2', 'get', 'a', 40, 50)];
  const result = checkKvHistory(history);
  assert.equal(result.ok, false);
});

test('register: a read of a value never written is rejected', () => {
  assert.equal(checkKvHistory([op('c1', 'put', 'a', 0, 10), op('c2', 'get', 'zz', 20, 30)]).ok, false);
});

test('register: a read of a deleted key that still sees the value is rejected', () => {
  assert.equal(checkKvHistory([op('c1', 'put', 'a', 0, 10), op('c1', 'delete', null, 20, 30), op('c2', 'get', 'a', 40, 50)]).ok, false);
});

test('register: reads that go back in time across clients are rejected', () => {
  const history = [op('c1', 'put', 'a', 0, 10), op('c1', 'put', 'b', 15, 100), op('c2', 'get', 'b', 20, 30), op('c3', 'get', 'a', 40, 50)];
  assert.equal(checkKvHistory(history).ok, false);
});

test('register: concurrent and unknown-outcome writes may take effect late, and the final read after the restart counts', () => {
  const ok = [op('c1', 'put', 'a', 0, 10), op('c2', 'put', 'b', 5, Infinity), op('c3', 'get', 'a', 20, 30), op('c3', 'get', 'b', 40, 50), op('final', 'get', 'b', 100, 110)];
  assert.equal(checkKvHistory(ok).ok, true);
  // An acknowledged write lost by the final restart: the final read sees the older value.
  const lost = [op('c1', 'put', 'a', 0, 10), op('c1', 'put', 'b', 20, 30), op('final', 'get', 'a', 100, 110)];
  assert.equal(checkKvHistory(lost).ok, false);
  const vanished = [op('c1', 'put', 'a', 0, 10), op('final', 'get', null, 100, 110)];
  assert.equal(checkKvHistory(vanished).ok, false);
});

test('register: how answers become history entries', () => {
  const answer = (status: number, body: unknown = null): HttpAnswer => ({ status, body, text: '', contentType: 'application/json', raw: Buffer.alloc(0) });
  assert.deepEqual(interpret('get', 'k', null, answer(200, { description: 'v' }), ''), { value: 'v', known: true, outcome: 'ok' });
  assert.deepEqual(interpret('get', 'k', null, answer(404), ''), { value: null, known: true, outcome: 'absent' });
  assert.equal(interpret('get', 'k', null, null, 'timeout'), null, 'an unanswered read is dropped');
  assert.equal(interpret('put', 'k', 'v', null, 'connect ECONNREFUSED 127.0.0.1:1'), null, 'a refused connection never reached a node');
  assert.deepEqual(interpret('put', 'k', 'v', null, 'no answer within 4000 ms'), { value: 'v', known: false, outcome: 'unknown: no answer within 4000 ms' });
  assert.equal(interpret('put', 'k', 'v', answer(503), '')?.known, false, 'a 5xx write may still commit');
  assert.equal(interpret('delete', 'k', null, answer(404), '')?.known, true);
  assert.equal(interpret('put', 'k', 'v', answer(429), ''), null, 'a full proposal queue refuses before proposing');
  assert.throws(() => interpret('put', 'k', 'v', answer(400), ''), /refused/);
  assert.deepEqual(interpret('put', 'k', 'v', answer(409, { code: 'WRITE_REPEATED' }), ''), { value: 'v', known: true, outcome: '409 WRITE_REPEATED' }, 'a re-sent put that took effect the first time (its job deleted since) was applied');
  assert.throws(() => interpret('put', 'k', 'v', answer(409, { code: 'JOB_CONFLICT' }), ''), /refused/);
});

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function goodScheduler(): { records: RunRecord[]; sink: SinkLine[]; input: SchedulerCheckInput } {
  const records: RunRecord[] = [];
  const sink: SinkLine[] = [];
  for (let i = 0; i <= 10; i++) {
    const at = T0 + i * 1000;
    records.push({ runId: `r${i}`, jobId: 'j', scheduledAt: iso(at), attempt: 1, status: 'succeeded' });
    sink.push({ jobId: 'j', scheduledAt: iso(at), runId: `r${i}`, attempt: 1, node: 'n1', atMs: at + 5 });
  }
  const input: SchedulerCheckInput = { jobs: [{ id: 'j', periodMs: 1000, anchored: false, misfire: 'fire-all' }], windowStartMs: T0, windowEndMs: T0 + 10_000, records, sink, observedRunIds: new Set(records.map((r) => r.runId)) };
  return { records, sink, input };
}

test('scheduler: a clean history passes, with its figures', () => {
  const result = checkScheduler(goodScheduler().input);
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.equal(result.instants, 11);
  assert.equal(result.latenessMs.p50, 5);
});

test('scheduler: a missed instant is rejected', () => {
  const { input, records } = goodScheduler();
  const result = checkScheduler({ ...input, records: records.filter((r) => r.runId !== 'r4'), observedRunIds: new Set() });
  assert.equal(result.ok, false);
  assert.deepEqual(result.missing, [`j ${iso(T0 + 4000)}`]);
});

test('scheduler: two records for one instant are rejected', () => {
  const { input, records, sink } = goodScheduler();
  const extra: RunRecord = { runId: 'dup', jobId: 'j', scheduledAt: iso(T0 + 3000), attempt: 1, status: 'succeeded' };
  const result = checkScheduler({ ...input, records: [...records, extra], sink: [...sink, { ...sink[3]!, runId: 'dup' }] });
  assert.equal(result.ok, false);
  assert.equal(result.duplicateRecords.length, 1);
});

test('scheduler: a (runId, attempt) executed twice is rejected; a retry as a new attempt is not', () => {
  const { input, sink, records } = goodScheduler();
  assert.equal(checkScheduler({ ...input, sink: [...sink, { ...sink[2]!, node: 'n2', atMs: sink[2]!.atMs + 50 }] }).executedTwice.length, 1);
  const retried = records.map((r) => (r.runId === 'r2' ? { ...r, attempt: 2 } : r));
  const result = checkScheduler({ ...input, records: retried, sink: [...sink, { ...sink[2]!, attempt: 2, node: 'n3' }] });
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.equal(result.runsExecutedInSeveralAttempts, 1);
});

test('scheduler: a run that never executed, or succeeded without executing its attempt, is rejected', () => {
  const { input, sink, records } = goodScheduler();
  assert.equal(checkScheduler({ ...input, sink: sink.filter((l) => l.runId !== 'r6') }).notExecuted.length, 1);
  const claimed = records.map((r) => (r.runId === 'r7' ? { ...r, attempt: 2 } : r));
  assert.equal(checkScheduler({ ...input, records: claimed }).succeededNotExecuted.length, 1);
});

test('scheduler: a skipped instant must not execute; one that did not is fine', () => {
  const { input, sink, records } = goodScheduler();
  const skipped = records.map((r) => (r.runId === 'r5' ? { ...r, status: 'skipped' } : r));
  assert.equal(checkScheduler({ ...input, records: skipped }).skippedButExecuted.length, 1);
  assert.equal(checkScheduler({ ...input, records: skipped, sink: sink.filter((l) => l.runId !== 'r5') }).ok, true);
});

test('scheduler: a run record seen during the test and gone at the end is rejected', () => {
  const { input } = goodScheduler();
  const result = checkScheduler({ ...input, observedRunIds: new Set([...input.observedRunIds, 'vanished']) });
  assert.deepEqual(result.lostRecords, ['vanished']);
});

test('scheduler: @every instants are anchored on the records, and a gap in them is found', () => {
  const records: RunRecord[] = [];
  const sink: SinkLine[] = [];
  for (let i = 0; i < 10; i++) {
    if (i === 5) continue;
    const at = T0 + 300 + i * 2000;
    records.push({ runId: `e${i}`, jobId: 'e', scheduledAt: iso(at), attempt: 1, status: 'succeeded' });
    sink.push({ jobId: 'e', scheduledAt: iso(at), runId: `e${i}`, attempt: 1, node: 'n1', atMs: at });
  }
  const result = checkScheduler({ jobs: [{ id: 'e', periodMs: 2000, anchored: true, misfire: 'fire-once' }], windowStartMs: T0, windowEndMs: T0 + 19_000, records, sink, observedRunIds: new Set() });
  assert.deepEqual(result.missing, [`e ${iso(T0 + 300 + 10_000)}`]);
  assert.equal(result.instants, 10);
});

test('scheduler: instants inside a full outage must follow the misfire policy (G6)', () => {
  const { input, records, sink } = goodScheduler();
  const outages = [{ startMs: T0 + 1000, endMs: T0 + 9000 }]; // instants 3..7 s are well inside
  const skippedInside = records.map((r) => (Date.parse(r.scheduledAt) >= T0 + 3000 && Date.parse(r.scheduledAt) <= T0 + 7000 ? { ...r, status: 'skipped' } : r));
  const sinkWithoutSkipped = sink.filter((l) => skippedInside.find((r) => r.runId === l.runId)?.status !== 'skipped');
  // fire-all must not skip; skip must skip all; fire-once may run one.
  assert.equal(checkScheduler({ ...input, outages }).ok, true);
  assert.equal(checkScheduler({ ...input, outages, records: skippedInside, sink: sinkWithoutSkipped }).policyViolations.length, 1);
  const asSkip = { ...input, jobs: [{ id: 'j', periodMs: 1000, anchored: false, misfire: 'skip' as const }], outages };
  assert.equal(checkScheduler({ ...asSkip, records: skippedInside, sink: sinkWithoutSkipped }).ok, true);
  assert.match(checkScheduler(asSkip).policyViolations[0] ?? '', /5 of 5 instants ran/);
  const asOnce = { ...asSkip, jobs: [{ id: 'j', periodMs: 1000, anchored: false, misfire: 'fire-once' as const }] };
  const oneRan = skippedInside.map((r) => (r.runId === 'r7' ? { ...r, status: 'succeeded' } : r));
  assert.equal(checkScheduler({ ...asOnce, records: oneRan, sink: sink.filter((l) => oneRan.find((r) => r.runId === l.runId)?.status !== 'skipped') }).ok, true);
  assert.equal(checkScheduler(asOnce).policyViolations.length, 1);
});

test('scheduler: the sink format written by the jobs parses', () => {
  const lines = parseSink(`j ${iso(T0)} r1 1 n2 ${T0 + 7}\n\ngarbage\nj ${iso(T0 + 1000)} r2 2 n1 ${T0 + 1003}\n`);
  assert.deepEqual(lines, [
    { jobId: 'j', scheduledAt: iso(T0), runId: 'r1', attempt: 1, node: 'n2', atMs: T0 + 7 },
    { jobId: 'j', scheduledAt: iso(T0 + 1000), runId: 'r2', attempt: 2, node: 'n1', atMs: T0 + 1003 },
  ]);
});

test('durability: an acknowledged job missing after the restart is rejected', () => {
  assert.deepEqual(checkDurability({ acked: ['a', 'b'], present: new Set(['a', 'b', 'c']) }), { ok: true, acked: 2, lost: [] });
  assert.deepEqual(checkDurability({ acked: ['a', 'b'], present: new Set(['a']) }), { ok: false, acked: 2, lost: ['b'] });
});

// Workers: two runs through two workers; r1 is lost once (w1 died) and w2 completes attempt 2.
function goodWorkers(): WorkerCheckInput {
  const sub = (key: string, priority: Priority, runId: string | null, callMs: number): Submission => ({ client: 's1', jobId: 'q', key, priority, runId, callMs, returnMs: runId === null ? Infinity : callMs + 5 });
  const rep = (worker: string, kind: WorkerReport['kind'], runId: string, attempt: number, callMs: number, status: number | null = 200, result: string | null = null): WorkerReport => ({ worker, kind, runId, attempt, retry: true, result, callMs, returnMs: status === null ? Infinity : callMs + 5, status });
  return {
    submissions: [sub('k1', 'low', 'r1', 0), sub('k2', 'high', 'r2', 10), sub('k1', 'high', 'r1', 20), sub('k3', 'normal', null, 30)],
    claims: [
      { worker: 'w1', callMs: 40, returnMs: 50, items: [{ runId: 'r2', attempt: 1 }, { runId: 'r1', attempt: 1 }] },
      { worker: 'w2', callMs: 4000, returnMs: 4010, items: [{ runId: 'r1', attempt: 2 }] },
    ],
    reports: [
      rep('w1', 'heartbeat', 'r2', 1, 60), rep('w1', 'complete', 'r2', 1, 100, null, 'w1:r2'), rep('w1', 'complete', 'r2', 1, 4200, 409, 'w1:r2'),
      rep('w1', 'heartbeat', 'r1', 1, 4100, 409), rep('w2', 'complete', 'r1', 2, 4300, 200, 'w2:r1'),
    ],
    records: [
      { runId: 'r1', jobId: 'q', status: 'succeeded', attempt: 2, priority: 'low', result: 'w2:r1', created: 1 },
      { runId: 'r2', jobId: 'q', status: 'succeeded', attempt: 1, priority: 'high', result: 'w1:r2', created: 2 },
    ],
    retryMax: { q: 3 },
  };
}

test('workers: a clean history passes (an unanswered complete that committed, a lost attempt retried, a repeated key)', () => {
  const result = checkWorkers(goodWorkers());
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.deepEqual(result.submissions, { acknowledged: 3, unknown: 1, runs: 2, coalesced: 1 });
  assert.equal(result.runsInSeveralAttempts, 1);
  assert.equal(result.attemptsHanded, 3);
});

test('workers: a submission whose run is missing or never ended is rejected', () => {
  const input = goodWorkers();
  assert.deepEqual(checkWorkers({ ...input, records: input.records.filter((r) => r.runId !== 'r2') }).missingRuns, ['r2']);
  const running = input.records.map((r) => (r.runId === 'r1' ? { ...r, status: 'running' } : r));
  assert.equal(checkWorkers({ ...input, records: running }).notEnded.length, 1);
});

test('workers: a run that ends lost or failed with retries left is rejected, unless its worker refused the retry', () => {
  const input = goodWorkers();
  const lost = input.records.map((r) => (r.runId === 'r1' ? { ...r, status: 'lost', result: null } : r));
  assert.equal(checkWorkers({ ...input, records: lost }).endedAgainstPolicy.length, 1);
  assert.equal(checkWorkers({ ...input, records: lost.map((r) => ({ ...r, attempt: r.runId === 'r1' ? 4 : r.attempt })) }).endedAgainstPolicy.length, 0, 'retries used up');
  const failed = input.records.map((r) => (r.runId === 'r1' ? { ...r, status: 'failed', result: null } : r));
  assert.equal(checkWorkers({ ...input, records: failed }).endedAgainstPolicy.length, 1);
  const refused: WorkerReport = { worker: 'w2', kind: 'fail', runId: 'r1', attempt: 2, retry: false, result: null, callMs: 4300, returnMs: 4305, status: 200 };
  const withRefusal = { ...input, records: failed, reports: [...input.reports.filter((r) => !(r.runId === 'r1' && r.kind === 'complete')), refused] };
  assert.equal(checkWorkers(withRefusal).ok, true, JSON.stringify(checkWorkers(withRefusal)));
});

test('workers: a success without its holder\'s complete, or with another result, is rejected', () => {
  const input = goodWorkers();
  const other = input.records.map((r) => (r.runId === 'r1' ? { ...r, result: 'w1:r1' } : r));
  assert.equal(checkWorkers({ ...input, records: other }).wrongResults.length, 1);
  assert.equal(checkWorkers({ ...input, reports: input.reports.filter((r) => !(r.runId === 'r1' && r.kind === 'complete')) }).wrongResults.length, 1);
});

test('workers: an attempt in two claim answers is rejected', () => {
  const input = goodWorkers();
  const result = checkWorkers({ ...input, claims: [...input.claims, { worker: 'w3', callMs: 4000, returnMs: 4020, items: [{ runId: 'r1', attempt: 2 }] }] });
  assert.deepEqual(result.claimedTwice, ['r1#2 handed to w2 and w3']);
});

test('workers: a report accepted from a worker that does not hold the attempt is rejected', () => {
  const input = goodWorkers();
  const foreign: WorkerReport = { worker: 'w3', kind: 'heartbeat', runId: 'r1', attempt: 2, retry: true, result: null, callMs: 4100, returnMs: 4105, status: 200 };
  assert.equal(checkWorkers({ ...input, reports: [...input.reports, foreign] }).foreignReports.length, 1);
  assert.equal(checkWorkers({ ...input, reports: [...input.reports, { ...foreign, status: 409 }] }).ok, true, 'refused with 409 is right');
});

test('workers: the old holder heard after a later attempt was handed out (two holders at once) is rejected', () => {
  const input = goodWorkers();
  const reports = input.reports.map((r) => (r.worker === 'w1' && r.runId === 'r1' ? { ...r, status: 200 } : r));
  assert.equal(checkWorkers({ ...input, reports }).staleReports.length, 1);
});

test('workers: a run completed twice, or claimed again after its success, is rejected', () => {
  const input = goodWorkers();
  const twice = input.reports.map((r) => (r.runId === 'r2' && r.kind === 'complete' ? { ...r, status: 200, returnMs: r.callMs + 5 } : r));
  assert.equal(checkWorkers({ ...input, reports: twice }).completedTwice.length, 1);
  const again = { worker: 'w2', callMs: 5000, returnMs: 5010, items: [{ runId: 'r2', attempt: 2 }] };
  const result = checkWorkers({ ...input, reports: twice, claims: [...input.claims, again] });
  assert.equal(result.claimedAfterSuccess.length, 1);
});

test('workers: a claim batch out of priority order is rejected', () => {
  const input = goodWorkers();
  const swapped = input.claims.map((c, i) => (i === 0 ? { ...c, items: [...c.items].reverse() } : c));
  assert.equal(checkWorkers({ ...input, claims: swapped }).priorityOrder.length, 1);
});

test('workers: a claim batch with a newer run of a job before an older one of the same priority is rejected', () => {
  const input = goodWorkers();
  const sameLane = input.records.map((r) => ({ ...r, priority: 'high' }));
  assert.equal(checkWorkers({ ...input, records: sameLane }).fifoOrder.length, 1, 'r2 (created second) handed before r1');
  const reordered = input.claims.map((c, i) => (i === 0 ? { ...c, items: [...c.items].reverse() } : c));
  assert.equal(checkWorkers({ ...input, records: sameLane, claims: reordered }).fifoOrder.length, 0, 'oldest first');
  const otherJob = sameLane.map((r) => (r.runId === 'r1' ? { ...r, jobId: 'q2' } : r));
  assert.equal(checkWorkers({ ...input, records: otherJob }).fifoOrder.length, 0, 'two jobs: their creation orders are not comparable');
});

test('workers: one key answered with two runs is rejected', () => {
  const input = goodWorkers();
  const split = input.submissions.map((s, i) => (i === 2 ? { ...s, runId: 'r9' } : s));
  const records = [...input.records, { runId: 'r9', jobId: 'q', status: 'lost', attempt: 4, priority: 'high', result: null, created: 3 }];
  assert.deepEqual(checkWorkers({ ...input, submissions: split, records }).keysSplit, ['q k1: r1, r9']);
});
