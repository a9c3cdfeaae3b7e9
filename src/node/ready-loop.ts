// The Ready loop of one node: ticks, steps, proposals batched per turn, and for each Ready
// persist → send → apply → advance, with linearizable reads and periodic snapshots. Written
// with completion callbacks rather than promises so that the simulator, which drives this
// very code, decides exactly when each disk write completes and nothing runs in between.
import assert from 'node:assert/strict';
import { RawNode, decodeConfChange, isLeaderMessage } from '../raft/index.js';
import type { ConfChange, Entry, Message, NodeId, RaftConfig, RaftError, Ready, SoftState, Status } from '../raft/index.js';
import { ChimeError, notLeader, type ErrorCode } from '../errors/index.js';
import type { MemberDirectory } from './member-directory.js';
import type { Clock, Done, LogStore, NodeEvents, PersistBatch, TimerHandle, TraceStage } from './ports.js';
import { PendingProposals, type Settle } from './proposals.js';
import { PendingReads } from './reads.js';
import { bestTransferTarget, expectedEncodeMs, handOffBeforeSnapshot, snapshotScales, type SnapshotScales } from './snapshot-policy.js';

const UNSCALED: SnapshotScales = { entries: 1, bytes: 1 };

/** The core's knobs the runtime passes through (the simulator shrinks messages and chunks). */
export type RaftTuning = Partial<Omit<RaftConfig, 'id' | 'storage' | 'heartbeatTicks' | 'electionTicks' | 'randomInt' | 'applied'>>;

export interface ReadyLoopOptions<C, R> {
  readonly id: NodeId;
  readonly store: LogStore;
  readonly stateMachine: MemberDirectory<C, R>;
  readonly clock: Clock;
  readonly randomInt: (maxExclusive: number) => number;
  readonly events: NodeEvents;
  readonly send: (messages: readonly Message[]) => void;
  /** Makes what `send` queued leave now rather than at the turn's end. */
  readonly flushSends: () => void;
  readonly softStateChanged: (soft: SoftState) => void;
  readonly confApplied: (change: ConfChange) => void;
  /**
   * Why the application's membership rules refuse a change, or null. Asked when the change is
   * offered to the core (a held one again when it leaves the queue), so it judges the
   * membership with every change before it applied.
   */
  readonly confChangeRefusal: (change: ConfChange) => ChimeError | null;
  readonly tickMs: number;
  readonly heartbeatTicks: number;
  readonly electionTicks: number;
  /** The state machine's applied index at start (its restored snapshot's index). */
  readonly applied: number;
  /** Take a snapshot after this many applied entries (or `snapshotBytes` of them), keeping `snapshotKeepEntries` behind it. */
  readonly snapshotEntries: number;
  readonly snapshotBytes: number;
  readonly snapshotKeepEntries: number;
  readonly proposalsPendingMax: number;
  readonly readsPendingMax: number;
  readonly proposalTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** The membership changes that may wait (held) for the one before them to apply, and how long each may wait. */
  readonly confChangesHeldMax: number;
  readonly confChangeHoldMs: number;
  readonly raft: RaftTuning;
}

/**
 * The longest the tick timer sleeps when the core times nothing (a learner): a bound, so a
 * node that is owed ticks for a reason the core does not report still gets them.
 */
const IDLE_WAKE_TICKS_MAX = 100;

/** Encoding work between two turns of the event loop while a follower takes a snapshot. */
const SNAPSHOT_SLICE_MS = 8;

