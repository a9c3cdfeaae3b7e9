import { JobTable, decodeCommand } from '../statemachine/index.js';
import type { ApplyResult, Command } from '../statemachine/index.js';
import type { StateMachine } from './raft-host.js';

/**
 * The job table as the Raft host's state machine. Restore swaps in a new table. Every
 * applied command is also handed to `onApplied` (the leader's scheduler reacts to fires,
 * reports and kills once they are in the log).
 */
export class JobStateMachine implements StateMachine {
  table: JobTable = JobTable.create();
  onApplied: ((command: Command, result: ApplyResult) => void) | null = null;

  apply(data: Uint8Array, index: number): ApplyResult {
    let command: Command;
    try {
      command = decodeCommand(data);
    } catch {
      // Garbage in the log is answered the same way on every replica.
      return this.table.applyEntry(data, index);
    }
    const result = this.table.apply(command, index);
    this.onApplied?.(command, result);
    return result;
  }

  snapshot(frame?: (imageBytes: number) => Uint8Array): Uint8Array {
    return this.table.snapshot(frame);
  }

  snapshotSteps(frame?: (imageBytes: number) => Uint8Array): Generator<void, Uint8Array, void> {
    return this.table.snapshotSteps(frame);
  }

  restore(data: Uint8Array): void {
    this.table = JobTable.restore(data);
  }
}
