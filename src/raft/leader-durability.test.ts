// What may leave a node before its own write is on disk. The Raft thesis (§10.2.1) lets a
// leader send its appends while it writes them itself, provided it counts itself in the
// commit rule only once its write is done. etcd-io/raft's Ready contract adds the other
// half: no message may leave before the hard state (term and vote) it depends on is durable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetwork } from '../../test/support/raft-network.js';
import type { Message } from './types.js';

const bytes = (text: string) => new TextEncoder().encode(text);

/** One voter (n1) and two learners (n2, n3), n1 leading with everything applied. */
function singleVoterWithLearners(): TestNetwork {
  const net = new TestNetwork(['n1']);
  net.elect('n1');
  for (const id of ['n2', 'n3']) {
    net.addEmpty(id);
    assert.ok(net.get('n1').node.proposeConfChange({ type: 'addLearner', node: id, context: '' }).ok);
    net.stabilize();
  }
  net.tickAll(2);
  assert.deepEqual(net.get('n1').node.status().conf, { voters: ['n1'], learners: ['n2', 'n3'] });
  return net;
}

const leaderMessage = (m: Message) => m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' || m.type === 'timeoutNow';

test('thesis §10.2.1: the leader counts itself only once its own write is done; learners\' acknowledgements never commit', () => {
  const net = singleVoterWithLearners();
  const n1 = net.get('n1');
  const before = n1.node.status().hardState.commit;
  const result = n1.node.propose([bytes('x')]);
  assert.ok(result.ok);
  // The host sends the appends first and writes later; both learners persist and answer.
  const rd = n1.node.ready();
  for (const m of rd.messages) {
    if (m.type === 'app') assert.ok(m.commit < result.lastIndex, 'the appends do not carry a commit index covering x');
    net.deliver(m);
  }
  for (const id of ['n2', 'n3']) for (const m of net.handleReady(id)) net.deliver(m);
  assert.equal(n1.node.status().hardState.commit, before, 'two learners and a leader that has not written x: x is on no voter\'s disk');
  n1.storage.append(rd.entries);
  if (rd.hardState !== null) n1.storage.setHardState(rd.hardState);
  n1.node.advance();
  assert.equal(n1.node.status().hardState.commit, result.lastIndex, 'committed once the only voter holds it');
});

test('§5.2 with thesis §10.2.1: a single voter leads only once its vote for itself is on disk, so appends sent before its write never carry a term a crash takes back', () => {
  const net = singleVoterWithLearners();
  net.restart('n1');
  net.stabilize();
  const n1 = net.get('n1');
  // n1 campaigns, and a host that sends a leader's messages before its own write crashes
  // before that write completes. Had n1 led at once, its appends of term 3 would now sit on
  // the learners' disks while no voter has term 3 on disk: n1 could lead term 3 a second
  // time, and two different entries could share one (index, term).
  n1.node.campaign();
  n1.node.propose([bytes('lost')]);
  const rd = n1.node.ready();
  assert.equal(rd.hardState?.term, 3);
  for (const m of rd.messages.filter(leaderMessage)) net.deliver(m);
  net.crash('n1');
  net.stabilize();
  const durableTerm = net.get('n1').storage.hardStateNow().term;
  for (const id of ['n2', 'n3']) {
    const learner = net.get(id).storage;
    assert.ok(learner.term(learner.lastIndex()) <= durableTerm, `${id} holds an entry of term ${learner.term(learner.lastIndex())}, the only voter has term ${durableTerm} on disk`);
  }
  net.start('n1');
  net.stabilize();
  net.get('n1').node.campaign();
  net.stabilize();
  net.propose('n1', 'kept');
  net.tickAll(2);
  for (const id of ['n2', 'n3']) assert.deepEqual(net.appliedTexts(id), net.appliedTexts('n1'));
  assert.deepEqual(net.appliedTexts('n1'), ['kept']);
});

test('a Ready never carries a leader\'s message together with the new term it is stamped with', () => {
  // One voter wins its election alone: the campaign's Ready (term, vote) must be written
  // before the leader exists; the next Ready has the empty entry and the appends.
  const net = singleVoterWithLearners();
  const n1 = net.get('n1');
  net.restart('n1');
  net.stabilize();
  const again = net.get('n1');
  assert.notEqual(again, n1);
  again.node.campaign();
  const first = again.node.ready();
  assert.equal(first.hardState?.term, 3);
  assert.equal(first.softState?.role, 'candidate');
  again.storage.setHardState(first.hardState ?? assert.fail());
  again.node.advance();
  const second = again.node.ready();
  assert.equal(second.softState?.role, 'leader');
  assert.equal(second.hardState?.term ?? 3, 3);
  assert.ok(second.messages.some((m) => m.type === 'app' && m.term === 3));
});
