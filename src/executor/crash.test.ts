// A real crash: a child node process runs an Executor with a journal and is killed with
// SIGKILL while its run is in progress. The next executor on that journal must report it lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive, newExecutor, shellRequest, waitFor } from '../../test/support/executor-runs.js';

const executorModule = new URL('./index.js', import.meta.url).href;

test('kill -9 of the executor process: the accepted run is reported lost after restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-crash-'));
  const journalPath = join(dir, 'journal.jsonl');
  const pidFile = join(dir, 'job-pid');
  const req = shellRequest(`echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; exec sleep 300`, { term: 3 });
  const script = `
    const { Executor } = await import(${JSON.stringify(executorModule)});
    const executor = new Executor({ nodeId: 'n1', slots: 2, journalPath: ${JSON.stringify(journalPath)} });
    const result = executor.execute(${JSON.stringify(req)});
    process.stdout.write(result + '\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  let jobPid = 0;
  try {
    await waitFor('the child to accept the run', () => stdout.includes('\n'));
    assert.equal(stdout.trim(), 'accepted');
    await waitFor('the job to start', () => existsSync(pidFile));
    // The executor records the pid right after spawn; a crash before that line reports the
    // run lost without knowing its group (the window is inherent: a pid exists only after spawn).
    await waitFor('the journal to record the pid', () => readFileSync(journalPath, 'utf8').includes('"t":"pid"'));
    jobPid = Number(readFileSync(pidFile, 'utf8').trim());
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const restarted = newExecutor({ journalPath, nodeId: 'n1' });
    const pending = restarted.pendingReports();
    assert.equal(pending.length, 1);
    assert.equal(pending[0]?.kind, 'lost');
    assert.equal(pending[0]?.runId, req.runId);
    assert.match(pending[0]?.kind === 'lost' ? pending[0].error : '', /leftover process group was killed/);
    await waitFor('the orphaned job to be killed by the restart', () => !processAlive(jobPid), 5_000);
    assert.equal(restarted.execute(req), 'duplicate', 'the lost run is not executed again');
    await restarted.stop({ killRunning: true });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // The job's group outlives the executor process (it is detached); clean it up by pid.
    if (jobPid > 0 && processAlive(jobPid)) process.kill(-jobPid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 of the executor process: the run\'s half-written output is repaired and readable after restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-crash-'));
  const journalPath = join(dir, 'journal.jsonl');
  const outputDir = join(dir, 'output');
  const pidFile = join(dir, 'job-pid');
  const req = shellRequest(`echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; printf 'before the crash\\n'; printf 'on stderr\\n' >&2; exec sleep 300`, { term: 3 });
  const script = `
    const { Executor } = await import(${JSON.stringify(executorModule)});
    const executor = new Executor({ nodeId: 'n1', slots: 2, journalPath: ${JSON.stringify(journalPath)}, outputDir: ${JSON.stringify(outputDir)} });
    process.stdout.write(executor.execute(${JSON.stringify(req)}) + '\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  let jobPid = 0;
  try {
    await waitFor('the child to accept the run', () => stdout.includes('\n'));
    assert.equal(stdout.trim(), 'accepted');
    const attemptDir = join(outputDir, req.runId, '1');
    const stored = (name: string): Buffer => (existsSync(join(attemptDir, name)) ? readFileSync(join(attemptDir, name)) : Buffer.alloc(0));
    await waitFor('both streams on disk', () => stored('stdout').toString() === 'before the crash\n' && stored('stderr').toString() === 'on stderr\n' && stored('order').length === 16);
    await waitFor('the job to start', () => existsSync(pidFile));
    jobPid = Number(readFileSync(pidFile, 'utf8').trim());
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    assert.equal(existsSync(join(attemptDir, 'end.json')), false, 'the writer never finished');

    const restarted = newExecutor({ journalPath, outputDir, nodeId: 'n1' });
    await restarted.outputReady();
    assert.equal(restarted.pendingReports()[0]?.kind, 'lost');
    const info = restarted.outputInfo(req.runId, 1);
    assert.equal(info?.recovered, true);
    assert.equal(info?.live, false);
    const opened = await restarted.openOutput(req.runId, 1, { stream: 'both', follow: true });
    assert.ok(opened.ok);
    const chunks: Buffer[] = [];
    for await (const chunk of opened.reader) chunks.push(chunk);
    assert.equal(Buffer.concat(chunks).toString(), 'before the crash\non stderr\n', 'a follower of a recovered run ends at its end');
    assert.equal(restarted.stats().outputRunsRecoveredTotal, 1);
    await restarted.stop({ killRunning: true });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (jobPid > 0 && processAlive(jobPid)) process.kill(-jobPid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
