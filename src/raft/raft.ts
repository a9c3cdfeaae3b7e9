import assert from 'node:assert/strict';
import type {
  AppendMessage,
  AppendResponse,
  ConfChange,
  ConfState,
  Entry,
  HeartbeatMessage,
  HeartbeatResponse,
  Message,
  NodeId,
  ProposeResult,
  RaftError,
  RaftErrorCode,
  ReadFailure,
  ReadIndexMessage,
  ReadState,
  Role,
  Snapshot,
  SnapshotMessage,
  SnapshotResponse,
  VoteMessage,
  VoteResponse,
} from './types.js';
import { resolveConfig, type RaftConfig, type ResolvedConfig } from './config.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { quorumValue, voteResult } from './quorum.js';
import { ReadIndexTracker } from './read-index.js';
import { applyConfChange, checkConfChange, decodeConfChange, encodeConfChange } from './confchange.js';
import { EMPTY_BYTES, entryBytes, isMember, isVoter } from './util.js';
import { IncomingSnapshot } from './snapshot-receive.js';

/** A message as built inside the core, before `from` and `term` are stamped on it. */
type Outgoing = Message extends infer M ? (M extends Message ? Omit<M, 'from' | 'term'> & { term?: number } : never) : never;

export function raftError(code: RaftErrorCode, message: string, leader: NodeId | null): RaftError {
  return { code, message, leader };
}

/**
 * The Raft state machine of one node (Ongaro & Ousterhout 2014, with the thesis's pre-vote,
 * check-quorum, leadership transfer and ReadIndex). Pure: input arrives through tick, step
 * and the propose family; output accumulates in `msgs`, `readStates` and `readFailures` and
 * in the log, and RawNode hands it to the application.
 */
export class Raft {
  readonly id: NodeId;
  readonly config: ResolvedConfig;
  readonly log: RaftLog;

  /** Persistent state (§5.1): never decreases / at most one vote per term. */
  term = 0;
  vote: NodeId | null = null;

  role: Role = 'follower';
  lead: NodeId | null = null;
  /** Membership as of the applied index. */
  conf: ConfState;
  /** Per-member replication state; meaningful on the leader. */
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();