/** A membership change waiting for the one before it to apply (the core takes one at a time). */
interface HeldConfChange {
  readonly change: ConfChange;
  readonly deadlineMs: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Queued<R> {
  readonly data: Uint8Array;
  readonly atMs: number;
  readonly settle: Settle<R>;
}

export class ReadyLoop<C, R> {
  readonly raw: RawNode;
  private readonly options: ReadyLoopOptions<C, R>;
  private readonly proposals: PendingProposals<R>;
  private readonly reads: PendingReads;
  private batch: Queued<R>[] = [];
  /** Oldest first; the head is offered to the core again after every Ready until it takes it. */
  private heldConf: HeldConfChange[] = [];
  private tickTimer: TimerHandle | null = null;
  /** The tick the armed timer fires at (Infinity: none armed). */
  private tickTimerAt = Infinity;
  /** Ticks are counted from here: tick n falls at tickOriginMs + n × tickMs (null: not started, no ticks yet). */
  private tickOriginMs: number | null = null;
  private ticksDelivered = 0;
  private scheduled = false;
  /** A Ready (or a snapshot) is being handled; the next waits until it is done. */
  private processing = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private applied: number;
  /** Committed entries already on disk that the Ready being handled applies while its write runs (applyDurable). */
  private durableToApply: readonly Entry[] = [];
  private lastSnapshotIndex: number;
  /** Entry bytes applied since the last snapshot: the log grows by size, not only by count. */
  private bytesSinceSnapshot = 0;
  private lastSnapshotBytes: number;
  /** How long encoding our last snapshot took (null until we took one). */
  private lastEncodeMs: number | null = null;
  /** When this leader asked another voter to take over so that it can snapshot (null: not asked). */
  private handOffSinceMs: number | null = null;
  private readCounter = 0;

  constructor(options: ReadyLoopOptions<C, R>) {
    this.options = options;
    this.applied = options.applied;
    const info = options.store.snapshotInfo();
    this.lastSnapshotIndex = info.meta.index;
    this.lastSnapshotBytes = info.bytes;
    this.raw = new RawNode({
      commitBroadcast: 'tick',
      ...options.raft,
      id: options.id,
      storage: options.store,
      heartbeatTicks: options.heartbeatTicks,
      electionTicks: options.electionTicks,
      randomInt: options.randomInt,
      applied: options.applied,
    });
    this.proposals = new PendingProposals(options.proposalsPendingMax);
    this.reads = new PendingReads(options.readsPendingMax);
  }

  start(): void {
    assert.ok(this.tickTimer === null && !this.stopped, 'started twice');
    this.tickOriginMs = this.options.clock.nowMs();
    this.armTick();
    this.schedule();
  }

  /** Stops ticking and fails whatever waits; resolves once the Ready in hand is done. */
  stop(): Promise<void> {
    this.stopped = true;
    this.tickTimer?.cancel();
    this.tickTimer = null;
    this.tickTimerAt = Infinity;
    const error = new ChimeError('SHUTTING_DOWN', 'the node is shutting down');
    this.proposals.failAll(new ChimeError('SHUTTING_DOWN', 'the node is shutting down before the write was confirmed; it may or may not take effect'));
    this.reads.failAll(error);
    for (const item of this.batch) item.settle.reject(error);
    this.batch = [];
    for (const held of this.heldConf) held.reject(error);
    this.heldConf = [];
    if (!this.processing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  step(message: Message): void {
    if (this.stopped) return;
    const trace = this.options.events.trace;
    if (trace !== undefined) {
      if (message.type === 'app' && message.entries.length > 0) trace('appendReceived', message.entries[message.entries.length - 1]?.index ?? 0);
      else if (message.type === 'appResp' && !message.reject) trace('ackReceived', message.index);
    }
    this.catchUpTicks();
    this.raw.step(message);
    this.schedule();
  }

  status(): Status {
    return this.raw.status();
  }

  appliedIndex(): number {
    return this.applied;
  }

  /** Proposes one command; resolves with the state machine's result when its entry applies. */
  propose(data: Uint8Array): Promise<R> {
    const refusal = this.proposalRefusal();
    if (refusal !== null) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      this.batch.push({ data, atMs: this.options.clock.nowMs(), settle: { resolve, reject } });
      this.schedule();
    });
  }

