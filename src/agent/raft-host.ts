import assert from 'node:assert/strict';
import { RawNode, decodeConfChange } from '../raft/index.js';
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, RaftError, Ready, Snapshot, SnapshotMeta, SoftState, Status, Storage } from '../raft/index.js';
import { ChimeError, type ChimeErrorCode } from './errors.js';
import { PendingProposals } from './proposals.js';
import { PendingReads } from './reads.js';
import { bestTransferTarget, expectedEncodeMs, handOffBeforeSnapshot, snapshotStagger } from './snapshot-policy.js';

/** The durable log as the host needs it: the core's read side plus the writes. */
export interface LogStore extends Storage {
  /** One atomic write per Ready; `sync` false only when just the commit index moved. */
  save(batch: { hardState: HardState | null; entries: readonly Entry[]; snapshot: Snapshot | null }, options: { sync: boolean }): Promise<unknown>;
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Promise<unknown>;
  compact(index: number): Promise<unknown>;
  /** The newest snapshot's place in the log and its size, without its image. */
  snapshotInfo(): { readonly meta: SnapshotMeta; readonly bytes: number };
  /** The newest snapshot with its image (read from disk if it is not in memory). */
  loadSnapshot(): Promise<Snapshot>;
}

/** What the host replicates. Deterministic: same entries in, same state out. */
export interface StateMachine {
  apply(data: Uint8Array, index: number): unknown;
  /** With `frame`: the image comes after the header `frame(imageBytes)` returns, in one buffer. */
  snapshot(frame?: (imageBytes: number) => Uint8Array): Uint8Array;
  /** The same bytes in steps; the host gives the event loop a turn between them and applies nothing until the end. */
  snapshotSteps?(frame?: (imageBytes: number) => Uint8Array): Generator<void, Uint8Array, void>;
  restore(data: Uint8Array): void;
}

export interface HostEvents {
  send(messages: readonly Message[]): void;
  softStateChanged?(state: SoftState): void;
  confChanged?(change: ConfChange, index: number): void;
  /** Fsync time of one Ready's write, in seconds. */
  persisted?(seconds: number, entries: number): void;
  committed?(seconds: number): void;
  snapshotRestored?(index: number): void;
  snapshotTaken?(index: number, bytes: number, encodeMs: number): void;
  /** This leader asked `to` to take over before a long snapshot. */
  snapshotHandOff?(to: NodeId, expectedEncodeMs: number): void;
}

export interface HostOptions {
  readonly id: NodeId;
  readonly store: LogStore;
  readonly stateMachine: StateMachine;
  readonly events: HostEvents;
  readonly tickMs: number;
  readonly heartbeatTicks: number;
  readonly electionTicks: number;
  readonly randomInt: (maxExclusive: number) => number;
  /** The state machine's applied index at start (its restored snapshot's index). */
  readonly applied: number;
  /** Take a snapshot after this many applied entries (or `snapshotBytes` of them), keeping `snapshotKeepEntries` behind it. */
  readonly snapshotEntries: number;
  readonly snapshotBytes?: number;
  readonly snapshotKeepEntries: number;
  readonly maxPendingProposals: number;
  readonly proposalTimeoutMs: number;
  readonly readTimeoutMs: number;
}

/** Encoding work between two turns of the event loop while a snapshot is taken. */
const SNAPSHOT_SLICE_MS = 8;

/**
 * Drives one RawNode with real time: ticks on a timer, a Ready loop (persist → send →
 * apply → advance), proposals batched per turn of the event loop and resolved when their
 * entry applies, linearizable reads, and periodic snapshots.
 */
