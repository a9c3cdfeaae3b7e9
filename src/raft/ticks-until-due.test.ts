// RawNode.ticksUntilDue: how long a host may sleep before the next tick that does something.
// A host that sleeps that long and then delivers the ticks that passed must see the same
// messages, at the same ticks, as one that ticks every time. TestNetwork.tickAll checks that
// promise on every tick it takes (a tick before the due one may change nothing anyone sees);
// these tests give it timings where the deadlines differ, and walk a cluster through faults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetwork, counterRandom } from '../../test/support/raft-network.js';
import type { RaftConfig } from './config.js';

const HEARTBEAT = 3;
const ELECTION = 20;
const LEARNER_BATCH = 3;
const TIMING: Partial<RaftConfig> = { heartbeatTicks: HEARTBEAT, electionTicks: ELECTION, checkQuorum: true, preVote: true, commitBroadcast: 'tick' };

test('a leader is due at its next heartbeat, a follower when its election timeout runs out, a learner never', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3'], TIMING);
  net.elect('n1');
  net.addEmpty('n4');
  assert.ok(net.get('n1').node.proposeConfChange({ type: 'addLearner', node: 'n4', context: '' }).ok);
  net.stabilize();
  net.tickAll(HEARTBEAT);
  const leader = net.get('n1').node;
  const due = leader.ticksUntilDue();
  assert.ok(due >= 1 && due <= HEARTBEAT, `leader due in ${due}`);
  const mark = net.trace.length;
  for (let i = 1; i < due; i++) net.tickAll(1);
  assert.equal(net.trace.slice(mark).filter((m) => m.from === 'n1').length, 0, 'nothing from the leader before its due tick');
  net.tickAll(1);
  assert.ok(net.trace.slice(mark).some((m) => m.from === 'n1' && m.type === 'heartbeat'), 'its heartbeat on the due tick');
  // A follower just heard from its leader: its whole (randomized) election timeout lies ahead.
  const follower = net.get('n2').node.ticksUntilDue();
  assert.ok(follower >= ELECTION - HEARTBEAT && follower < 2 * ELECTION, `follower due in ${follower}`);
  assert.equal(net.get('n4').node.ticksUntilDue(), Infinity, 'a learner times nothing');
});

test('a leader owes a commit index to a follower at the next tick (commitBroadcast tick)', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3'], TIMING);
  net.elect('n1');
  net.tickAll(HEARTBEAT);
  net.propose('n1', 'w1');
  // The append went out before the commit; the commit index goes with the next tick.
  assert.equal(net.get('n1').node.ticksUntilDue(), 1);
  net.tickAll(1);
  assert.equal(net.appliedTexts('n2').at(-1), 'w1');
});

test('a leader with batched learners is due at the next batch', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3'], { ...TIMING, heartbeatTicks: 7, learnerAppendTicks: LEARNER_BATCH });
  net.elect('n1');
  net.addEmpty('n4');
  assert.ok(net.get('n1').node.proposeConfChange({ type: 'addLearner', node: 'n4', context: '' }).ok);
  net.stabilize();
  net.tickAll(14);
  net.propose('n1', 'w1');
  net.tickAll(1);
  const due = net.get('n1').node.ticksUntilDue();
  assert.ok(due <= LEARNER_BATCH, `due in ${due}, a batch every ${LEARNER_BATCH}`);
  net.tickAll(due);
  assert.equal(net.appliedTexts('n4').at(-1), 'w1', 'the batch went out on the due tick');
});

test('ticks before the due one change nothing, through elections, partitions, transfers, snapshots and learner batches (seeded walks)', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const random = counterRandom(seed);
    const net = new TestNetwork(['n1', 'n2', 'n3'], { ...TIMING, learnerAppendTicks: LEARNER_BATCH });
    net.elect('n1');
    net.addEmpty('n4');
    assert.ok(net.get('n1').node.proposeConfChange({ type: 'addLearner', node: 'n4', context: '' }).ok);
    net.stabilize();
    let writes = 0;
    for (let step = 0; step < 600; step++) {
      // A partitioned old leader may still think it leads: any node that does will do.
      const leader = [...net.nodes.values()].find((n) => n.up && n.node.softState().role === 'leader')?.id ?? null;
      const roll = random(100);
      if (roll < 15 && leader !== null) {
        const result = net.get(leader).node.propose([new TextEncoder().encode(`s${seed}-${writes++}`)]);
        if (result.ok) net.stabilize();
      } else if (roll < 17) {
        net.isolate(`n${1 + random(3)}`);
      } else if (roll < 20) {
        net.heal();
      } else if (roll < 21 && leader !== null) {
        net.get(leader).node.transferLeader(`n${1 + random(3)}`);
        net.stabilize();
      } else if (roll < 23 && leader !== null) {
        // Compacted: a follower cut off meanwhile catches up by snapshot, whose answers
        // are sometimes lost (the leader resends after an election timeout of silence).
        net.snapshot(leader, 0);
      } else if (roll < 24) {
        if (net.dropTypes.has('snapResp')) net.dropTypes.delete('snapResp');
        else net.dropTypes.add('snapResp');
      } else {
        net.tickAll(1);
      }
      net.checkSafety();
    }
  }
});

test('a lost snapshot is resent on the due tick, and not before', () => {
  // Heartbeats far apart, so that the resend's tick is not a heartbeat's as well.
  const net = new TestNetwork(['n1', 'n2', 'n3'], { ...TIMING, heartbeatTicks: 9 });
  net.elect('n1');
  net.isolate('n3');
  for (let i = 0; i < 5; i++) net.propose('n1', `w${i}`);
  net.snapshot('n1', 0);
  net.heal();
  net.dropTypes.add('snap');
  net.tickAll(2);
  assert.equal(net.get('n1').node.status().progress.get('n3')?.state, 'snapshot', 'n3 needs the snapshot, and its first send was lost');
  net.dropTypes.delete('snap');
  const mark = net.trace.length;
  net.tickAll(2 * ELECTION);
  assert.equal(net.trace.slice(mark).filter((m) => m.type === 'snap' && m.to === 'n3').length, 1, 'resent once, after an election timeout of silence');
  assert.deepEqual(net.appliedTexts('n3'), net.appliedTexts('n1'));
});
