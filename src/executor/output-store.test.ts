// The output store on its own: writers fed by hand, readers, limits, removal, recovery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIMITS_DEFAULT, OUTPUT_READ_CHUNK_BYTES } from './limits.js';
import { OUTPUT_FILES, encodeEnd, encodeHeader, encodeOrderEntries, runDirName, storedOutputMarker } from './output-format.js';
import type { OutputReader } from './output-reader.js';
import { OutputStore, type OutputStoreOptions } from './output-store.js';
import type { RunOutputWriter } from './output-writer.js';
import { waitFor } from '../../test/support/executor-runs.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'chime-output-'));
}

function newStore(dir: string, options: Partial<OutputStoreOptions> = {}): OutputStore {
  return new OutputStore({
    dir, runBytesMax: LIMITS_DEFAULT.runOutputBytesMax, nodeBytesMax: LIMITS_DEFAULT.nodeOutputBytesMax, nodeRunsMax: LIMITS_DEFAULT.nodeOutputRunsMax,
    writeQueueBytesMax: LIMITS_DEFAULT.outputWriteQueueBytesMax, readersMax: LIMITS_DEFAULT.outputReadersMax, now: Date.now, ...options,
  });
}

function begin(store: OutputStore, runId: string, attempt = 1, jobId = 'job-a'): RunOutputWriter {
  const writer = store.begin({ runId, attempt, jobId });
  assert.ok(writer !== null);
  return writer;
}

async function openReader(store: OutputStore, runId: string, options: Parameters<OutputStore['open']>[2] = {}, attempt?: number): Promise<OutputReader> {
  const opened = await store.open(runId, attempt, options);
  assert.ok(opened.ok, `output of ${runId} can be opened`);
  return opened.reader;
}

async function readAll(reader: OutputReader): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of reader) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function readText(store: OutputStore, runId: string, stream: 'stdout' | 'stderr' | 'both', attempt?: number): Promise<string> {
  return (await readAll(await openReader(store, runId, { stream }, attempt))).toString();
}

