// Reads one run's stored output from its start, chunk by chunk, on demand.
import { open, type FileHandle } from 'node:fs/promises';
import { OUTPUT_ORDER_READ_ENTRIES, OUTPUT_READ_CHUNK_BYTES } from './limits.js';
import type { OutputEntry } from './output-entry.js';
import { ORDER_ENTRY_BYTES, OUTPUT_FILES, readOrderEntry, type OrderSegment } from './output-format.js';
import type { OutputSelection, OutputStreamName } from './types.js';

/**
 * Why a reader ended: `ended` — the run ended and every stored byte was read; `caught_up` —
 * not following, every byte stored so far was read (the run may go on); `removed` — the
 * output was removed (or replaced) while being read; `closed` — the consumer or the store
 * closed it; `damaged` — the files do not hold what the index says (changed from outside the
 * store, or a disk error): what was read is all there is.
 */
export type OutputEndReason = 'ended' | 'caught_up' | 'removed' | 'closed' | 'damaged';

/** A read that found no bytes where the index or the committed sizes promised some. */
type Failed = 'removed' | 'damaged';

export interface OutputReadOptions {
  /** Default `both`. */
  readonly stream?: OutputSelection;
  /** Wait for new output while the run is live and end when it ends. Default false. */
  readonly follow?: boolean;
}

type FileName = OutputStreamName | 'order';
const FILE_NAMES: readonly FileName[] = ['stdout', 'stderr', 'order'];

/**
 * An async iterator of Buffer chunks. Nothing is read ahead: each `next()` reads at most one
 * chunk (≤ OUTPUT_READ_CHUNK_BYTES) from disk, so a consumer that stops asking costs the
 * node nothing but the open files — memory per reader is one order block
 * (OUTPUT_ORDER_READ_ENTRIES × 8 bytes) plus the chunk being handed over.
 * With `follow` it waits for the writer's next commit (no polling) and ends when the run
 * ends; `both` yields each stretch of one stream in the order it was written.
 */