  msgs: Message[] = [];
  readStates: ReadState[] = [];
  readFailures: ReadFailure[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** Ticks since the leader last sent batched learners their accumulated entries. */
  private learnerAppendElapsed = 0;
  /**
   * quorumVoters' answer and the log it was read from: the applied index, the last persisted
   * index and its term (a log with the same entry there holds the same entries up to it).
   */
  private soleVoter = { applied: -1, stable: -1, term: -1, sole: false };
  private randomizedElectionTimeout = 0;

  leadTransferee: NodeId | null = null;
  /**
   * Ticks since a TimeoutNow came while a committed membership change waited to be applied
   * (null: none waits). The leader sends it as soon as our log matches its own, often in the
   * same batch as the commit index that covers a change; we campaign once that is applied,
   * within the election timeout the leader gives the transfer.
   */
  private transferAskedTicks: number | null = null;
  /**
   * Ticks since the transfer to `leadTransferee` began. Its own counter: restarting
   * electionElapsed for it would also restart the check-quorum window, so a leader asked
   * to hand over again and again would never find out it lost its majority.
   */
  private transferElapsed = 0;
  /** Index of the newest conf entry the leader appended; no new change until it is applied. */
  private pendingConfIndex = 0;
  /**
   * A leader that applied its own removal (or demotion) from a two-voter membership tells
   * the other voter before it steps down (thesis §4.2.2: a leader not in C_new manages the
   * cluster until C_new is committed — here until the only voter of C_new knows it). That
   * voter acknowledged the removal (which is how it committed), so it could elect itself
   * alone (quorumVoters) — but only after an election timeout without a leader; told, it
   * applies the removal at once. The hand-off is done when the other voter answered a
   * heartbeat sent after its match covered the removal (`round`), which it does only once
   * the commit index is on its disk (a commit covering a membership change is synced).
   * Meanwhile this node refuses proposals, gives up after no timeout and does not step down
   * for check-quorum; it ends with its leadership (deposed, it leaves the rest to that
   * voter). Status reports it (`handingOff`): a removed node is shut down only once it is
   * over.
   */
  private removalHandOff: { readonly index: number; round: number | null } | null = null;
  /** Entries appended by this leader and not yet committed: sizes in index order. */
  private uncommitted: { index: number; bytes: number }[] = [];
  private uncommittedBytes = 0;
  private readonly reads = new ReadIndexTracker();
  /** Reads this non-leader forwarded to `lead`, failed if that leader goes away. */
  private readonly forwardedReads = new Map<string, NodeId>();
  private readonly incomingSnapshot: IncomingSnapshot;

  constructor(rawConfig: RaftConfig) {
    this.config = resolveConfig(rawConfig);
    this.id = this.config.id;
    const { hardState, confState } = this.config.storage.initialState();
    this.log = new RaftLog(this.config.storage, this.config.applied);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.conf = confState;
    this.incomingSnapshot = new IncomingSnapshot(this.config.maxSnapshotBytes);
    // Membership changes already applied by the state machine (after the snapshot) count now.
    const snapshotIndex = this.config.storage.firstIndex() - 1;
    if (this.log.applied > snapshotIndex) {
      for (const entry of this.log.slice(snapshotIndex + 1, this.log.applied + 1, Number.MAX_SAFE_INTEGER) ?? []) {
        if (entry.kind === 'conf') this.conf = applyConfChange(this.conf, decodeConfChange(entry.data));
      }
    }
    this.becomeFollower(this.term, null);
  }

  // ---- roles ----------------------------------------------------------------------------

  private reset(term: number): void {
    assert.ok(term >= this.term, `term goes back from ${this.term} to ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.learnerAppendElapsed = 0;
    this.randomizedElectionTimeout = this.config.electionTicks + this.config.randomInt(this.config.electionTicks);
    this.votes.clear();
    this.leadTransferee = null;
    this.transferAskedTicks = null;
    // A hand-off ends with the leadership it was part of (see removalHandOff).
    this.removalHandOff = null;
    this.uncommitted = [];
    this.uncommittedBytes = 0;
    this.failReads(this.reads.drain());
    this.resetProgress();
  }

  private resetProgress(): void {
    this.progress.clear();
    const next = this.log.lastIndex() + 1;
    for (const id of this.conf.voters) this.progress.set(id, this.newProgress(next, false));
    for (const id of this.conf.learners) this.progress.set(id, this.newProgress(next, true));
    const self = this.progress.get(this.id);
    if (self !== undefined) {
      self.match = this.log.stableLastIndex();
      self.next = Math.max(self.next, self.match + 1);
    }
  }

  private newProgress(next: number, learner: boolean): Progress {
    return new Progress(next, learner, this.config.maxInflightMsgs, this.config.maxInflightBytes);
  }

  becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
    this.failForwardedReads(lead);
  }

  private becomePreCandidate(): void {
    assert.ok(this.role !== 'leader', 'a leader does not pre-campaign');
    // Pre-vote changes neither term nor vote: a node that cannot win disturbs nobody.
    this.role = 'precandidate';
    this.votes.clear();
    this.lead = null;
    this.failForwardedReads(null);
  }

  private becomeCandidate(): void {
    assert.ok(this.role !== 'leader', 'a leader does not campaign');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.failForwardedReads(null);
  }

  private becomeLeader(): void {
    assert.ok(this.role === 'candidate', `only a candidate becomes leader, not a ${this.role}`);
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    const self = this.progress.get(this.id);
    if (self !== undefined) self.recentActive = true;
    // No membership change until everything up to our own first entry is applied (the
    // guard from the 2015 raft-dev report on single-server changes).
    this.pendingConfIndex = this.log.lastIndex() + 1;
    this.appendAsLeader([{ kind: 'normal', data: EMPTY_BYTES }]);
    this.broadcastAppend();
  }

  private promotable(): boolean {
    return isVoter(this.conf, this.id);
  }

  /** Whether this node was removed as leader of two voters and has not yet told the other one. */
  get handingOff(): boolean {
    return this.removalHandOff !== null;
  }

  // ---- ticks ----------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  /**
   * How many ticks from now the next tick falls that does something: sends (heartbeats,
   * commit indexes, learner batches, snapshot resends), campaigns, steps down, or gives up a
   * transfer or an incoming snapshot. The ticks before it only count. So a host may sleep
   * until then and deliver the ticks that passed in one go, provided it delivers them before
   * it steps anything else (the counters encode nothing but the order of ticks and inputs).
   * At least 1; Infinity when nothing is timed (a learner with no transfer under way).
   */
  ticksUntilDue(): number {
    const E = this.config.electionTicks;
    if (this.role !== 'leader') {
      let due = Infinity;
      if (this.promotable()) due = this.randomizedElectionTimeout - this.electionElapsed;
      if (this.incomingSnapshot.active) due = Math.min(due, E * 4 - this.electionElapsed);
      return Math.max(1, due);
    }
    let due = Math.min(this.config.heartbeatTicks - this.heartbeatElapsed, E - this.electionElapsed);
    if (this.leadTransferee !== null) due = Math.min(due, E - this.transferElapsed);
    let learners = false;
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // sendLateCommits on the next tick (an append sendAppend would not hold back).
      if (this.config.commitBroadcast === 'tick' && pr.commitSent < this.log.committed && !pr.isPaused() && !this.batched(id, pr)) return 1;
      if (pr.learner) learners = true;
      const out = pr.outgoingSnapshot;
      if (pr.state === 'snapshot' && out !== null) due = Math.min(due, E - out.idleTicks);
    }
    if (learners && this.config.learnerAppendTicks > 0) due = Math.min(due, this.config.learnerAppendTicks - this.learnerAppendElapsed);
    return Math.max(1, due);
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.transferAskedTicks !== null && ++this.transferAskedTicks >= this.config.electionTicks) this.transferAskedTicks = null;
    this.tickIncomingSnapshot();
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickIncomingSnapshot(): void {
    // A transfer the leader abandoned must not pin its buffer forever.
    if (this.electionElapsed >= this.config.electionTicks * 4) this.incomingSnapshot.clear();
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      // A removed leader handing off has no majority of its own to lose (see removalHandOff).
      if (this.config.checkQuorum && this.removalHandOff === null) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, null);
          return;
        }
        for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
      }
    }
    if (this.leadTransferee !== null && ++this.transferElapsed >= this.config.electionTicks) {
      // A transfer that did not finish within an election timeout is abandoned (§3.10).
      this.leadTransferee = null;
    }
    for (const [id, pr] of this.progress) this.tickSnapshotTransfer(id, pr);
    if (this.config.commitBroadcast === 'tick') this.sendLateCommits();
    if (this.config.learnerAppendTicks > 0 && ++this.learnerAppendElapsed >= this.config.learnerAppendTicks) {
      this.learnerAppendElapsed = 0;
      this.sendBatchedLearners();
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  private quorumActive(): boolean {
    const active = quorumValue(this.quorumVoters(), (id) => (id === this.id || this.progress.get(id)?.recentActive === true ? 1 : 0));
    return active === 1;
  }

  // ---- elections --------------------------------------------------------------------------

  /** Starts an election (with a pre-vote round first, when enabled) unless that is unsafe. */
  hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    if (this.hasUnappliedConfChange()) return;
    if (this.config.preVote && !transfer) this.campaign(true, false);
    else this.campaign(false, transfer);
  }

  /**
   * The voters whose majority elects this node and commits its entries: the applied
   * membership (etcd's rule), except where that rule wedges. A voter of two whose persisted
   * log holds, past what it applied, the one change that leaves it the only voter (its
   * partner removed or demoted) counts itself a majority: the membership of its log (thesis
   * §4.1), taken for this case only. Had the change committed, the partner may be gone for
   * good (shut down after its removal, its hand-off cut short by a crash), and this voter,
   * alone no majority of the two, could never learn so. It is safe: every majority of {self}
   * meets every majority of {self, partner} in this node, so no term gets two leaders and the
   * partner, which needs this node for every commit, committed nothing this node lacks —
   * provided the partner is held to {self, partner} even where it still applies an older
   * membership, which electionVoterSets sees to; the
   * first entry of this node's term it commits commits the change too, and once that is
   * applied the applied membership says the same. Persisted: like its own entries, a change
   * counts for this node only once a crash cannot take it back.
   */
  private quorumVoters(): readonly NodeId[] {
    const voters = this.conf.voters;
    if (voters.length !== 2 || !voters.includes(this.id)) return voters;
    const stable = this.log.stableLastIndex();
    if (stable <= this.log.applied) return voters;
    const applied = this.log.applied;
    const term = this.log.term(stable) ?? -1;
    const seen = this.soleVoter;
    if (seen.applied !== applied || seen.stable !== stable || seen.term !== term) {
      const changes = this.confEntriesAfterApplied(stable);
      const only = changes.length === 1 ? changes[0] : undefined;
      const next = only === undefined ? null : applyConfChange(this.conf, decodeConfChange(only.data));
      this.soleVoter = { applied, stable, term, sole: next !== null && next.voters.length === 1 && next.voters[0] === this.id };
    }
    return this.soleVoter.sole ? [this.id] : voters;
  }

  /** The membership changes in the log past the applied index, up to `through`. */
  private confEntriesAfterApplied(through: number): Entry[] {
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    return (this.log.slice(lo, through + 1, Number.MAX_SAFE_INTEGER) ?? []).filter((e) => e.kind === 'conf');
  }

  /** A committed but unapplied membership change means our membership view may be stale. */
  private hasUnappliedConfChange(): boolean {
    return this.log.committed > this.log.applied && this.confEntriesAfterApplied(this.log.committed).length > 0;
  }

  private campaign(pre: boolean, transfer: boolean): void {
    if (pre) this.becomePreCandidate();
    else this.becomeCandidate();
    const voteTerm = pre ? this.term + 1 : this.term;
    if (pre) {
      // A pre-vote changes nothing on disk, so our own counts at once.
      this.votes.set(this.id, true);
      if (this.tallyVotes(true)) return;
    }
    // A real vote for ourselves counts only once it is on disk (selfVoteDurable). A voter
    // that wins alone would otherwise lead, and hand out appends of the new term, in the
    // very Ready that first records the term: a host that sends a leader's appends before
    // its own write (thesis §10.2.1) and then crashed could lead the same term twice.
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of new Set(this.electionVoterSets().flat())) {
      if (id === this.id) continue;
      this.send({ type: 'vote', to: id, term: voteTerm, lastIndex, lastTerm, pre, transfer });
    }
  }

  /**
   * The voter sets whose majorities elect this node: quorumVoters, and the voters of every
   * membership its log holds past what it applied, each change taken on the one before. The
   * applied membership may be older than one the cluster already works under: a voter that
   * restarts knowing a commit index short of a change it holds (a partner of two's voters
   * demoting the third, say) applies the old membership, in which it and the demoted voter
   * are a majority without the third. Its partner, per the §4.1 case of quorumVoters, may
   * meanwhile have committed alone under the next change: without this rule that voter was
   * elected without those entries (simulator seed 180057 at 3 nodes, `leader-completeness`).
   * Asking a majority of each membership it holds too only adds voters to convince: a change
   * in its log was sent by a leader that counted the membership before it.
   */
  private electionVoterSets(): (readonly NodeId[])[] {
    const sets: (readonly NodeId[])[] = [this.quorumVoters()];
    let conf = this.conf;
    for (const entry of this.confEntriesAfterApplied(this.log.lastIndex())) {
      conf = applyConfChange(conf, decodeConfChange(entry.data));
      if (conf.voters.length > 0) sets.push(conf.voters);
    }
    return sets;
  }

  /** Acts on the votes so far; true when the campaign ended (won or lost). */
  private tallyVotes(pre: boolean): boolean {
    const results = this.electionVoterSets().map((voters) => voteResult(voters, this.votes));
    const result = results.includes('lost') ? 'lost' : results.every((r) => r === 'won') ? 'won' : 'pending';
    if (result === 'won') {
      if (pre) this.campaign(false, false);
      else this.becomeLeader();
      return true;
    }
    if (result === 'lost') {
      this.becomeFollower(this.term, null);
      return true;
    }
    return false;
  }

  private handleVote(m: VoteMessage): void {
    // We may grant if we already voted for this candidate, or have neither voted nor know a
    // leader in this term, or (pre-vote) the candidate asks about a later term.
    const canVote = this.vote === m.from || (this.vote === null && this.lead === null) || (m.pre && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.send({ type: 'voteResp', to: m.from, term: m.term, pre: m.pre, reject: false });
      if (!m.pre) {
        assert.ok(this.vote === null || this.vote === m.from, `second vote in term ${this.term}`);
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: 'voteResp', to: m.from, term: this.term, pre: m.pre, reject: true });
    }
  }

  /** The hard state handed out in the last Ready is on disk: a vote for ourselves in it counts. */
  selfVoteDurable(term: number, vote: NodeId | null): void {
    if (this.role !== 'candidate' || term !== this.term || vote !== this.id) return;
    this.votes.set(this.id, true);
    this.tallyVotes(false);
  }

  private handleVoteResponse(m: VoteResponse): void {
    const pre = this.role === 'precandidate';
    if (m.pre !== pre || (this.role !== 'precandidate' && this.role !== 'candidate')) return;
    this.votes.set(m.from, !m.reject);
    this.tallyVotes(pre);
  }

  // ---- step -------------------------------------------------------------------------------

  step(m: Message): void {
    if (m.to !== this.id) return;
    if (!this.stepTerm(m)) return;
    switch (m.type) {
      case 'vote':
        this.handleVote(m);
        return;
      case 'voteResp':
        this.handleVoteResponse(m);
        return;
      default:
        if (this.role === 'leader') this.stepLeader(m);
        else this.stepFollower(m);
    }
  }

  /** Reconciles terms (§5.1); false when the message must be dropped. */
  private stepTerm(m: Message): boolean {
    if (m.term > this.term) {
      if (m.type === 'vote') {
        // Check-quorum lease: while we hear from a live leader, nobody can depose it.
        const inLease = this.config.checkQuorum && this.lead !== null && this.electionElapsed < this.config.electionTicks;
        if (!m.transfer && inLease) return false;
        if (m.pre) return true; // a pre-vote never changes our term
      }
      if (m.type === 'voteResp' && m.pre && !m.reject) return true; // the term we would campaign in
      const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
      const elapsed = this.electionElapsed;
      this.becomeFollower(m.term, fromLeader ? m.from : null);
      // Figure 2: a follower's election timer restarts when it hears the current leader or
      // grants a vote (handleVote) — not when a vote request merely raises its term. A
      // candidate that cannot win (its log is behind) and whose clock runs faster would
      // otherwise hold every up-to-date voter off forever, without pre-vote.
      if (m.type === 'vote') this.electionElapsed = elapsed;
      return true;
    }
    if (m.term < this.term) {
      if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'app' || m.type === 'heartbeat')) {
        // A deposed leader learns the newer term from this answer and steps down.
        this.send({ type: 'appResp', to: m.from, index: 0, reject: true, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === 'vote' && m.pre) {
        this.send({ type: 'voteResp', to: m.from, term: this.term, pre: true, reject: true });
      }
      return false;
    }
    return true;
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
      case 'heartbeat':
      case 'snap':
        if (this.role !== 'follower') this.becomeFollower(this.term, m.from);
        assert.ok(this.lead === null || this.lead === m.from, `two leaders in term ${this.term}: ${this.lead} and ${m.from}`);
        this.electionElapsed = 0;
        if (this.lead !== m.from) {
          this.lead = m.from;
          this.failForwardedReads(m.from);
        }
        if (m.type === 'app') this.handleAppend(m);
        else if (m.type === 'heartbeat') this.handleHeartbeat(m);
        else this.handleSnapshotChunk(m);
        return;
      case 'timeoutNow':
        if (this.role !== 'follower') return;
        if (this.hasUnappliedConfChange()) this.transferAskedTicks = 0;
        else this.hup(true);
        return;
      case 'readIndexResp':
        if (this.forwardedReads.delete(m.context)) this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return; // responses meant for a leader we no longer are
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'appResp':
        this.handleAppendResponse(m);
        return;
      case 'heartbeatResp':
        this.handleHeartbeatResponse(m);
        return;
      case 'snapResp':
        this.handleSnapshotResponse(m);
        return;
      case 'readIndex':
        this.handleForwardedRead(m);
        return;
      case 'app':
      case 'heartbeat':
      case 'snap':
        assert.fail(`two leaders in term ${this.term}: ${this.id} and ${m.from}`);
        return;
      default:
        return;
    }
  }

  // ---- follower side of replication --------------------------------------------------------

  private handleAppend(m: AppendMessage): void {
    if (m.prevIndex < this.log.committed) {
      this.send({ type: 'appResp', to: m.from, index: this.log.committed, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const lastNew = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    if (lastNew !== null) {
      this.send({ type: 'appResp', to: m.from, index: lastNew, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send({ type: 'appResp', to: m.from, index: m.prevIndex, reject: true, hintIndex: hint.index, hintTerm: hint.term });
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    this.log.commitTo(m.commit);
    this.send({ type: 'heartbeatResp', to: m.from, readRound: m.readRound });
  }

  private handleSnapshotChunk(m: SnapshotMessage): void {
    if (m.meta.index <= this.log.committed) {
      this.incomingSnapshot.clear();
      this.send({ type: 'appResp', to: m.from, index: this.log.committed, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const received = this.incomingSnapshot.accept(m);
    if (received.kind === 'partial') {
      this.send({ type: 'snapResp', to: m.from, index: m.meta.index, receivedBytes: received.receivedBytes, reject: received.reject });
      return;
    }
    // The answer is what we now hold for certain. Without an install that is the commit
    // index, not lastIndex(): entries after the snapshot's last one may be a stale tail of
    // an older term, and a leader that counted them as held here would commit entries this
    // node does not have and never repair them (it ignores rejections below the match).
    const installed = this.restore(received.snapshot);
    const index = installed ? this.log.lastIndex() : this.log.committed;
    this.send({ type: 'appResp', to: m.from, index, reject: false, hintIndex: 0, hintTerm: 0 });
  }

  /**
   * Installs a leader's snapshot (§7); false when it was not installed: our log already
   * holds its last entry (receiver rule 6: keep what follows, only the commit index moves),
   * or it would make a member forget its own membership.
   */
  private restore(snapshot: Snapshot): boolean {
    const { index, term, conf } = snapshot.meta;
    assert.ok(index > this.log.committed, 'a snapshot at or below the commit index is answered before it is assembled');
    // A leader sends a member only snapshots taken while it was a member: the leader drops
    // a node's progress when it applies its removal, and it snapshots only what it applied.
    // A snapshot that leaves out a node that counts itself a member therefore carries a
    // wrong membership; installing it would silently take a voter out of elections. (A
    // node not yet a member does install one: it was taken before the node was added,
    // and the entries after it add the node.)
    if (isMember(this.conf, this.id) && !isMember(conf, this.id)) return false;
    if (this.log.matchTerm(index, term)) {
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.conf = conf;
    this.resetProgress();
    return true;
  }

  // ---- leader side of replication ----------------------------------------------------------

  private appendAsLeader(items: readonly { kind: Entry['kind']; data: Uint8Array }[]): { first: number; last: number } {
    const first = this.log.lastIndex() + 1;
    const entries: Entry[] = items.map((item, i) => ({ term: this.term, index: first + i, kind: item.kind, data: item.data }));
    for (const entry of entries) {
      const bytes = entryBytes(entry);
      this.uncommitted.push({ index: entry.index, bytes });
      this.uncommittedBytes += bytes;
    }
    const last = this.log.append(entries);
    return { first, last };
  }

  broadcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  private commitAdvanced(): void {
    if (this.config.commitBroadcast === 'eager') return this.broadcastAppend();
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, false);
  }

  /** `tick` commit broadcast: followers that have not been sent the commit index get it now. */
  private sendLateCommits(): void {
    for (const [id, pr] of this.progress) if (id !== this.id && pr.commitSent < this.log.committed) this.sendAppend(id, true);
  }

  /**
   * A learner whose appends wait for `sendBatchedLearners`. Safe because no commit, vote or
   * read ever waits for a learner; only in the replicate state, so finding where its log
   * matches (probe) and snapshots are not slowed down.
   */
  private batched(id: NodeId, pr: Progress): boolean {
    return pr.learner && pr.state === 'replicate' && this.config.learnerAppendTicks > 0 && this.config.batchedLearner(id);
  }

  /** Every `learnerAppendTicks`: each batched learner gets the entries committed since its last batch, and the commit index. */
  private sendBatchedLearners(): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id || !this.batched(id, pr)) continue;
      // A learner that has not confirmed every committed entry is sent to even with nothing
      // new: the last batch may have been lost, and the (empty) append's rejection finds
      // that out, as a heartbeat's answer does for a voter.
      const committed = this.log.committed;
      if (pr.next > committed && pr.commitSent >= committed && pr.match >= committed) continue;
      if (!this.sendAppend(id, true, true)) continue;
      while (this.sendAppend(id, false, true)) {
        // more than one message's worth accumulated: send it all while the window has room
      }
    }
  }

  /**
   * Sends the next entries to `to` (or a snapshot when they are compacted); false if nothing
   * was sent. A batched learner is sent to only when `due` (its batch's tick).
   */
  private sendAppend(to: NodeId, sendIfEmpty: boolean, due = false): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const batched = this.batched(to, pr);
    if (!due && batched) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    // A batch holds committed entries only, so the commit index it carries covers all of
    // them: the learner applies a batch as soon as it is on its disk, not a batch later.
    const end = batched ? Math.max(pr.next, this.log.committed + 1) : this.log.lastIndex() + 1;
    const entries = prevTerm === null ? null : this.log.slice(pr.next, end, this.config.maxMsgBytes);
    if (prevTerm === null || entries === null) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', to, prevIndex, prevTerm, entries, commit: this.log.committed });
    pr.commitSent = this.log.committed;
    pr.appendedSinceHeartbeat = true;
    const last = entries[entries.length - 1];
    if (last !== undefined) pr.sentEntries(last.index, entries.reduce((sum, e) => sum + entryBytes(e), 0));
    else if (pr.state === 'probe') pr.probeSent = true;
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    // An unreachable follower is probed by heartbeats first; streaming to it would be wasted.
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot();
    // Not in memory yet: the follower stays in probe and the next answer tries again.
    if (snapshot === null) return false;
    assert.ok(snapshot.meta.index > 0, 'entries are compacted only behind a snapshot');
    pr.becomeSnapshot(snapshot);
    this.sendSnapshotChunks(to, pr);
    return true;
  }

  private sendSnapshotChunks(to: NodeId, pr: Progress): void {
    const out = pr.outgoingSnapshot;
    if (out === null) return;
    const total = out.snapshot.data.length;
    const window = this.config.snapshotChunkBytes * this.config.maxInflightSnapshotChunks;
    while (!out.doneSent && out.sentBytes - out.ackedBytes < window) {
      const end = Math.min(total, out.sentBytes + this.config.snapshotChunkBytes);
      const data = out.snapshot.data.subarray(out.sentBytes, end);
      this.send({ type: 'snap', to, meta: out.snapshot.meta, totalBytes: total, offset: out.sentBytes, data, done: end === total });
      out.sentBytes = end;
      out.doneSent = end === total;
    }
  }

  private tickSnapshotTransfer(to: NodeId, pr: Progress): void {
    const out = pr.outgoingSnapshot;
    if (pr.state !== 'snapshot' || out === null) return;
    out.idleTicks++;
    if (out.idleTicks < this.config.electionTicks) return;
    // No answer for an election timeout: resend from what the follower confirmed.
    out.idleTicks = 0;
    out.sentBytes = out.ackedBytes;
    out.doneSent = false;
    this.sendSnapshotChunks(to, pr);
  }

  private handleSnapshotResponse(m: SnapshotResponse): void {
    const pr = this.progress.get(m.from);
    const out = pr?.outgoingSnapshot;
    if (pr === undefined || out === undefined || out === null || out.snapshot.meta.index !== m.index) return;
    pr.recentActive = true;
    out.idleTicks = 0;
    if (m.reject) {
      // Every chunk after a lost one is rejected; rewinding once per gap is enough, and
      // rewinding for each rejection would multiply traffic with every window.
      if (out.rewound && m.receivedBytes === out.ackedBytes) return;
      out.ackedBytes = m.receivedBytes;
      out.sentBytes = m.receivedBytes;
      out.doneSent = false;
      out.rewound = true;
    } else {
      if (m.receivedBytes > out.ackedBytes) out.rewound = false;
      out.ackedBytes = Math.max(out.ackedBytes, m.receivedBytes);
      out.sentBytes = Math.max(out.sentBytes, out.ackedBytes);
    }
    this.sendSnapshotChunks(m.from, pr);
  }

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      const hint = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (pr.maybeDecreaseTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= (pr.outgoingSnapshot?.snapshot.meta.index ?? 0)) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeUpTo(m.index);
    this.maybeBeginHandOffRound();
    if (this.maybeCommit()) this.commitAdvanced();
    else if (wasPaused) this.sendAppend(m.from, true);
    while (this.sendAppend(m.from, false)) {
      // keep the pipeline full while there are entries and room
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to: m.from });
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (!pr.learner) {
      this.reads.ack(m.from, m.readRound);
      this.releaseReads();
    }
    const handOff = this.removalHandOff;
    // The round began once every voter's match covered the removal, so each heartbeat of it
    // carried a commit index covering it, and the answer left after that commit was synced.
    const round = handOff?.round ?? null;
    if (round !== null && m.readRound >= round && this.conf.voters.every((id) => this.reads.ackedRound(id) >= round)) {
      this.removalHandOff = null;
      this.becomeFollower(this.term, null);
    }
  }

  /** Starts the hand-off's heartbeat round once every voter holds the committed removal. */
  private maybeBeginHandOffRound(): void {
    const handOff = this.removalHandOff;
    if (handOff === null || handOff.round !== null || this.role !== 'leader' || this.log.committed < handOff.index) return;
    if (!this.conf.voters.every((id) => (this.progress.get(id)?.match ?? 0) >= handOff.index)) return;
    handOff.round = this.reads.startRound();
    this.broadcastHeartbeat();
  }

  /** Advances the commit index to what a quorum holds, if that is of our term (§5.4.2). */
  maybeCommit(): boolean {
    const index = quorumValue(this.quorumVoters(), (id) => this.progress.get(id)?.match ?? 0);
    const before = this.log.committed;
    if (!this.log.maybeCommit(index, this.term)) return false;
    this.releaseUncommitted();
    if (this.log.term(before) !== this.term) this.registerWaitingReads();
    return true;
  }

  private releaseUncommitted(): void {
    let count = 0;
    for (const item of this.uncommitted) {
      if (item.index > this.log.committed) break;
      this.uncommittedBytes -= item.bytes;
      count++;
    }
    if (count > 0) this.uncommitted = this.uncommitted.slice(count);
  }

  private broadcastHeartbeat(): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // A batched learner sent a batch since the last round had all a heartbeat gives it: the
      // commit index, and an answer that shows it alive and frees its window. It counts for no
      // quorum, read round or hand-off, so under load its heartbeats are only messages to handle.
      const skip = pr.appendedSinceHeartbeat && this.batched(id, pr);
      pr.appendedSinceHeartbeat = false;
      if (skip) continue;
      this.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, this.log.committed), readRound: this.reads.round });
    }
  }

  /** Our own entries reached disk: count them for the commit rule. */
  stableAdvanced(): void {
    const self = this.progress.get(this.id);
    if (this.role !== 'leader' || self === undefined) return;
    if (self.maybeUpdate(this.log.stableLastIndex()) && this.maybeCommit()) this.commitAdvanced();
  }

  // ---- proposals -----------------------------------------------------------------------------

  private proposalRefusal(): RaftError | null {
    if (this.role !== 'leader') return raftError('NOT_LEADER', `${this.id} is not the leader`, this.lead);
    if (this.leadTransferee !== null) return raftError('TRANSFER_IN_PROGRESS', `leadership is being transferred to ${this.leadTransferee}`, this.id);
    if (this.removalHandOff !== null) return raftError('NOT_LEADER', `${this.id} was removed and is handing over`, null);
    return null;
  }

  propose(data: readonly Uint8Array[]): ProposeResult {
    assert.ok(data.length > 0, 'propose needs at least one command');
    const refusal = this.proposalRefusal();
    if (refusal !== null) return { ok: false, error: refusal };
    let bytes = 0;
    for (const d of data) bytes += entryBytes({ term: 0, index: 0, kind: 'normal', data: d });
    const count = this.uncommitted.length;
    // A single oversized batch is admitted when nothing is pending, so it cannot starve.
    if (count > 0 && (count + data.length > this.config.maxUncommittedEntries || this.uncommittedBytes + bytes > this.config.maxUncommittedBytes)) {
      return { ok: false, error: raftError('PROPOSALS_FULL', `${count} entries (${this.uncommittedBytes} bytes) await commit`, this.id) };
    }
    const { first, last } = this.appendAsLeader(data.map((d) => ({ kind: 'normal' as const, data: d })));
    this.broadcastAppend();
    return { ok: true, firstIndex: first, lastIndex: last, term: this.term };
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    const refusal = this.proposalRefusal();
    if (refusal !== null) return { ok: false, error: refusal };
    if (this.pendingConfIndex > this.log.applied) {
      return { ok: false, error: raftError('CONF_CHANGE_PENDING', `a membership change (index ${this.pendingConfIndex}) is not applied yet`, this.id) };
    }
    const problem = checkConfChange(this.conf, change);
    if (problem !== null) return { ok: false, error: raftError('CONF_CHANGE_INVALID', problem, this.id) };
    const { first, last } = this.appendAsLeader([{ kind: 'conf', data: encodeConfChange(change) }]);
    this.pendingConfIndex = last;
    this.broadcastAppend();
    return { ok: true, firstIndex: first, lastIndex: last, term: this.term };
  }

  /** The application applied what the last Ready committed: a transfer that waited for a membership change goes ahead. */
  appliedAdvanced(): void {
    if (this.transferAskedTicks === null || this.role !== 'follower' || this.hasUnappliedConfChange()) return;
    this.transferAskedTicks = null;
    this.hup(true);
  }

  /** The application applied a conf entry: the membership changes now (etcd's rule). */
  applyConfEntry(entry: Entry): void {
    // A snapshot installed after the Ready with this entry was handed out covers it, and
    // its membership already includes whatever this entry and the later ones changed.
    // Applying the entry again would put an older membership on top of a newer one (say, a
    // learner removed since), and the application would persist that in later snapshots.
    const pending = this.log.unstable.snapshot;
    if (pending !== null && entry.index <= pending.meta.index) return;
    const change = decodeConfChange(entry.data);
    const before = this.conf;
    this.conf = applyConfChange(this.conf, change);
    if (this.conf === before) return;
    if (this.role !== 'leader') {
      this.resetProgress();
      return;
    }
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.conf.voters, ...this.conf.learners]) {
      const pr = this.progress.get(id);
      if (pr === undefined) this.progress.set(id, this.newProgress(next, this.conf.learners.includes(id)));
      else pr.learner = this.conf.learners.includes(id);
    }
    for (const id of [...this.progress.keys()]) if (!isMember(this.conf, id)) this.progress.delete(id);
    if (!isVoter(this.conf, this.id)) {
      // A leader that removed itself steps down once the removal is applied — except from
      // two voters, where it first tells the other one (see removalHandOff).
      if (before.voters.length !== 2) {
        this.becomeFollower(this.term, null);
        return;
      }
      this.removalHandOff = { index: entry.index, round: null };
      this.maybeCommit();
      this.maybeBeginHandOffRound();
      return;
    }
    if (this.leadTransferee !== null && !isVoter(this.conf, this.leadTransferee)) this.leadTransferee = null;
    this.maybeCommit();
    this.broadcastAppend();
  }

  // ---- leadership transfer ---------------------------------------------------------------------

  transferLeader(to: NodeId): RaftError | null {
    if (this.role !== 'leader') return raftError('NOT_LEADER', `${this.id} is not the leader`, this.lead);
    if (this.removalHandOff !== null) return raftError('NOT_LEADER', `${this.id} was removed and is handing over`, null);
    if (to === this.id) return null;
    if (!isVoter(this.conf, to)) return raftError('CONF_CHANGE_INVALID', `${to} is not a voter`, this.id);
    if (this.leadTransferee === to) return null;
    this.leadTransferee = to;
    this.transferElapsed = 0;
    const pr = this.progress.get(to);
    assert.ok(pr !== undefined, 'every voter has a progress on the leader');
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to });
    else this.sendAppend(to, true);
    return null;
  }

  // ---- linearizable reads -----------------------------------------------------------------------

  readIndex(context: string): RaftError | null {
    if (this.role !== 'leader') {
      if (this.lead === null) return raftError('NOT_LEADER', 'no leader is known', null);
      if (this.forwardedReads.size >= this.config.maxPendingReads) return raftError('READS_FULL', 'too many reads await the leader', this.lead);
      this.forwardedReads.set(context, this.lead);
      this.send({ type: 'readIndex', to: this.lead, context });
      return null;
    }
    if (this.reads.size >= this.config.maxPendingReads) return raftError('READS_FULL', 'too many reads await confirmation', this.id);
    this.leaderRead(context, null);
    return null;
  }

  private handleForwardedRead(m: ReadIndexMessage): void {
    if (this.reads.size >= this.config.maxPendingReads) return; // the follower times out and retries
    this.leaderRead(m.context, m.from);
  }

  private leaderRead(context: string, from: NodeId | null): void {
    if (this.log.term(this.log.committed) !== this.term) {
      // Until an entry of our term commits we do not know the true commit index (§6.4).
      this.reads.wait(context, from);
      return;
    }
    if (this.reads.add(context, this.log.committed, from)) {
      this.reads.startRound();
      this.broadcastHeartbeat();
    }
    this.releaseReads();
  }

  private registerWaitingReads(): void {
    for (const read of this.reads.takeWaiting()) this.leaderRead(read.context, read.from);
  }

  private releaseReads(): void {
    const { released, needsRound } = this.reads.confirm(this.conf.voters, this.id);
    for (const read of released) {
      if (read.from === null) this.readStates.push({ index: read.index, context: read.context });
      else this.send({ type: 'readIndexResp', to: read.from, context: read.context, index: read.index });
    }
    if (needsRound) {
      this.reads.startRound();
      this.broadcastHeartbeat();
    }
  }

  private failReads(reads: { context: string; from: NodeId | null }[]): void {
    for (const read of reads) {
      if (read.from === null) this.readFailures.push({ context: read.context, code: 'NOT_LEADER', leader: null });
    }
  }

  /** Reads forwarded to a leader other than `lead` will never be answered: fail them now. */
  private failForwardedReads(lead: NodeId | null): void {
    for (const [context, leader] of this.forwardedReads) {
      if (leader === lead) continue;
      this.forwardedReads.delete(context);
      this.readFailures.push({ context, code: 'NOT_LEADER', leader: lead });
    }
  }

  // ---- transport feedback ------------------------------------------------------------------------

  reportUnreachable(id: NodeId): void {
    const pr = this.progress.get(id);
    if (this.role === 'leader' && pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
    // A follower whose connection to its leader broke (most often: the leader's process died)
    // stops counting on the leader's lease and campaigns within one election timeout from now
    // (randomized) rather than one to two from the last heartbeat. Pre-vote keeps this from
    // disrupting a live leader: a peer that still hears it refuses the pre-vote (its lease),
    // and the next heartbeat resets this node's count anyway.
    if (this.role === 'follower' && id === this.lead && this.config.preVote && this.config.checkQuorum) {
      this.electionElapsed = Math.max(this.electionElapsed, this.config.electionTicks);
    }
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.progress.get(id);
    if (this.role !== 'leader' || pr === undefined || pr.state !== 'snapshot') return;
    if (ok) return;
    // Wait for the next heartbeat answer before trying again.
    pr.becomeProbe();
    pr.probeSent = true;
  }

  // ---- output -------------------------------------------------------------------------------------

  private send(m: Outgoing): void {
    const term = m.term ?? this.term;
    this.msgs.push({ ...m, from: this.id, term });
  }
}
