// Each test is named after the rule of the Raft paper (Ongaro & Ousterhout, 2014) or the
// thesis (Ongaro, 2014) that it checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SoloNode, TestNetwork, entry } from '../../test/support/raft-network.js';
import { MemoryStorage } from './memory-storage.js';
import { RawNode } from './raw-node.js';
import type { Entry, Message, VoteMessage } from './types.js';

const bytes = (text: string) => new TextEncoder().encode(text);

test('§5.2: a node that campaigns with a majority of votes becomes leader, and the others follow', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  assert.equal(net.leader(), 'n1');
  for (const id of ['n2', 'n3']) assert.equal(net.get(id).node.status().softState.leader, 'n1');
  // Bootstrap is term 1; the pre-vote round does not change terms, the real election does.
  assert.equal(net.get('n1').node.status().hardState.term, 2);
});

test('§5.2: a follower whose election timeout passes without hearing a leader starts an election', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.tickAll(25);
  assert.notEqual(net.leader(), null);
});

test('§5.2: each server votes for at most one candidate in a given term', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3'], { preVote: false });
  const n3 = net.get('n3').node;
  const ask = (from: string): VoteMessage => ({ type: 'vote', from, to: 'n3', term: 5, lastIndex: 3, lastTerm: 1, pre: false, transfer: false });
  n3.step(ask('n1'));
  n3.step(ask('n2'));
  const rd = n3.ready();
  const answers = rd.messages.filter((m) => m.type === 'voteResp');
  assert.deepEqual(answers.map((m) => [m.to, m.type === 'voteResp' && m.reject]), [['n1', false], ['n2', true]]);
  assert.equal(rd.hardState?.vote, 'n1');
});

test('§5.4.1: a voter denies its vote to a candidate whose log is less up-to-date', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  net.propose('n1', 'a');
  const n2 = net.get('n2').node;
  const lastIndex = n2.status().lastIndex;
  n2.step({ type: 'vote', from: 'n3', to: 'n2', term: 9, lastIndex: lastIndex - 1, lastTerm: 2, pre: false, transfer: false });
  // n2 still hears from the leader (lease), so it ignores the request entirely: no term change.
  assert.equal(n2.status().hardState.term, 2);
  const lonely = new TestNetwork(['n1', 'n2', 'n3'], { checkQuorum: false, preVote: false });
  lonely.elect('n1');
  lonely.propose('n1', 'a');
  const voter = lonely.get('n2').node;
  voter.step({ type: 'vote', from: 'n3', to: 'n2', term: 9, lastIndex: 3, lastTerm: 1, pre: false, transfer: false });
  const reply = voter.ready().messages.find((m) => m.type === 'voteResp');
  assert.ok(reply !== undefined && reply.type === 'voteResp' && reply.reject, 'vote denied to the stale log');
});

test('§5.3: an entry is committed once the leader replicated it on a majority, and every follower applies it', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  net.isolate('n3');
  net.propose('n1', 'x');
  assert.deepEqual(net.appliedTexts('n1'), ['x']);
  assert.deepEqual(net.appliedTexts('n2'), ['x']);
  assert.deepEqual(net.appliedTexts('n3'), []);
  net.heal();
  net.tickAll(2);
  assert.deepEqual(net.appliedTexts('n3'), ['x']);
});

test('§5.3: a follower rejects an append whose previous entry does not match, and the leader repairs its log', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  net.isolate('n3');
  for (let i = 0; i < 20; i++) net.propose('n1', `v${i}`);
  net.heal();
  net.tickAll(2);
  assert.equal(net.appliedTexts('n3').length, 20);
  const rejects = net.trace.filter((m) => m.type === 'appResp' && m.reject && m.from === 'n3');
  assert.ok(rejects.length <= 2, `fast backtracking needs few round trips, saw ${rejects.length} rejections`);
});

test('§5.3: a follower with conflicting uncommitted entries has them replaced by the leader\'s, skipping a term per round trip', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  // n1 appends entries nobody else gets, in several terms of its own.
  net.isolate('n1');
  for (let i = 0; i < 5; i++) assert.ok(net.get('n1').node.propose([bytes(`lost${i}`)]).ok);
  net.stabilize();
  net.tickAll(30);
  const next = ['n2', 'n3'].find((id) => net.get(id).node.status().softState.role === 'leader');
  assert.ok(next !== undefined, 'the majority side elects a new leader');
  net.propose(next, 'kept');
  net.heal();
  net.tickAll(15);
  assert.deepEqual(net.appliedTexts('n1'), ['kept']);
  assert.deepEqual(net.appliedTexts('n3'), ['kept']);
});

