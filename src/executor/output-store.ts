// Every run's full stdout and stderr on this node's disk: writers, readers, limits, removal.
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OutputEntry, type OutputInfo } from './output-entry.js';
import { encodeHeader, runDirName } from './output-format.js';
import { OutputReader, type OutputReadOptions } from './output-reader.js';
import { recoverRunDir } from './output-recovery.js';
import { RunOutputWriter } from './output-writer.js';
import { runKey } from './run-key.js';

export interface OutputStoreOptions {
  readonly dir: string;
  readonly runBytesMax: number;
  readonly nodeBytesMax: number;
  readonly nodeRunsMax: number;
  readonly writeQueueBytesMax: number;
  readonly readersMax: number;
  readonly now: () => number;
}

export type OpenOutputResult =
  | { readonly ok: true; readonly reader: OutputReader }
  /** `not_found`: no output of that run here; `readers_full`: outputReadersMax readers are open; `disabled`: no outputDir. */
  | { readonly ok: false; readonly reason: 'not_found' | 'readers_full' | 'disabled' };

/** Gauges and counters (monotonic, `Total`) for metrics. */
export interface OutputStats {
  readonly outputRunsStored: number;
  readonly outputFilesStored: number;
  readonly outputBytesStored: number;
  readonly outputReaders: number;
  readonly outputBytesWrittenTotal: number;
  readonly outputRunsTruncatedTotal: number;
  readonly outputRunsEvictedTotal: number;
  readonly outputRunsRecoveredTotal: number;
  readonly outputWriteErrorsTotal: number;
  /** Times a run's source was paused because its write queue was full (backpressure). */
  readonly outputPausesTotal: number;
}

/** Files per attempt: header, stdout, stderr, order, and end once it ended. */
const FILES_PER_LIVE_RUN = 4;

/**
 * The store. One directory per run, one per attempt inside it (output-format.ts). In memory
 * it keeps one entry per stored attempt, oldest first, at most `nodeRunsMax` (+ live runs).
 *
 * Invariants:
 * - each attempt has at most one writer, and nothing else touches its directory while that
 *   writer opens it; opening, removal and startup recovery of a run's directory are serialized
 *   by one lock per run directory;
 * - `storedBytes` is the sum of the entries' bytes; once `ready`, whenever it exceeds
 *   `nodeBytesMax` (or the entries exceed `nodeRunsMax`) the oldest ended runs are evicted
 *   until it does not — live runs are never evicted, so the disk holds at most
 *   max(nodeBytesMax, live runs × (runBytesMax + markers)) plus one run's overshoot;
 * - readers ≤ `readersMax`, each holding at most one order block and one chunk.
 */
export class OutputStore {
  /** Resolves once the runs an earlier process left have been recovered and counted. */
  readonly ready: Promise<void>;
  private readonly entries = new Map<string, OutputEntry>();
  private readonly attempts = new Map<string, Set<OutputEntry>>();
  private readonly writers = new Map<OutputEntry, RunOutputWriter>();
  private readonly readers = new Set<OutputReader>();
  private readonly locks = new Map<string, Promise<void>>();
  private readonly removals = new Set<Promise<void>>();
  private storedBytes = 0;
  private isReady = false;
  private closing = false;
  private bytesWrittenTotal = 0;
  private runsTruncatedTotal = 0;
  private runsEvictedTotal = 0;
  private runsRecoveredTotal = 0;
  private writeErrorsTotal = 0;
  private pausesTotal = 0;

  constructor(private readonly options: OutputStoreOptions) {
    for (const name of ['runBytesMax', 'nodeBytesMax', 'nodeRunsMax', 'writeQueueBytesMax', 'readersMax'] as const) {
      assert.ok(Number.isSafeInteger(options[name]) && options[name] > 0, `output store ${name} must be a positive integer`);
    }
    this.ready = this.recover();
  }

