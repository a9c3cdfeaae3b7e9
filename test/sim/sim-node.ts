// One simulated server: a RawNode, its durable disk (a MemoryStorage that survives crashes),
// and a volatile state machine. It runs the application's Ready loop with a persistence
// delay: take a Ready, let the "fsync" complete later, then send, apply and advance.
import assert from 'node:assert/strict';
import { RawNode, MemoryStorage } from '../../src/raft/index.js';
import type { Entry, HardState, Message, NodeId, Ready, ReadFailure, ReadState, Snapshot, Status, Storage } from '../../src/raft/types.js';
import { KvMachine } from './kv-machine.js';
import type { Prng } from './prng.js';
import type { LogView, TermLookup } from './invariants.js';

/** Deliberately broken disks, to show the invariants catch what they claim to. */
export type DiskFault = 'none' | 'lose-acked-entries' | 'forget-vote';

export interface RaftTuning {
  readonly heartbeatTicks: number;
  readonly electionTicks: number;
  readonly snapshotChunkBytes: number;
  readonly maxMsgBytes: number;
  readonly maxInflightMsgs: number;
  readonly commitBroadcast: 'eager' | 'tick';
  /** The storage answers two asks for its snapshot in three with null (image still on disk). */
  readonly snapshotSometimesUnavailable: boolean;
}

/** What a node needs from the simulation around it. */
export interface NodeHost {
  readonly rng: Prng;
  send(m: Message): void;
  onApplied(node: SimNode, entry: Entry): void;
  onRestored(node: SimNode, snap: Snapshot): void;
  onReadReady(node: SimNode, context: string): void;
  onReadFailed(node: SimNode, failure: ReadFailure): void;
  onReadyTaken(node: SimNode, ready: Ready): void;
  onPersisted(node: SimNode, hs: HardState): void;
}

interface LastBatch {
  readonly firstIndex: number | null;
  readonly hadSnapshot: boolean;
}

export class SimNode {
  raw: RawNode | null = null;
  sm: KvMachine | null = null;
  /** Bumped on every crash and restart; events of an older incarnation are ignored. */
  incarnation = 0;
  /** The Ready whose write is in flight, if any. */
  persisting: Ready | null = null;
  removed = false;
  /** The term in which this node was last seen leading, to notice a fresh election. */
  leaderTerm = 0;
  leaderCommitChecked = 0;
  /** The voters that counted `leaderCommitChecked` as committed, and the voters seen last. */
  leaderCommitVoters: readonly NodeId[] = [];
  lastVoters: readonly NodeId[] = [];
  /** The term in which this node was last seen campaigning. */
  candidateTerm = 0;
  private readonly pendingReads: ReadState[] = [];
  private lastBatch: LastBatch | null = null;

  constructor(
    readonly id: NodeId,
    public storage: MemoryStorage,
    /** Ticks of this node's own clock run every tickIntervalMs of virtual time. */
    readonly tickIntervalMs: number,
    private readonly tuning: RaftTuning,
    private readonly diskFault: DiskFault,
    private readonly host: NodeHost,
  ) {}

  get up(): boolean {
    return this.raw !== null;
  }

  start(): void {
    assert.ok(this.raw === null && !this.removed, `${this.id} is already running or removed`);
    if (this.incarnation > 0) this.storage = this.damageDisk(this.storage);
    this.incarnation++;
    const snap = this.storage.snapshot();
    this.sm = KvMachine.restore(snap.meta, snap.data);
    const rng = this.host.rng.fork();
    this.raw = new RawNode({
      id: this.id,
      storage: this.tuning.snapshotSometimesUnavailable ? sometimesWithoutSnapshot(this.storage) : this.storage,
      heartbeatTicks: this.tuning.heartbeatTicks,
      electionTicks: this.tuning.electionTicks,
      randomInt: (max) => rng.int(max),
      applied: snap.meta.index,
      snapshotChunkBytes: this.tuning.snapshotChunkBytes,
      maxMsgBytes: this.tuning.maxMsgBytes,
      maxInflightMsgs: this.tuning.maxInflightMsgs,
      commitBroadcast: this.tuning.commitBroadcast,
      preVote: true,
      checkQuorum: true,
    });
    this.leaderTerm = 0;
    this.leaderCommitChecked = 0;
    if (snap.meta.index > 0) this.host.onRestored(this, snap);
  }

  /** Power loss: everything not yet synced is gone, including the Ready being written. */
  crash(): void {
    this.raw = null;
    this.sm = null;
    this.persisting = null;
    this.pendingReads.length = 0;
    this.incarnation++;
  }

  status(): Status {
    return (this.raw as RawNode).status();
  }

  /** Take the next Ready if no write is in flight; returns it so the caller can time the write. */
  takeReady(): Ready | null {
    const raw = this.raw;
    if (raw === null || this.persisting !== null || !raw.hasReady()) return null;
    const ready = raw.ready();
    this.persisting = ready;
    this.host.onReadyTaken(this, ready);
    return ready;
  }