  /**
   * Proposes one membership change. The core takes one change at a time (CONF_CHANGE_PENDING
   * while the one before it is not applied, or while a new leader has not applied its own first
   * entry); with `hold` (and a `confChangeHoldMs` above 0), a refused change waits here instead,
   * in order, up to `confChangeHoldMs`, and is proposed as soon as the core takes it. Without
   * (the runtime's own timers, which try again on their next round) it is refused at once,
   * also while held changes wait, so that it never jumps their queue.
   */
  proposeConfChange(change: ConfChange, holdAsked = false): Promise<void> {
    if (this.stopped) return Promise.reject(shuttingDown());
    const hold = holdAsked && this.options.confChangeHoldMs > 0;
    this.catchUpTicks();
    if (this.heldConf.length > 0) {
      const refusal = this.proposalRefusal();
      if (refusal !== null) return Promise.reject(refusal);
      if (!hold) return Promise.reject(new ChimeError('CONF_CHANGE_PENDING', `${this.heldConf.length} membership changes wait for the one before them`));
      return this.holdConfChange(change);
    }
    const refused = this.options.confChangeRefusal(change);
    if (refused !== null) return Promise.reject(refused);
    const result = this.raw.proposeConfChange(change);
    if (!result.ok) {
      if (hold && result.error.code === 'CONF_CHANGE_PENDING') return this.holdConfChange(change);
      return Promise.reject(fromRaftError(result.error));
    }
    return this.awaitConfChange(result.lastIndex, result.term);
  }

  private awaitConfChange(index: number, term: number): Promise<void> {
    this.schedule();
    return new Promise((resolve, reject) => {
      this.proposals.add(index, term, this.options.clock.nowMs(), this.options.proposalTimeoutMs, { resolve: () => resolve(), reject });
    });
  }

  private holdConfChange(change: ConfChange): Promise<void> {
    const max = this.options.confChangesHeldMax;
    if (this.heldConf.length >= max) return Promise.reject(new ChimeError('CONF_CHANGE_PENDING', `${max} membership changes already wait for the one before them; retry shortly`));
    return new Promise((resolve, reject) => {
      this.heldConf.push({ change, deadlineMs: this.options.clock.nowMs() + this.options.confChangeHoldMs, resolve, reject });
      // Deadlines are checked on ticks, which an idle leader would otherwise not take.
      this.armTick();
    });
  }

  /** After a Ready: the oldest held change goes to the core if it takes a change now; refused for good, the next one is tried. */
  private releaseHeldConf(): void {
    while (this.heldConf.length > 0) {
      const head = this.heldConf[0];
      if (head === undefined) return;
      // The membership may still be behind (the change before is not applied): a refusal
      // stands (a retired id stays retired), a pass is only final if the core takes the change.
      const refused = this.options.confChangeRefusal(head.change);
      if (refused !== null) {
        this.heldConf.shift();
        head.reject(refused);
        continue;
      }
      const result = this.raw.proposeConfChange(head.change);
      if (!result.ok && result.error.code === 'CONF_CHANGE_PENDING') return;
      this.heldConf.shift();
      if (!result.ok) {
        head.reject(fromRaftError(result.error));
        continue;
      }
      this.awaitConfChange(result.lastIndex, result.term).then(head.resolve, head.reject);
      return;
    }
  }

  private expireHeldConf(nowMs: number): void {
    if (this.heldConf.length === 0 || (this.heldConf[0]?.deadlineMs ?? Infinity) > nowMs) return;
    const waited = this.options.confChangeHoldMs;
    this.heldConf = this.heldConf.filter((held) => {
      if (held.deadlineMs > nowMs) return true;
      held.reject(new ChimeError('CONF_CHANGE_PENDING', `the membership change before this one was still not applied after ${waited} ms; this one was not made`));
      return false;
    });
  }

  campaign(): void {
    if (this.stopped) return;
    this.catchUpTicks();
    this.raw.campaign();
    this.schedule();
  }

  transferLeader(to: NodeId): void {
    this.catchUpTicks();
    const error = this.raw.transferLeader(to);
    if (error !== null) throw fromRaftError(error);
    this.schedule();
  }

  reportUnreachable(peer: NodeId): void {
    this.catchUpTicks();
    this.raw.reportUnreachable(peer);
    // It may make an election due at once (a follower whose leader is unreachable).
    this.armTick();
  }

  /** Resolves once this node's state reflects every write acknowledged before the call. */
  read(): Promise<void> {
    if (this.stopped) return Promise.reject(shuttingDown());
    const context = `${this.options.id}:${++this.readCounter}`;
    this.catchUpTicks();
    const error = this.raw.readIndex(context);
    if (error !== null) return Promise.reject(fromRaftError(error));
    this.schedule();
    return this.reads.add(context, this.options.clock.nowMs() + this.options.readTimeoutMs);
  }

