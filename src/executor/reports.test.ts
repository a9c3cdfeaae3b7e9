import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from './types.js';
import { endReports, findReport, newExecutor, shellRequest, waitFinished, waitFor } from '../../test/support/executor-runs.js';

test('every report is announced through onReport and stays pending until acknowledged', async () => {
  const announced: Report[] = [];
  const executor = newExecutor({ onReport: (report) => announced.push(report) });
  const req = shellRequest('echo hi');
  assert.equal(executor.execute(req), 'accepted');
  await waitFinished(executor, req.runId);
  assert.deepEqual(announced.map((r) => r.kind), ['started', 'finished']);
  assert.deepEqual(executor.pendingReports(), announced);
  assert.equal(executor.acknowledge(req.runId, 1, 'started'), true);
  assert.deepEqual(executor.pendingReports().map((r) => r.kind), ['finished']);
  assert.equal(executor.acknowledge(req.runId, 2, 'finished'), false, 'unknown attempt');
  assert.equal(executor.acknowledge(req.runId, 1, 'finished'), true);
  assert.deepEqual(executor.pendingReports(), []);
});

test('a full outbox drops started reports, keeps every finished one and refuses new runs', async () => {
  const executor = newExecutor({ slots: 1, limits: { outboxReportsMax: 3, rememberedRunsMax: 16 } });
  const runIds: string[] = [];
  for (let i = 0; i < 3; i++) {
    const req = shellRequest(`echo ${i}`);
    assert.equal(executor.execute(req), 'accepted');
    await waitFinished(executor, req.runId);
    runIds.push(req.runId);
  }
  assert.deepEqual(executor.pendingReports().map((r) => `${r.kind}:${r.runId}`), runIds.map((id) => `finished:${id}`));
  assert.ok(executor.stats().droppedStartedReports >= 1);
  assert.equal(executor.execute(shellRequest('true')), 'no_slot');
  assert.match(executor.lastRefusal ?? '', /outbox is full/);
  assert.equal(executor.acknowledge(runIds[0] ?? '', 1, 'finished'), true);
  const next = shellRequest('true');
  assert.equal(executor.execute(next), 'accepted');
  await waitFinished(executor, next.runId);
  assert.equal(endReports(executor).length, 3);
});

