// The mutation catalogue: classic Raft bugs, each written into the core as one exact text
// edit. `npm run mutate` applies them one at a time to a copy of the repository and
// reports which test or simulator invariant notices. A mutant whose search text is not
// found exactly once fails the run (and catalogue.test.ts), so the catalogue cannot rot
// silently when the code changes: fix the search text, never drop the mutant.

export interface Mutant {
  /** Short, stable, kebab-case; `--only` takes these. */
  readonly name: string;
  /** Path from the repository root. */
  readonly file: string;
  /** Text that occurs exactly once in `file`. */
  readonly search: string;
  readonly replace: string;
  /** The rule of the paper or thesis this breaks, in a sentence. */
  readonly rule: string;
}

const RAFT = 'src/raft/raft.ts';
const LOG = 'src/raft/log.ts';
const RAW = 'src/raft/raw-node.ts';
const READS = 'src/raft/read-index.ts';
const RECEIVE = 'src/raft/snapshot-receive.ts';
const HOST = 'src/node/ready-loop.ts';

export const MUTANTS: readonly Mutant[] = [
  // ---- the commit rule and log matching (§5.3, §5.4) --------------------------------------
  {
    name: 'commit-any-term',
    file: LOG,
    search: 'if (index > this.committed && this.term(index) === term) {',
    replace: 'if (index > this.committed && this.term(index) !== null) {',
    rule: '§5.4.2 (Figure 8): a leader commits by counting replicas only entries of its current term',
  },
  {
    name: 'follower-commit-past-last-new',
    file: LOG,
    search: 'this.commitTo(Math.min(leaderCommit, lastNewIndex));',
    replace: 'this.commitTo(Math.min(leaderCommit, this.lastIndex()));',
    rule: 'Figure 2, AppendEntries rule 5: commitIndex = min(leaderCommit, index of last new entry)',
  },
  {
    name: 'heartbeat-commit-uncapped',
    file: RAFT,
    search: "commit: Math.min(pr.match, this.log.committed), readRound",
    replace: "commit: this.log.committed, readRound",
    rule: '§5.3: a follower learns a commit index only for entries known to match the leader (heartbeats carry min(match, commit))',
  },
  {
    name: 'batched-learner-lost-batch-forgotten',
    file: RAFT,
    search: 'if (pr.next > committed && pr.commitSent >= committed && pr.match >= committed) continue;',
    replace: 'if (pr.next > committed && pr.commitSent >= committed) continue;',
    rule: 'a batched learner whose last append was lost is sent to again, though nothing new accumulated (else it never catches up)',
  },
  {
    name: 'no-prev-log-term-check',
    file: LOG,
    search: 'if (!this.matchTerm(prevIndex, prevTerm)) return null;',
    replace: 'if (this.term(prevIndex) === null) return null;',
    rule: 'Figure 2, AppendEntries rule 2: reply false if the log has no entry at prevLogIndex whose term matches prevLogTerm',
  },
  {
    name: 'truncate-matching-entries',
    file: LOG,
    search: 'const conflict = this.findConflict(entries);',
    replace: 'const conflict = entries[0]?.index ?? 0;',
    rule: 'Figure 2, AppendEntries rule 3: delete entries only from the first one that conflicts (a stale or duplicate append truncates nothing)',
  },
  {
    name: 'entries-applied-before-commit',
    file: LOG,
    search: 'const entries = this.slice(lo, this.committed + 1, maxBytes);',
    replace: 'const entries = this.slice(lo, this.lastIndex() + 1, maxBytes);',
    rule: 'Figure 2, all servers: apply log[lastApplied] only once commitIndex > lastApplied',
  },
  {
    name: 'commit-index-regresses',
    file: LOG,
    search: 'if (index <= this.committed) return;\n    assert.ok(index <= this.lastIndex()',
    replace: 'if (index === this.committed) return;\n    assert.ok(index <= this.lastIndex()',
    rule: 'Figure 2: commitIndex only increases (a lower commit index from a heartbeat is ignored)',
  },
  {
    name: 'leader-counts-itself-before-write',
    file: RAFT,
    search: 'const last = this.log.append(entries);\n    return { first, last };',
    replace: 'const last = this.log.append(entries);\n    this.progress.get(this.id)?.maybeUpdate(last);\n    return { first, last };',
    rule: 'thesis §10.2.1: a leader may write its log in parallel with replication but counts itself only once its own write is durable',
  },
  {
    name: 'no-empty-entry-on-election',
    file: RAFT,
    search: "this.appendAsLeader([{ kind: 'normal', data: EMPTY_BYTES }]);",
    replace: '',
    rule: '§8 / thesis §6.4: a new leader commits a blank entry of its own term at the start of its term',
  },
  // ---- elections and votes (§5.1, §5.2, §5.4.1) -------------------------------------------
  {
    name: 'double-vote',
    file: RAFT,
    search: '(this.vote === null && this.lead === null)',
    replace: 'this.lead === null',
    rule: '§5.2: each server votes for at most one candidate in a given term',
  },
  {
    name: 'vote-without-up-to-date-check',
    file: RAFT,
    search: 'if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {',
    replace: 'if (canVote) {',
    rule: '§5.4.1: a voter denies its vote if its own log is more up-to-date than the candidate\'s',
  },
  {
    name: 'vote-reply-before-sync',
    file: RAW,
    search: 'const mustSync = entries.length > 0 || snapshot !== null || voteChanged;',
    replace: 'const mustSync = entries.length > 0 || snapshot !== null;',
    rule: 'Figure 2: currentTerm and votedFor are on stable storage before responding to RPCs (a vote-only Ready is synced)',
  },
  {
    name: 'vote-left-out-of-hard-state',
    file: RAW,
    search: 'return a.term === b.term && a.vote === b.vote && a.commit === b.commit;',
    replace: 'return a.term === b.term && a.commit === b.commit;',
    rule: 'Figure 2: votedFor is persistent state (a Ready whose only change is the vote still hands it out)',
  },
  {
    name: 'self-vote-before-write',
    file: RAFT,
    search: '    if (pre) {\n      // A pre-vote changes nothing on disk, so our own counts at once.\n      this.votes.set(this.id, true);\n      if (this.tallyVotes(true)) return;\n    }',
    replace: '    this.votes.set(this.id, true);\n    if (this.tallyVotes(pre)) return;',
    rule: 'Figure 2 with thesis §10.2.1: a candidate\'s own vote counts once it is durable, so no leader message leaves with an undurable term',
  },
  {
    name: 'stale-term-append-accepted',
    file: RAFT,
    search: 'if (m.term < this.term) {',
    // The cast keeps TypeScript from narrowing m.type inside the block (it would not compile).
    replace: "if (m.term < this.term && (m.type as string) !== 'app') {",
    rule: 'Figure 2, AppendEntries rule 1: reply false if term < currentTerm',
  },
  {
    name: 'no-step-down-on-higher-term',
    file: RAFT,
    search: "const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';",
    replace: "if (this.role === 'leader') return false;\n      const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';",
    rule: '§5.1: a server that sees a higher term takes it and reverts to follower',
  },
  {
    name: 'vote-lease-ignored',
    file: RAFT,
    search: 'if (!m.transfer && inLease) return false;',
    replace: '',
    rule: 'thesis §4.2.3: a server that heard from a current leader within the minimum election timeout ignores vote requests',
  },
  {
    name: 'pre-vote-raises-term',
    file: RAFT,
    search: 'if (m.pre) return true; // a pre-vote never changes our term',
    replace: '',
    rule: 'thesis §9.6: a pre-vote request changes no term, so a node that cannot win disturbs nobody',
  },
  // ---- membership (thesis ch. 4) ------------------------------------------------------------
  {
    name: 'learners-count-for-commit',
    file: RAFT,
    search: 'const index = quorumValue(this.quorumVoters(), (id) => this.progress.get(id)?.match ?? 0);',
    replace: 'const index = quorumValue([...this.quorumVoters(), ...this.conf.learners], (id) => this.progress.get(id)?.match ?? 0);',
    rule: 'thesis §4.2.1: non-voting members (learners) are never counted in a majority',
  },
  {
    name: 'learners-count-for-check-quorum',
    file: RAFT,
    search: 'const active = quorumValue(this.quorumVoters(),',
    replace: 'const active = quorumValue([...this.quorumVoters(), ...this.conf.learners],',
    rule: 'thesis §6.2: a leader steps down when it has not heard from a majority of voters within an election timeout',
  },
  {
    name: 'removed-leader-of-two-steps-down-at-once',
    file: RAFT,
    search: 'if (before.voters.length !== 2) {',
    replace: 'if (before.voters.length > 0) {',
    rule: 'thesis §4.2.2 with two voters: the removed leader tells the other voter the removal committed before it steps down (untold, that voter learns it only by electing itself after an election timeout)',
  },
  {
    name: 'sole-voter-rule-off',
    file: RAFT,
    search: 'return this.soleVoter.sole ? [this.id] : voters;',
    replace: 'return voters;',
    rule: 'thesis §4.1 for two voters: a voter whose log holds the change that leaves it the only voter counts itself a majority (under the apply rule alone a two-voter removal can wedge for good)',
  },
  {
    name: 'election-ignores-log-memberships',
    file: RAFT,
    search: 'const results = this.electionVoterSets().map((voters) => voteResult(voters, this.votes));',
    replace: 'const results = [voteResult(this.quorumVoters(), this.votes)];',
    rule: 'a candidate also needs a majority of every membership its log holds past what it applied (else a voter whose applied membership is older is elected without what its partner of two committed alone)',
  },
  {
    name: 'sole-voter-of-others-change',
    file: RAFT,
    search: 'next.voters.length === 1 && next.voters[0] === this.id };',
    replace: 'next.voters.length === 1 };',
    rule: 'thesis §4.1 for two voters: only the change that leaves this node the only voter makes it a majority by itself, never its own removal',
  },
  {
    name: 'learner-campaigns',
    file: RAFT,
    search: 'return isVoter(this.conf, this.id);',
    replace: 'return isMember(this.conf, this.id);',
    rule: 'thesis §4.2.1: a learner (non-voting member) never starts an election',
  },
  {
    name: 'conf-change-while-pending',
    file: RAFT,
    search: 'if (this.pendingConfIndex > this.log.applied) {',
    replace: 'if (this.pendingConfIndex < 0) {',
    rule: 'thesis §4.1: one membership change at a time; the next starts only once the previous one is applied',
  },
  {
    name: 'conf-change-before-own-term-commit',
    file: RAFT,
    search: 'this.pendingConfIndex = this.log.lastIndex() + 1;',
    replace: 'this.pendingConfIndex = 0;',
    rule: 'thesis §4.1 (raft-dev, 2015): a new leader starts no membership change before an entry of its own term is committed',
  },
  {
    name: 'conf-entry-over-newer-snapshot',
    file: RAFT,
    search: 'if (pending !== null && entry.index <= pending.meta.index) return;',
    replace: '',
    rule: 'membership is what the newest applied state says: a change the snapshot installed since already covers is not applied again',
  },
  // ---- ReadIndex (thesis §6.4) --------------------------------------------------------------
  {
    name: 'read-without-heartbeat-quorum',
    file: READS,
    search: 'const confirmed = quorumValue(voters, (id) => (id === self ? this.round : (this.acks.get(id) ?? 0)));',
    replace: 'const confirmed = this.round;',
    rule: 'thesis §6.4 step 3: the leader answers a read only after a majority acknowledged a heartbeat round sent after the read arrived',
  },
  {
    name: 'read-on-an-old-round',
    file: READS,
    search: 'this.pending.push({ context, index, round: this.round + 1, from });',
    replace: 'this.pending.push({ context, index, round: this.round, from });',
    rule: 'thesis §6.4 step 3: the confirming round must start after the read arrived; an older round proves nothing about now',
  },
  {
    name: 'read-before-own-term-commit',
    file: RAFT,
    search: 'if (this.log.term(this.log.committed) !== this.term) {',
    replace: 'if (this.log.term(this.log.committed) === -1) {',
    rule: 'thesis §6.4 step 1: a leader serves reads only once an entry of its own term is committed',
  },
  // ---- snapshots (§7) -------------------------------------------------------------------------
  {
    name: 'stale-snapshot-installed',
    file: RAFT,
    search: 'if (m.meta.index <= this.log.committed) {',
    replace: 'if (m.meta.index < 0) {',
    rule: '§7: a snapshot that covers no more than what is committed here is not installed (it would rewind the state machine)',
  },
  {
    name: 'snapshot-over-matching-log',
    file: RAFT,
    search: 'if (this.log.matchTerm(index, term)) {\n      this.log.commitTo(index);\n      return false;',
    replace: 'if (this.log.matchTerm(index, term) && index < 0) {\n      this.log.commitTo(index);\n      return false;',
    rule: '§7, InstallSnapshot rule 6: if the log holds the snapshot\'s last entry, keep the entries following it',
  },
  {
    name: 'snapshot-ack-stale-tail',
    file: RAFT,
    search: 'const index = installed ? this.log.lastIndex() : this.log.committed;',
    replace: 'const index = this.log.lastIndex();',
    rule: '§5.3: a follower acknowledges only entries known to match the leader (not a stale tail after a snapshot it already held)',
  },
  {
    name: 'snapshot-without-self-installed',
    file: RAFT,
    search: 'if (isMember(this.conf, this.id) && !isMember(conf, this.id)) return false;',
    replace: '',
    rule: 'a member does not install a snapshot whose membership leaves it out (etcd-io/raft\'s defence in depth)',
  },
  {
    name: 'snapshot-chunks-spliced',
    file: RECEIVE,
    search: 'return source !== null && source.from === m.from && source.term === m.term && source.key === transferKey(m);',
    replace: 'return source !== null && source.key === transferKey(m);',
    rule: 'a chunked transfer resumes only with the leader and term that began it (two images of one index are not spliced)',
  },
  // ---- leadership transfer (thesis §3.10) -----------------------------------------------------
  {
    name: 'transfer-restarts-check-quorum',
    file: RAFT,
    search: 'this.leadTransferee = to;\n    this.transferElapsed = 0;',
    replace: 'this.leadTransferee = to;\n    this.transferElapsed = 0;\n    this.electionElapsed = 0;',
    rule: 'thesis §3.10 with §6.2: a transfer is abandoned after an election timeout without postponing the check-quorum step-down',
  },
  // ---- the host: src/node's Ready loop (only the simulator drives it) ------------------------
  {
    name: 'host-answers-before-write',
    file: HOST,
    search: 'const early = rd.messages.filter(isLeaderMessage);',
    replace: 'const early = rd.messages;',
    rule: 'Figure 2 and the Ready contract: only leader messages may leave before the write; a vote or append answer promises what is on disk',
  },
  {
    name: 'host-skips-fsync',
    file: HOST,
    search: 'this.options.store.write(batch, true, (error) => {',
    replace: 'this.options.store.write(batch, false, (error) => {',
    rule: 'Figure 2: persistent state is on stable storage before answering (a Ready with mustSync is synced, not just written)',
  },
  {
    name: 'host-conf-commit-unsynced',
    file: HOST,
    search: "const sync = rd.mustSync || rd.committedEntries.some((e) => e.kind === 'conf') || commitAhead;",
    replace: 'const sync = rd.mustSync || commitAhead;',
    rule: 'a commit index covering a membership change is synced, so a restart never counts a majority of a membership two changes old',
  },
  {
    name: 'proposal-overwritten-unanswered',
    file: 'src/node/proposals.ts',
    search: 'const earlier = this.byIndex.get(index);',
    replace: 'const earlier = undefined as Pending<R> | undefined;',
    rule: "a proposal whose index the node proposes at anew (its log was cut back while it did not lead) is answered, not left waiting",
  },
  {
    name: 'transfer-dropped-while-conf-unapplied',
    file: RAFT,
    search: 'if (this.hasUnappliedConfChange()) this.transferAskedTicks = 0;',
    replace: 'if (this.hasUnappliedConfChange()) this.transferAskedTicks = null;',
    rule: 'thesis §3.10 with §4.1: a TimeoutNow that comes before a committed membership change is applied is acted on once it is, not dropped',
  },
  {
    name: 'retired-id-rejoins-from-the-queue',
    file: HOST,
    search: 'const refused = this.options.confChangeRefusal(head.change);',
    replace: 'const refused = null as ChimeError | null;',
    rule: "a removed voter's id never becomes a member again: a held change is judged again when it leaves the queue, once the changes before it applied",
  },
];
