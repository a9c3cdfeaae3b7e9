// Where each member listens. Addresses arrive in membership entries (the change's context),
// so every replica agrees on them; they must survive log compaction, so they travel inside
// every snapshot, in a frame around the application's own image.
import assert from 'node:assert/strict';
import { pack, unpack } from 'msgpackr';
import type { ConfChange, Entry, NodeId } from '../raft/index.js';
import type { StateMachine } from './ports.js';

/** Where a member listens. */
export interface MemberAddress {
  readonly rpc: string;
  readonly http: string;
}

/**
 * What a member is for: a `voter` (or a learner on its way to being one), or a `worker`, an
 * executor that never votes and is never promoted by itself.
 */
export type MemberRole = 'voter' | 'worker';

/** Addresses longer than this are not ours (they come from peers and the log). */
const ADDRESS_CHARS_MAX = 300;
const EMPTY = new Uint8Array(0);
const SNAPSHOT_VERSION = 1;
/**
 * Retired ids remembered at most; past this the oldest is forgotten (and could be reused).
 * Ids are an operator's names, so this is thousands of voters replaced, not a limit in practice.
 */
export const RETIRED_IDS_MAX = 10_000;
/** Member ids longer than this are not ours (they come from the log and snapshots). */
const ID_CHARS_MAX = 300;

function isAddressText(value: unknown): value is string {
  return typeof value === 'string' && value.length <= ADDRESS_CHARS_MAX;
}

export function encodeMemberContext(address: MemberAddress, role: MemberRole = 'voter'): string {
  return JSON.stringify(role === 'worker' ? { rpc: address.rpc, http: address.http, role } : { rpc: address.rpc, http: address.http });
}

/** The role a membership entry's context gives (contexts before roles existed: voter). */
export function roleOfContext(context: string): MemberRole {
  try {
    const value: unknown = JSON.parse(context);
    return typeof value === 'object' && value !== null && Reflect.get(value, 'role') === 'worker' ? 'worker' : 'voter';
  } catch {
    return 'voter';
  }
}