  /** Starts storing a run's output; null once the store is closing. */
  begin(run: { readonly runId: string; readonly attempt: number; readonly jobId: string }): RunOutputWriter | null {
    if (this.closing) return null;
    const key = runKey(run.runId, run.attempt);
    const old = this.entries.get(key);
    if (old !== undefined) {
      // Only possible when this node lost its journal and the id came again; the new run's
      // writer replaces the old files when it opens the directory.
      assert.ok(!old.live, 'a (runId, attempt) has one writer at a time');
      this.forget(old);
    }
    const createdAtMs = this.options.now();
    const entry = new OutputEntry({ ...run, createdAtMs, runDir: runDirName(run.runId), root: this.options.dir, live: true });
    this.add(entry);
    const writer = new RunOutputWriter(entry, {
      runBytesMax: this.options.runBytesMax, queueBytesMax: this.options.writeQueueBytesMax, now: this.options.now,
      header: encodeHeader({ runId: run.runId, attempt: run.attempt, jobId: run.jobId, createdAtMs }),
    }, {
      exclusive: (work) => this.exclusive(entry.runDir, work),
      committed: (stored, data) => this.onCommitted(entry, stored, data),
      truncated: () => void this.runsTruncatedTotal++,
      writeFailed: () => void this.writeErrorsTotal++,
      paused: () => void this.pausesTotal++,
    });
    this.writers.set(entry, writer);
    void writer.closed.then(() => {
      this.writers.delete(entry);
      this.enforceLimits();
    });
    return writer;
  }

  /** A reader of the attempt (the latest stored one when `attempt` is undefined). */
  async open(runId: string, attempt: number | undefined, options: OutputReadOptions = {}): Promise<OpenOutputResult> {
    await this.ready;
    const entry = attempt === undefined ? this.latest(runId) : this.entries.get(runKey(runId, attempt));
    if (entry === undefined || this.closing) return { ok: false, reason: 'not_found' };
    if (this.readers.size >= this.options.readersMax) return { ok: false, reason: 'readers_full' };
    const reader = new OutputReader(entry, options.stream ?? 'both', options.follow ?? false, (r) => this.readers.delete(r));
    this.readers.add(reader);
    return { ok: true, reader };
  }

  /** The output may still grow: its writer is open. */
  isLive(runId: string, attempt: number): boolean {
    return this.entries.get(runKey(runId, attempt))?.live ?? false;
  }

  info(runId: string, attempt?: number): OutputInfo | null {
    const entry = attempt === undefined ? this.latest(runId) : this.entries.get(runKey(runId, attempt));
    return entry?.info() ?? null;
  }

  /** Every stored attempt, oldest first (at most nodeRunsMax plus the live ones). */
  list(): OutputInfo[] {
    return [...this.entries.values()].map((entry) => entry.info());
  }

  /** Removes every stored attempt of these runs; resolves with how many, once their files are gone. */
  async remove(runIds: readonly string[]): Promise<number> {
    await this.ready;
    const doomed = runIds.flatMap((runId) => [...this.attempts.get(runId) ?? []]);
    await Promise.all(doomed.map((entry) => this.drop(entry)));
    return doomed.length;
  }

  /** Removes every stored attempt of every run of a job (e.g. a deleted job). */
  async removeJob(jobId: string): Promise<number> {
    await this.ready;
    const doomed = [...this.entries.values()].filter((entry) => entry.jobId === jobId);
    await Promise.all(doomed.map((entry) => this.drop(entry)));
    return doomed.length;
  }

  stats(): OutputStats {
    let files = 0;
    for (const entry of this.entries.values()) files += FILES_PER_LIVE_RUN + (entry.live ? 0 : 1);
    return {
      outputRunsStored: this.entries.size, outputFilesStored: files, outputBytesStored: this.storedBytes, outputReaders: this.readers.size,
      outputBytesWrittenTotal: this.bytesWrittenTotal, outputRunsTruncatedTotal: this.runsTruncatedTotal, outputRunsEvictedTotal: this.runsEvictedTotal,
      outputRunsRecoveredTotal: this.runsRecoveredTotal, outputWriteErrorsTotal: this.writeErrorsTotal, outputPausesTotal: this.pausesTotal,
    };
  }

  /**
   * Stops taking runs, waits for every writer to finish (end its runs first: a live writer
   * ends when its run does) and for pending removals, then closes every reader.
   */
  async close(): Promise<void> {
    this.closing = true;
    await this.ready;
    await Promise.all([...this.writers.values()].map((writer) => writer.closed));
    await Promise.all([...this.removals]);
    await Promise.all([...this.readers].map((reader) => reader.close()));
  }

  private latest(runId: string): OutputEntry | undefined {
    let latest: OutputEntry | undefined;
    for (const entry of this.attempts.get(runId) ?? []) if (latest === undefined || entry.attempt > latest.attempt) latest = entry;
    return latest;
  }

