// What the output store knows of one (runId, attempt) in memory: shared by its writer (which
// advances it), its readers (which wait on it) and the store (which counts and evicts it).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { OutputStreamName } from './types.js';

/** Sizes and state of one run's stored output, as `listOutputs()` and `outputInfo()` show them. */
export interface OutputInfo {
  readonly runId: string;
  readonly attempt: number;
  readonly jobId: string;
  /** The output may still grow: a writer is open for it. */
  readonly live: boolean;
  readonly createdAtMs: number;
  readonly endedAtMs: number | null;
  readonly stdoutBytes: number;
  readonly stderrBytes: number;
  /** Every file of the run on disk (header, streams, order index, end record). */
  readonly storedBytes: number;
  readonly truncated: boolean;
  readonly droppedStdoutBytes: number;
  readonly droppedStderrBytes: number;
  readonly writeError: string | null;
  /** Found half-written after a restart and repaired (see output-recovery.ts). */
  readonly recovered: boolean;
}

export interface CommittedSizes {
  readonly stdout: number;
  readonly stderr: number;
  readonly order: number;
}

export interface OutputEntryInit {
  readonly runId: string;
  readonly attempt: number;
  readonly jobId: string;
  readonly createdAtMs: number;
  /** The run's directory name under the store's root (see runDirName). */
  readonly runDir: string;
  readonly root: string;
  readonly live: boolean;
}

export class OutputEntry {
  readonly runId: string;
  readonly attempt: number;
  readonly jobId: string;
  readonly createdAtMs: number;
  readonly runDir: string;
  /** Absolute path of this attempt's directory. */
  readonly dir: string;
  live: boolean;
  /** Dropped from the store (removed, evicted or replaced): readers stop. */
  removed = false;
  recovered = false;
  /**
   * What readers may read. Invariant: every byte counted here is on disk — the writer raises
   * it only after the data and the order entries describing it were written, data first.
   */
  committed: CommittedSizes = { stdout: 0, stderr: 0, order: 0 };
  storedBytes = 0;
  truncated = false;
  droppedBytes: Record<OutputStreamName, number> = { stdout: 0, stderr: 0 };
  endedAtMs: number | null = null;
  writeError: string | null = null;
  /** Readers waiting for more; at most one per open reader. */
  private readonly waiters = new Set<() => void>();

  constructor(init: OutputEntryInit) {
    this.runId = init.runId;
    this.attempt = init.attempt;
    this.jobId = init.jobId;
    this.createdAtMs = init.createdAtMs;
    this.runDir = init.runDir;
    this.dir = join(init.root, init.runDir, String(init.attempt));
    this.live = init.live;
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  /** New data was committed, or the run ended, or it was removed: wake every waiting reader. */
  notify(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  addWaiter(wake: () => void): void {
    this.waiters.add(wake);
  }

  removeWaiter(wake: () => void): void {
    this.waiters.delete(wake);
  }

  advance(committed: CommittedSizes): void {
    assert.ok(committed.stdout >= this.committed.stdout && committed.stderr >= this.committed.stderr && committed.order >= this.committed.order,
      'committed sizes only grow');
    this.committed = committed;
  }

  info(): OutputInfo {
    return {
      runId: this.runId, attempt: this.attempt, jobId: this.jobId, live: this.live, createdAtMs: this.createdAtMs, endedAtMs: this.endedAtMs,
      stdoutBytes: this.committed.stdout, stderrBytes: this.committed.stderr, storedBytes: this.storedBytes, truncated: this.truncated,
      droppedStdoutBytes: this.droppedBytes.stdout, droppedStderrBytes: this.droppedBytes.stderr, writeError: this.writeError, recovered: this.recovered,
    };
  }
}