export class OutputReader implements AsyncIterableIterator<Buffer> {
  endReason: OutputEndReason | null = null;
  private readonly files: Partial<Record<FileName, FileHandle>> = {};
  private readonly positions: Record<FileName, number> = { stdout: 0, stderr: 0, order: 0 };
  /** `both`: order entries read but not yet worked through, and the stretch being read. */
  private orderBlock: Buffer | null = null;
  private orderBlockOffset = 0;
  private segment: { stream: OutputStreamName; remainingBytes: number } | null = null;
  private wake: (() => void) | null = null;
  private closedOnce = false;
  /** next() calls are served one after another. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly entry: OutputEntry,
    readonly stream: OutputSelection,
    readonly follow: boolean,
    private readonly onClose: (reader: OutputReader) => void,
  ) {}

  get runId(): string {
    return this.entry.runId;
  }

  get attempt(): number {
    return this.entry.attempt;
  }

  /** Bytes this reader holds between calls: the unread part of its order block. */
  get heldBytes(): number {
    return this.orderBlock === null ? 0 : this.orderBlock.length - this.orderBlockOffset;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    const result = this.tail.then(() => this.read());
    this.tail = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorResult<Buffer>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Ends the reader and closes its files; a pending next() resolves as done. */
  async close(reason: OutputEndReason = 'closed'): Promise<void> {
    if (this.endReason === null) this.endReason = reason;
    this.orderBlock = null;
    this.segment = null;
    const wake = this.wake;
    if (wake !== null) {
      this.entry.removeWaiter(wake);
      this.wake = null;
      wake();
    }
    const files = Object.values(this.files);
    for (const name of FILE_NAMES) delete this.files[name];
    if (!this.closedOnce) {
      this.closedOnce = true;
      this.onClose(this);
    }
    await Promise.allSettled(files.map((file) => file.close()));
  }

  private async read(): Promise<IteratorResult<Buffer>> {
    for (;;) {
      if (this.endReason !== null) return { done: true, value: undefined };
      if (this.entry.removed) return this.finish('removed');
      // Read `live` before the sizes: once it is false the committed sizes are final.
      const live = this.entry.live;
      const committed = this.entry.committed;
      const chunk = this.stream === 'both' ? await this.readBoth() : await this.readStream(this.stream, committed[this.stream]);
      if (chunk === 'removed' || chunk === 'damaged') return this.finish(this.entry.removed ? 'removed' : chunk);
      if (chunk !== null) return { done: false, value: chunk };
      if (!live) return this.finish('ended');
      if (!this.follow) return this.finish('caught_up');
      // A commit that landed while this read was settling woke nobody: look again first.
      if (this.entry.committed !== committed || this.entry.live !== live || this.entry.removed) continue;
      await this.waitForChange();
    }
  }

  private async finish(reason: OutputEndReason): Promise<IteratorResult<Buffer>> {
    await this.close(reason);
    return { done: true, value: undefined };
  }

  private waitForChange(): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.wake = null;
        resolve();
      };
      this.wake = wake;
      this.entry.addWaiter(wake);
    });
  }

  /** The next chunk of one stream below `availableBytes`, null when there is none yet. */
  private async readStream(stream: OutputStreamName, availableBytes: number, segmentBytes = Number.POSITIVE_INFINITY): Promise<Buffer | null | Failed> {
    const position = this.positions[stream];
    const wanted = Math.min(OUTPUT_READ_CHUNK_BYTES, availableBytes - position, segmentBytes);
    if (wanted <= 0) return null;
    const data = await this.readAt(stream, position, wanted);
    if (typeof data === 'string') return data;
    this.positions[stream] += data.length;
    return data;
  }

  private async readBoth(): Promise<Buffer | null | Failed> {
    for (;;) {
      const segment = this.segment;
      if (segment !== null && segment.remainingBytes > 0) {
        const chunk = await this.readStream(segment.stream, this.entry.committed[segment.stream], segment.remainingBytes);
        // An order entry is committed after its data, so its bytes are there unless the
        // files were changed behind the store's back.
        if (chunk === null) return 'damaged';
        if (typeof chunk === 'string') return chunk;
        segment.remainingBytes -= chunk.length;
        return chunk;
      }
      this.segment = null;
      const next = this.nextOrderEntry();
      if (next === 'damaged') return next;
      if (next !== null) {
        this.segment = { stream: next.stream, remainingBytes: next.bytes };
        continue;
      }
      const loaded = await this.loadOrderBlock();
      if (loaded !== true) return loaded;
    }
  }

  private nextOrderEntry(): OrderSegment | null | 'damaged' {
    const block = this.orderBlock;
    if (block === null || this.orderBlockOffset >= block.length) return null;
    const entry = readOrderEntry(block, this.orderBlockOffset);
    if (entry === null) return 'damaged';
    this.orderBlockOffset += ORDER_ENTRY_BYTES;
    if (this.orderBlockOffset >= block.length) this.orderBlock = null;
    return entry;
  }

  /** true when a block of order entries was loaded; null when none is committed yet. */
  private async loadOrderBlock(): Promise<true | null | Failed> {
    const position = this.positions.order;
    const available = this.entry.committed.order - position;
    const wanted = Math.min(available - (available % ORDER_ENTRY_BYTES), OUTPUT_ORDER_READ_ENTRIES * ORDER_ENTRY_BYTES);
    if (wanted <= 0) return null;
    const block = await this.readAt('order', position, wanted);
    if (typeof block === 'string') return block;
    if (block.length % ORDER_ENTRY_BYTES !== 0) return 'damaged';
    this.positions.order += block.length;
    this.orderBlock = block;
    this.orderBlockOffset = 0;
    return true;
  }

  /** Reads up to `length` bytes; 'removed' when the file is gone, 'damaged' when it is shorter than committed. */
  private async readAt(name: FileName, position: number, length: number): Promise<Buffer | Failed> {
    let file = this.files[name];
    if (file === undefined) {
      try {
        file = await open(this.entry.file(OUTPUT_FILES[name]), 'r');
      } catch (error) {
        if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return 'removed';
        throw error;
      }
      if (this.endReason !== null) {
        await file.close();
        return 'removed';
      }
      this.files[name] = file;
    }
    // A fresh buffer per chunk: it is handed to the consumer, who may keep it.
    const buffer = Buffer.allocUnsafe(length);
    let bytesRead: number;
    try {
      ({ bytesRead } = await file.read(buffer, 0, length, position));
    } catch (error) {
      // Closed under the read (close() while a next() was in flight): the reader is over.
      if (this.endReason !== null) return 'removed';
      throw error;
    }
    if (bytesRead === 0) return 'damaged';
    return bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
  }
}