  private add(entry: OutputEntry): void {
    const key = runKey(entry.runId, entry.attempt);
    assert.ok(!this.entries.has(key), 'one entry per (runId, attempt)');
    this.entries.set(key, entry);
    let attempts = this.attempts.get(entry.runId);
    if (attempts === undefined) this.attempts.set(entry.runId, attempts = new Set());
    attempts.add(entry);
    this.storedBytes += entry.storedBytes;
  }

  /** Takes an entry out of the index at once (readers stop); its files go separately. */
  private forget(entry: OutputEntry): void {
    const key = runKey(entry.runId, entry.attempt);
    if (this.entries.get(key) !== entry) return;
    this.entries.delete(key);
    const attempts = this.attempts.get(entry.runId);
    attempts?.delete(entry);
    if (attempts?.size === 0) this.attempts.delete(entry.runId);
    this.storedBytes -= entry.storedBytes;
    assert.ok(this.storedBytes >= 0, 'stored bytes never go negative');
    entry.removed = true;
    entry.notify();
  }

  /** Forgets the entry and deletes its directory (after its writer, if any, let go of it). */
  private drop(entry: OutputEntry): Promise<void> {
    this.forget(entry);
    const writer = this.writers.get(entry);
    writer?.abandon();
    const removal = this.exclusive(entry.runDir, async () => {
      await writer?.closed;
      await rm(entry.dir, { recursive: true, force: true });
      // The run directory goes with its last attempt; ENOTEMPTY means another one is kept.
      await rmdir(join(this.options.dir, entry.runDir)).catch(() => undefined);
    }).catch(() => void this.writeErrorsTotal++);
    this.removals.add(removal);
    void removal.then(() => this.removals.delete(removal));
    return removal;
  }

  private onCommitted(entry: OutputEntry, storedBytes: number, dataBytes: number): void {
    this.bytesWrittenTotal += dataBytes;
    entry.storedBytes += storedBytes;
    if (entry.removed) return;
    this.storedBytes += storedBytes;
    this.enforceLimits();
  }

  /** Evicts the oldest ended runs while the node's output is over its limits. */
  private enforceLimits(): void {
    if (!this.isReady) return;
    const over = (): boolean => this.storedBytes > this.options.nodeBytesMax || this.entries.size > this.options.nodeRunsMax;
    if (!over()) return;
    for (const entry of [...this.entries.values()]) {
      if (!over()) break;
      if (entry.live) continue;
      this.runsEvictedTotal++;
      void this.drop(entry);
    }
  }

  /** Runs `work` after every earlier operation on the same run directory settled. */
  private exclusive(runDir: string, work: () => Promise<void>): Promise<void> {
    const previous = this.locks.get(runDir) ?? Promise.resolve();
    const result = previous.then(work);
    const settled = result.catch(() => undefined);
    this.locks.set(runDir, settled);
    void settled.then(() => {
      if (this.locks.get(runDir) === settled) this.locks.delete(runDir);
    });
    return result;
  }

  /**
   * Recovers what an earlier process left (output-recovery.ts), one run directory at a time
   * so startup I/O stays gentle, while new runs already write. Afterwards the found runs come
   * first in the index (oldest first) and the limits apply.
   */
  private async recover(): Promise<void> {
    const found: OutputEntry[] = [];
    try {
      await mkdir(this.options.dir, { recursive: true });
      const names = await readdir(this.options.dir, { withFileTypes: true });
      for (const dirent of names) {
        if (!dirent.isDirectory()) continue;
        await this.exclusive(dirent.name, async () => {
          const recovered = await recoverRunDir(this.options.dir, dirent.name, (key) => this.entries.has(key), this.options.now());
          found.push(...recovered.entries);
          this.runsRecoveredTotal += recovered.repaired;
        }).catch(() => void this.writeErrorsTotal++);
      }
    } catch {
      this.writeErrorsTotal++;
    }
    found.sort((a, b) => a.createdAtMs - b.createdAtMs);
    const current = [...this.entries.values()];
    this.entries.clear();
    this.attempts.clear();
    this.storedBytes = 0;
    for (const entry of found) if (!current.some((c) => c.runId === entry.runId && c.attempt === entry.attempt)) this.add(entry);
    for (const entry of current) this.add(entry);
    this.isReady = true;
    this.enforceLimits();
  }
}
