// The seams of one node's runtime. Everything the runtime touches comes in through these:
// production fills them with the disk, TCP and Node's timers (src/process), the simulator with
// virtual ones (test/sim). The runtime itself reads no clock and starts no timer of its own.
import type { ConfState, Entry, HardState, Message, NodeId, Snapshot, SnapshotMeta, Storage } from '../raft/index.js';

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds, for timeouts and durations only (never stamped into commands). */
  nowMs(): number;
  /** Calls `fn` once, `delayMs` from now. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** Calls `fn` after the current turn (setImmediate), so work of one turn is batched. */
  defer(fn: () => void): void;
}

/** Node-style completion: null on success. A failed durable write is fatal to the node. */
export type Done = (error: Error | null) => void;

/** What one Ready asks the disk to hold. */
export interface PersistBatch {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
}

/**
 * The durable log: the core's synchronous read side plus writes that complete later. Reads
 * reflect a write only once it completed. Writes complete in the order they were issued.
 */
export interface LogStore extends Storage {
  /** One atomic write per Ready; `sync` is false only when just the commit index moved. */
  write(batch: PersistBatch, sync: boolean, done: Done): void;
  createSnapshot(index: number, conf: ConfState, data: Uint8Array, done: Done): void;
  /** Drops entries up to and including `index` (they are inside a snapshot). */
  compact(index: number, done: Done): void;
  /** The newest snapshot's place in the log and its size, without its image. */
  snapshotInfo(): { readonly meta: SnapshotMeta; readonly bytes: number };
}

/** A message to or from a peer on one of the runtime's own channels. */
export type NodeEnvelope =
  | { readonly channel: 'raft'; readonly message: Message }
  | { readonly channel: 'hello'; readonly body: PeerHello };

/** How a peer says where it listens: a node that joined empty learns its peers this way. */
export interface PeerHello {
  readonly rpc: string;
  readonly http: string;
}

export interface PeerLink {
  /** Queues a message; what one turn queued leaves together at the turn's end, or at `flush`. */
  send(to: NodeId, envelope: NodeEnvelope): void;
  /** Sends what this turn queued now (a link that sends at once need not have it). */
  flush?(): void;
  /** The peers to keep connections to, by id, with their rpc addresses. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void;
}

/**
 * What the node replicates. Deterministic: the same entries in the same order give the same
 * state and results on every replica. `R` is what a proposal resolves with.
 */
export interface StateMachine<C, R> {
  encode(command: C): Uint8Array;
  /**
   * Every committed entry, in log order: commands, a leader's empty entry, membership entries
   * (`kind: 'conf'`, which the runtime applies to its member directory as well).
   */
  apply(entry: Entry, answered: boolean): R;
  /** With `frame`: the image comes after the header `frame(imageBytes)` returns, in one buffer. */
  snapshot(frame?: (imageBytes: number) => Uint8Array): Uint8Array;
  /** The same bytes in steps; the runtime gives the event loop a turn between them and applies nothing until the end. */
  snapshotSteps?(frame?: (imageBytes: number) => Uint8Array): Generator<void, Uint8Array, void>;
  restore(data: Uint8Array): void;
  /**
   * A member's removal applied (at its place in the log, on every replica, before the
   * removal entry itself is handed to apply): what the state keeps for that member ends now.
   */
  memberRemoved?(node: NodeId): void;
}

/**
 * What happens inside the runtime, for metrics and for the simulator's checks. Every method
 * is optional and must not call back into the runtime.
 */
export interface NodeEvents {
  /** A synced write of one Ready finished after `durationMs`. */
  persisted?(durationMs: number, entries: number): void;
  /** A proposal of this node applied, `durationMs` after it was made. */
  committed?(durationMs: number): void;
  proposalSettled?(outcome: 'applied' | string): void;
  leaderChanged?(leader: NodeId | null, term: number): void;
  confChanged?(type: string, node: NodeId): void;
  /** The leader removed a worker member it had not heard from for `silentMs`. */
  silentWorkerRemoved?(node: NodeId, silentMs: number): void;
  snapshotTaken?(index: number, bytes: number, encodeMs: number): void;
  snapshotRestored?(index: number): void;
  /** This leader asked `to` to take over before a long snapshot. */
  snapshotHandOff?(to: NodeId, expectedEncodeMs: number): void;
  /**
   * A log entry's way through this node, for a trace of one write (`npm run bench:trace`):
   * each stage names the highest index it covers. Left out, nothing is looked at for it.
   */
  trace?(stage: TraceStage, index: number): void;
}

export type TraceStage =
  /** The leader handed its batch of proposals to the core. */
  | 'proposed'
  /** The leader sent appends carrying entries (before its own disk write). */
  | 'appendSent'
  | 'appendReceived'
  /** A synced write of entries finished. */
  | 'persisted'
  /** A follower sent its acknowledgement of appended entries. */
  | 'ackSent'
  | 'ackReceived'
  /** A Ready carried entries newly known committed. */
  | 'committed'
  | 'applied';

/** The parts of the process that follow leadership (the scheduler starts on the leader). */
export interface LeadershipListener {
  leadershipChanged(): void;
}
