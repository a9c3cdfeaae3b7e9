// A node's disk in the simulation: the node runtime's LogStore over two MemoryStorages, the
// view the node reads (what its completed writes left) and the platter (what survives a
// power loss). Writes complete one at a time, in the order issued, each after a delay the
// simulation draws; only a synced write reaches the platter, taking every earlier unsynced
// one with it. A crash loses what never reached the platter — except that any prefix of the
// writes still in flight or unsynced may have reached it anyway (the OS flushed them, the
// callback never ran), and the crash model picks that prefix at random.
import { MemoryStorage } from '../../src/raft/index.js';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMeta } from '../../src/raft/index.js';
import type { Done, LogStore, PersistBatch } from '../../src/node/index.js';

/** Deliberately broken disks, to show the invariants catch what they claim to. */
export type DiskFault = 'none' | 'lose-acked-entries' | 'forget-vote';

type Op =
  | { readonly kind: 'write'; readonly batch: PersistBatch; readonly sync: boolean }
  | { readonly kind: 'snapshot'; readonly index: number; readonly conf: ConfState; readonly data: Uint8Array }
  | { readonly kind: 'compact'; readonly index: number };

interface Pending {
  readonly op: Op;
  readonly done: Done;
}

/** What the simulation provides: when a write completes, and whether the node is still the same incarnation. */
export interface DiskHost {
  /** Schedules the completion of the write at the head of the queue; `sync` writes take an fsync's time. */
  scheduleCompletion(sync: boolean, complete: () => void): void;
  /** Told of every write as it is issued (the safety checker watches entries as they are written). */
  issued?(batch: PersistBatch, view: SimLogStore): void;
  /** Told of every snapshot the node takes, with the membership it records. */
  snapshotCreated?(index: number, conf: ConfState): void;
}

function applyOp(storage: MemoryStorage, op: Op): void {
  switch (op.kind) {
    case 'write':
      if (op.batch.snapshot !== null) storage.applySnapshot(op.batch.snapshot);
      if (op.batch.entries.length > 0) storage.append(op.batch.entries);
      if (op.batch.hardState !== null) storage.setHardState(op.batch.hardState);
      return;
    case 'snapshot':
      if (op.index > storage.snapshot().meta.index) storage.createSnapshot(op.index, op.conf, op.data);
      return;
    case 'compact':
      if (op.index >= storage.firstIndex()) storage.compact(op.index);
      return;
  }
}

function isSynced(op: Op): boolean {
  return op.kind !== 'write' || op.sync;
}

/** A copy of what `from` holds. */
export function cloneStorage(from: MemoryStorage): MemoryStorage {
  const { hardState, confState } = from.initialState();
  const copy = new MemoryStorage(confState);
  const snap = from.snapshot();
  if (snap.meta.index > 0) copy.applySnapshot(snap);
  if (from.lastIndex() >= from.firstIndex()) copy.append(from.entries(from.firstIndex(), from.lastIndex() + 1, Number.MAX_SAFE_INTEGER));
  copy.setHardState(hardState);
  return copy;
}

/** What survives a power loss: the platter of one node's disk. */
export class SimDisk {
  constructor(public platter: MemoryStorage) {}

  /** Whether the platter holds entry (index, term), directly or inside its snapshot. */
  holds(index: number, term: number): boolean {
    const snap = this.platter.snapshot().meta;
    if (index <= snap.index) return true;
    if (index > this.platter.lastIndex()) return false;
    return this.platter.term(index) === term;
  }
}

export class SimLogStore implements LogStore {
  /** What the node reads: every completed write. */
  private view: MemoryStorage;
  /** Completed writes not yet on the platter (unsynced), oldest first. */
  private dirty: Op[] = [];
  /** Issued writes not yet completed, oldest first; the head is in progress. */
  private queue: Pending[] = [];
  private snapshotAsks = 0;
  /** Bumped by a crash: completions scheduled before it are ignored. */
  private generation = 0;
  /** The first index of the last synced append, for the lose-acked-entries fault. */
  private lastSyncedAppend: number | null = null;

  constructor(
    readonly disk: SimDisk,
    private readonly host: DiskHost,
    private readonly fault: DiskFault,
    /** The store answers two asks for its snapshot in three with null (an image still being read from disk). */
    private readonly snapshotSometimesUnavailable: boolean,
  ) {
    this.view = cloneStorage(disk.platter);
  }

