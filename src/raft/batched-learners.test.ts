// Batched learners (config.learnerAppendTicks): a leader holds back a learner's entries and
// sends what accumulated every few ticks. Learners count for nothing, so commits, reads and
// elections must not notice; the learner must still end with the same log, also after a lost
// batch, a lost answer or a compaction behind it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetwork } from '../../test/support/raft-network.js';
import type { AppendMessage, Message, NodeId } from './types.js';
import type { RaftConfig } from './config.js';

const TICKS = 3;

/** Three voters and learner n4, caught up and in the replicate state. */
function withLearner(overrides: Partial<RaftConfig> = {}): TestNetwork {
  const net = new TestNetwork(['n1', 'n2', 'n3'], { learnerAppendTicks: TICKS, ...overrides });
  net.elect('n1');
  net.addEmpty('n4');
  assert.ok(net.get('n1').node.proposeConfChange({ type: 'addLearner', node: 'n4', context: '' }).ok);
  net.stabilize();
  net.tickAll(2 * TICKS);
  assert.equal(net.get('n1').node.status().progress.get('n4')?.state, 'replicate');
  assert.equal(net.get('n4').node.status().applied, net.get('n1').node.status().applied);
  return net;
}

function appendsTo(trace: readonly Message[], to: NodeId): AppendMessage[] {
  return trace.filter((m): m is AppendMessage => m.type === 'app' && m.to === to && m.entries.length > 0);
}

/** Ticks until the learner received entries again; how many ticks that took. */
function ticksUntilAppend(net: TestNetwork, to: NodeId): number {
  const mark = net.trace.length;
  for (let ticks = 1; ticks <= 4 * TICKS; ticks++) {
    net.tickAll(1);
    if (appendsTo(net.trace.slice(mark), to).length > 0) return ticks;
  }
  return Infinity;
}

test('a batched learner gets what accumulated in one append per learnerAppendTicks, and commits do not wait for it', () => {
  const net = withLearner();
  const before = net.appliedTexts('n4').length;
  const mark = net.trace.length;
  for (let i = 0; i < 5; i++) net.propose('n1', `w${i}`);
  // Every write committed and applied by the voters while the learner heard nothing new.
  assert.deepEqual(net.appliedTexts('n2').slice(-5), ['w0', 'w1', 'w2', 'w3', 'w4']);
  assert.equal(appendsTo(net.trace.slice(mark), 'n4').length, 0, 'no append to the learner between ticks');
  assert.equal(appendsTo(net.trace.slice(mark), 'n2').length, 5, 'one append per write to a voter');
  const sent = net.trace.length;
  assert.ok(ticksUntilAppend(net, 'n4') <= TICKS);
  const batch = appendsTo(net.trace.slice(sent), 'n4');
  assert.equal(batch.length, 1);
  assert.deepEqual(batch[0]?.entries.map((e) => new TextDecoder().decode(e.data)), ['w0', 'w1', 'w2', 'w3', 'w4']);
  // Committed entries only, with a commit index covering them: applied on arrival.
  assert.deepEqual(net.appliedTexts('n4').slice(before), ['w0', 'w1', 'w2', 'w3', 'w4']);
});

test('a batch never carries an entry beyond the commit index it carries', () => {
  const net = withLearner();
  const mark = net.trace.length;
  net.propose('n1', 'k');
  // The voters hold the next writes but their answers are lost: nothing more commits.
  net.cut.add('n2->n1');
  net.cut.add('n3->n1');
  for (let i = 0; i < 3; i++) assert.ok(net.get('n1').node.propose([new TextEncoder().encode(`u${i}`)]).ok);
  net.tickAll(2 * TICKS);
  const batches = appendsTo(net.trace.slice(mark), 'n4');
  assert.ok(batches.length > 0, 'k was sent');
  for (const m of batches) assert.ok((m.entries.at(-1)?.index ?? 0) <= m.commit, `append up to ${m.entries.at(-1)?.index} with commit ${m.commit}`);
  assert.equal(net.appliedTexts('n4').at(-1), 'k');
  net.cut.clear();
  net.tickAll(2 * TICKS);
  assert.deepEqual(net.appliedTexts('n4').slice(-3), ['u0', 'u1', 'u2']);
  for (const m of appendsTo(net.trace.slice(mark), 'n4')) assert.ok((m.entries.at(-1)?.index ?? 0) <= m.commit);
});

