// The safety invariants the simulator checks after every event. Each takes plain data, so a
// test can feed it hand-made bad histories; a violation throws an InvariantViolation that
// names the invariant, the seed and the virtual time, so any failure can be replayed.
import type { ConfState, NodeId } from '../../src/raft/types.js';
import { bytesEqual } from './hash.js';

export const INVARIANT = {
  electionSafety: 'election-safety',
  singleVote: 'single-vote',
  commitOwnTerm: 'commit-own-term',
  confMatchesLog: 'conf-matches-log',
  learnerNeverLeads: 'learner-never-leads',
  oneConfChange: 'one-conf-change',
  confLag: 'conf-lag',
  checkQuorum: 'check-quorum',
  logMatching: 'log-matching',
  leaderCompleteness: 'leader-completeness',
  stateMachineSafety: 'state-machine-safety',
  monotonicState: 'monotonic-state',
  committedMajority: 'committed-majority',
  matchDurable: 'match-durable',
  acknowledgedNotLost: 'acknowledged-not-lost',
  linearizability: 'linearizability',
  boundedTraffic: 'bounded-traffic',
  liveness: 'liveness',
  coreAssertion: 'core-assertion',
  answered: 'answered',
} as const;
export type InvariantName = (typeof INVARIANT)[keyof typeof INVARIANT];

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: InvariantName,
    readonly seed: number,
    readonly timeMs: number,
    readonly detail: string,
  ) {
    super(`invariant ${invariant} violated (seed=${seed}, t=${timeMs}ms): ${detail}`);
    this.name = 'InvariantViolation';
  }
}

/** The term of the entry at an index in one node's log, as far as the simulator can see it. */
export type TermLookup = number | 'compacted' | 'missing' | 'unknown';

export interface LogView {
  termAt(index: number): TermLookup;
}

interface EntryRecord {
  readonly data: Uint8Array;
  readonly kind: string;
  readonly prevTerm: number | null;
  readonly node: NodeId;
}

interface CommittedRecord {
  readonly term: number;
  readonly digest: number;
  /** The observer's term when it was first seen applied: an upper bound on the commit term. */
  readonly seenInTerm: number;
}

interface NodeProgress {
  term: number;
  commit: number;
  applied: number;
  incarnation: number;
}

