// Writes one run's output to its files, off the event loop, with a bounded queue.
import assert from 'node:assert/strict';
import { mkdir, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import type { OutputEntry } from './output-entry.js';
import {
  ORDER_ENTRY_BYTES, ORDER_SEGMENT_BYTES_MAX, OUTPUT_FILES, OUTPUT_STREAMS, encodeEnd, encodeOrderEntries, storedOutputMarker,
  type OrderSegment,
} from './output-format.js';
import type { OutputStreamName } from './types.js';

export interface RunOutputWriterOptions {
  readonly runBytesMax: number;
  readonly queueBytesMax: number;
  readonly header: Buffer;
  readonly now: () => number;
}

/** How the writer reports to its store. */
export interface RunOutputWriterHooks {
  /** Runs `work` while nothing else touches this run's directory (the store's per-run lock). */
  exclusive(work: () => Promise<void>): Promise<void>;
  /** Bytes now on disk: `storedBytes` of every file, `dataBytes` of stdout and stderr. */
  committed(storedBytes: number, dataBytes: number): void;
  truncated(): void;
  writeFailed(): void;
  paused(): void;
}

interface QueuedChunk {
  readonly stream: OutputStreamName;
  readonly data: Buffer;
}

type Files = Record<OutputStreamName | 'order', FileHandle>;

/**
 * One run's output on its way to disk. `write` never blocks: it queues, and an async pump
 * writes whatever queued as one batch — each stream's bytes appended to its file, then one
 * order entry per stretch of one stream — and only then raises the entry's committed sizes,
 * so a reader never reads past what is written. Invariants:
 * - bytes accepted against the limit (data + order entries) ≤ `runBytesMax`; the markers
 *   (≤ one per stream) come on top;
 * - bytes queued or being written ≤ `queueBytesMax` + what arrives until the source is
 *   paused (`write` returns false from the bound on, `onDrain` says when to resume);
 * - a write error never stalls the run: the writer stops storing, un-pauses and records it.
 */
export class RunOutputWriter {
  /** Set by the source: called once it may resume after `write` returned false. */
  onDrain: (() => void) | null = null;
  readonly closed: Promise<void>;
  private resolveClosed: () => void = () => undefined;
  private queue: QueuedChunk[] = [];
  /** The stream of the last chunk in `queue`: the next chunk of it needs no new order entry. */
  private queueStream: OutputStreamName | null = null;
  private pendingBytes = 0;
  private acceptedBytes = 0;
  private paused = false;
  private pumping = false;
  private ending = false;
  private abandoned = false;
  private finalized = false;
  private failed = false;
  private files: Files | null = null;
  private offsets = { stdout: 0, stderr: 0, order: 0 };
  private readonly cut = new Set<OutputStreamName>();

  constructor(readonly entry: OutputEntry, private readonly options: RunOutputWriterOptions, private readonly hooks: RunOutputWriterHooks) {
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
    // Files are created with the first output (or at the end), not here: a writer begins when
    // the run is accepted, and a burst of accepts must not queue directory work on the thread
    // pool ahead of the journal's fsync that every start waits for.
  }

  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /** Queues a chunk; false asks the source to pause until `onDrain`. Never throws. */
  write(stream: OutputStreamName, chunk: Buffer): boolean {
    if (chunk.length === 0) return !this.paused;
    if (this.ending || this.abandoned) return true;
    if (this.failed || this.cut.has(stream)) {
      this.entry.droppedBytes[stream] += chunk.length;
      return true;
    }
    if (this.entry.truncated) {
      // The other stream reached the limit: this one stops too, with its own marker.
      this.cutStream(stream);
      this.entry.droppedBytes[stream] += chunk.length;
      return this.afterQueue();
    }
    const entryBytes = this.queueStream === stream ? 0 : ORDER_ENTRY_BYTES;
    const roomBytes = this.options.runBytesMax - this.acceptedBytes - entryBytes;
    if (chunk.length <= roomBytes) {
      this.enqueue(stream, chunk, entryBytes);
    } else {
      if (roomBytes > 0) this.enqueue(stream, chunk.subarray(0, roomBytes), entryBytes);
      this.entry.droppedBytes[stream] += chunk.length - Math.max(0, roomBytes);
      this.entry.truncated = true;
      this.hooks.truncated();
      this.cutStream(stream);
    }
    return this.afterQueue();
  }

  /** The run ended: write what is queued, then the end record, then close. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    void this.pump();
  }

  /** The output was removed: drop what is queued, write nothing more, close. */
  abandon(): void {
    this.abandoned = true;
    this.ending = true;
    this.dropQueue();
    void this.pump();
  }

  private enqueue(stream: OutputStreamName, data: Buffer, entryBytes: number): void {
    this.queue.push({ stream, data });
    this.queueStream = stream;
    this.pendingBytes += data.length;
    this.acceptedBytes += data.length + entryBytes;
    assert.ok(this.acceptedBytes <= this.options.runBytesMax, 'stored output stays within the run limit');
  }

  private cutStream(stream: OutputStreamName): void {
    this.cut.add(stream);
    const marker = Buffer.from(storedOutputMarker(stream, this.options.runBytesMax), 'utf8');
    // On top of the limit, like the tail's marker: at most one per stream.
    this.queue.push({ stream, data: marker });
    this.queueStream = stream;
    this.pendingBytes += marker.length;
  }

  private afterQueue(): boolean {
    void this.pump();
    if (!this.paused && this.pendingBytes >= this.options.queueBytesMax) {
      this.paused = true;
      this.hooks.paused();
    }
    return !this.paused;
  }

  private dropQueue(): void {
    this.queue = [];
    this.queueStream = null;
    this.pendingBytes = 0;
    this.maybeResume();
  }

  private maybeResume(): void {
    if (!this.paused || this.pendingBytes >= this.options.queueBytesMax) return;
    this.paused = false;
    this.onDrain?.();
  }

  /** The one loop that touches the files; at most one runs at a time. */
  private async pump(): Promise<void> {
    if (this.pumping || this.finalized) return;
    this.pumping = true;
    for (;;) {
      try {
        if (this.files === null && !this.abandoned && !this.failed && (this.queue.length > 0 || this.ending)) {
          await this.hooks.exclusive(() => this.openFiles());
          continue;
        }
        if (this.queue.length > 0 && !this.abandoned && !this.failed) {
          await this.writeBatch();
          continue;
        }
      } catch (error) {
        this.fail(error);
        continue;
      }
      if (this.ending) await this.finalize();
      break;
    }
    this.pumping = false;
  }

  private async openFiles(): Promise<void> {
    const entry = this.entry;
    // Whatever an earlier run with this (runId, attempt) left (its data was lost, the id came
    // again) belongs to no one now; the store already dropped it from its index.
    await rm(entry.dir, { recursive: true, force: true });
    await mkdir(entry.dir, { recursive: true });
    await writeFile(entry.file(OUTPUT_FILES.header), this.options.header, { flag: 'wx' });
    const opened: FileHandle[] = [];
    try {
      for (const name of [OUTPUT_FILES.stdout, OUTPUT_FILES.stderr, OUTPUT_FILES.order]) opened.push(await open(entry.file(name), 'wx'));
    } catch (error) {
      await Promise.allSettled(opened.map((file) => file.close()));
      throw error;
    }
    const [stdout, stderr, order] = opened;
    assert.ok(stdout !== undefined && stderr !== undefined && order !== undefined);
    this.files = { stdout, stderr, order };
    this.hooks.committed(this.options.header.length, 0);
  }

  private async writeBatch(): Promise<void> {
    const files = this.files;
    assert.ok(files !== null, 'files are open before a batch is written');
    const batch = this.queue;
    this.queue = [];
    this.queueStream = null;
    const segments = coalesce(batch);
    const batchBytes = segments.reduce((sum, s) => sum + s.bytes, 0);
    const byStream: Record<OutputStreamName, Buffer[]> = { stdout: [], stderr: [] };
    for (const chunk of batch) byStream[chunk.stream].push(chunk.data);
    // Data before the order entries that describe it: a reader trusting the index (and a
    // recovery after a crash) never finds an entry whose bytes are not there.
    const writes = OUTPUT_STREAMS.filter((s) => byStream[s].length > 0).map(async (s) => {
      const data = byStream[s].length === 1 ? byStream[s][0] ?? Buffer.alloc(0) : Buffer.concat(byStream[s]);
      await writeAll(files[s], data, this.offsets[s]);
      return { stream: s, bytes: data.length };
    });
    const results = await Promise.allSettled(writes);
    for (const result of results) if (result.status === 'rejected') throw result.reason;
    for (const result of results) if (result.status === 'fulfilled') this.offsets[result.value.stream] += result.value.bytes;
    const index = encodeOrderEntries(segments);
    await writeAll(files.order, index, this.offsets.order);
    this.offsets.order += index.length;
    this.entry.advance({ ...this.offsets });
    this.hooks.committed(batchBytes + index.length, batchBytes);
    this.entry.notify();
    this.pendingBytes -= batchBytes;
    this.maybeResume();
  }

  private fail(error: unknown): void {
    this.failed = true;
    this.entry.writeError ??= error instanceof Error ? error.message : String(error);
    for (const chunk of this.queue) this.entry.droppedBytes[chunk.stream] += chunk.data.length;
    this.hooks.writeFailed();
    this.dropQueue();
    // A batch that failed half-way left its bytes counted as pending.
    this.pendingBytes = 0;
    this.maybeResume();
  }

  private async finalize(): Promise<void> {
    this.finalized = true;
    const entry = this.entry;
    entry.endedAtMs = this.options.now();
    const files = this.files;
    if (files !== null && !this.abandoned) {
      const end = encodeEnd({
        endedAtMs: entry.endedAtMs, stdoutBytes: entry.committed.stdout, stderrBytes: entry.committed.stderr, orderBytes: entry.committed.order,
        truncated: entry.truncated, droppedStdoutBytes: entry.droppedBytes.stdout, droppedStderrBytes: entry.droppedBytes.stderr,
        writeError: entry.writeError, recovered: false,
      });
      try {
        await writeFile(entry.file(OUTPUT_FILES.end), end);
        this.hooks.committed(end.length, 0);
      } catch (error) {
        // Without its end record the run is repaired on the next start; nothing is lost now.
        entry.writeError ??= error instanceof Error ? error.message : String(error);
        this.hooks.writeFailed();
      }
    }
    if (files !== null) await Promise.allSettled([files.stdout.close(), files.stderr.close(), files.order.close()]);
    entry.live = false;
    entry.notify();
    this.resolveClosed();
  }
}

/** One order entry per stretch of one stream in the batch (the limit charged them that way). */
function coalesce(batch: readonly QueuedChunk[]): OrderSegment[] {
  const segments: { stream: OutputStreamName; bytes: number }[] = [];
  for (const chunk of batch) {
    const last = segments.at(-1);
    if (last !== undefined && last.stream === chunk.stream) last.bytes += chunk.data.length;
    else segments.push({ stream: chunk.stream, bytes: chunk.data.length });
  }
  for (const segment of segments) assert.ok(segment.bytes <= ORDER_SEGMENT_BYTES_MAX, 'a batch stays far below 4 GiB');
  return segments;
}

async function writeAll(file: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await file.write(data, written, data.length - written, position + written);
    if (bytesWritten <= 0) throw new Error('the disk took no bytes');
    written += bytesWritten;
  }
}