  // ---- the core's read side -------------------------------------------------------------
  initialState(): { hardState: HardState; confState: ConfState } {
    return this.view.initialState();
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.view.entries(lo, hi, maxBytes);
  }
  term(index: number): number {
    return this.view.term(index);
  }
  firstIndex(): number {
    return this.view.firstIndex();
  }
  lastIndex(): number {
    return this.view.lastIndex();
  }
  snapshot(): Snapshot | null {
    const snap = this.view.snapshot();
    if (!this.snapshotSometimesUnavailable || snap.meta.index === 0) return snap;
    return ++this.snapshotAsks % 3 === 0 ? snap : null;
  }
  snapshotInfo(): { meta: SnapshotMeta; bytes: number } {
    const snap = this.view.snapshot();
    return { meta: snap.meta, bytes: snap.data.length };
  }

  /** The snapshot with its image, always (the runtime reads it once at start). */
  snapshotNow(): Snapshot {
    return this.view.snapshot();
  }

  // ---- writes ---------------------------------------------------------------------------
  write(batch: PersistBatch, sync: boolean, done: Done): void {
    this.host.issued?.(batch, this);
    this.enqueue({ kind: 'write', batch, sync }, done);
  }
  createSnapshot(index: number, conf: ConfState, data: Uint8Array, done: Done): void {
    this.host.snapshotCreated?.(index, conf);
    this.enqueue({ kind: 'snapshot', index, conf, data }, done);
  }
  compact(index: number, done: Done): void {
    this.enqueue({ kind: 'compact', index }, done);
  }

  /** Writes issued and not yet completed, oldest first (the checker's view of the log includes them). */
  inFlightWrites(): readonly PersistBatch[] {
    return this.queue.flatMap((p) => (p.op.kind === 'write' ? [p.op.batch] : []));
  }

  /** What the node reads now. */
  get current(): MemoryStorage {
    return this.view;
  }

  get busy(): boolean {
    return this.queue.length > 0;
  }

  /**
   * Power loss: writes in flight and unsynced writes are lost, except a prefix of them that
   * `survivors` (drawn by the caller from 0 to their count) says reached the platter. Returns
   * the store a restarted node opens.
   */
  crash(survivors: number): SimLogStore {
    const unsure = [...this.dirty, ...this.queue.map((p) => p.op)];
    for (const op of unsure.slice(0, survivors)) applyOp(this.disk.platter, op);
    this.generation++;
    this.queue = [];
    this.dirty = [];
    const platter = this.disk.platter;
    if (this.fault === 'forget-vote') platter.setHardState({ ...platter.initialState().hardState, vote: null });
    if (this.fault === 'lose-acked-entries') this.loseLastSyncedAppend();
    return new SimLogStore(this.disk, this.host, this.fault, this.snapshotSometimesUnavailable);
  }

  /** How many writes a crash could keep or lose (see crash). */
  get unsureWrites(): number {
    return this.dirty.length + this.queue.length;
  }

  private enqueue(op: Op, done: Done): void {
    this.queue.push({ op, done });
    if (this.queue.length === 1) this.startHead();
  }

  private startHead(): void {
    const head = this.queue[0];
    if (head === undefined) return;
    const generation = this.generation;
    this.host.scheduleCompletion(isSynced(head.op), () => {
      if (generation !== this.generation) return;
      this.complete();
    });
  }

  private complete(): void {
    const head = this.queue.shift();
    if (head === undefined) return;
    applyOp(this.view, head.op);
    if (isSynced(head.op)) {
      for (const op of this.dirty) applyOp(this.disk.platter, op);
      this.dirty = [];
      applyOp(this.disk.platter, head.op);
      if (head.op.kind === 'write' && head.op.batch.entries.length > 0 && head.op.batch.snapshot === null) this.lastSyncedAppend = head.op.batch.entries[0]?.index ?? null;
    } else {
      this.dirty.push(head.op);
    }
    this.startHead();
    head.done(null);
  }

  /** The last synced append "succeeded" but never reached the platter (keep what the commit index covers, or the core refuses to start). */
  private loseLastSyncedAppend(): void {
    const first = this.lastSyncedAppend;
    const platter = this.disk.platter;
    if (first === null) return;
    const { hardState, confState } = platter.initialState();
    const keepTo = Math.max(first - 1, hardState.commit, platter.snapshot().meta.index);
    if (keepTo >= platter.lastIndex()) return;
    const kept = new MemoryStorage(confState);
    const snap = platter.snapshot();
    if (snap.meta.index > 0) kept.applySnapshot(snap);
    if (keepTo >= platter.firstIndex()) kept.append(platter.entries(platter.firstIndex(), keepTo + 1, Number.MAX_SAFE_INTEGER));
    kept.setHardState(hardState);
    this.disk.platter = kept;
  }
}
