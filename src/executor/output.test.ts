// Stored output through the executor: real shell processes and a local HTTP server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Executor } from './executor.js';
import { OUTPUT_FILES, storedOutputMarker } from './output-format.js';
import type { OutputReader, OutputReadOptions } from './output-reader.js';
import { ManualTimers, httpRequest, newExecutor, shellRequest, waitFinished, waitFor } from '../../test/support/executor-runs.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chime-output-'));
  dirs.push(dir);
  return dir;
}

/** A shell function that waits for a file the test creates: the handshake that orders writes. */
const WAIT_FOR = 'w() { while [ ! -e "$1" ]; do sleep 0.01; done; };';

async function openReader(executor: Executor, runId: string, options: OutputReadOptions, attempt?: number): Promise<OutputReader> {
  const opened = await executor.openOutput(runId, attempt, options);
  assert.ok(opened.ok, `output of ${runId}: ${opened.ok ? '' : opened.reason}`);
  return opened.reader;
}

async function readAll(executor: Executor, runId: string, stream: 'stdout' | 'stderr' | 'both'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await openReader(executor, runId, { stream })) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const held: { res: ServerResponse | null } = { res: null };
const server = createServer((req, res) => {
  if (req.url === '/split-secret') {
    // The secret's first half now, the rest when the test says so: two chunks for sure.
    res.writeHead(200, 'OK');
    res.write('body start, long enough: TOPSEC');
    held.res = res;
    return;
  }
  res.writeHead(200, 'OK').end('plain body');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

after(async () => {
  held.res?.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('output: 10 MiB of stdout and some stderr are stored byte for byte, streams apart and in order', async () => {
  const dir = tempDir();
  // A small write queue, so the pipes are paused and resumed all along (backpressure).
  const executor = newExecutor({ outputDir: join(dir, 'output'), limits: { runOutputBytesMax: 16 * 1024 * 1024, outputWriteQueueBytesMax: 4096 } });
  const expected = join(dir, 'expected');
  const req = shellRequest(`head -c 10485760 /dev/urandom | tee ${expected}; printf 'stderr at the end\\n' >&2`, { timeoutMs: 60_000 });
  assert.equal(executor.execute(req), 'accepted');
  const report = await waitFinished(executor, req.runId, 1, 60_000);
  assert.equal(report.status, 'succeeded');
  await waitFor('the output to be complete', () => !executor.isLive(req.runId, 1));
  const written = readFileSync(expected);
  assert.equal(written.length, 10 * 1024 * 1024);
  const stdout = await readAll(executor, req.runId, 'stdout');
  assert.equal(stdout.length, written.length);
  assert.equal(sha256(stdout), sha256(written));
  assert.equal((await readAll(executor, req.runId, 'stderr')).toString(), 'stderr at the end\n');
  // Across the two pipes `both` has the order of the executor's reads: with the pipes paused
  // and resumed, stderr's line may be read before stdout's last bytes (both were waiting in the
  // kernel). It is one piece at a chunk boundary; without it, both is stdout whole.
  const both = await readAll(executor, req.runId, 'both');
  assert.equal(both.length, written.length + 'stderr at the end\n'.length);
  const at = both.indexOf('stderr at the end\n');
  assert.ok(at >= 0);
  assert.equal(sha256(Buffer.concat([both.subarray(0, at), both.subarray(at + 'stderr at the end\n'.length)])), sha256(written));
  const info = executor.outputInfo(req.runId);
  assert.equal(info?.truncated, false);
  assert.equal(info?.stdoutBytes, written.length);
  const stats = executor.stats();
  assert.ok(stats.outputPausesTotal > 0, 'the pipes were paused while the disk caught up');
  assert.equal(stats.outputBytesWrittenTotal, both.length);
  assert.equal(stats.outputRunsStored, 1);
  assert.equal(report.output.length > 0 && report.outputTruncated, true, 'the report keeps its 64 KiB tail as before');
  await executor.stop({ killRunning: true });
});

test('output: both interleaves stdout and stderr in the order the run wrote them', async () => {
  const dir = tempDir();
  const executor = newExecutor({ outputDir: dir });
  const gate = (n: number): string => join(dir, `gate-${n}`);
  const req = shellRequest(`${WAIT_FOR} printf 'o1\\n'; w ${gate(1)}; printf 'e1\\n' >&2; w ${gate(2)}; printf 'o2\\n'; w ${gate(3)}; printf 'e2\\n' >&2`);
  assert.equal(executor.execute(req), 'accepted');
  const reader = await openReader(executor, req.runId, { stream: 'both', follow: true });
  const chunks: string[] = [];
  for await (const chunk of reader) {
    chunks.push(chunk.toString());
    // Each write is seen before the next one is allowed: the order is known.
    if (chunks.length <= 3) writeFileSync(gate(chunks.length), '');
  }
  assert.deepEqual(chunks, ['o1\n', 'e1\n', 'o2\n', 'e2\n']);
  assert.equal(reader.endReason, 'ended');
  assert.equal((await readAll(executor, req.runId, 'stdout')).toString(), 'o1\no2\n');
  assert.equal((await readAll(executor, req.runId, 'stderr')).toString(), 'e1\ne2\n');
  assert.equal((await waitFinished(executor, req.runId)).output, 'o1\ne1\no2\ne2\n');
  await executor.stop({ killRunning: true });
});

test('output: a follower sees output while the run runs and ends when the run ends', async () => {
  const dir = tempDir();
  const executor = newExecutor({ outputDir: dir });
  const gate = join(dir, 'gate');
  const req = shellRequest(`${WAIT_FOR} printf 'first\\n'; w ${gate}; printf 'second\\n'`);
  assert.equal(executor.execute(req), 'accepted');
  const reader = await openReader(executor, req.runId, { stream: 'stdout', follow: true });
  const first = await reader.next();
  assert.equal(first.value?.toString(), 'first\n');
  assert.equal(executor.isLive(req.runId, 1), true, 'seen while the run is live');
  assert.equal(executor.running().length, 1);
  writeFileSync(gate, '');
  const second = await reader.next();
  assert.equal(second.value?.toString(), 'second\n');
  assert.deepEqual(await reader.next(), { done: true, value: undefined });
  assert.equal(reader.endReason, 'ended');
  assert.equal(executor.isLive(req.runId, 1), false);
  assert.equal((await waitFinished(executor, req.runId)).status, 'succeeded');
  assert.equal(executor.stats().outputReaders, 0, 'a finished reader lets go');
  await executor.stop({ killRunning: true });
});

test('output: a follower that comes before the run starts waits for it (the output is live from acceptance)', async () => {
  const dir = tempDir();
  const timers = new ManualTimers(Date.now());
  const executor = newExecutor({ outputDir: dir, now: timers.now, timers });
  const req = shellRequest('echo at the instant', { notBeforeMs: timers.nowMs + 1_000 });
  assert.equal(executor.execute(req), 'accepted');
  const reader = await openReader(executor, req.runId, { stream: 'both', follow: true });
  assert.equal(executor.isLive(req.runId, 1), true);
  assert.equal(existsSync(join(dir, req.runId)), false, 'no files before there is output');
  const first = reader.next();
  timers.advance(1_000);
  assert.equal((await first).value?.toString(), 'at the instant\n');
  let ended = false;
  void reader.next().then((result) => { ended = result.done === true; });
  // The run's own timers (its group check) are virtual here: let them run until it ends.
  await waitFor('the reader to end with the run', () => {
    timers.advance(100);
    return ended;
  });
  assert.equal(reader.endReason, 'ended');
  await executor.stop({ killRunning: true });
});

test('output: past the per-run limit the file stops with a marker; the run is not killed and the tail goes on', async () => {
  const dir = tempDir();
  const runOutputBytesMax = 64 * 1024;
  const executor = newExecutor({ outputDir: dir, limits: { runOutputBytesMax } });
  const req = shellRequest(`head -c 1000000 /dev/zero | tr '\\0' 'a'; printf '\\nEND\\n'`);
  assert.equal(executor.execute(req), 'accepted');
  const report = await waitFinished(executor, req.runId);
  assert.equal(report.status, 'succeeded');
  assert.equal(report.exitCode, 0);
  assert.ok(report.output.endsWith('aaaa\nEND\n'), 'the tail saw everything to the end');
  await waitFor('the output to be complete', () => !executor.isLive(req.runId, 1));
  const stdout = (await readAll(executor, req.runId, 'stdout')).toString();
  const marker = storedOutputMarker('stdout', runOutputBytesMax);
  assert.ok(stdout.endsWith(marker));
  assert.match(stdout.slice(0, -marker.length), /^a+$/);
  assert.ok(stdout.length - marker.length <= runOutputBytesMax);
  const info = executor.outputInfo(req.runId, 1);
  assert.equal(info?.truncated, true);
  assert.equal((info?.stdoutBytes ?? 0) - Buffer.byteLength(marker) + (info?.droppedStdoutBytes ?? 0), 1_000_000 + '\nEND\n'.length);
  assert.equal(executor.stats().outputRunsTruncatedTotal, 1);
  await executor.stop({ killRunning: true });
});

test('output: a secret split across two chunks is masked in the tail, the files, both streams and nowhere kept', async () => {
  const dir = tempDir();
  const journalPath = join(dir, 'executor.journal');
  const executor = newExecutor({ outputDir: join(dir, 'output'), journalPath });
  const gate = join(dir, 'gate');
  const secret = 'TOPSECRET-123';
  const req = shellRequest(`${WAIT_FOR} printf 'line one is long enough\\nTOPSEC'; w ${gate}; printf 'RET-123 tail\\n'; printf 'err ${secret}\\n' >&2`, {
    maskValues: [secret],
  });
  assert.equal(executor.execute(req), 'accepted');
  const reader = await openReader(executor, req.runId, { stream: 'stdout', follow: true });
  let seen = '';
  for await (const chunk of reader) {
    seen += chunk.toString();
    // The first write was read on its own (its start reached the store) before the second.
    if (seen.includes('line one') && !existsSync(gate)) writeFileSync(gate, '');
  }
  assert.equal(seen, 'line one is long enough\n*** tail\n');
  const report = await waitFinished(executor, req.runId);
  assert.ok(!report.output.includes('TOPSEC') && report.output.includes('*** tail\n') && report.output.includes('err ***\n'), report.output);
  assert.equal((await readAll(executor, req.runId, 'stderr')).toString(), 'err ***\n');
  const both = (await readAll(executor, req.runId, 'both')).toString();
  assert.ok(both.includes('*** tail\n') && both.includes('err ***\n') && !both.includes('TOPSEC'));
  await executor.stop({ killRunning: true });
  const attemptDir = join(dir, 'output', req.runId, '1');
  for (const name of Object.values(OUTPUT_FILES)) assert.ok(!readFileSync(join(attemptDir, name), 'utf8').includes('TOPSEC'), `${name} holds no part of the secret`);
  assert.ok(!readFileSync(journalPath, 'utf8').includes('TOPSEC'), 'nor does the journal (it keeps the tail)');
});

test('output: an HTTP run stores no files (its answer is the tail of its report), masked there', async () => {
  const dir = tempDir();
  const executor = newExecutor({ outputDir: dir });
  const plain = httpRequest(`${base}/plain`);
  assert.equal(executor.execute(plain), 'accepted');
  assert.equal((await waitFinished(executor, plain.runId)).output, 'HTTP 200 OK\nplain body');
  assert.equal(executor.isLive(plain.runId, 1), false);
  assert.deepEqual(await executor.openOutput(plain.runId, 1, { stream: 'stdout' }), { ok: false, reason: 'not_found' });

  const req = httpRequest(`${base}/split-secret`, { maskValues: ['TOPSECRET-123'] });
  assert.equal(executor.execute(req), 'accepted');
  await waitFor('the body to start', () => held.res !== null);
  held.res?.end('RET-123 end');
  held.res = null;
  assert.equal((await waitFinished(executor, req.runId)).output, 'HTTP 200 OK\nbody start, long enough: *** end');
  await executor.stop({ killRunning: true });
});

test('output: removeOutput deletes a run\'s files; without outputDir nothing is stored', async () => {
  const dir = tempDir();
  const executor = newExecutor({ outputDir: dir });
  const req = shellRequest('echo kept for now');
  assert.equal(executor.execute(req), 'accepted');
  await waitFinished(executor, req.runId);
  await waitFor('the output to be complete', () => !executor.isLive(req.runId, 1));
  assert.deepEqual(executor.listOutputs().map((i) => i.runId), [req.runId]);
  assert.equal(await executor.removeOutput(req.runId), 1);
  assert.equal(existsSync(join(dir, req.runId)), false);
  const opened = await executor.openOutput(req.runId);
  assert.equal(opened.ok ? 'ok' : opened.reason, 'not_found');
  await executor.stop({ killRunning: true });

  const without = newExecutor();
  const other = shellRequest('echo tail only');
  assert.equal(without.execute(other), 'accepted');
  assert.equal((await waitFinished(without, other.runId)).output, 'tail only\n');
  const none = await without.openOutput(other.runId);
  assert.equal(none.ok ? 'ok' : none.reason, 'disabled');
  assert.equal(without.stats().outputRunsStored, 0);
});
