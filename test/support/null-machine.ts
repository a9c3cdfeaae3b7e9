// A state machine that applies nothing of its own, for node tests that look only at
// membership, commit and durability.
import type { Entry } from '../../src/raft/index.js';
import type { StateMachine } from '../../src/node/index.js';

export class NullMachine implements StateMachine<string, number> {
  encode(command: string): Uint8Array {
    return new TextEncoder().encode(command);
  }
  apply(entry: Entry): number {
    return entry.index;
  }
  snapshot(): Uint8Array {
    return new Uint8Array([1]);
  }
  restore(): void {}
}
