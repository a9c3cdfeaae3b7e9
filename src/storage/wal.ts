import assert from 'node:assert/strict';
import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, write, writeSync, writevSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Entry, HardState } from '../raft/index.js';
import type { LogStart } from './codec.js';
import { ChimeError } from '../errors/index.js';
import { syncDir } from './sync-dir.js';
import { encodeRecord, readFrame, type WalRecord } from './wal-record.js';
import { replayRecord, walLastIndex, walTerm, type WalLog } from './wal-replay.js';

const fdatasyncAsync = promisify(fdatasync);
const writeAsync = promisify(write);

export interface WalOptions {
  /** A segment is closed and a new one started once it holds this much (default 64 MiB). */
  readonly segmentBytes?: number;
  /** Zeros written ahead of the write position, in steps of this size (default 4 MiB). */
  readonly preallocateBytes?: number;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  /** Where the log stood when the segment was opened. */
  readonly start: LogStart;
}

const SEGMENT_SUFFIX = '.wal';
/** Small enough that compaction frees space (and a restart rereads) in modest steps. */
const SEGMENT_BYTES_DEFAULT = 16 << 20;
const PREALLOCATE_BYTES_DEFAULT = 4 << 20;
/** A new segment starts with this much zeroed synchronously; the rest is filled in the background. */
const INITIAL_ZEROS_BYTES_MAX = 256 << 10;
const ZEROS = Buffer.alloc(1 << 20);

function segmentName(seq: number): string {
  return `${seq.toString(16).padStart(16, '0')}${SEGMENT_SUFFIX}`;
}

/**
 * The Raft log's write-ahead log: append-only segment files of checksummed records, written
 * in place into space filled with zeros ahead of time, so a synced append costs one
 * fdatasync of data blocks and no file-size change. The file layer only: what the records
 * mean is replayRecord's business, when to sync is the caller's.
 */
export class Wal {
  private fd: number;
  private offset: number;
  private allocated: number;
  /** Records written after the current segment's header. */
  private recordsInSegment = 0;
  private extending: Promise<void> | null = null;
  private lastIndex: number;
  private lastTerm: number;
  private hardState: HardState | null;
  private readonly segmentBytes: number;
  private readonly preallocateBytes: number;

  private constructor(
    private readonly dir: string,
    private readonly segments: Segment[],
    tail: { fd: number; offset: number; allocated: number },
    log: WalLog,
    options: WalOptions,
  ) {
    this.fd = tail.fd;
    this.offset = tail.offset;
    this.allocated = tail.allocated;
    this.lastIndex = walLastIndex(log);
    this.lastTerm = walTerm(log, this.lastIndex) ?? 0;
    this.hardState = log.hardState;
    this.segmentBytes = options.segmentBytes ?? SEGMENT_BYTES_DEFAULT;
    this.preallocateBytes = options.preallocateBytes ?? PREALLOCATE_BYTES_DEFAULT;
    assert.ok(this.segmentBytes >= 4096 && this.preallocateBytes >= 4096, 'segment and preallocation sizes are at least 4 KiB');
  }

  /**
   * Opens the log in `dir`, replaying every segment; a torn record at the end of the last
   * segment (a write cut short by a crash) is cut off. With no segments yet, the log is
   * created to start after `fresh`.
   */
  static open(dir: string, fresh: LogStart, options: WalOptions = {}): { wal: Wal; log: WalLog; created: boolean } {
    mkdirSync(dir, { recursive: true });
    const names = readdirSync(dir);
    for (const name of names) if (name.endsWith('.tmp')) unlinkSync(join(dir, name));
    const seqs = names.filter((name) => name.endsWith(SEGMENT_SUFFIX)).map((name) => Number.parseInt(name, 16)).sort((a, b) => a - b);
    if (seqs.length === 0) {
      const log: WalLog = { start: fresh, entries: [], hardState: null, lastReset: null };
      const segment = createSegment(dir, 1, { start: { ...fresh, reset: true } }, options.preallocateBytes ?? PREALLOCATE_BYTES_DEFAULT);
      return { wal: new Wal(dir, [segment.segment], segment, log, options), log, created: true };
    }
    let log: WalLog | null = null;
    const segments: Segment[] = [];
    let tail = { fd: -1, offset: 0, allocated: 0 };
    for (const [i, seq] of seqs.entries()) {
      const path = join(dir, segmentName(seq));
      const bytes = readFileSync(path);
      const isLast = i === seqs.length - 1;
      let offset = 0;
      let start: LogStart | null = null;
      for (;;) {
        const frame = readFrame(bytes, offset, path);
        if (frame.kind === 'end') break;
        if (frame.kind === 'damaged') {
          // Only the last write can be torn, and nothing follows a torn write; damage with
          // data after it lost records that were acknowledged.
          if (!isLast || start === null || !isZero(bytes.subarray(Math.min(frame.claimedEnd, bytes.length)))) {
            throw new ChimeError('CORRUPT', `${path} at ${offset}: ${frame.reason}`);
          }
          break;
        }
        if (start === null) {
          if (frame.record.start === undefined) throw new ChimeError('CORRUPT', `${path} does not open with a segment header`);
          start = frame.record.start;
        } else if (frame.record.start !== undefined) {
          throw new ChimeError('CORRUPT', `${path} at ${offset}: a segment header inside a segment`);
        }
        log = replayRecord(log, frame.record, `${path} at ${offset}`);
        offset = frame.next;
      }
      if (start === null || log === null) throw new ChimeError('CORRUPT', `${path} holds no segment header`);
      segments.push({ seq, path, start });
      if (isLast) tail = openTail(path, bytes, offset);
    }
    assert.ok(log !== null);
    return { wal: new Wal(dir, segments, tail, log, options), log, created: false };
  }

