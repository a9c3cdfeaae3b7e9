import { JobTable } from '../statemachine/index.js';
import type { ApplyResult } from '../statemachine/index.js';
import type { StateMachine } from './raft_host.js';

/** The job table as the Raft host's state machine. Restore swaps in a new table. */
export class JobStateMachine implements StateMachine {
  table: JobTable = JobTable.create();

  apply(data: Uint8Array, index: number): ApplyResult {
    return this.table.applyEntry(data, index);
  }

  snapshot(): Uint8Array {
    return this.table.snapshot();
  }

  restore(data: Uint8Array): void {
    this.table = JobTable.restore(data);
  }
}
