import assert from 'node:assert/strict';
import type { ConfChange, Entry, HardState, Message, NodeId, ProposeResult, RaftError, Ready, SoftState, Status, ProgressStatus } from './types.js';
import type { RaftConfig } from './config.js';
import { Raft } from './raft.js';

/** What a handed-out Ready promised, so advance() knows what became durable and applied. */
interface Handed {
  readonly hardState: HardState | null;
  readonly softState: SoftState | null;
  readonly lastEntry: { index: number; term: number } | null;
  readonly snapshotIndex: number | null;
  readonly committedEntries: readonly Entry[];
}

/**
 * The application's handle on one Raft node (after etcd-io/raft's RawNode). Not
 * thread-safe by design: one event loop drives it. ready() and advance() alternate.
 */
export class RawNode {
  private readonly raft: Raft;
  private previousHard: HardState;
  private previousSoft: SoftState;
  private handed: Handed | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.previousHard = this.hardState();
    this.previousSoft = this.softState();
  }

  tick(): void {
    this.raft.tick();
  }

  /** Ticks until the next one that does something (see Raft.ticksUntilDue): a host may sleep that long. */
  ticksUntilDue(): number {
    return this.raft.ticksUntilDue();
  }

  step(message: Message): void {
    this.raft.step(message);
  }

  propose(data: readonly Uint8Array[]): ProposeResult {
    return this.raft.propose(data);
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(change);
  }

  readIndex(context: string): RaftError | null {
    return this.raft.readIndex(context);
  }

  transferLeader(to: NodeId): RaftError | null {
    return this.raft.transferLeader(to);
  }

  /** Starts an election now, as if the election timeout had passed (tests, bootstrap). */
  campaign(): void {
    this.raft.hup(false);
  }

  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.reportSnapshot(id, ok);
  }

  hasReady(): boolean {
    const raft = this.raft;
    return (
      raft.msgs.length > 0 ||
      raft.readStates.length > 0 ||
      raft.readFailures.length > 0 ||
      raft.log.unstable.entries.length > 0 ||
      raft.log.unstable.snapshot !== null ||
      raft.log.hasNextCommittedEntries() ||
      !sameHard(this.hardState(), this.previousHard) ||
      !sameSoft(this.softState(), this.previousSoft)
    );
  }

  ready(): Ready {
    assert.ok(this.handed === null, 'ready() again before advance()');
    const raft = this.raft;
    const hard = this.hardState();
    const soft = this.softState();
    assert.ok(hard.commit >= this.previousHard.commit, `commit index goes back from ${this.previousHard.commit} to ${hard.commit}`);
    const hardState = sameHard(hard, this.previousHard) ? null : hard;
    const softState = sameSoft(soft, this.previousSoft) ? null : soft;
    const entries = raft.log.unstable.entries.slice();
    const snapshot = raft.log.unstable.snapshot;
    const committedEntries = raft.log.nextCommittedEntries(raft.config.maxApplyBytes);
    const messages = raft.msgs;
    raft.msgs = [];
    const readStates = raft.readStates;
    raft.readStates = [];
    const readFailures = raft.readFailures;
    raft.readFailures = [];
    const last = entries[entries.length - 1];
    this.handed = {
      hardState,
      softState,
      lastEntry: last === undefined ? null : { index: last.index, term: last.term },
      snapshotIndex: snapshot === null ? null : snapshot.meta.index,
      committedEntries,
    };
    const voteChanged = hardState !== null && (hardState.term !== this.previousHard.term || hardState.vote !== this.previousHard.vote);
    const mustSync = entries.length > 0 || snapshot !== null || voteChanged;
    // A host may send a leader's messages before this Ready's write (thesis §10.2.1): that
    // is safe only if the term they carry is already on disk, so it never is new here.
    if (hardState !== null && hardState.term !== this.previousHard.term) {
      for (const m of messages) assert.ok(!(isLeaderMessage(m) && m.term === hardState.term), `${m.type} of term ${m.term} in the Ready that first records the term`);
    }
    return { softState, hardState, entries, snapshot, committedEntries, messages, readStates, readFailures, mustSync };
  }

  /** The last Ready was persisted, sent and applied. */
  advance(): void {
    const handed = this.handed;
    assert.ok(handed !== null, 'advance() without ready()');
    this.handed = null;
    const raft = this.raft;
    if (handed.hardState !== null) this.previousHard = handed.hardState;
    if (handed.softState !== null) this.previousSoft = handed.softState;
    if (handed.snapshotIndex !== null) {
      raft.log.unstable.stableSnapshotTo(handed.snapshotIndex);
      if (handed.snapshotIndex > raft.log.applied && handed.snapshotIndex <= raft.log.committed) raft.log.appliedTo(handed.snapshotIndex);
    }
    if (handed.lastEntry !== null) {
      raft.log.unstable.stableTo(handed.lastEntry.index, handed.lastEntry.term);
      raft.stableAdvanced();
    }
    for (const entry of handed.committedEntries) {
      raft.log.appliedTo(entry.index);
      if (entry.kind === 'conf') raft.applyConfEntry(entry);
    }
    if (handed.committedEntries.length > 0) raft.appliedAdvanced();
    // Last, so that a candidate that wins now counts its own entries as written.
    if (handed.hardState !== null) raft.selfVoteDurable(handed.hardState.term, handed.hardState.vote);
  }

  status(): Status {
    const raft = this.raft;
    const progress = new Map<NodeId, ProgressStatus>();
    if (raft.role === 'leader') {
      for (const [id, pr] of raft.progress) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive, learner: pr.learner });
      }
    }
    return {
      id: raft.id,
      hardState: this.hardState(),
      softState: this.softState(),
      applied: raft.log.applied,
      lastIndex: raft.log.lastIndex(),
      conf: raft.conf,
      snapshotPending: raft.log.unstable.snapshot?.meta.index ?? null,
      progress,
      leadTransferee: raft.leadTransferee,
      handingOff: raft.handingOff,
    };
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }

  /** Who leads and this node's role: what status() says of them, without building the rest (a leader asks on every proposal). */
  softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role };
  }
}

/** Messages only a leader sends, which a host may send before its own write completes. */
export function isLeaderMessage(m: Message): boolean {
  return m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' || m.type === 'timeoutNow' || m.type === 'readIndexResp';
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}