  /** Writes one record after the previous ones; resolves once it is on disk if `sync`. */
  async append(record: { hardState?: HardState; entries?: readonly Entry[] }, sync: boolean): Promise<number> {
    const { header, payload } = encodeRecord(record);
    const bytes = header.length + payload.length;
    if (this.offset + bytes > this.segmentBytes && this.recordsInSegment > 0) await this.roll({ index: this.lastIndex, term: this.lastTerm }, false);
    if (this.offset + bytes > this.allocated && this.extending !== null) await this.extending;
    writevSync(this.fd, [header, payload], this.offset);
    this.offset += bytes;
    this.recordsInSegment += 1;
    this.note(record);
    this.preallocate();
    if (sync) await fdatasyncAsync(this.fd);
    return bytes;
  }

  /**
   * Replaces the whole log by one that starts after `start` (a snapshot from the leader),
   * with `entries` after it, in one record; then deletes every older segment. Durable when
   * it resolves.
   */
  async reset(start: LogStart, hardState: HardState, entries: readonly Entry[]): Promise<number> {
    this.hardState = hardState;
    const bytes = await this.roll(start, true, entries);
    const last = entries.at(-1);
    this.lastIndex = last?.index ?? start.index;
    this.lastTerm = last?.term ?? start.term;
    this.removeSegments(this.segments.length - 1);
    return bytes;
  }

  /** Deletes the segments that hold only entries up to `index` (compacted away). */
  release(index: number): void {
    let keepFrom = 0;
    this.segments.forEach((segment, i) => {
      if (i > 0 && segment.start.index <= index) keepFrom = i;
    });
    if (keepFrom > 0) this.removeSegments(keepFrom);
  }

  async close(): Promise<void> {
    if (this.extending !== null) await this.extending;
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private note(record: { hardState?: HardState; entries?: readonly Entry[] }): void {
    const last = record.entries?.at(-1);
    if (last !== undefined) {
      this.lastIndex = last.index;
      this.lastTerm = last.term;
    }
    if (record.hardState !== undefined) this.hardState = record.hardState;
  }

  /** Starts a new segment whose header carries where the log stands and the hard state. */
  private async roll(start: LogStart, reset: boolean, entries: readonly Entry[] = []): Promise<number> {
    if (this.extending !== null) await this.extending;
    const last = this.segments.at(-1);
    const seq = (last?.seq ?? 0) + 1;
    const header: WalRecord = { start: { ...start, reset }, entries, ...(this.hardState === null ? {} : { hardState: this.hardState }) };
    const next = createSegment(this.dir, seq, header, this.preallocateBytes);
    await fdatasyncAsync(this.fd);
    closeSync(this.fd);
    this.segments.push(next.segment);
    this.fd = next.fd;
    this.offset = next.offset;
    this.allocated = next.allocated;
    this.recordsInSegment = 0;
    return next.offset;
  }

  private removeSegments(keepFrom: number): void {
    const gone = this.segments.splice(0, keepFrom);
    for (const segment of gone) unlinkSync(segment.path);
    if (gone.length > 0) syncDir(this.dir);
  }

  /** Keeps zeros ahead of the write position so appends rarely change the file size. */
  private preallocate(): void {
    if (this.extending !== null || this.allocated - this.offset > this.preallocateBytes / 2) return;
    const fd = this.fd;
    // A record larger than the space ahead went past `allocated`; never zero over it.
    const from = Math.max(this.allocated, this.offset);
    const extend = async (): Promise<void> => {
      for (let at = from; at < from + this.preallocateBytes; at += ZEROS.length) {
        await writeAsync(fd, ZEROS, 0, Math.min(ZEROS.length, from + this.preallocateBytes - at), at);
      }
    };
    this.extending = extend().then(() => {
      if (this.fd === fd) this.allocated = from + this.preallocateBytes;
      this.extending = null;
    });
  }
}


/**
 * A new segment appears complete or not at all: header and zeros go to a temporary file,
 * which is synced and then renamed.
 */
function createSegment(dir: string, seq: number, header: WalRecord, preallocateBytes: number): { segment: Segment; fd: number; offset: number; allocated: number } {
  assert.ok(header.start !== undefined, 'a segment opens with its start');
  const path = join(dir, segmentName(seq));
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w+');
  const { header: frame, payload } = encodeRecord(header);
  const offset = frame.length + payload.length;
  // Rolling over happens on the write path: zero only a little here, preallocate() the rest.
  const zeros = Math.min(preallocateBytes, INITIAL_ZEROS_BYTES_MAX);
  for (let at = 0; at < zeros; at += ZEROS.length) writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, zeros - at), at);
  writevSync(fd, [frame, payload], 0);
  fsyncSync(fd);
  renameSync(temporary, path);
  syncDir(dir);
  return { segment: { seq, path, start: { index: header.start.index, term: header.start.term } }, fd, offset, allocated: Math.max(zeros, offset) };
}

/** Opens the last segment for appending at `end`; bytes after a torn record are cleared. */
function openTail(path: string, bytes: Buffer, end: number): { fd: number; offset: number; allocated: number } {
  const fd = openSync(path, 'r+');
  if (!isZero(bytes.subarray(end))) {
    ftruncateSync(fd, end);
    fsyncSync(fd);
    return { fd, offset: end, allocated: end };
  }
  return { fd, offset: end, allocated: bytes.length };
}

function isZero(bytes: Buffer): boolean {
  for (let at = 0; at < bytes.length; at += ZEROS.length) {
    const chunk = bytes.subarray(at, at + ZEROS.length);
    if (!chunk.equals(ZEROS.subarray(0, chunk.length))) return false;
  }
  return true;
}
