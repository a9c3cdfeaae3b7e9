// The job table as a replicated state machine: commands in as log entries, a table out. A
// snapshot restore swaps the whole table, so readers ask for `table` each time.
import { decodeCommand, encodeCommand } from './codec.js';
import type { Command } from './commands.js';
import type { ApplyResult } from './results.js';
import type { RunRecord } from './types.js';
import { JobTable } from './table.js';

/** A committed log entry as the node runtime hands it over (the shape of src/raft's Entry). */
export interface LogEntry {
  readonly index: number;
  readonly kind: 'normal' | 'conf';
  readonly data: Uint8Array;
}

/** Told of every command once it applied, with its result (the leader's scheduler acts on them). */
export type AppliedListener = (command: Command, result: ApplyResult) => void;
/** Told that a member's removal applied, with the runs whose executions on it the table declared lost. */
export type RemovedListener = (node: string, runs: readonly RunRecord[]) => void;

const NOT_A_COMMAND: ApplyResult = { ok: true, kind: 'none' };

export class ReplicatedJobs {
  private current: JobTable = JobTable.create();

  constructor(private readonly applied: AppliedListener = () => {}, private readonly removed: RemovedListener = () => {}) {}

  /** The table as of the last applied entry. */
  get table(): JobTable {
    return this.current;
  }

  encode(command: Command): Uint8Array {
    return encodeCommand(command);
  }

  /** `answered`: whether a caller on this node waits for this entry's result (JobTable.apply). */
  apply(entry: LogEntry, answered = true): ApplyResult {
    // A leader's empty entry and membership entries are not the table's business.
    if (entry.kind !== 'normal' || entry.data.length === 0) return NOT_A_COMMAND;
    let command: Command;
    try {
      command = decodeCommand(entry.data);
    } catch {
      // Garbage in the log is answered the same way on every replica.
      return this.current.applyEntry(entry.data, entry.index);
    }
    const result = this.current.apply(command, entry.index, answered);
    this.applied(command, result);
    return result;
  }

  /** A member left the cluster: its executions are lost (JobTable.memberRemoved), on every replica alike. */
  memberRemoved(node: string): void {
    this.removed(node, this.current.memberRemoved(node));
  }

  snapshot(frame?: (imageBytes: number) => Uint8Array): Uint8Array {
    return this.current.snapshot(frame);
  }

  snapshotSteps(frame?: (imageBytes: number) => Uint8Array): Generator<void, Uint8Array, void> {
    return this.current.snapshotSteps(frame);
  }

  restore(data: Uint8Array): void {
    this.current = JobTable.restore(data);
  }
}