  private proposalRefusal(): ChimeError | null {
    if (this.stopped) return shuttingDown();
    const soft = this.raw.softState();
    if (soft.role !== 'leader') return notLeader(soft.leader);
    const max = this.options.proposalsPendingMax;
    if (this.batch.length + this.proposals.size >= max) return new ChimeError('PROPOSALS_FULL', `${max} proposals are pending`, { leader: this.options.id });
    return null;
  }

  /**
   * Delivers the ticks whose time has come. The core is ticked lazily: the timer wakes only
   * for the tick it says is due (RawNode.ticksUntilDue), and every input first catches up on
   * the ticks that passed, so the core sees ticks and inputs in the order a 10 ms ticker
   * would have given them, without 100 wakes a second on an idle node. An input catches up
   * only to the tick before the armed one: the due tick itself (a campaign, a step-down) is
   * the timer's, judged after the messages already waiting (see armTick).
   */
  private catchUpTicks(upTo: number = this.tickTimerAt - 1): void {
    if (this.tickOriginMs === null) return;
    const now = this.options.clock.nowMs();
    const due = Math.min(Math.floor((now - this.tickOriginMs) / this.options.tickMs), upTo);
    if (due <= this.ticksDelivered) return;
    // After a stall (a paused process), ticks beyond the longest timeout the core keeps
    // would only repeat what the first of them do; a timer firing late delivered one.
    const count = Math.min(due - this.ticksDelivered, 4 * this.options.electionTicks + 1);
    this.ticksDelivered = due;
    for (let i = 0; i < count; i++) this.raw.tick();
    this.proposals.expire(now);
    this.reads.expire(now);
    this.expireHeldConf(now);
  }