test('§5.4.2 (Figure 8): a leader never commits an entry of an earlier term by counting replicas, even once a majority holds it', () => {
  // n1 holds (6, term 2) from an earlier leadership and wins term 4 with n2 and n3.
  const voters = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const n1 = new SoloNode('n1', voters, { log: [entry(6, 2, 'old')], hard: { term: 3, vote: null } });
  n1.node.campaign();
  n1.drain();
  for (const from of ['n2', 'n3']) n1.node.step({ type: 'voteResp', from, to: 'n1', term: 4, pre: false, reject: false });
  assert.equal(n1.node.status().softState.role, 'leader');
  n1.drain(); // its empty entry (7, 4) is now on its own disk
  // n2 and n3 answer appends that carried "old" but not (7, 4): "old" is on three of five.
  for (const from of ['n2', 'n3']) n1.node.step({ type: 'appResp', from, to: 'n1', term: 4, index: 6, reject: false, hintIndex: 0, hintTerm: 0 });
  n1.drain();
  assert.equal(n1.node.status().hardState.commit, 5, 'an entry of term 2 is not committed by counting replicas in term 4');
  assert.deepEqual(n1.applied, []);
  // Once an entry of the leader's own term is on a majority, it commits, and "old" with it.
  for (const from of ['n2', 'n3']) n1.node.step({ type: 'appResp', from, to: 'n1', term: 4, index: 7, reject: false, hintIndex: 0, hintTerm: 0 });
  n1.drain();
  assert.equal(n1.node.status().hardState.commit, 7);
  assert.deepEqual(n1.applied, ['old']);
});

test('§5.3: a duplicated or reordered old append never truncates entries the follower already has', () => {
  const storage = new MemoryStorage();
  storage.applySnapshot({ meta: { index: 0, term: 0, conf: { voters: ['a', 'b'], learners: [] } }, data: new Uint8Array() });
  const node = new RawNode({ id: 'b', storage, heartbeatTicks: 1, electionTicks: 10, randomInt: () => 0 });
  const entry = (index: number): Entry => ({ index, term: 1, kind: 'normal', data: bytes(`e${index}`) });
  const append = (prevIndex: number, entries: Entry[]): Message => ({ type: 'app', from: 'a', to: 'b', term: 1, prevIndex, prevTerm: prevIndex === 0 ? 0 : 1, entries, commit: 0 });
  node.step(append(0, [entry(1), entry(2), entry(3), entry(4)]));
  node.step(append(1, [entry(2)]));
  assert.equal(node.status().lastIndex, 4);
  const replies = node.ready().messages.filter((m) => m.type === 'appResp');
  assert.deepEqual(replies.map((m) => m.type === 'appResp' && m.index), [4, 2]);
});

test('§5.1 (Figure 2, AppendEntries rule 1): an append from a leader of an older term is refused, with the newer term', () => {
  // (The answer goes out with pre-vote or check-quorum on, as chime runs; without them a
  // stale message is dropped unanswered, as in etcd-io/raft.)
  const n2 = new SoloNode('n2', ['n1', 'n2', 'n3'], { hard: { term: 3, vote: null }, config: { preVote: true, checkQuorum: true } });
  n2.node.step({ type: 'app', from: 'n1', to: 'n2', term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2, 'x')], commit: 4 });
  const sent = n2.drain();
  assert.deepEqual(sent.map((m) => m.type === 'appResp' && [m.term, m.reject]), [[3, true]]);
  const status = n2.node.status();
  assert.equal(status.lastIndex, 3);
  assert.equal(status.hardState.commit, 3);
  assert.equal(status.softState.leader, null, 'a deposed leader is not taken for the leader');
  assert.deepEqual(n2.applied, []);
});

test('§5.3 (Figure 2, AppendEntries rule 5): a follower sets its commit index to min(leaderCommit, index of the last new entry)', () => {
  // n3 holds "a" at 4 and a stale "lost" of term 2 at 5; the leader of term 3 has "a" and
  // then its own entries, and has committed up to 6.
  const n3 = new SoloNode('n3', ['n1', 'n2', 'n3'], { log: [entry(4, 2, 'a'), entry(5, 2, 'lost')], hard: { term: 3, vote: null, commit: 3 } });
  n3.node.step({ type: 'app', from: 'n2', to: 'n3', term: 3, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2, 'a')], commit: 6 });
  n3.drain();
  assert.equal(n3.node.status().hardState.commit, 4, 'what follows the last new entry is not known to match the leader');
  assert.deepEqual(n3.applied, ['a']);
  // A heartbeat carries the commit index only as far as the leader knows this follower matches.
  n3.node.step({ type: 'heartbeat', from: 'n2', to: 'n3', term: 3, commit: 4, readRound: 0 });
  n3.drain();
  assert.equal(n3.node.status().hardState.commit, 4);
});