export class RaftHost {
  readonly node: RawNode;
  private readonly options: HostOptions;
  private readonly proposals: PendingProposals;
  private readonly reads: PendingReads;
  private batch: { data: Uint8Array; resolve: (r: unknown) => void; reject: (e: Error) => void; at: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private processing = false;
  private stopped = false;
  private applied: number;
  private lastSnapshotIndex: number;
  /** Entry bytes applied since the last snapshot: the log grows by size, not only by count. */
  private bytesSinceSnapshot = 0;
  /** Size of the last snapshot taken or restored. */
  private lastSnapshotBytes: number;
  /** How long encoding our last snapshot took (null until we took one). */
  private lastEncodeMs: number | null = null;
  /** When this leader asked another voter to take over so that it can snapshot (null: not asked). */
  private handOffSince: number | null = null;
  private readCounter = 0;

  constructor(options: HostOptions) {
    this.options = options;
    this.applied = options.applied;
    this.lastSnapshotIndex = options.store.snapshotInfo().meta.index;
    this.lastSnapshotBytes = options.store.snapshotInfo().bytes;
    this.node = new RawNode({
      id: options.id,
      storage: options.store,
      heartbeatTicks: options.heartbeatTicks,
      electionTicks: options.electionTicks,
      randomInt: options.randomInt,
      applied: options.applied,
      commitBroadcast: 'tick',
    });
    this.proposals = new PendingProposals(options.maxPendingProposals);
    this.reads = new PendingReads(options.maxPendingProposals);
  }

  start(): void {
    assert.ok(this.timer === null, 'started twice');
    this.timer = setInterval(() => this.onTick(), this.options.tickMs);
    this.schedule();
  }

  /** Stops ticking and fails whatever waits; the store is closed by the owner. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const error = new ChimeError('SHUTTING_DOWN', 'the node is shutting down');
    this.proposals.failAll(error);
    this.reads.failAll(error);
    for (const item of this.batch) item.reject(error);
    this.batch = [];
    while (this.processing) await new Promise((r) => setImmediate(r));
  }

  step(message: Message): void {
    if (this.stopped) return;
    this.node.step(message);
    this.schedule();
  }

  status(): Status {
    return this.node.status();
  }

  appliedIndex(): number {
    return this.applied;
  }

  /** Proposes one command; resolves with the state machine's result when it applies. */
  propose(data: Uint8Array): Promise<unknown> {
    if (this.stopped) return Promise.reject(new ChimeError('SHUTTING_DOWN', 'the node is shutting down'));
    const status = this.node.status();
    if (status.softState.role !== 'leader') return Promise.reject(notLeader(status.softState.leader));
    if (this.batch.length + this.proposals.size >= this.options.maxPendingProposals) {
      return Promise.reject(new ChimeError('PROPOSALS_FULL', `${this.options.maxPendingProposals} proposals are pending`, this.options.id));
    }
    return new Promise((resolve, reject) => {
      this.batch.push({ data, resolve, reject, at: performance.now() });
      this.schedule();
    });
  }

  proposeConfChange(change: ConfChange): Promise<void> {
    const result = this.node.proposeConfChange(change);
    if (!result.ok) return Promise.reject(fromRaftError(result.error));
    this.schedule();
    return new Promise((resolve, reject) => {
      this.proposals.add(result.lastIndex, result.term, performance.now(), this.options.proposalTimeoutMs, () => resolve(), reject);
    });
  }

  /** Starts an election now instead of after an election timeout. */
  campaign(): void {
    if (this.stopped) return;
    this.node.campaign();
    this.schedule();
  }

  transferLeader(to: NodeId): void {
    const error = this.node.transferLeader(to);
    if (error !== null) throw fromRaftError(error);
    this.schedule();
  }

  /** Resolves once this node's state reflects every write acknowledged before the call. */
  linearizableRead(): Promise<void> {
    if (this.stopped) return Promise.reject(new ChimeError('SHUTTING_DOWN', 'the node is shutting down'));
    const context = `${this.options.id}:${++this.readCounter}`;
    const error = this.node.readIndex(context);
    if (error !== null) return Promise.reject(fromRaftError(error));
    this.schedule();
    return this.reads.add(context, performance.now() + this.options.readTimeoutMs);
  }

  private onTick(): void {
    this.node.tick();
    const now = performance.now();
    this.proposals.expire(now);
    this.reads.expire(now);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.processing) void this.process();
    });
  }

  private flushBatch(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    const result = this.node.propose(batch.map((b) => b.data));
    if (!result.ok) {
      const error = fromRaftError(result.error);
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => this.proposals.add(result.firstIndex + i, result.term, item.at, this.options.proposalTimeoutMs, item.resolve, item.reject));
  }

  private async process(): Promise<void> {
    this.processing = true;
    try {
      this.flushBatch();
      while (!this.stopped && this.node.hasReady()) {
        await this.handleReady(this.node.ready());
        this.flushBatch();
      }
    } finally {
      this.processing = false;
    }
    if (!this.stopped && (this.node.hasReady() || this.batch.length > 0)) this.schedule();
  }

  private async handleReady(rd: Ready): Promise<void> {
    // A leader's appends do not depend on its own disk write (it counts itself only once
    // the write is done), so they go out first and the followers' fsyncs overlap ours.
    const early = rd.messages.filter(isLeaderMessage);
    const late = rd.messages.filter((m) => !isLeaderMessage(m));
    if (early.length > 0) this.options.events.send(early);
    // Entries a quorum committed that are already in our own log need not wait for this
    // Ready's disk write: applying (and answering) them first keeps a write's latency at
    // one fsync instead of two, since on a busy leader every Ready carries new entries.
    let committed = rd.committedEntries;
    if (rd.snapshot === null) {
      const durableLast = this.options.store.lastIndex();
      const ready = committed.filter((e) => e.index <= durableLast);
      this.applyEntries(ready);
      committed = committed.slice(ready.length);
    }
    if (rd.snapshot !== null || rd.entries.length > 0 || rd.hardState !== null) {
      const started = performance.now();
      // Membership is what the applied conf entries say, so a commit index that covers a conf
      // entry must survive a power loss: a node restarting with a membership two changes old
      // could count a majority of that old membership and lead beside the real leader.
      const sync = rd.mustSync || rd.committedEntries.some((e) => e.kind === 'conf');
      const saved = this.options.store.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot }, { sync });
      if (sync) {
        await saved;
        this.options.events.persisted?.((performance.now() - started) / 1000, rd.entries.length);
      } else {
        // Only the commit index moved: the write is not synced and nothing waits for it (a
        // restart learns the commit index again), so the next proposal need not queue behind
        // it; the store's queue keeps it ordered before later writes. A failed write still
        // ends the process, as an awaited one would (unhandled rejection), and the store
        // refuses every later write.
        void saved;
      }
    }
    if (late.length > 0) this.options.events.send(late);
    if (rd.snapshot !== null) {
      this.options.stateMachine.restore(rd.snapshot.data);
      this.options.events.snapshotRestored?.(rd.snapshot.meta.index);
      this.applied = rd.snapshot.meta.index;
      this.lastSnapshotIndex = rd.snapshot.meta.index;
      this.lastSnapshotBytes = rd.snapshot.data.length;
      this.bytesSinceSnapshot = 0;
      this.proposals.failUpTo(this.applied, new ChimeError('PROPOSAL_DROPPED', 'the log was replaced by a snapshot'));
    }
    this.applyEntries(committed);
    for (const state of rd.readStates) this.reads.indexKnown(state.context, state.index);
    for (const failure of rd.readFailures) this.reads.fail(failure.context, notLeader(failure.leader));
    this.node.advance();
    this.reads.releaseUpTo(this.applied);
    if (rd.softState !== null) {
      // A deposed leader's pending writes may still commit under the next leader (and then
      // resolve here); if they do not soon, answer (retryable) rather than at the timeout.
      if (rd.softState.role !== 'leader') this.proposals.leadershipLost(performance.now() + 4 * this.options.electionTicks * this.options.tickMs);
      this.options.events.softStateChanged?.(rd.softState);
    }
    await this.maybeSnapshot();
  }

  private applyEntries(entries: readonly Entry[]): void {
    const now = performance.now();
    for (const entry of entries) {
      let result: unknown = undefined;
      if (entry.kind === 'conf') {
        const change = decodeConfChange(entry.data);
        this.options.events.confChanged?.(change, entry.index);
      } else if (entry.data.length > 0) {
        result = this.options.stateMachine.apply(entry.data, entry.index);
      }
      this.applied = entry.index;
      this.bytesSinceSnapshot += entry.data.length;
      const started = this.proposals.resolve(entry.index, entry.term, result);
      if (started !== null) this.options.events.committed?.((now - started) / 1000);
    }
  }

  /**
   * Whether a snapshot is due, with every threshold scaled by `stagger`. A snapshot encodes the
   * whole table on the event loop: the next one waits until the log has grown by half the last
   * one's size too, so its cost stays proportional to what was written (and a restart replays
   * at most about that much besides the snapshot).
   */
  private snapshotDue(stagger: number): boolean {
    const bySize = this.bytesSinceSnapshot >= (this.options.snapshotBytes ?? 64 << 20) * stagger;
    const byEntries = this.applied - this.lastSnapshotIndex >= this.options.snapshotEntries * stagger && this.bytesSinceSnapshot >= (this.lastSnapshotBytes / 2) * stagger;
    return bySize || byEntries;
  }

  private async maybeSnapshot(): Promise<void> {
    // Runs after every Ready: the unscaled thresholds (the stagger is at least 1) rule most
    // calls out before the node's status is built.
    if (!this.snapshotDue(1)) return;
    const status = this.node.status();
    if (!this.snapshotDue(snapshotStagger(this.options.id, status.conf.voters))) return;
    if (this.awaitingHandOff(status)) return;
    this.handOffSince = null;
    this.bytesSinceSnapshot = 0;
    const index = this.applied;
    const encoded = await this.encodeSnapshot(status.softState.role !== 'leader');
    if (encoded === null) return;
    const { data, busyMs } = encoded;
    this.lastEncodeMs = busyMs;
    await this.options.store.createSnapshot(index, status.conf, data);
    this.options.events.snapshotTaken?.(index, data.length, this.lastEncodeMs);
    this.lastSnapshotIndex = index;
    this.lastSnapshotBytes = data.length;
    const compactTo = index - this.options.snapshotKeepEntries;
    if (compactTo > this.options.store.firstIndex()) await this.options.store.compact(compactTo);
  }

  /**
   * Encodes the state machine; `sliced`, in slices of about SNAPSHOT_SLICE_MS with a turn of
   * the event loop between them, so that a big table does not hold up this node's executor
   * timers. The Ready loop waits for this (the caller is inside it), so nothing is applied and
   * the state machine stays as it was — which also means no heartbeats: a leader encodes in
   * one go (its stall is the encoding time, not that plus everything run between slices) and
   * hands leadership on first when that is long. `busyMs` is the encoding time alone. Null if
   * the host stopped meanwhile.
   */
  private async encodeSnapshot(sliced: boolean): Promise<{ data: Uint8Array; busyMs: number } | null> {
    const stateMachine = this.options.stateMachine;
    let sliceStarted = performance.now();
    if (!sliced || stateMachine.snapshotSteps === undefined) return { data: stateMachine.snapshot(), busyMs: performance.now() - sliceStarted };
    const steps = stateMachine.snapshotSteps();
    let busyMs = 0;
    for (;;) {
      const step = steps.next();
      if (step.done === true) return { data: step.value, busyMs: busyMs + performance.now() - sliceStarted };
      if (performance.now() - sliceStarted < SNAPSHOT_SLICE_MS) continue;
      busyMs += performance.now() - sliceStarted;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.stopped) return null;
      sliceStarted = performance.now();
    }
  }

  /**
   * Whether to put a due snapshot off because leadership is being handed on. A leader silent
   * for much of an election timeout loses its followers: they elect, the scheduler starts over
   * on another node and fires wait. So a leader expecting a long encode asks the most
   * up-to-date voter to take over and snapshots once it follows; if no hand-off happened
   * within two election timeouts it snapshots anyway (the log must not grow without bound).
   */
  private awaitingHandOff(status: Status): boolean {
    const electionMs = this.options.electionTicks * this.options.tickMs;
    const expectedMs = expectedEncodeMs(this.lastEncodeMs, this.lastSnapshotBytes);
    if (status.softState.role !== 'leader' || status.conf.voters.length < 2 || !handOffBeforeSnapshot(expectedMs, electionMs)) return false;
    const now = performance.now();
    if (this.handOffSince !== null) return now - this.handOffSince < 2 * electionMs;
    const target = bestTransferTarget(status, this.options.id);
    if (target === null || this.node.transferLeader(target) !== null) return false;
    this.handOffSince = now;
    this.options.events.snapshotHandOff?.(target, expectedMs);
    this.schedule();
    return true;
  }
}

function isLeaderMessage(m: Message): boolean {
  return m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' || m.type === 'timeoutNow' || m.type === 'readIndexResp';
}

export function notLeader(leader: NodeId | null): ChimeError {
  return leader === null ? new ChimeError('NO_LEADER', 'no leader is known right now') : new ChimeError('NOT_LEADER', `the leader is ${leader}`, leader);
}

export function fromRaftError(error: RaftError): ChimeError {
  if (error.code === 'NOT_LEADER') return notLeader(error.leader);
  const code: ChimeErrorCode = error.code === 'COMPACTED' || error.code === 'UNAVAILABLE' ? 'NO_LEADER' : error.code;
  return new ChimeError(code, error.message, error.leader);
}