test('journal: after a restart, an unfinished run is reported lost and every run stays a duplicate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-journal-'));
  const journalPath = join(dir, 'executor', 'journal.jsonl');
  const first = newExecutor({ journalPath, killGraceMs: 200 });
  try {
    const acked = shellRequest('echo acked', { term: 4 });
    const unacked = shellRequest('echo unacked', { term: 4 });
    const running = shellRequest('sleep 300', { term: 5 });
    for (const req of [acked, unacked, running]) assert.equal(first.execute(req), 'accepted');
    await waitFinished(first, acked.runId);
    await waitFinished(first, unacked.runId);
    await waitFor('running started', () => findReport(first, running.runId, 'started'));
    first.acknowledge(acked.runId, 1, 'finished');
    // Records are written at the end of the event-loop turn (an ack lost before that only makes the report come again).
    await new Promise((resolve) => setImmediate(resolve));

    // A second executor on the same journal is what a restart after kill -9 finds.
    const second = newExecutor({ journalPath, nodeId: 'n1', now: () => 123 });
    const pending = second.pendingReports();
    assert.deepEqual(pending.map((r) => `${r.kind}:${r.runId}`), [`finished:${unacked.runId}`, `lost:${running.runId}`]);
    const lost = pending[1];
    assert.equal(lost?.kind, 'lost');
    if (lost?.kind !== 'lost') return;
    assert.deepEqual({ ...lost, error: '' }, { kind: 'lost', runId: running.runId, attempt: 1, node: 'n1', atMs: 123, error: '' });
    // Both executors share this process here, so the "leftover" sleep of the first is found and killed.
    assert.match(lost.error, /^executor restarted; the run's leftover process group was killed$/);
    const recoveredFinished = pending[0];
    assert.equal(recoveredFinished?.kind === 'finished' && recoveredFinished.output, 'unacked\n');
    for (const req of [acked, unacked, running]) assert.equal(second.execute({ ...req, term: 5 }), 'duplicate');
    assert.equal(second.execute(shellRequest('true', { term: 4 })), 'stale_term', 'the newest term survives');
    assert.equal(second.running().length, 0);

    // Acknowledged reports are not reported again after another restart.
    assert.equal(second.acknowledge(running.runId, 1, 'lost'), true);
    assert.equal(second.acknowledge(unacked.runId, 1, 'finished'), true);
    await second.stop({ killRunning: true });
    const third = newExecutor({ journalPath });
    assert.deepEqual(third.pendingReports(), []);
    assert.equal(third.execute({ ...running, term: 5 }), 'duplicate');
    assert.equal(third.execute({ ...running, term: 5, attempt: 2 }), 'accepted', 'a retry is a new attempt');
    await waitFor('attempt 2 started', () => findReport(third, running.runId, 'started', 2));
    await third.stop({ killRunning: true });
  } finally {
    await first.stop({ killRunning: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('journal: a torn last line is ignored and the file stays bounded by compaction', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-journal-'));
  const journalPath = join(dir, 'journal.jsonl');
  try {
    const compactBytes = 4096;
    const limits = { journalCompactBytes: compactBytes, outboxReportsMax: 4, rememberedRunsMax: 8 };
    const executor = newExecutor({ journalPath, slots: 1, limits });
    const runIds: string[] = [];
    let largestBytes = 0;
    for (let i = 0; i < 40; i++) {
      const req = shellRequest(`echo run-${i}`);
      assert.equal(executor.execute(req), 'accepted');
      await waitFinished(executor, req.runId);
      assert.equal(executor.acknowledge(req.runId, 1, 'finished'), true);
      runIds.push(req.runId);
      largestBytes = Math.max(largestBytes, statSync(journalPath).size);
    }
    assert.ok(largestBytes <= compactBytes + 1024, `journal grew to ${largestBytes} bytes`);
    assert.ok(largestBytes > 0);
    await executor.stop({ killRunning: true });
    appendFileSync(journalPath, '{"t":"accept","runId":"torn');
    const restarted = newExecutor({ journalPath, slots: 1, limits });
    assert.equal(restarted.stats().journalSkippedLines, 1);
    assert.deepEqual(restarted.pendingReports(), []);
    assert.equal(restarted.stats().rememberedRuns, 8, 'the remembered set is bounded');
    assert.equal(restarted.execute(shellRequest('echo again', { runId: runIds[39] ?? '' })), 'duplicate', 'the newest are remembered');
    assert.doesNotMatch(readFileSync(journalPath, 'utf8'), /torn/, 'recovery rewrote the journal');
    await restarted.stop({ killRunning: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('journal: compaction, whichever record triggers it, loses nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-journal-'));
  const journalPath = join(dir, 'journal.jsonl');
  // The smallest threshold: the file is rewritten each time it doubles, so the trigger lands
  // on accept, pid and end records alike.
  const limits = { journalCompactBytes: 1 };
  const first = newExecutor({ journalPath, limits, slots: 24, killGraceMs: 200 });
  try {
    const done = shellRequest('echo done', { term: 2 });
    assert.equal(first.execute(done), 'accepted');
    await waitFinished(first, done.runId);
    // Runs waiting for notBefore have nothing in the journal but their accept record.
    const running = Array.from({ length: 20 }, () => shellRequest('true', { term: 2, notBeforeMs: Date.now() + 60_000 }));
    for (const req of running) assert.equal(first.execute(req), 'accepted');
    // Accept records are written at the end of the event-loop turn, and synced before their run may start.
    await new Promise((resolve) => setImmediate(resolve));
    const second = newExecutor({ journalPath, limits, slots: 24 });
    assert.deepEqual(second.pendingReports().map((r) => `${r.kind}:${r.runId}`).sort(),
      [`finished:${done.runId}`, ...running.map((req) => `lost:${req.runId}`)].sort());
    assert.equal(second.execute(shellRequest('true', { term: 1 })), 'stale_term');
    await second.stop({ killRunning: true });
  } finally {
    await first.stop({ killRunning: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an execute the log says this node already started, but that it has no record of, is reported lost and never run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-exec-replaced-'));
  const announced: Report[] = [];
  const marker = join(dir, 'ran');
  const executor = newExecutor({ onReport: (report) => announced.push(report) });
  try {
    // As after a wipe and re-add under the same id: a fresh executor gets the leader's re-send.
    const req = shellRequest(`touch ${marker}`, { startedOnNode: true });
    assert.equal(executor.execute(req), 'duplicate');
    await waitFor('the lost report', () => announced.some((r) => r.kind === 'lost' && r.runId === req.runId));
    assert.equal(executor.running().length, 0);
    assert.throws(() => statSync(marker), 'the command never ran');
    assert.equal(executor.execute(req), 'duplicate', 'a second re-send is a plain duplicate');
  } finally {
    await executor.stop({ killRunning: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
