// The journal file: append-only JSON lines, rewritten whole when it grows (compaction).
import assert from 'node:assert/strict';
import { closeSync, fsync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeRecord, replay, type JournalRecord, type Replay } from './journal-records.js';

/** A journal larger than this is not a journal this code wrote under its bounds. */
const JOURNAL_READ_BYTES_MAX = 512 * 1024 * 1024;

export class JournalFile {
  private fd: number | null;
  private sizeBytes: number;
  private compactAtBytes: number;
  /** After a failed write the file may end in a partial line; the next record starts afresh. */
  private tailMayBeTorn = false;
  /** A group fsync runs on the thread pool; callers waiting for the next one queue here. */
  private syncing = false;
  private syncWaiters: ((error: Error | null) => void)[] = [];
  /** A descriptor replaced (rewrite, close) while an fsync on it was in flight; closed after. */
  private closeAfterSync: number | null = null;
  /**
   * Buffered lines not yet written: one write per event-loop turn (or before the next sync)
   * instead of one per record. They count in `bytes`; a failed write is reported to the next
   * sync's waiters.
   */
  private buffered: string[] = [];
  private flushScheduled = false;
  private flushError: Error | null = null;

  private constructor(readonly path: string, private readonly compactBytes: number, fd: number, sizeBytes: number) {
    this.fd = fd;
    this.sizeBytes = sizeBytes;
    this.compactAtBytes = Math.max(compactBytes, 2 * sizeBytes);
  }

  /** Reads what a previous process left, then opens the file for appending. */
  static open(path: string, compactBytes: number): { journal: JournalFile; replayed: Replay } {
    mkdirSync(dirname(path), { recursive: true });
    let text = '';
    try {
      const size = statSync(path).size;
      if (size > JOURNAL_READ_BYTES_MAX) throw new Error(`executor journal ${path} is ${size} bytes, larger than ${JOURNAL_READ_BYTES_MAX}`);
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if (!(error instanceof Error && 'code' in error && error.code === 'ENOENT')) throw error;
    }
    const fd = openSync(path, 'a');
    // A crash mid-write leaves a partial last line; the first append must not extend it.
    // (The executor rewrites the file right after recovery, which also removes it.)
    return { journal: new JournalFile(path, compactBytes, fd, Buffer.byteLength(text)), replayed: replay(text) };
  }

  get bytes(): number {
    return this.sizeBytes;
  }

  get open(): boolean {
    return this.fd !== null;
  }

  /**
   * Throws on an I/O error; with `sync` the record is on disk when this returns. A `buffered`
   * record is written at the end of this event-loop turn or before the next sync, whichever
   * comes first (a crash of the process in between loses it: only for records whose loss is
   * harmless or that are synced before anything depends on them).
   */
  append(record: JournalRecord, sync: boolean, buffered = false): void {
    assert.ok(this.fd !== null, 'journal is closed');
    if (buffered && !sync) {
      const text = encodeRecord(record);
      this.buffered.push(text);
      this.sizeBytes += Buffer.byteLength(text);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushBuffered());
      }
      return;
    }
    const failed = this.flushBuffered();
    if (failed !== null) throw failed;
    const line = Buffer.from((this.tailMayBeTorn ? '\n' : '') + encodeRecord(record), 'utf8');
    let written = 0;
    try {
      while (written < line.length) written += writeSync(this.fd, line, written);
      if (sync) fsyncSync(this.fd);
    } catch (error) {
      this.tailMayBeTorn = true;
      this.sizeBytes += written;
      throw error;
    }
    this.tailMayBeTorn = false;
    this.sizeBytes += line.length;
  }

  /**
   * Calls `done` once every record appended so far is on disk. One fsync, off the event loop,
   * covers every record appended before it starts (group commit): a synchronous fsync per
   * record blocked the loop ~30 ms per run on a slow disk. The waiters are bounded by the
   * records the caller appends (one per accepted run and one per ended run).
   */
  syncSoon(done: (error: Error | null) => void): void {
    assert.ok(this.fd !== null, 'journal is closed');
    this.syncWaiters.push(done);
    if (!this.syncing) this.startSync();
  }

  /** Writes the buffered lines; an error is kept for the next sync's waiters (and returned). */
  private flushBuffered(): Error | null {
    this.flushScheduled = false;
    if (this.buffered.length === 0 || this.fd === null) return null;
    const bytes = Buffer.from((this.tailMayBeTorn ? '\n' : '') + this.buffered.join(''), 'utf8');
    this.buffered = [];
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(this.fd, bytes, written);
      this.tailMayBeTorn = false;
      return null;
    } catch (error) {
      this.tailMayBeTorn = true;
      this.flushError = error instanceof Error ? error : new Error(String(error));
      return this.flushError;
    }
  }

  private startSync(): void {
    const fd = this.fd;
    assert.ok(fd !== null);
    this.flushBuffered();
    const flushError = this.flushError;
    this.flushError = null;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    this.syncing = true;
    fsync(fd, (syncError) => {
      const error = flushError ?? syncError;
      this.syncing = false;
      if (this.closeAfterSync !== null) {
        closeSync(this.closeAfterSync);
        this.closeAfterSync = null;
      }
      for (const waiter of waiters) waiter(error);
      if (this.syncWaiters.length > 0 && this.fd !== null) this.startSync();
    });
  }

  /** A synchronous sync (rewrite, close) made everything durable: release the queued waiters. */
  private releaseWaiters(): void {
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    if (waiters.length > 0) queueMicrotask(() => waiters.forEach((waiter) => waiter(null)));
  }

  private retire(fd: number): void {
    if (this.syncing) this.closeAfterSync = fd;
    else closeSync(fd);
  }

  needsCompaction(): boolean {
    return this.sizeBytes > this.compactAtBytes;
  }

  /**
   * Replaces the file with `records` atomically: a synced temporary file renamed over the
   * old one, then the directory synced, so a crash leaves either the old or the new journal.
   */
  rewrite(records: Iterable<JournalRecord>): void {
    assert.ok(this.fd !== null, 'journal is closed');
    // The new file is written from memory, which already reflects the buffered records.
    this.buffered = [];
    this.flushError = null;
    const temporary = `${this.path}.compact`;
    const fd = openSync(temporary, 'w');
    let size = 0;
    try {
      for (const record of records) {
        const line = Buffer.from(encodeRecord(record), 'utf8');
        let written = 0;
        while (written < line.length) written += writeSync(fd, line, written);
        size += line.length;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.path);
    syncDirectory(dirname(this.path));
    // An fsync in flight was for the old file; the new one already holds its records, synced.
    if (this.closeAfterSync !== null) closeSync(this.fd);
    else this.retire(this.fd);
    this.fd = openSync(this.path, 'a');
    this.releaseWaiters();
    this.tailMayBeTorn = false;
    this.sizeBytes = size;
    this.compactAtBytes = Math.max(this.compactBytes, 2 * size);
  }

  close(): void {
    if (this.fd === null) return;
    const unsynced = this.buffered.length > 0 || this.syncWaiters.length > 0;
    this.flushBuffered();
    if (unsynced) fsyncSync(this.fd);
    this.releaseWaiters();
    if (this.closeAfterSync !== null) closeSync(this.fd);
    else this.retire(this.fd);
    this.fd = null;
  }
}

function syncDirectory(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