test('store: stdout and stderr in their own files, both in the order written, sizes reported', async () => {
  const dir = tempDir();
  try {
    const store = newStore(dir);
    const writer = begin(store, 'r1');
    writer.write('stdout', Buffer.from('out-1 '));
    writer.write('stderr', Buffer.from('err-1 '));
    writer.write('stdout', Buffer.from('out-2 '));
    // A second batch, after the first is on disk.
    await waitFor('the first batch on disk', () => store.info('r1')?.stdoutBytes === 12);
    writer.write('stderr', Buffer.from('err-2 '));
    writer.write('stdout', Buffer.from('out-3'));
    assert.equal(store.isLive('r1', 1), true);
    writer.end();
    await writer.closed;
    assert.equal(store.isLive('r1', 1), false);
    assert.equal(await readText(store, 'r1', 'stdout'), 'out-1 out-2 out-3');
    assert.equal(await readText(store, 'r1', 'stderr'), 'err-1 err-2 ');
    assert.equal(await readText(store, 'r1', 'both'), 'out-1 err-1 out-2 err-2 out-3');
    const both = await openReader(store, 'r1');
    const pieces: string[] = [];
    for await (const chunk of both) pieces.push(chunk.toString());
    assert.deepEqual(pieces, ['out-1 ', 'err-1 ', 'out-2 ', 'err-2 ', 'out-3'], 'one chunk per stretch of one stream');
    assert.equal(both.endReason, 'ended');
    const info = store.info('r1', 1);
    assert.ok(info !== null);
    assert.equal(info.stdoutBytes, 17);
    assert.equal(info.stderrBytes, 12);
    assert.equal(info.live, false);
    assert.equal(info.truncated, false);
    const attemptDir = join(dir, 'r1', '1');
    assert.equal(readFileSync(join(attemptDir, OUTPUT_FILES.stdout), 'utf8'), 'out-1 out-2 out-3', 'the stdout file is the plain stream');
    assert.ok(existsSync(join(attemptDir, OUTPUT_FILES.end)));
    assert.equal(store.stats().outputBytesWrittenTotal, 29);
    assert.equal(store.stats().outputRunsStored, 1);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: a run id that is not a plain name gets a hashed directory; attempts are kept apart', async () => {
  const dir = tempDir();
  try {
    const store = newStore(dir);
    const odd = '../../etc/passwd';
    for (const attempt of [1, 2]) {
      const writer = begin(store, odd, attempt);
      writer.write('stdout', Buffer.from(`attempt ${attempt}`));
      writer.end();
      await writer.closed;
    }
    assert.match(runDirName(odd), /^~[0-9a-f]{64}$/);
    assert.ok(existsSync(join(dir, runDirName(odd), '2', OUTPUT_FILES.stdout)));
    assert.equal(await readText(store, odd, 'stdout'), 'attempt 2', 'the latest attempt by default');
    assert.equal(await readText(store, odd, 'stdout', 1), 'attempt 1');
    assert.equal((await store.open('other', undefined)).ok, false);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: following a live run sees each chunk promptly and ends when the run ends', async () => {
  const dir = tempDir();
  try {
    const store = newStore(dir);
    const writer = begin(store, 'live');
    const reader = await openReader(store, 'live', { stream: 'stdout', follow: true });
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const pending = reader.next();
      const writtenAt = performance.now();
      writer.write('stdout', Buffer.from(`line ${i}\n`));
      const result = await pending;
      latencies.push(performance.now() - writtenAt);
      assert.equal(result.done, false);
      assert.equal(result.value?.toString(), `line ${i}\n`);
    }
    // The readers are woken by the writer's commit, not by polling: well within 50 ms here.
    assert.ok(Math.max(...latencies) < 250, `latencies ${latencies.map((l) => l.toFixed(1)).join(', ')} ms`);
    const last = reader.next();
    writer.end();
    assert.deepEqual(await last, { done: true, value: undefined });
    assert.equal(reader.endReason, 'ended');
    // Without follow a reader of a live run stops where the output stands.
    const writer2 = begin(store, 'live2');
    writer2.write('stderr', Buffer.from('so far'));
    await waitFor('committed', () => store.info('live2')?.stderrBytes === 6);
    const snapshot = await openReader(store, 'live2', { stream: 'both' });
    assert.equal((await readAll(snapshot)).toString(), 'so far');
    assert.equal(snapshot.endReason, 'caught_up');
    writer2.end();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: a reader that does not read holds nothing; one that reads holds at most one chunk', async () => {
  const dir = tempDir();
  try {
    const store = newStore(dir);
    const writer = begin(store, 'big');
    const idle = await openReader(store, 'big', { stream: 'both', follow: true });
    const slow = await openReader(store, 'big', { stream: 'both', follow: true });
    const block = Buffer.alloc(64 * 1024, 'b');
    writer.write('stdout', block);
    const first = await slow.next();
    for (let i = 1; i < 64; i++) {
      // Respect the writer's backpressure as a pipe would.
      if (!writer.write(i % 2 === 0 ? 'stdout' : 'stderr', block)) await new Promise<void>((resolve) => { writer.onDrain = resolve; });
    }
    writer.end();
    await writer.closed;
    assert.equal(store.info('big')?.stdoutBytes, 32 * 64 * 1024);
    assert.equal(idle.heldBytes, 0, 'a reader that never asked read nothing');
    assert.ok(first.value !== undefined && first.value.length <= OUTPUT_READ_CHUNK_BYTES);
    assert.ok(slow.heldBytes <= 512 * 8, 'at most one block of order entries');
    let total = first.value?.length ?? 0;
    for await (const chunk of slow) {
      assert.ok(chunk.length <= OUTPUT_READ_CHUNK_BYTES);
      assert.ok(slow.heldBytes <= 512 * 8);
      total += chunk.length;
    }
    assert.equal(total, 64 * 64 * 1024);
    assert.equal(store.stats().outputReaders, 1, 'the idle reader is still open');
    await idle.close();
    assert.equal(store.stats().outputReaders, 0);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: the write queue is bounded: write() asks to pause at the bound and onDrain resumes', async () => {
  const dir = tempDir();
  try {
    const store = newStore(dir, { writeQueueBytesMax: 100_000 });
    const writer = begin(store, 'bp');
    let drained = 0;
    writer.onDrain = () => void drained++;
    assert.equal(writer.write('stdout', Buffer.alloc(60_000, 'a')), true);
    assert.equal(writer.write('stdout', Buffer.alloc(60_000, 'a')), false, 'over the bound: pause');
    assert.ok(writer.queuedBytes <= 120_000);
    await waitFor('drain', () => drained === 1);
    assert.ok(writer.queuedBytes < 100_000);
    assert.equal(store.stats().outputPausesTotal, 1);
    writer.end();
    await writer.closed;
    assert.equal(store.info('bp')?.stdoutBytes, 120_000);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: at the per-run limit the files stop growing, with one marker per cut stream', async () => {
  const dir = tempDir();
  try {
    const runBytesMax = 1_000;
    const store = newStore(dir, { runBytesMax });
    const writer = begin(store, 'cut');
    const data = Buffer.from(Array.from({ length: 300 }, (_, i) => `${i}\n`).join(''));
    writer.write('stderr', Buffer.from('early err\n'));
    for (let i = 0; i < data.length; i += 100) writer.write('stdout', data.subarray(i, i + 100));
    writer.write('stderr', Buffer.from('late err\n'));
    writer.end();
    await writer.closed;
    const info = store.info('cut');
    assert.ok(info !== null);
    assert.equal(info.truncated, true);
    const stdout = await readText(store, 'cut', 'stdout');
    const stdoutMarker = storedOutputMarker('stdout', runBytesMax);
    assert.ok(stdout.endsWith(stdoutMarker), stdout.slice(-120));
    const kept = stdout.slice(0, -stdoutMarker.length);
    assert.ok(data.toString().startsWith(kept), 'the stored part is the start of the stream');
    assert.equal(info.droppedStdoutBytes, data.length - kept.length);
    assert.equal(await readText(store, 'cut', 'stderr'), 'early err\n' + storedOutputMarker('stderr', runBytesMax));
    assert.equal(info.droppedStderrBytes, 'late err\n'.length);
    const orderBytes = readFileSync(join(dir, 'cut', '1', OUTPUT_FILES.order)).length;
    const markerBytes = Buffer.byteLength(stdoutMarker) + Buffer.byteLength(storedOutputMarker('stderr', runBytesMax));
    // Data and order entries within the limit; the markers (and at most their entries) on top.
    assert.ok(info.stdoutBytes + info.stderrBytes - markerBytes + orderBytes <= runBytesMax + 2 * 8);
    assert.equal(store.stats().outputRunsTruncatedTotal, 1);
    const both = await readText(store, 'cut', 'both');
    assert.ok(both.startsWith('early err\n0\n1\n'));
    assert.equal(both.length, stdout.length + 'early err\n'.length + storedOutputMarker('stderr', runBytesMax).length);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: over the node budget the oldest ended runs are dropped first, never a live one', async () => {
  const dir = tempDir();
  try {
    const store = newStore(dir, { nodeBytesMax: 2_500 });
    const live = begin(store, 'oldest-but-live');
    live.write('stdout', Buffer.alloc(1_000, 'l'));
    await waitFor('the live run on disk', () => store.info('oldest-but-live')?.stdoutBytes === 1_000);
    for (const runId of ['a', 'b', 'c']) {
      const writer = begin(store, runId);
      writer.write('stdout', Buffer.alloc(500, runId));
      writer.end();
      await writer.closed;
    }
    // live ≈ 1.1 KB, each ended run ≈ 0.8 KB: 'a' and then 'b' had to go.
    await waitFor('eviction', () => store.stats().outputRunsEvictedTotal === 2 && !existsSync(join(dir, 'b')));
    assert.deepEqual(store.list().map((i) => i.runId), ['oldest-but-live', 'c']);
    assert.equal(existsSync(join(dir, 'a')), false, 'its directory is gone');
    assert.ok(store.stats().outputBytesStored <= 2_500);
    assert.equal((await store.open('a', undefined)).ok, false);
    live.end();
    await store.close();

    const counted = newStore(join(dir, 'counted'), { nodeRunsMax: 2 });
    for (const runId of ['x', 'y', 'z']) {
      const writer = begin(counted, runId);
      writer.end();
      await writer.closed;
    }
    assert.deepEqual(counted.list().map((i) => i.runId), ['y', 'z']);
    await counted.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: removal on request ends a following reader and deletes the files, by run or by job', async () => {
  const dir = tempDir();
  try {
    const store = newStore(dir);
    const writer = begin(store, 'gone', 1, 'job-x');
    writer.write('stdout', Buffer.from('something'));
    const reader = await openReader(store, 'gone', { follow: true, stream: 'stdout' });
    assert.equal((await reader.next()).value?.toString(), 'something');
    const waiting = reader.next();
    assert.equal(await store.remove(['gone']), 1);
    assert.deepEqual(await waiting, { done: true, value: undefined });
    assert.equal(reader.endReason, 'removed');
    assert.equal(existsSync(join(dir, 'gone')), false);
    assert.equal(writer.write('stdout', Buffer.from('more')), true, 'the run goes on; nothing is stored');
    writer.end();
    for (const [runId, jobId] of [['j1', 'job-y'], ['j2', 'job-y'], ['k1', 'job-z']] as const) {
      const w = begin(store, runId, 1, jobId);
      w.end();
      await w.closed;
    }
    assert.equal(await store.removeJob('job-y'), 2);
    assert.deepEqual(store.list().map((i) => i.runId), ['k1']);
    assert.equal(await store.remove(['nothing-here']), 0);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: a write error stops storing but never stalls the run', async () => {
  const dir = tempDir();
  try {
    const store = newStore(dir, { writeQueueBytesMax: 10 });
    // A file where the run's directory should be: mkdir fails.
    writeFileSync(join(dir, 'blocked'), '');
    const writer = begin(store, 'blocked');
    let drained = false;
    writer.onDrain = () => { drained = true; };
    const paused = !writer.write('stdout', Buffer.alloc(100, 'x'));
    writer.end();
    await writer.closed;
    if (paused) assert.ok(drained, 'a paused source is released');
    const info = store.info('blocked');
    assert.ok(info !== null && info.writeError !== null, 'the error is recorded');
    assert.equal(info.droppedStdoutBytes, 100);
    assert.ok(store.stats().outputWriteErrorsTotal >= 1);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: recovery at startup repairs a half-written run, keeps a complete one and removes an unreadable one', async () => {
  const dir = tempDir();
  try {
    // Half-written: the writer died after some data; the index claims more stderr than the
    // file holds and ends in a torn entry.
    const half = join(dir, 'half', '1');
    mkdirSync(half, { recursive: true });
    writeFileSync(join(half, OUTPUT_FILES.header), encodeHeader({ runId: 'half', attempt: 1, jobId: 'j', createdAtMs: 2_000 }));
    writeFileSync(join(half, OUTPUT_FILES.stdout), 'hello world!!');
    writeFileSync(join(half, OUTPUT_FILES.stderr), 'oops');
    const order = encodeOrderEntries([{ stream: 'stdout', bytes: 6 }, { stream: 'stderr', bytes: 2 }, { stream: 'stdout', bytes: 5 }, { stream: 'stderr', bytes: 9 }, { stream: 'stdout', bytes: 3 }]);
    writeFileSync(join(half, OUTPUT_FILES.order), Buffer.concat([order, Buffer.from([1, 0, 0])]));
    // Complete: as a writer leaves it.
    const done = join(dir, 'done', '1');
    mkdirSync(done, { recursive: true });
    writeFileSync(join(done, OUTPUT_FILES.header), encodeHeader({ runId: 'done', attempt: 1, jobId: 'j', createdAtMs: 1_000 }));
    writeFileSync(join(done, OUTPUT_FILES.stdout), 'fine');
    writeFileSync(join(done, OUTPUT_FILES.stderr), '');
    writeFileSync(join(done, OUTPUT_FILES.order), encodeOrderEntries([{ stream: 'stdout', bytes: 4 }]));
    writeFileSync(join(done, OUTPUT_FILES.end), encodeEnd({
      endedAtMs: 1_500, stdoutBytes: 4, stderrBytes: 0, orderBytes: 8, truncated: false, droppedStdoutBytes: 0, droppedStderrBytes: 0, writeError: null, recovered: false,
    }));
    // Half-written after reaching the limit: the marker ends its stdout.
    const cut = join(dir, 'cut', '1');
    mkdirSync(cut, { recursive: true });
    const cutStdout = 'abc' + storedOutputMarker('stdout', 3);
    writeFileSync(join(cut, OUTPUT_FILES.header), encodeHeader({ runId: 'cut', attempt: 1, jobId: 'j', createdAtMs: 3_000 }));
    writeFileSync(join(cut, OUTPUT_FILES.stdout), cutStdout);
    writeFileSync(join(cut, OUTPUT_FILES.order), encodeOrderEntries([{ stream: 'stdout', bytes: Buffer.byteLength(cutStdout) }]));
    // Unreadable: no header; and a header that names another run.
    mkdirSync(join(dir, 'junk', '1'), { recursive: true });
    writeFileSync(join(dir, 'junk', '1', OUTPUT_FILES.stdout), 'who wrote this');
    mkdirSync(join(dir, 'liar', '1'), { recursive: true });
    writeFileSync(join(dir, 'liar', '1', OUTPUT_FILES.header), encodeHeader({ runId: 'someone-else', attempt: 1, jobId: 'j', createdAtMs: 0 }));

    const store = newStore(dir);
    await store.ready;
    assert.deepEqual(store.list().map((i) => [i.runId, i.recovered, i.truncated]), [['done', false, false], ['half', true, false], ['cut', true, true]], 'oldest first');
    assert.equal(await readText(store, 'cut', 'stdout'), cutStdout);
    assert.equal(await readText(store, 'done', 'both'), 'fine');
    assert.equal(await readText(store, 'half', 'both'), 'hello ooworldps', 'entries up to the first one the files do not back, clipped');
    assert.equal(await readText(store, 'half', 'stdout'), 'hello world', 'the data files are cut to what the index covers');
    assert.equal(await readText(store, 'half', 'stderr'), 'oops');
    assert.equal(readFileSync(join(half, OUTPUT_FILES.order)).length, 4 * 8);
    assert.ok(existsSync(join(half, OUTPUT_FILES.end)));
    assert.equal(existsSync(join(dir, 'junk')), false);
    assert.equal(existsSync(join(dir, 'liar')), false);
    assert.equal(store.stats().outputRunsRecoveredTotal, 2);
    await store.close();

    // A second start finds everything consistent and changes nothing.
    const again = newStore(dir);
    await again.ready;
    assert.equal(again.stats().outputRunsRecoveredTotal, 0);
    assert.equal(await readText(again, 'half', 'both'), 'hello ooworldps');
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
