import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { truncationMarker } from './tail-buffer.js';
import { ManualTimers, findReport, newExecutor, processAlive, shellRequest, waitFinished, waitFor } from '../../test/support/executor-runs.js';

test('the command sees the run identity, the job env and its cwd', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-exec-'));
  try {
    const executor = newExecutor({ nodeId: 'node-7', baseEnv: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', FROM_BASE: 'b' } });
    const req = shellRequest('printf "%s|" "$CHIME_JOB_ID" "$CHIME_RUN_ID" "$CHIME_SCHEDULED_AT" "$CHIME_ATTEMPT" "$CHIME_NODE_ID" "$CHIME_PAYLOAD" "$FROM_JOB" "$FROM_BASE" "$(pwd)"', {
      jobId: 'nightly', attempt: 2, payload: 'hello world', scheduledAtMs: Date.UTC(2026, 10, 24, 1, 30, 0, 5),
      spec: { env: { FROM_JOB: 'j' }, cwd: dir },
    });
    assert.equal(executor.execute(req), 'accepted');
    const report = await waitFinished(executor, req.runId, 2);
    assert.equal(report.status, 'succeeded');
    assert.equal(report.exitCode, 0);
    assert.equal(report.node, 'node-7');
    assert.equal(report.output, `nightly|${req.runId}|2026-11-24T01:30:00.005Z|2|node-7|hello world|j|b|${dir}|`);
    assert.ok(findReport(executor, req.runId, 'started', 2), 'a started report precedes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('output keeps only the last 64 KiB of 1 MiB, stdout and stderr together, marked', async () => {
  const executor = newExecutor();
  // 1 MiB of numbered lines on stdout, then a last line on stderr.
  const req = shellRequest('i=0; yes 0123456789abcde | head -c 1048576; echo END-ON-STDERR >&2');
  assert.equal(executor.execute(req), 'accepted');
  const report = await waitFinished(executor, req.runId);
  assert.equal(report.status, 'succeeded');
  assert.equal(report.outputTruncated, true);
  const total = 1048576 + 'END-ON-STDERR\n'.length;
  const marker = truncationMarker(total - 65536);
  assert.ok(report.output.startsWith(marker), report.output.slice(0, 60));
  const kept = report.output.slice(marker.length);
  assert.equal(Buffer.byteLength(kept), 65536);
  assert.ok(kept.endsWith('0123456789abcde\nEND-ON-STDERR\n'));
});

test('exit codes: 0 succeeds, others fail with the code, a signal death fails with its name', async () => {
  const executor = newExecutor();
  const cases = [['exit 0', 'succeeded', 0], ['exit 3', 'failed', 3], ['false', 'failed', 1], ['kill -USR1 $$', 'failed', null]] as const;
  const runs = cases.map(([command]) => shellRequest(command));
  for (const req of runs) assert.equal(executor.execute(req), 'accepted');
  for (const [i, req] of runs.entries()) {
    const report = await waitFinished(executor, req.runId);
    const [command, status, exitCode] = cases[i] ?? [];
    assert.equal(report.status, status, command);
    assert.equal(report.exitCode, exitCode, command);
  }
  const signalled = await waitFinished(executor, runs[3]?.runId ?? '');
  assert.match(signalled.error ?? '', /SIGUSR1/);
});

test('a spawn failure (missing cwd) fails the run with the error and no exit code', async () => {
  const executor = newExecutor();
  const req = shellRequest('true', { spec: { cwd: '/nonexistent/chime/dir' } });
  assert.equal(executor.execute(req), 'accepted');
  const report = await waitFinished(executor, req.runId);
  assert.equal(report.status, 'failed');
  assert.equal(report.exitCode, null);
  assert.match(report.error ?? '', /spawn failed.*ENOENT/);
  assert.equal(executor.running().length, 0, 'the slot is free again');
});

/** Starts a command that leaves a background sleep in its group and prints both pids. */
async function startTree(executor: ReturnType<typeof newExecutor>, dir: string, timeoutMs: number): Promise<{ runId: string; pids: number[] }> {
  const pidFile = join(dir, `pids-${Math.random()}`);
  const req = shellRequest(`sleep 300 & echo "$$ $!" > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}; wait`, { timeoutMs });
  assert.equal(executor.execute(req), 'accepted');
  const { readFileSync, existsSync } = await import('node:fs');
  const text = await waitFor('pid file', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8'));
  const pids = text.trim().split(' ').map(Number);
  assert.equal(pids.length, 2);
  for (const pid of pids) assert.ok(processAlive(pid), `process ${pid} runs before the kill`);
  return { runId: req.runId, pids };
}

test('a timeout kills the whole process group and reports timed_out', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-exec-'));
  try {
    const executor = newExecutor({ killGraceMs: 500 });
    const { runId, pids } = await startTree(executor, dir, 300);
    const report = await waitFinished(executor, runId);
    assert.equal(report.status, 'timed_out');
    assert.match(report.error ?? '', /timed out after 300 ms/);
    for (const pid of pids) await waitFor(`process ${pid} to be gone`, () => !processAlive(pid), 5_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill by request: SIGTERM to the group, SIGKILL after the grace for one that ignores it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-exec-'));
  try {
    const executor = newExecutor({ killGraceMs: 300 });
    const { runId, pids } = await startTree(executor, dir, 60_000);
    assert.equal(executor.kill(runId, 'request'), 'killing');
    const report = await waitFinished(executor, runId);
    assert.equal(report.status, 'killed');
    for (const pid of pids) await waitFor(`process ${pid} to be gone`, () => !processAlive(pid), 5_000);
    assert.equal(executor.kill(runId, 'request'), 'not_found');

    const stubborn = shellRequest(`trap '' TERM; echo ready > ${dir}/ready; while :; do sleep 0.05; done`);
    assert.equal(executor.execute(stubborn), 'accepted');
    const { existsSync } = await import('node:fs');
    await waitFor('stubborn ready', () => existsSync(join(dir, 'ready')));
    const killedAt = Date.now();
    executor.kill(stubborn.runId, 'replace');
    const stubbornReport = await waitFinished(executor, stubborn.runId);
    assert.equal(stubbornReport.status, 'killed');
    assert.match(stubbornReport.error ?? '', /replace/);
    assert.ok(Date.now() - killedAt >= 250, 'SIGKILL only came after the grace');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('remnants a finished shell leaves in its group are killed with it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-exec-'));
  try {
    const executor = newExecutor({ killGraceMs: 500 });
    const pidFile = join(dir, 'pid');
    const req = shellRequest(`sleep 300 >/dev/null 2>&1 & echo $! > ${pidFile}; exit 0`);
    assert.equal(executor.execute(req), 'accepted');
    const report = await waitFinished(executor, req.runId);
    assert.equal(report.status, 'succeeded');
    const { readFileSync } = await import('node:fs');
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    await waitFor(`left-behind ${pid} to be gone`, () => !processAlive(pid), 5_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a (runId, attempt) is accepted once; a new attempt is a new run', async () => {
  const executor = newExecutor();
  const req = shellRequest('echo once');
  assert.equal(executor.execute(req), 'accepted');
  assert.equal(executor.execute(req), 'duplicate', 'while running');
  await waitFinished(executor, req.runId);
  assert.equal(executor.execute({ ...req, term: 5 }), 'duplicate', 'after finishing, even from a newer leader');
  executor.acknowledge(req.runId, 1, 'finished');
  assert.equal(executor.execute({ ...req, term: 5 }), 'duplicate', 'after acknowledgement');
  assert.equal(executor.execute({ ...req, term: 5, attempt: 2 }), 'accepted');
  const second = await waitFinished(executor, req.runId, 2);
  assert.equal(second.output, 'once\n');
});

test('a request from a term older than the newest seen is refused', () => {
  const executor = newExecutor();
  assert.equal(executor.execute(shellRequest('true', { term: 7 })), 'accepted');
  assert.equal(executor.execute(shellRequest('true', { term: 6 })), 'stale_term');
  assert.match(executor.lastRefusal ?? '', /term 6 is older than 7/);
  executor.observeTerm(9);
  assert.equal(executor.execute(shellRequest('true', { term: 8 })), 'stale_term');
  assert.equal(executor.execute(shellRequest('true', { term: 9 })), 'accepted');
  assert.equal(executor.execute({ ...shellRequest('true'), timeoutMs: -1 }), 'invalid');
});

test('no more runs than slots; a finished run frees its slot', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-exec-'));
  try {
    const executor = newExecutor({ slots: 2 });
    const gate = join(dir, 'gate');
    const waiting = `while [ ! -e ${gate} ]; do sleep 0.02; done`;
    const a = shellRequest(waiting);
    const b = shellRequest(waiting);
    assert.equal(executor.execute(a), 'accepted');
    assert.equal(executor.execute(b), 'accepted');
    assert.equal(executor.execute(shellRequest('true')), 'no_slot');
    assert.deepEqual(executor.running().map((r) => r.runId).sort(), [a.runId, b.runId].sort());
    writeFileSync(gate, '');
    await waitFinished(executor, a.runId);
    await waitFinished(executor, b.runId);
    assert.equal(executor.execute(shellRequest('true')), 'accepted');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notBefore in the future: the slot is held at once, the process starts at that instant', async () => {
  const timers = new ManualTimers(1_000_000);
  const executor = newExecutor({ slots: 1, now: timers.now, timers });
  const req = shellRequest('echo started', { notBeforeMs: 1_000_500 });
  assert.equal(executor.execute(req), 'accepted');
  assert.equal(executor.execute(shellRequest('true')), 'no_slot', 'the waiting run holds the slot');
  assert.deepEqual(executor.running(), [{ runId: req.runId, attempt: 1, jobId: 'job-a', startedAtMs: null }]);
  timers.advance(499);
  assert.equal(executor.pendingReports().length, 0, 'nothing started before notBefore');
  timers.advance(1);
  const started = await waitFor('started report', () => findReport(executor, req.runId, 'started'));
  assert.equal(started.atMs, 1_000_500);
  const report = await waitFinished(executor, req.runId);
  assert.equal(report.output, 'started\n');
});

test('a run waits for its instant on this node\'s clock and by the leader\'s distance to it: a node whose clock runs ahead does not start early', async () => {
  const timers = new ManualTimers(1_000_000);
  const executor = newExecutor({ slots: 2, now: timers.now, timers });
  // Our clock runs 800 ms ahead of the leader's: the instant has passed for us, not for it.
  const ahead = shellRequest('echo ahead', { notBeforeMs: 999_500, sentAtMs: 999_200 });
  // Our clock runs 400 ms behind the leader's: the leader is 301 ms from the instant, we are 701.
  const behind = shellRequest('echo behind', { notBeforeMs: 1_000_701, sentAtMs: 1_000_400 });
  assert.equal(executor.execute(ahead), 'accepted');
  assert.equal(executor.execute(behind), 'accepted');
  timers.advance(299);
  assert.equal(executor.pendingReports().length, 0, 'the instant lies 300 ms ahead for the leader');
  timers.advance(1);
  const started = await waitFor('started report', () => findReport(executor, ahead.runId, 'started'));
  assert.equal(started.atMs, 1_000_300);
  timers.advance(400);
  assert.equal(findReport(executor, behind.runId, 'started'), undefined, 'nor before the instant on our own clock');
  timers.advance(1);
  const second = await waitFor('started report', () => findReport(executor, behind.runId, 'started'));
  assert.equal(second.atMs, 1_000_701);
  await waitFinished(executor, ahead.runId);
  await waitFinished(executor, behind.runId);
});

test('a run killed while waiting for notBefore never starts', async () => {
  const timers = new ManualTimers(0);
  const executor = newExecutor({ now: timers.now, timers });
  const req = shellRequest('echo should-not-run', { notBeforeMs: 1_000 });
  assert.equal(executor.execute(req), 'accepted');
  assert.equal(executor.kill(req.runId, 'request'), 'killing');
  const report = await waitFinished(executor, req.runId);
  assert.equal(report.status, 'killed');
  assert.equal(report.output, '');
  assert.equal(findReport(executor, req.runId, 'started'), undefined);
  assert.equal(timers.pending, 0, 'the start timer is cancelled');
});

test('stop kills running runs, reports them killed, and refuses new work', async () => {
  const executor = newExecutor({ killGraceMs: 500 });
  const req = shellRequest('sleep 300');
  assert.equal(executor.execute(req), 'accepted');
  await waitFor('started', () => findReport(executor, req.runId, 'started'));
  await executor.stop({ killRunning: true });
  const report = findReport(executor, req.runId, 'finished');
  assert.equal(report?.kind === 'finished' && report.status, 'killed');
  assert.equal(executor.execute(shellRequest('true')), 'no_slot');
});