export function decodeMemberContext(context: string): MemberAddress | null {
  let value: unknown;
  try {
    value = JSON.parse(context);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const rpc: unknown = Reflect.get(value, 'rpc');
  const http: unknown = Reflect.get(value, 'http');
  if (!isAddressText(rpc)) return null;
  return { rpc, http: isAddressText(http) ? http : '' };
}

/** Runs a stepped snapshot to its end in one go. */
function drain<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * The application's state machine plus the member address book: the runtime replicates this.
 * Membership entries update the book and still reach the application (it may count them).
 */
export class MemberDirectory<C, R> implements StateMachine<C, R> {
  readonly addresses = new Map<NodeId, MemberAddress>();
  /** Members added (or demoted) as workers: never promoted by the leader on its own. */
  readonly workers = new Set<NodeId>();
  /** Members that are or have been voters (a demoted voter stays in it). */
  readonly voted = new Set<NodeId>();
  /**
   * Ids removed after they had voted, oldest first: never members again. A node's votes are
   * on its disk; one that comes back wiped under the same id could vote a second time in a
   * term where its first life voted, or grant its vote, with an empty log, to a voter cut off
   * since before the removal whose log still counts it — and two such returns can hand that
   * stale voter a majority. etcd never reuses a member id for the same reason.
   */
  readonly retired = new Set<NodeId>();

  constructor(readonly inner: StateMachine<C, R>) {}

  encode(command: C): Uint8Array {
    return this.inner.encode(command);
  }

  apply(entry: Entry, answered: boolean): R {
    return this.inner.apply(entry, answered);
  }

  /** Voters of a membership read from elsewhere (a snapshot's, on start): they have voted. */
  noteVoters(voters: readonly NodeId[]): void {
    for (const id of voters) this.voted.add(id);
  }

  applyConfChange(change: ConfChange): void {
    if (change.type === 'remove') {
      this.addresses.delete(change.node);
      this.workers.delete(change.node);
      if (this.voted.delete(change.node)) this.retire(change.node);
      this.inner.memberRemoved?.(change.node);
      return;
    }
    if (change.type === 'addVoter') this.voted.add(change.node);
    if (change.type === 'addLearner' && roleOfContext(change.context) === 'worker') this.workers.add(change.node);
    else this.workers.delete(change.node);
    const address = decodeMemberContext(change.context);
    if (address !== null) this.addresses.set(change.node, address);
  }

  /** A retired id never becomes a member again, so it is never retired twice: one in, at most the oldest out. */
  private retire(id: NodeId): void {
    this.retired.add(id);
    if (this.retired.size <= RETIRED_IDS_MAX) return;
    const oldest = this.retired.values().next();
    if (oldest.done !== true) this.retired.delete(oldest.value);
  }

  /**
   * msgpack `{v, addresses, voted, retired, inner: bin}` with the inner image written straight after its
   * header: packing a table-sized value would copy it, and msgpackr keeps its output buffer
   * at the largest size it ever packed (for a million jobs, hundreds of MB for good).
   */
  snapshot(): Uint8Array {
    return drain(this.snapshotSteps());
  }

  /** The snapshot in steps when the inner state machine can make it in steps. */
  *snapshotSteps(): Generator<void, Uint8Array, void> {
    // A worker's row has a fourth field; readers before roles take the first three.
    const addresses = [...this.addresses.entries()].map(([id, a]) => (this.workers.has(id) ? [id, a.rpc, a.http, 'worker'] : [id, a.rpc, a.http]));
    // `voted` and `retired` came after version 1 was out: a snapshot without them reads as empty.
    const head = pack({ v: SNAPSHOT_VERSION, addresses, voted: [...this.voted], retired: [...this.retired], inner: EMPTY });
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
    const { addresses, workers, voted, retired, inner } = parseSnapshot(unpack(data));
    this.addresses.clear();
    this.workers.clear();
    this.voted.clear();
    this.retired.clear();
    for (const [id, address] of addresses) this.addresses.set(id, address);
    for (const id of workers) this.workers.add(id);
    for (const id of voted) this.voted.add(id);
    for (const id of retired) this.retired.add(id);
    this.inner.restore(inner);
  }
}

/** Checks a decoded snapshot field by field; a snapshot of another version or shape is refused. */
function idList(decoded: object, field: 'voted' | 'retired', max: number): NodeId[] {
  const value: unknown = Reflect.get(decoded, field);
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > max) throw new Error(`snapshot is malformed: ${field} is not a list of at most ${max} ids`);
  const ids: NodeId[] = [];
  for (const id of value) {
    if (typeof id !== 'string' || id.length > ID_CHARS_MAX) throw new Error(`snapshot is malformed: an id in ${field}`);
    ids.push(id);
  }
  return ids;
}

function parseSnapshot(decoded: unknown): { addresses: [NodeId, MemberAddress][]; workers: NodeId[]; voted: NodeId[]; retired: NodeId[]; inner: Uint8Array } {
  if (typeof decoded !== 'object' || decoded === null) throw new Error('snapshot is malformed: not a map');
  const version: unknown = Reflect.get(decoded, 'v');
  if (version !== SNAPSHOT_VERSION) throw new Error(`snapshot format ${String(version)} is not readable by this version (expects ${SNAPSHOT_VERSION})`);
  const rows: unknown = Reflect.get(decoded, 'addresses');
  const inner: unknown = Reflect.get(decoded, 'inner');
  if (!Array.isArray(rows) || !(inner instanceof Uint8Array)) throw new Error('snapshot is malformed');
  const addresses: [NodeId, MemberAddress][] = [];
  const workers: NodeId[] = [];
  for (const row of rows) {
    if (!Array.isArray(row)) throw new Error('snapshot is malformed: an address row is not a list');
    const [id, rpc, http, role]: unknown[] = row;
    if (typeof id !== 'string' || !isAddressText(rpc) || !isAddressText(http)) throw new Error('snapshot is malformed: an address row');
    if (role !== undefined && role !== 'worker') throw new Error('snapshot is malformed: an address row has an unknown role');
    addresses.push([id, { rpc, http }]);
    if (role === 'worker') workers.push(id);
  }
  return { addresses, workers, voted: idList(decoded, 'voted', RETIRED_IDS_MAX), retired: idList(decoded, 'retired', RETIRED_IDS_MAX), inner };
}