test('a learner the predicate leaves out, and a voter, get every write at once', () => {
  const net = withLearner({ batchedLearner: (id) => id !== 'n4' });
  const mark = net.trace.length;
  for (let i = 0; i < 3; i++) net.propose('n1', `e${i}`);
  assert.equal(appendsTo(net.trace.slice(mark), 'n4').length, 3);
  const off = withLearner({ learnerAppendTicks: 0 });
  const offMark = off.trace.length;
  off.propose('n1', 'x');
  assert.equal(appendsTo(off.trace.slice(offMark), 'n4').length, 1);
});

test('a lost batch is found by the next one (rejected, probed) and the learner ends with the whole log', () => {
  const net = withLearner();
  for (let i = 0; i < 4; i++) net.propose('n1', `a${i}`);
  net.cut.add('n1->n4');
  assert.ok(ticksUntilAppend(net, 'n4') === Infinity, 'the batch was dropped');
  net.cut.clear();
  for (let i = 0; i < 4; i++) net.propose('n1', `b${i}`);
  net.tickAll(4 * TICKS);
  assert.deepEqual(net.appliedTexts('n4'), net.appliedTexts('n1'));
  assert.equal(net.get('n1').node.status().progress.get('n4')?.state, 'replicate');
});

test('a lost last batch, with no write after it, still reaches the learner', () => {
  const net = withLearner();
  for (let i = 0; i < 3; i++) net.propose('n1', `c${i}`);
  net.cut.add('n1->n4');
  assert.ok(ticksUntilAppend(net, 'n4') === Infinity, 'the batch was dropped');
  net.cut.clear();
  net.tickAll(4 * TICKS);
  assert.deepEqual(net.appliedTexts('n4'), net.appliedTexts('n1'));
});

test('a lost answer from a batched learner does not stall it', () => {
  const net = withLearner();
  net.propose('n1', 'p');
  net.cut.add('n4->n1');
  net.tickAll(TICKS);
  net.cut.clear();
  for (let i = 0; i < 3; i++) net.propose('n1', `q${i}`);
  net.tickAll(4 * TICKS);
  assert.deepEqual(net.appliedTexts('n4'), net.appliedTexts('n1'));
});

test('a batched learner behind the leader\'s compacted log gets a snapshot', () => {
  const net = withLearner();
  net.isolate('n4');
  for (let i = 0; i < 10; i++) net.propose('n1', `s${i}`);
  net.snapshot('n1');
  net.heal();
  net.tickAll(4 * TICKS);
  assert.deepEqual(net.appliedTexts('n4'), net.appliedTexts('n1'));
  assert.notEqual(net.get('n4').restored, null, 'the learner installed a snapshot');
});

test('a batched learner promoted to voter counts for the commit and gets every write again', () => {
  const net = withLearner();
  assert.ok(net.get('n1').node.proposeConfChange({ type: 'addVoter', node: 'n4', context: '' }).ok);
  net.stabilize();
  net.tickAll(2 * TICKS);
  assert.deepEqual(net.get('n1').node.status().conf.voters, ['n1', 'n2', 'n3', 'n4']);
  const mark = net.trace.length;
  net.propose('n1', 'v');
  assert.equal(appendsTo(net.trace.slice(mark), 'n4').length, 1);
  assert.equal(net.appliedTexts('n4').at(-1), 'v');
});

test('a batched learner sent a batch since the last heartbeat round gets no heartbeat; an idle one still does', () => {
  const net = withLearner({ heartbeatTicks: TICKS });
  const heartbeatsTo = (from: number, to: NodeId): number => net.trace.slice(from).filter((m) => m.type === 'heartbeat' && m.to === to).length;
  // Busy: a write before every batch, so every round follows a batch.
  let mark = net.trace.length;
  for (let round = 0; round < 4; round++) {
    net.propose('n1', `busy${round}`);
    net.tickAll(TICKS);
  }
  assert.ok(appendsTo(net.trace.slice(mark), 'n4').length >= 3, 'batches went out');
  assert.ok(heartbeatsTo(mark, 'n3') >= 3, 'voters keep their heartbeats');
  assert.ok(heartbeatsTo(mark, 'n4') <= 1, `at most the round before the first batch: ${heartbeatsTo(mark, 'n4')}`);
  assert.ok(net.appliedTexts('n4').includes('busy3'));
  // Idle: nothing to batch, so the heartbeat is what tells the leader the learner is there.
  mark = net.trace.length;
  net.tickAll(4 * TICKS);
  assert.ok(heartbeatsTo(mark, 'n4') >= 3, 'an idle learner is heartbeaten');
});