  /** The write of the in-flight Ready completed: sync, send, apply, advance. */
  finishPersist(): void {
    const raw = this.raw as RawNode;
    const ready = this.persisting as Ready;
    this.persisting = null;
    if (ready.snapshot !== null) this.storage.applySnapshot(ready.snapshot);
    if (ready.entries.length > 0) this.storage.append(ready.entries);
    if (ready.hardState !== null) this.storage.setHardState(ready.hardState);
    this.lastBatch = { firstIndex: ready.entries[0]?.index ?? null, hadSnapshot: ready.snapshot !== null };
    this.host.onPersisted(this, this.storage.initialState().hardState);
    for (const m of ready.messages) this.host.send(m);
    if (ready.snapshot !== null) {
      this.sm = KvMachine.restore(ready.snapshot.meta, ready.snapshot.data);
      this.host.onRestored(this, ready.snapshot);
    }
    const sm = this.sm as KvMachine;
    for (const e of ready.committedEntries) {
      sm.apply(e);
      this.host.onApplied(this, e);
    }
    for (const f of ready.readFailures) this.host.onReadFailed(this, f);
    this.pendingReads.push(...ready.readStates);
    raw.advance();
    this.answerReads();
  }

  private answerReads(): void {
    const applied = (this.sm as KvMachine).appliedIndex;
    let kept = 0;
    for (const rs of this.pendingReads) {
      if (rs.index <= applied) this.host.onReadReady(this, rs.context);
      else this.pendingReads[kept++] = rs;
    }
    this.pendingReads.length = kept;
  }

  /** Snapshot the state machine at its applied index and drop all but `tailEntries` of the log. */
  snapshotAndCompact(tailEntries: number): void {
    const raw = this.raw;
    const sm = this.sm;
    if (raw === null || sm === null || this.persisting !== null) return;
    const snapIndex = this.storage.snapshot().meta.index;
    if (sm.appliedIndex <= snapIndex) return;
    this.storage.createSnapshot(sm.appliedIndex, raw.status().conf, sm.snapshotBytes());
    const compactTo = sm.appliedIndex - tailEntries;
    if (compactTo > this.storage.firstIndex() - 1) this.storage.compact(compactTo);
  }

  /** The log as far as the simulator can see it: the in-flight Ready over the durable disk. */
  logView(lastIndex: number): LogView {
    const storage = this.storage;
    const ready = this.persisting;
    return {
      termAt: (i: number): TermLookup => {
        const first = ready?.entries[0]?.index;
        if (ready !== null && first !== undefined) {
          const e = ready.entries[i - first];
          if (e !== undefined) return e.term;
          if (i > first) return i <= lastIndex ? 'unknown' : 'missing';
        }
        if (ready?.snapshot != null && i <= ready.snapshot.meta.index) return i === ready.snapshot.meta.index ? ready.snapshot.meta.term : 'compacted';
        return durableTerm(storage, i, lastIndex);
      },
    };
  }

  /** Whether the durable disk holds entry (index, term), directly or inside its snapshot. */
  holdsDurably(index: number, term: number): boolean {
    const snap = this.storage.snapshot().meta;
    if (index <= snap.index) return true;
    if (index > this.storage.lastIndex()) return false;
    return this.storage.term(index) === term;
  }

  /** A broken disk, for the tests that show the simulator can fail. */
  private damageDisk(storage: MemoryStorage): MemoryStorage {
    if (this.diskFault === 'forget-vote') {
      const hs = storage.initialState().hardState;
      storage.setHardState({ ...hs, vote: null });
      return storage;
    }
    if (this.diskFault === 'lose-acked-entries' && this.lastBatch !== null && !this.lastBatch.hadSnapshot && this.lastBatch.firstIndex !== null) {
      // The last synced append "succeeded" but never reached the platter: keep the entries
      // below it (and anything the commit index covers, or the core would refuse to start).
      const { hardState, confState } = storage.initialState();
      const keepTo = Math.max(this.lastBatch.firstIndex - 1, hardState.commit, storage.snapshot().meta.index);
      if (keepTo >= storage.lastIndex()) return storage;
      const fresh = new MemoryStorage(confState);
      const snap = storage.snapshot();
      if (snap.meta.index > 0) fresh.applySnapshot(snap);
      if (keepTo >= storage.firstIndex()) fresh.append(storage.entries(storage.firstIndex(), keepTo + 1, Number.MAX_SAFE_INTEGER));
      fresh.setHardState(hardState);
      return fresh;
    }
    return storage;
  }
}

function durableTerm(storage: MemoryStorage, i: number, lastIndex: number): TermLookup {
  const snapIndex = storage.firstIndex() - 1;
  if (i < snapIndex) return 'compacted';
  if (i <= storage.lastIndex()) return storage.term(i);
  return i <= lastIndex ? 'unknown' : 'missing';
}

/** A view of `storage` whose snapshot() answers null on two asks in three, as a disk-backed store may. */
function sometimesWithoutSnapshot(storage: MemoryStorage): Storage {
  let asks = 0;
  return {
    initialState: () => storage.initialState(),
    entries: (lo, hi, maxBytes) => storage.entries(lo, hi, maxBytes),
    term: (index) => storage.term(index),
    firstIndex: () => storage.firstIndex(),
    lastIndex: () => storage.lastIndex(),
    snapshot: () => (++asks % 3 === 0 || storage.snapshot().meta.index === 0 ? storage.snapshot() : null),
  };
}
