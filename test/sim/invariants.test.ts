// Each checker is fed hand-made data that breaks exactly its invariant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INVARIANT, InvariantViolation, SafetyChecker, type InvariantName, type LogView } from './invariants.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const entry = (index: number, term: number, data: string) => ({ index, term, kind: 'normal', data: bytes(data) });

function checker(): SafetyChecker {
  return new SafetyChecker(77, () => 1234);
}

function violates(name: InvariantName, fn: () => void): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvariantViolation, String(err));
    assert.equal(err.invariant, name);
    assert.equal(err.seed, 77);
    assert.equal(err.timeMs, 1234);
    assert.match(err.message, new RegExp(`${name}.*seed=77.*t=1234ms`));
    return true;
  });
}

function logOf(terms: Record<number, number>): LogView {
  return { termAt: (i) => terms[i] ?? 'missing' };
}

test('election safety: two leaders in one term', () => {
  const c = checker();
  c.observeLeader('a', 3);
  c.observeLeader('a', 3);
  c.observeLeader('b', 4);
  violates(INVARIANT.electionSafety, () => c.observeLeader('b', 3));
});

test('log matching: same index and term with different data, or different history', () => {
  const c = checker();
  c.observeEntry('a', entry(5, 2, 'x'), 1);
  c.observeEntry('b', entry(5, 2, 'x'), 1);
  violates(INVARIANT.logMatching, () => c.observeEntry('c', entry(5, 2, 'y'), 1));
  const d = checker();
  d.observeEntry('a', entry(5, 2, 'x'), 1);
  violates(INVARIANT.logMatching, () => d.observeEntry('b', entry(5, 2, 'x'), 2));
});

test('state machine safety: two nodes apply different entries at one index', () => {
  const c = checker();
  assert.equal(c.observeApplied('a', 1, 1, 111, 1), true);
  assert.equal(c.observeApplied('b', 1, 1, 111, 1), false);
  violates(INVARIANT.stateMachineSafety, () => c.observeApplied('c', 1, 1, 222, 1));
  violates(INVARIANT.stateMachineSafety, () => c.observeApplied('c', 1, 2, 111, 1));
  violates(INVARIANT.stateMachineSafety, () => c.observeRestore('c', 1, 1, 999, 2));
});

test('leader completeness: a later leader misses a committed entry', () => {
  const c = checker();
  c.observeApplied('a', 1, 1, 1, 1);
  c.observeApplied('a', 2, 2, 2, 2);
  c.checkLeaderLog('b', 3, logOf({ 1: 1, 2: 2, 3: 3 }));
  violates(INVARIANT.leaderCompleteness, () => c.checkLeaderLog('c', 3, logOf({ 1: 1, 2: 3 })));
  violates(INVARIANT.leaderCompleteness, () => c.checkLeaderLog('c', 3, logOf({ 1: 1 })));
  // Entries first seen committed in a later term do not bind an earlier leader.
  c.checkLeaderLog('old', 1, logOf({ 1: 1 }));
});

test('monotonic state: term, commit or applied going backwards in one incarnation', () => {
  const c = checker();
  c.observeProgress('a', 1, 2, 5, 5);
  c.observeProgress('a', 1, 2, 6, 5);
  violates(INVARIANT.monotonicState, () => c.observeProgress('a', 1, 2, 4, 5));
  c.observeProgress('b', 1, 3, 5, 5);
  c.observeProgress('b', 2, 3, 5, 2); // a restart may restart applied from its snapshot
  violates(INVARIANT.monotonicState, () => c.observeProgress('b', 2, 2, 5, 2));
});

test('monotonic durable state across a restart, and a single vote per term', () => {
  const c = checker();
  c.observeDurable('a', { term: 3, vote: 'b', commit: 7 });
  c.observeDurable('a', { term: 3, vote: null, commit: 8 });
  violates(INVARIANT.monotonicState, () => c.observeDurable('a', { term: 3, vote: 'b', commit: 6 }));
  const d = checker();
  d.observeDurable('a', { term: 3, vote: 'b', commit: 7 });
  d.observeDurable('a', { term: 3, vote: null, commit: 7 }); // a forgetful disk: not yet a second vote
  violates(INVARIANT.singleVote, () => d.observeDurable('a', { term: 3, vote: 'c', commit: 7 }));
  d.observeDurable('a', { term: 4, vote: 'c', commit: 7 });
});