  /** Arms the tick timer for the next due tick, unless it is armed for that one or an earlier one. */
  private armTick(): void {
    if (this.stopped || this.tickOriginMs === null) return;
    const originMs = this.tickOriginMs;
    // While writes or reads wait, their deadlines are checked every tick.
    const waiting = this.proposals.size > 0 || this.reads.size > 0 || this.heldConf.length > 0;
    const ahead = waiting ? 1 : Math.min(this.raw.ticksUntilDue(), IDLE_WAKE_TICKS_MAX);
    const at = this.ticksDelivered + ahead;
    if (at >= this.tickTimerAt) return;
    this.tickTimer?.cancel();
    this.tickTimerAt = at;
    const delayMs = Math.max(0, originMs + at * this.options.tickMs - this.options.clock.nowMs());
    this.tickTimer = this.options.clock.setTimer(delayMs, () => {
      this.tickTimer = null;
      // After the I/O already waiting: a process that stalled past its election timeout has
      // its leader's heartbeats in its socket (a leader, its followers' answers), and a 10 ms
      // ticker, whose missed ticks are lost, would not have timed out either.
      this.options.clock.defer(() => {
        this.tickTimerAt = Infinity;
        if (this.stopped) return;
        this.catchUpTicks(Infinity);
        this.armTick();
        this.schedule();
      });
    });
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.options.clock.defer(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private flushBatch(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    const result = this.raw.propose(batch.map((b) => b.data));
    if (!result.ok) {
      const error = fromRaftError(result.error);
      for (const item of batch) item.settle.reject(error);
      return;
    }
    batch.forEach((item, i) => this.proposals.add(result.firstIndex + i, result.term, item.atMs, this.options.proposalTimeoutMs, item.settle));
    this.options.events.trace?.('proposed', result.firstIndex + batch.length - 1);
  }

  private pump(): void {
    if (this.processing || this.stopped) return;
    this.processing = true;
    this.nextReady();
  }

  /** Handles Readies until there is none, or one waits for the disk (its completion calls back in). */
  private nextReady(): void {
    while (!this.stopped) {
      this.flushBatch();
      if (!this.raw.hasReady()) break;
      if (!this.handleReady(this.raw.ready())) return;
    }
    this.processing = false;
    // What was stepped and handled may have brought a deadline closer (a new leader's first
    // heartbeat, a commit index owed, a waiting proposal).
    this.armTick();
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** True when the Ready was handled at once; false when a write completion will continue. */
  private handleReady(rd: Ready): boolean {
    // A leader's appends do not depend on its own disk write (it counts itself only once the
    // write is done, Raft thesis §10.2.1), so they go out first — now, not at the end of the
    // turn, after the write and the apply below — and the followers' fsyncs overlap ours.
    const early = rd.messages.filter(isLeaderMessage);
    const late = early.length === rd.messages.length ? [] : rd.messages.filter((m) => !isLeaderMessage(m));
    if (early.length > 0) this.options.send(early);
    const trace = this.options.events.trace;
    if (trace !== undefined) traceReady(trace, rd, early);
    if (early.length > 0) this.options.flushSends();
    // Entries a quorum committed that are already in our own log need not wait for this
    // Ready's disk write: applying (and answering) them while it runs keeps a write's latency
    // at one fsync instead of two, since on a busy leader every Ready carries new entries.
    let committed = rd.committedEntries;
    if (rd.snapshot === null) {
      const durableLast = this.options.store.lastIndex();
      let ready = 0;
      while (ready < committed.length && (committed[ready]?.index ?? Infinity) <= durableLast) ready++;
      this.durableToApply = committed.slice(0, ready);
      committed = committed.slice(ready);
    }
    const batch: PersistBatch = { hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot };
    if (rd.snapshot === null && rd.entries.length === 0 && rd.hardState === null) return this.finishReady(rd, late, committed);
    // Membership is what the applied conf entries say, so a commit index that covers a conf
    // entry must survive a power loss: a node restarting with a membership two changes old
    // could count a majority of that old membership and lead beside the real leader. A
    // commit index beyond what this Ready applies (a backlog over maxApplyBytes) may cover
    // one too, and the answers leaving after this write (the two-voter hand-off counts on
    // them) must not speak of a commit index a crash takes back: synced as well.
    const commitAhead = rd.hardState !== null && rd.hardState.commit > (rd.committedEntries[rd.committedEntries.length - 1]?.index ?? this.applied);
    const sync = rd.mustSync || rd.committedEntries.some((e) => e.kind === 'conf') || commitAhead;
    if (!sync) {
      // Only the commit index moved: the write is not synced and nothing waits for it (a
      // restart learns the commit index again); the store keeps writes in order. Nothing
      // waits for it, so the answers go first.
      this.applyDurable();
      this.options.store.write(batch, false, failFatally);
      return this.finishReady(rd, late, committed);
    }
    const startedMs = this.options.clock.nowMs();
    this.options.store.write(batch, true, (error) => {
      failFatally(error);
      this.options.events.persisted?.(this.options.clock.nowMs() - startedMs, rd.entries.length);
      const last = rd.entries[rd.entries.length - 1];
      if (last !== undefined) this.options.events.trace?.('persisted', last.index);
      if (this.finishReady(rd, late, committed)) this.nextReady();
    });
    // After the write has started, not before: the store starts it at once when idle, so the
    // apply overlaps its fdatasync. On a follower this keeps the apply of the entries the
    // last append committed off the path of this append's acknowledgement.
    this.applyDurable();
    return false;
  }

  /** Applies the entries handleReady found committed and already on disk, once (before the rest of its Ready's). */
  private applyDurable(): void {
    if (this.durableToApply.length === 0) return;
    const entries = this.durableToApply;
    this.durableToApply = [];
    this.applyEntries(entries);
  }

  /** Everything after the disk write: send, restore, apply, answer reads, advance, snapshot. */
  private finishReady(rd: Ready, late: readonly Message[], committed: readonly Entry[]): boolean {
    this.applyDurable();
    if (late.length > 0) this.options.send(late);
    const trace = this.options.events.trace;
    if (trace !== undefined) for (const m of late) if (m.type === 'appResp' && !m.reject) trace('ackSent', m.index);
    if (rd.snapshot !== null) {
      this.options.stateMachine.restore(rd.snapshot.data);
      this.options.events.snapshotRestored?.(rd.snapshot.meta.index);
      this.applied = rd.snapshot.meta.index;
      this.lastSnapshotIndex = rd.snapshot.meta.index;
      this.lastSnapshotBytes = rd.snapshot.data.length;
      this.bytesSinceSnapshot = 0;
      // Whether our entries at those indexes are inside the snapshot is unknown (it names only
      // its last entry's term): their outcome is unknown, never "dropped".
      this.proposals.failUpTo(this.applied, new ChimeError('LEADERSHIP_LOST', 'a snapshot from the new leader replaced the log before the write was confirmed; it may or may not have taken effect — retry'));
    }
    this.applyEntries(committed);
    for (const state of rd.readStates) this.reads.indexKnown(state.context, state.index);
    for (const failure of rd.readFailures) this.reads.fail(failure.context, failure.code === 'READS_FULL' ? new ChimeError('READS_FULL', 'too many reads are pending on the leader') : notLeader(failure.leader));
    this.raw.advance();
    this.reads.releaseUpTo(this.applied);
    this.releaseHeldConf();
    if (rd.softState !== null) {
      // A deposed leader's pending writes may still commit under the next leader (and then
      // resolve here); if they do not soon, answer (retryable) rather than at the timeout.
      if (rd.softState.role !== 'leader') this.proposals.leadershipLost(this.options.clock.nowMs() + 4 * this.options.electionTicks * this.options.tickMs);
      this.options.softStateChanged(rd.softState);
    }
    return this.maybeSnapshot();
  }

  private applyEntries(entries: readonly Entry[]): void {
    const now = this.options.clock.nowMs();
    for (const entry of entries) {
      if (entry.kind === 'conf') {
        const change = decodeConfChange(entry.data);
        this.options.stateMachine.applyConfChange(change);
        this.options.confApplied(change);
      }
      const result = this.options.stateMachine.apply(entry, this.proposals.waits(entry.index));
      this.applied = entry.index;
      this.bytesSinceSnapshot += entry.data.length;
      const startedMs = this.proposals.resolve(entry.index, entry.term, result);
      if (startedMs !== null) this.options.events.committed?.(now - startedMs);
    }
    const last = entries[entries.length - 1];
    if (last !== undefined) this.options.events.trace?.('applied', last.index);
  }

  /**
   * Whether a snapshot is due, with the thresholds scaled by `scales`. A snapshot encodes the
   * whole table on the event loop: the next one waits until the log has grown by half the last
   * one's size too, so its cost stays proportional to what was written (and a restart replays
   * at most about that much besides the snapshot).
   */
  private snapshotDue(scales: SnapshotScales): boolean {
    const bySize = this.bytesSinceSnapshot >= this.options.snapshotBytes * scales.bytes;
    const byEntries = this.applied - this.lastSnapshotIndex >= this.options.snapshotEntries * scales.entries && this.bytesSinceSnapshot >= (this.lastSnapshotBytes / 2) * scales.entries;
    return bySize || byEntries;
  }

  /** True when no snapshot was started; false when one is under way (it continues the loop when done). */
  private maybeSnapshot(): boolean {
    // Runs after every Ready: the unscaled thresholds (every scale is at least 1) rule most
    // calls out before the node's status is built.
    if (!this.snapshotDue(UNSCALED)) return true;
    const status = this.raw.status();
    // A snapshot from the leader installed while the last Ready was being written waits for
    // the next Ready: the core's membership is already that snapshot's, the state machine's
    // is not, so a snapshot taken now would record the wrong membership for its index.
    if (status.snapshotPending !== null) return true;
    if (!this.snapshotDue(snapshotScales(this.options.id, status.conf.voters, status.softState.role === 'leader'))) return true;
    if (this.awaitingHandOff(status)) return true;
    this.handOffSinceMs = null;
    this.bytesSinceSnapshot = 0;
    const index = this.applied;
    this.encodeSnapshot(status.softState.role !== 'leader', (encoded) => {
      if (encoded === null) return this.nextReady();
      this.lastEncodeMs = encoded.busyMs;
      this.options.store.createSnapshot(index, status.conf, encoded.data, (error) => {
        failFatally(error);
        this.options.events.snapshotTaken?.(index, encoded.data.length, encoded.busyMs);
        this.lastSnapshotIndex = index;
        this.lastSnapshotBytes = encoded.data.length;
        const compactTo = index - this.options.snapshotKeepEntries;
        if (compactTo <= this.options.store.firstIndex()) return this.nextReady();
        this.options.store.compact(compactTo, (compactError) => {
          failFatally(compactError);
          this.nextReady();
        });
      });
    });
    return false;
  }

  /**
   * Encodes the state machine; `sliced`, in slices of about SNAPSHOT_SLICE_MS with a turn of the
   * event loop between them, so that a big table does not hold up this node's executor timers.
   * The Ready loop waits for this, so nothing is applied and the state machine stays as it was
   * — which also means no heartbeats: a leader encodes in one go (its stall is the encoding time,
   * not that plus everything run between slices) and hands leadership on first when that is
   * long. `busyMs` is the encoding time alone. Null if the node stopped meanwhile.
   */
  private encodeSnapshot(sliced: boolean, done: (encoded: { data: Uint8Array; busyMs: number } | null) => void): void {
    const clock = this.options.clock;
    const stateMachine = this.options.stateMachine;
    const startedMs = clock.nowMs();
    if (!sliced) {
      const data = stateMachine.snapshot();
      done({ data, busyMs: clock.nowMs() - startedMs });
      return;
    }
    const steps = stateMachine.snapshotSteps();
    let busyMs = 0;
    const slice = (): void => {
      if (this.stopped) return done(null);
      const sliceStartedMs = clock.nowMs();
      for (;;) {
        const step = steps.next();
        if (step.done === true) return done({ data: step.value, busyMs: busyMs + clock.nowMs() - sliceStartedMs });
        if (clock.nowMs() - sliceStartedMs >= SNAPSHOT_SLICE_MS) break;
      }
      busyMs += clock.nowMs() - sliceStartedMs;
      clock.defer(slice);
    };
    slice();
  }

  /**
   * Whether to put a due snapshot off because leadership is being handed on. A leader silent
   * for much of an election timeout loses its followers: they elect, the scheduler starts over
   * on another node and fires wait. So a leader expecting a long encode asks the most
   * up-to-date voter to take over and snapshots once it follows; if no hand-off happened within
   * two election timeouts it snapshots anyway (the log must not grow without bound).
   */
  private awaitingHandOff(status: Status): boolean {
    const electionMs = this.options.electionTicks * this.options.tickMs;
    const expectedMs = expectedEncodeMs(this.lastEncodeMs, this.lastSnapshotBytes);
    if (status.softState.role !== 'leader' || status.conf.voters.length < 2 || !handOffBeforeSnapshot(expectedMs, electionMs)) return false;
    const now = this.options.clock.nowMs();
    if (this.handOffSinceMs !== null) return now - this.handOffSinceMs < 2 * electionMs;
    const target = bestTransferTarget(status, this.options.id);
    if (target === null || this.raw.transferLeader(target) !== null) return false;
    this.handOffSinceMs = now;
    this.options.events.snapshotHandOff?.(target, expectedMs);
    this.schedule();
    return true;
  }
}

/** The trace stages one Ready shows before its disk write: appends sent, entries known committed. */
function traceReady(trace: (stage: TraceStage, index: number) => void, rd: Ready, early: readonly Message[]): void {
  let sent = 0;
  for (const m of early) if (m.type === 'app') sent = Math.max(sent, m.entries[m.entries.length - 1]?.index ?? 0);
  if (sent > 0) trace('appendSent', sent);
  const committed = rd.committedEntries[rd.committedEntries.length - 1];
  if (committed !== undefined) trace('committed', committed.index);
}

/** A disk write that fails leaves a log the node cannot trust: it must stop, not go on. */
const failFatally: Done = (error) => {
  if (error !== null) throw error;
};

function shuttingDown(): ChimeError {
  return new ChimeError('SHUTTING_DOWN', 'the node is shutting down');
}

export function fromRaftError(error: RaftError): ChimeError {
  if (error.code === 'NOT_LEADER') return notLeader(error.leader);
  const code: ErrorCode = error.code === 'COMPACTED' || error.code === 'UNAVAILABLE' ? 'NO_LEADER' : error.code;
  return new ChimeError(code, error.message, { leader: error.leader });
}
