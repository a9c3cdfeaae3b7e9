import assert from 'node:assert/strict';
import { pack, unpack } from 'msgpackr';

const EMPTY = new Uint8Array(0);
import type { ConfChange, NodeId } from '../raft/index.js';
import type { StateMachine } from './raft-host.js';
import { drainSteps } from '../statemachine/index.js';

/** Where a member listens. Learned from the log, so every replica agrees on it. */
export interface MemberAddress {
  readonly rpc: string;
  readonly http: string;
}

export function encodeMemberContext(address: MemberAddress): string {
  return JSON.stringify({ rpc: address.rpc, http: address.http });
}

export function decodeMemberContext(context: string): MemberAddress | null {
  try {
    const value: unknown = JSON.parse(context);
    if (typeof value !== 'object' || value === null) return null;
    const { rpc, http } = value as Record<string, unknown>;
    if (typeof rpc !== 'string') return null;
    return { rpc, http: typeof http === 'string' ? http : '' };
  } catch {
    return null;
  }
}

const SNAPSHOT_VERSION = 1;

/**
 * Wraps the application's state machine so that member addresses, which arrive in
 * membership entries, survive log compaction: they travel inside every snapshot.
 */
export class ReplicatedState implements StateMachine {
  readonly addresses = new Map<NodeId, MemberAddress>();

  constructor(readonly inner: StateMachine) {}

  apply(data: Uint8Array, index: number): unknown {
    return this.inner.apply(data, index);
  }

  applyConfChange(change: ConfChange): void {
    if (change.type === 'remove') {
      this.addresses.delete(change.node);
      return;
    }
    const address = decodeMemberContext(change.context);
    if (address !== null) this.addresses.set(change.node, address);
  }

  /**
   * msgpack `{v, addresses, inner: bin}` with the inner image written straight after its
   * header: packing a table-sized value would copy it, and msgpackr keeps its output buffer
   * at the largest size it ever packed (for a million jobs, hundreds of MB for good).
   */
  snapshot(): Uint8Array {
    return drainSteps(this.snapshotSteps());
  }

  /** The snapshot in steps when the inner state machine can make it in steps (see RaftHost). */
  *snapshotSteps(): Generator<void, Uint8Array, void> {
    const addresses = [...this.addresses.entries()].map(([id, a]) => [id, a.rpc, a.http]);
    const head = pack({ v: SNAPSHOT_VERSION, addresses, inner: EMPTY });
    // `inner` is packed last, as bin8 of length 0 (c4 00): replace that by a bin32 header.
    assert.ok(head[head.length - 2] === 0xc4 && head[head.length - 1] === 0x00, 'the inner image is the last value');
    const frameFor = (imageBytes: number): Uint8Array => {
      const frame = new Uint8Array(head.length - 2 + 5);
      frame.set(head.subarray(0, head.length - 2));
      frame[head.length - 2] = 0xc6;
      new DataView(frame.buffer).setUint32(head.length - 1, imageBytes);
      return frame;
    };
    let framed = false;
    const frame = (imageBytes: number): Uint8Array => {
      framed = true;
      return frameFor(imageBytes);
    };
    const result = this.inner.snapshotSteps === undefined ? this.inner.snapshot(frame) : yield* this.inner.snapshotSteps(frame);
    if (framed) return result;
    // An inner state machine that does not frame: copy its image behind the header.
    const whole = new Uint8Array(head.length + 3 + result.length);
    whole.set(frameFor(result.length));
    whole.set(result, head.length + 3);
    return whole;
  }

  restore(data: Uint8Array): void {
    const decoded = unpack(data) as { v?: unknown; addresses?: unknown; inner?: unknown };
    if (decoded.v !== SNAPSHOT_VERSION) throw new Error(`snapshot format ${String(decoded.v)} is not readable by this version (expects ${SNAPSHOT_VERSION})`);
    if (!Array.isArray(decoded.addresses) || !(decoded.inner instanceof Uint8Array)) throw new Error('snapshot is malformed');
    this.addresses.clear();
    for (const item of decoded.addresses as unknown[]) {
      const [id, rpc, http] = item as [string, string, string];
      this.addresses.set(id, { rpc, http });
    }
    this.inner.restore(decoded.inner);
  }
}