test('§5.3: a leader sends a follower a commit index in heartbeats only as far as that follower is known to match', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  net.isolate('n3');
  net.propose('n1', 'x');
  net.cut.clear();
  net.dropTypes.add('app');
  net.tickAll(1);
  const beats = net.trace.filter((m) => m.type === 'heartbeat' && m.to === 'n3');
  assert.ok(beats.length > 0);
  for (const m of beats) assert.ok(m.type === 'heartbeat' && m.commit <= 4, `heartbeat to n3 carries commit ${m.type === 'heartbeat' ? m.commit : ''}`);
  assert.equal(net.get('n3').node.status().hardState.commit, 4);
});

test('Figure 2: the commit index never decreases, even when a new leader\'s heartbeat carries a lower one', () => {
  // A new leader that has not heard from us yet caps its heartbeat commit at its match (0).
  const n2 = new SoloNode('n2', ['n1', 'n2', 'n3']);
  assert.equal(n2.node.status().hardState.commit, 3);
  n2.node.step({ type: 'heartbeat', from: 'n1', to: 'n2', term: 2, commit: 0, readRound: 0 });
  n2.drain();
  assert.equal(n2.node.status().hardState.commit, 3);
  assert.equal(n2.storage.hardStateNow().commit, 3);
});

test('§5.5: an append response is released only in a Ready that also persists the entries it acknowledges', () => {
  const storage = new MemoryStorage();
  storage.applySnapshot({ meta: { index: 0, term: 0, conf: { voters: ['a', 'b'], learners: [] } }, data: new Uint8Array() });
  const node = new RawNode({ id: 'b', storage, heartbeatTicks: 1, electionTicks: 10, randomInt: () => 0 });
  node.step({ type: 'app', from: 'a', to: 'b', term: 1, prevIndex: 0, prevTerm: 0, entries: [{ index: 1, term: 1, kind: 'normal', data: bytes('x') }], commit: 0 });
  const rd = node.ready();
  assert.equal(rd.entries.length, 1);
  assert.equal(rd.mustSync, true);
  assert.ok(rd.messages.some((m) => m.type === 'appResp' && m.index === 1));
  assert.equal(rd.hardState?.term, 1);
});

test('thesis §9.6: with pre-vote, a partitioned node does not raise its term and does not disrupt the leader on return', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  net.isolate('n3');
  net.tickAll(100);
  assert.equal(net.get('n3').node.status().hardState.term, 2);
  net.heal();
  net.tickAll(5);
  assert.equal(net.leader(), 'n1');
  assert.equal(net.get('n1').node.status().hardState.term, 2);
});

test('thesis §9.6: a pre-vote request changes no term and no vote, and is granted to a log at least as up to date', () => {
  const n1 = new SoloNode('n1', ['n1', 'n2', 'n3'], { config: { preVote: true } });
  n1.node.step({ type: 'vote', from: 'n3', to: 'n1', term: 2, lastIndex: 3, lastTerm: 1, pre: true, transfer: false });
  const sent = n1.drain();
  assert.deepEqual(sent.map((m) => m.type === 'voteResp' && [m.term, m.pre, m.reject]), [[2, true, false]]);
  assert.deepEqual(n1.node.status().hardState, { term: 1, vote: null, commit: 3 });
});

test('thesis §6.2: with check-quorum, a leader that cannot reach a majority steps down at the end of the next election timeout', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  net.isolate('n1');
  // The followers were heard in the current window, so the first check passes; the next fails.
  net.tickAll(10);
  assert.equal(net.get('n1').node.status().softState.role, 'leader');
  net.tickAll(10);
  assert.equal(net.get('n1').node.status().softState.role, 'follower');
});

test('thesis §4.2.3: a follower that hears from a live leader ignores vote requests (leader lease)', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  const n2 = net.get('n2').node;
  n2.step({ type: 'vote', from: 'n3', to: 'n2', term: 7, lastIndex: 100, lastTerm: 5, pre: false, transfer: false });
  assert.equal(n2.status().hardState.term, 2);
  assert.equal(n2.ready().messages.filter((m) => m.type === 'voteResp').length, 0);
});

test('a follower told its leader is unreachable campaigns within one election timeout of that, not one to two after the last heartbeat', () => {
  const elapsedUntilLeader = (report: boolean): number => {
    const net = new TestNetwork(['n1', 'n2', 'n3']);
    net.elect('n1');
    net.tickAll(3);
    // The leader's process dies: both followers' connections to it break at once.
    net.crash('n1');
    if (report) for (const id of ['n2', 'n3']) net.get(id).node.reportUnreachable('n1');
    for (let ticks = 1; ticks <= 40; ticks++) {
      net.tickAll(1);
      if (net.leader() !== null) return ticks;
    }
    return Infinity;
  };
  // electionTicks is 10: a report makes the next election come within 10 ticks.
  assert.ok(elapsedUntilLeader(true) <= 10, `with the report: ${elapsedUntilLeader(true)} ticks`);
  assert.ok(elapsedUntilLeader(false) > 10, `without: ${elapsedUntilLeader(false)} ticks`);
});