test('committed majority: an entry counted committed without a majority of durable copies', () => {
  const c = checker();
  const holders = new Set(['a', 'b']);
  c.checkCommittedMajority('a', 9, [['a', 'b', 'c']], (n) => holders.has(n));
  violates(INVARIANT.committedMajority, () => c.checkCommittedMajority('a', 9, [['a', 'b', 'c', 'd']], (n) => holders.has(n)));
  c.checkCommittedMajority('a', 9, [['a', 'b', 'c', 'd'], ['a', 'b', 'c']], (n) => holders.has(n));
});

test('match durable: a leader believes a follower holds what its disk lost', () => {
  const c = checker();
  c.checkMatchDurable('a', 5, 'b', 5, 10, true);
  c.checkMatchDurable('a', 5, 'b', 6, 10, false); // the follower has moved on: not this leader's promise
  violates(INVARIANT.matchDurable, () => c.checkMatchDurable('a', 5, 'b', 5, 10, false));
});

test('acknowledged values: acked at an index committed with another term, or missing at the end', () => {
  const c = checker();
  c.observeApplied('a', 4, 2, 1, 2);
  violates(INVARIANT.acknowledgedNotLost, () => c.observeAck('v1', 4, 3));
  const d = checker();
  d.observeAck('v1', 4, 2);
  d.observeAck('v2', 5, 2);
  d.checkAcksIn('a', new Set(['v1', 'v2', 'v3']));
  violates(INVARIANT.acknowledgedNotLost, () => d.checkAcksIn('b', new Set(['v1'])));
});

test('single vote on the wire: a grant in a term to a second candidate, even after a restart', () => {
  const c = checker();
  c.observeVoteGranted('a', 4, 'b');
  c.observeVoteGranted('a', 4, 'b'); // a duplicate answer to the same candidate
  c.observeVoteGranted('a', 5, 'c');
  violates(INVARIANT.singleVote, () => c.observeVoteGranted('a', 4, 'c'));
});

test('commit own term: a leader advancing its commit index to an entry of an older term', () => {
  const c = checker();
  c.checkLeaderCommitTerm('a', 4, 10, 4);
  violates(INVARIANT.commitOwnTerm, () => c.checkLeaderCommitTerm('a', 4, 9, 2));
});

test('conf matches log: a membership other than the applied prefix implies (order does not matter)', () => {
  const c = checker();
  c.checkConf('a', 'at 5', { voters: ['a', 'b'], learners: ['c'] }, { voters: ['b', 'a'], learners: ['c'] });
  violates(INVARIANT.confMatchesLog, () => c.checkConf('a', 'at 5', { voters: ['a', 'b'], learners: ['c'] }, { voters: ['a', 'b'], learners: [] }));
  violates(INVARIANT.confMatchesLog, () => c.checkConf('a', 'at 5', { voters: ['a'], learners: ['b'] }, { voters: ['a', 'b'], learners: [] }));
});

test('learner never leads: a leader that is a learner of its own membership', () => {
  const c = checker();
  c.checkLeaderNotLearner('a', 3, { voters: ['a', 'b'], learners: ['c'] });
  c.checkLeaderNotLearner('a', 3, { voters: ['b'], learners: [] }); // removed, handing off
  c.checkLeaderNotLearner('a', 3, { voters: ['b'], learners: ['a'] }); // demoted from two voters, handing off
  violates(INVARIANT.learnerNeverLeads, () => c.checkLeaderNotLearner('c', 3, { voters: ['a', 'b'], learners: ['c'] }));
});

test('check-quorum: a leader that heard from no majority of voters for the whole window', () => {
  const c = checker();
  c.checkQuorumContact('a', 3, ['a', 'b', 'c'], ['a', 'c'], 500);
  violates(INVARIANT.checkQuorum, () => c.checkQuorumContact('a', 3, ['a', 'b', 'c'], ['a'], 500));
  violates(INVARIANT.checkQuorum, () => c.checkQuorumContact('a', 3, ['a', 'b'], ['a'], 500));
});

test('conf lag: a leader commits while two membership changes in its log are not applied', () => {
  const c = checker();
  c.checkConfLag('a', 4, 10, []);
  c.checkConfLag('a', 4, 11, ['12/4']);
  violates(INVARIANT.confLag, () => c.checkConfLag('a', 4, 12, ['12/4', '14/4']));
});