export interface EntryInput {
  readonly index: number;
  readonly term: number;
  readonly kind: string;
  readonly data: Uint8Array;
}

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly entries = new Map<string, EntryRecord>();
  /** Index → what was applied there; the longest applied sequence, as digests. */
  private readonly committed = new Map<number, CommittedRecord>();
  private committedMaxIndex = 0;
  private readonly progress = new Map<NodeId, NodeProgress>();
  private readonly durable = new Map<NodeId, { term: number; vote: NodeId | null; commit: number }>();
  private readonly acked = new Map<string, { index: number; term: number }>();
  /** `${voter}/${term}` → the candidate that voter granted its (real, not pre-) vote to. */
  private readonly granted = new Map<string, NodeId>();

  constructor(private readonly seed: number, private readonly clock: () => number) {}

  fail(invariant: InvariantName, detail: string): never {
    throw new InvariantViolation(invariant, this.seed, this.clock(), detail);
  }

  /** At most one leader per term. */
  observeLeader(node: NodeId, term: number): void {
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) this.leaderOfTerm.set(term, node);
    else if (known !== node) this.fail(INVARIANT.electionSafety, `both ${known} and ${node} are leader of term ${term}`);
  }

  /**
   * Log matching, checked one entry at a time: if two logs hold an entry with the same index
   * and term, they hold the same data there and the same term just before it; by induction
   * the whole prefixes are then identical.
   */
  observeEntry(node: NodeId, entry: EntryInput, prevTerm: number | null): void {
    const key = `${entry.index}/${entry.term}`;
    const known = this.entries.get(key);
    if (known === undefined) {
      this.entries.set(key, { data: entry.data, kind: entry.kind, prevTerm, node });
      return;
    }
    if (known.kind !== entry.kind || !bytesEqual(known.data, entry.data)) {
      this.fail(INVARIANT.logMatching, `entry ${key} differs between ${known.node} and ${node}`);
    }
    if (known.prevTerm !== null && prevTerm !== null && known.prevTerm !== prevTerm) {
      this.fail(INVARIANT.logMatching, `entry ${key}: previous term ${known.prevTerm} on ${known.node} but ${prevTerm} on ${node}`);
    }
  }

  /**
   * State machine safety: every node applies the same entry at each index, so every applied
   * sequence is a prefix of the longest one. `digest` covers the node's whole applied prefix.
   * Returns true when the index is newly known as committed.
   */
  observeApplied(node: NodeId, index: number, term: number, digest: number, nodeTerm: number): boolean {
    const known = this.committed.get(index);
    if (known === undefined) {
      this.committed.set(index, { term, digest, seenInTerm: nodeTerm });
      if (index > this.committedMaxIndex) this.committedMaxIndex = index;
      return true;
    }
    if (known.term !== term || known.digest !== digest) {
      this.fail(INVARIANT.stateMachineSafety, `${node} applied (index ${index}, term ${term}, digest ${digest}) but another node applied (term ${known.term}, digest ${known.digest})`);
    }
    return false;
  }

  /** A state machine restored from a snapshot must equal what others applied up to its index. */
  observeRestore(node: NodeId, index: number, term: number, digest: number, nodeTerm: number): void {
    if (index === 0) return;
    this.observeApplied(node, index, term, digest, nodeTerm);
  }

  committedTerm(index: number): number | undefined {
    return this.committed.get(index)?.term;
  }

  get committedMax(): number {
    return this.committedMaxIndex;
  }

  /**
   * Leader completeness: every entry known committed when a node of term `leaderTerm` leads
   * (and first seen at a term not after it) is in that leader's log. `fromIndex` limits the
   * scan to entries newly committed since the last check.
   */
  checkLeaderLog(node: NodeId, leaderTerm: number, log: LogView, fromIndex = 1): void {
    for (let i = Math.max(1, fromIndex); i <= this.committedMaxIndex; i++) {
      const c = this.committed.get(i);
      if (c === undefined || c.seenInTerm > leaderTerm) continue;
      const t = log.termAt(i);
      if (t === 'compacted' || t === 'unknown') continue;
      if (t === 'missing' || t !== c.term) {
        this.fail(INVARIANT.leaderCompleteness, `leader ${node} of term ${leaderTerm} has ${t === 'missing' ? 'no entry' : `term ${t}`} at index ${i}, committed with term ${c.term}`);
      }
    }
  }

  /** Term, commit and applied never go backwards within one incarnation of a node. */
  observeProgress(node: NodeId, incarnation: number, term: number, commit: number, applied: number): void {
    const p = this.progress.get(node);
    if (p === undefined || p.incarnation !== incarnation) {
      this.progress.set(node, { term, commit, applied, incarnation });
      return;
    }
    if (term < p.term || commit < p.commit || applied < p.applied) {
      this.fail(INVARIANT.monotonicState, `${node} went from term/commit/applied ${p.term}/${p.commit}/${p.applied} to ${term}/${commit}/${applied}`);
    }
    p.term = term;
    p.commit = commit;
    p.applied = applied;
  }

  /**
   * What a node has synced to disk. A vote, once durable, never changes within its term, and
   * the durable term and commit never decrease — also across a crash and restart.
   */
  observeDurable(node: NodeId, hs: { term: number; vote: NodeId | null; commit: number }): void {
    const d = this.durable.get(node);
    if (d !== undefined) {
      if (hs.term < d.term || hs.commit < d.commit) {
        this.fail(INVARIANT.monotonicState, `${node}'s durable term/commit went from ${d.term}/${d.commit} to ${hs.term}/${hs.commit}`);
      }
      // A vote that reads back as "nobody" is not yet a second vote; voting for someone else is.
      if (hs.term === d.term && d.vote !== null && hs.vote !== null && hs.vote !== d.vote) {
        this.fail(INVARIANT.singleVote, `${node} voted for ${d.vote} and then ${hs.vote} in term ${hs.term}`);
      }
    }
    const vote = d !== undefined && d.term === hs.term && hs.vote === null ? d.vote : hs.vote;
    this.durable.set(node, { term: hs.term, vote, commit: hs.commit });
  }

  /**
   * A vote granted in a term is never granted to another candidate in that term — in the
   * same incarnation or after any number of restarts. Seen on the wire, so a vote answer
   * released before the vote was durable, then lost in a crash, shows up here.
   */
  observeVoteGranted(voter: NodeId, term: number, candidate: NodeId): void {
    const key = `${voter}/${term}`;
    const known = this.granted.get(key);
    if (known === undefined) this.granted.set(key, candidate);
    else if (known !== candidate) this.fail(INVARIANT.singleVote, `${voter} granted its vote in term ${term} to ${known} and then to ${candidate}`);
  }

  /**
   * §5.4.2 (Figure 8): a leader advances its commit index only by counting replicas of an
   * entry of its own term; older entries commit only underneath one.
   */
  checkLeaderCommitTerm(leader: NodeId, term: number, commit: number, entryTerm: number): void {
    if (entryTerm !== term) this.fail(INVARIANT.commitOwnTerm, `leader ${leader} of term ${term} advanced its commit index to ${commit}, an entry of term ${entryTerm}`);
  }

  /**
   * Thesis §4.2.1: a learner never campaigns, so it never leads. The one exception is the
   * hand-off of a leader that demoted itself from two voters: it keeps leading (as a learner
   * of a one-voter membership, elected again by that voter if a higher term deposed it) only
   * until the other voter has the commit index, as a removed leader does (raft.ts
   * removalHandOff).
   */
  checkLeaderNotLearner(leader: NodeId, term: number, conf: ConfState): void {
    if (conf.learners.includes(leader) && conf.voters.length !== 1) this.fail(INVARIANT.learnerNeverLeads, `${leader} leads term ${term} while a learner of its own membership`);
  }

  /**
   * A leader counts commits with the majority of its applied membership (raft.ts
   * `quorumVoters`), not of the last one in its log. That is safe while the two are at most one
   * single-server change apart, since then their majorities meet (docs/raft.md, "Left open").
   * `unapplied` lists the membership changes in the leader's log past its applied index, as
   * `index/term`, when its commit index advanced.
   */
  checkConfLag(leader: NodeId, term: number, commit: number, unapplied: readonly string[]): void {
    if (unapplied.length <= 1) return;
    this.fail(INVARIANT.confLag, `leader ${leader} of term ${term} advanced its commit to ${commit} with ${unapplied.length} membership changes in its log not applied (${unapplied.join(', ')}): its applied membership's majority need not meet the last one's`);
  }

  /**
   * Thesis §6.2 (check-quorum): a leader that has heard nothing at all from a majority of
   * its voters for `windowMs` (several election timeouts on the slowest clock) has stepped
   * down. `heard` lists the voters it received any message from in that window.
   */
  checkQuorumContact(leader: NodeId, term: number, voters: readonly NodeId[], heard: readonly NodeId[], windowMs: number): void {
    if (heard.length * 2 > voters.length) return;
    this.fail(INVARIANT.checkQuorum, `leader ${leader} of term ${term} still leads after hearing only from [${heard.join(',')}] of voters [${voters.join(',')}] for ${windowMs}ms`);
  }

  /** A node's membership is the one its applied log prefix (or the snapshot it restored) implies. */
  checkConf(node: NodeId, where: string, actual: ConfState, expected: ConfState): void {
    const key = (c: ConfState): string => `voters=[${[...c.voters].sort().join(',')}] learners=[${[...c.learners].sort().join(',')}]`;
    if (key(actual) !== key(expected)) this.fail(INVARIANT.confMatchesLog, `${node} ${where}: ${key(actual)}, but its applied log implies ${key(expected)}`);
  }

  /** An entry a leader counts as committed is durable on a majority of the voters it counted. */
  checkCommittedMajority(leader: NodeId, index: number, confs: readonly (readonly NodeId[])[], holds: (node: NodeId) => boolean): void {
    if (index === 0) return;
    const explanations: string[] = [];
    for (const voters of confs) {
      const holders = voters.filter(holds);
      if (holders.length * 2 > voters.length) return;
      explanations.push(`held by [${holders.join(',')}] of voters [${voters.join(',')}]`);
    }
    this.fail(INVARIANT.committedMajority, `leader ${leader} committed index ${index}, but it is ${explanations.join(' / ')}`);
  }

  /**
   * A follower acknowledges entries only once they are on its disk, so in the leader's term
   * the leader's match index for it is always backed by the follower's durable log.
   */
  checkMatchDurable(leader: NodeId, term: number, follower: NodeId, followerTerm: number, match: number, holds: boolean): void {
    if (followerTerm !== term || holds) return;
    this.fail(INVARIANT.matchDurable, `leader ${leader} of term ${term} has match ${match} for ${follower}, whose disk no longer holds that entry`);
  }

  /** A client was told its value committed at (index, term). */
  observeAck(value: string, index: number, term: number): void {
    this.acked.set(value, { index, term });
    const c = this.committed.get(index);
    if (c !== undefined && c.term !== term) {
      this.fail(INVARIANT.acknowledgedNotLost, `value ${value} acknowledged at ${index}/${term} but ${index} committed with term ${c.term}`);
    }
  }

  get ackedCount(): number {
    return this.acked.size;
  }

  /** Every acknowledged value is in the final applied sequence of the given node. */
  checkAcksIn(node: NodeId, appliedValues: ReadonlySet<string>): void {
    for (const [value, at] of this.acked) {
      if (!appliedValues.has(value)) this.fail(INVARIANT.acknowledgedNotLost, `value ${value} acknowledged at ${at.index}/${at.term} is missing from ${node}'s applied sequence`);
    }
  }
}