test('a follower that alone lost its leader does not disrupt it: its peers, still hearing the leader, refuse the pre-vote', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  // n2 no longer hears n1 (and says so); n3 does.
  net.cut.add('n1->n2');
  net.get('n2').node.reportUnreachable('n1');
  net.tickAll(30);
  assert.equal(net.leader(), 'n1');
  assert.equal(net.get('n1').node.status().hardState.term, 2);
  assert.equal(net.get('n3').node.status().hardState.term, 2);
});

test('§5.2: a leader appends an empty entry of its term on election', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  const storage = net.get('n2').storage;
  const last = storage.lastIndex();
  assert.equal(storage.term(last), 2);
  assert.equal(storage.entries(last, last + 1, 1 << 20)[0]?.data.length, 0);
});

test('a follower refuses proposals with NOT_LEADER and names the leader', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  const result = net.get('n2').node.propose([bytes('x')]);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.error.code, 'NOT_LEADER');
    assert.equal(result.error.leader, 'n1');
  }
});

test('a leader refuses proposals with PROPOSALS_FULL once too much is uncommitted', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3'], { maxUncommittedEntries: 10 });
  net.elect('n1');
  net.isolate('n1');
  const leader = net.get('n1').node;
  let refused = null;
  for (let i = 0; i < 20 && refused === null; i++) {
    const result = leader.propose([bytes(`p${i}`)]);
    if (!result.ok) refused = result.error.code;
  }
  assert.equal(refused, 'PROPOSALS_FULL');
  net.heal();
  net.tickAll(1);
  assert.ok(leader.propose([bytes('after')]).ok, 'commits free room again');
});

test('a batch of proposals becomes consecutive entries committed together', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  const result = net.get('n1').node.propose([bytes('a'), bytes('b'), bytes('c')]);
  assert.ok(result.ok);
  if (result.ok) assert.equal(result.lastIndex - result.firstIndex, 2);
  net.stabilize();
  assert.deepEqual(net.appliedTexts('n3'), ['a', 'b', 'c']);
});

test('thesis §3.10 with §6.2: asking a leader to transfer leadership does not postpone its check-quorum step-down', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  net.isolate('n1');
  // Someone keeps asking the cut-off leader to hand over, to n2 and n3 in turn. Each
  // transfer is abandoned after an election timeout, but none may restart the window in
  // which the leader must hear from a majority.
  for (let tick = 0; tick < 30; tick++) {
    if (tick % 4 === 0) net.get('n1').node.transferLeader(tick % 8 === 0 ? 'n2' : 'n3');
    net.tickAll(1);
  }
  assert.equal(net.get('n1').node.status().softState.role, 'follower', 'a leader that heard from nobody for two election timeouts has stepped down');
});

test('thesis §3.10 with §4.1: a TimeoutNow that arrives with the commit of a membership change is acted on once the change is applied', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  const n1 = net.get('n1').node;
  const n2 = net.get('n2').node;
  assert.ok(n1.proposeConfChange({ type: 'addLearner', node: 'n4', context: '' }).ok);
  // n2 stores the change and acknowledges it; the leader commits it.
  net.processReady(['n1']);
  for (const m of net.takeQueued({ from: 'n1' })) net.deliver(m);
  net.processReady(['n2', 'n3']);
  for (const m of net.takeQueued({ to: 'n1' })) net.deliver(m);
  assert.equal(n1.status().hardState.commit, n2.status().lastIndex, 'committed on the leader');
  // The leader's next append (with the commit index) and its TimeoutNow reach n2 together,
  // before n2 has applied the change: it may not campaign yet (its membership is about to change).
  assert.equal(n1.transferLeader('n2'), null);
  net.processReady(['n1']);
  for (const m of net.takeQueued({ to: 'n2' })) net.deliver(m);
  assert.equal(n2.status().softState.role, 'follower');
  assert.ok(n2.status().hardState.commit > n2.status().applied, 'the change is committed, not applied');
  // Once it is applied, n2 campaigns as the transfer asked, and wins.
  net.stabilize();
  assert.equal(net.leader(), 'n2');
});

test('thesis §3.10: a transfer that does not finish within an election timeout is abandoned', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  net.cut.add('n1->n3');
  assert.equal(net.get('n1').node.transferLeader('n3'), null);
  assert.equal(net.get('n1').node.propose([bytes('x')]).ok, false);
  net.tickAll(9);
  assert.equal(net.get('n1').node.status().leadTransferee, 'n3');
  net.tickAll(1);
  assert.equal(net.get('n1').node.status().leadTransferee, null);
  assert.ok(net.get('n1').node.propose([bytes('x')]).ok);
});
