// InstallSnapshot on the follower (Raft paper §7, receiver rules), and what the follower's
// answer lets the leader believe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SoloNode, entry } from '../../test/support/raft-network.js';
import { RawNode } from './raw-node.js';
import { MemoryStorage } from './memory-storage.js';
import { encodeConfChange } from './confchange.js';
import type { ConfState, Message, SnapshotMessage } from './types.js';

const voters = ['n1', 'n2', 'n3'];
const fullConf: ConfState = { voters, learners: [] };

function snap(from: string, term: number, at: { index: number; term: number; conf?: ConfState }, bytes: string, offset = 0, totalBytes = bytes.length, done = true): SnapshotMessage {
  return { type: 'snap', from, to: 'n2', term, meta: { index: at.index, term: at.term, conf: at.conf ?? fullConf }, totalBytes, offset, data: new TextEncoder().encode(bytes), done };
}

function acks(messages: readonly Message[]): number[] {
  return messages.flatMap((m) => (m.type === 'appResp' && !m.reject ? [m.index] : []));
}

test('§7: a follower whose log already holds the snapshot\'s last entry keeps what follows but acknowledges only up to the snapshot', () => {
  // n2 holds (4, 1) and, after it, a stale tail (5, 2), (6, 2) from a deposed leader of term 2.
  const n2 = new SoloNode('n2', voters, { log: [entry(4, 1, 'a'), entry(5, 2, 'x'), entry(6, 2, 'y')], hard: { term: 3, vote: null, commit: 3 } });
  n2.node.step(snap('n1', 3, { index: 4, term: 1 }, '["a"]'));
  const sent = n2.drain();
  // Acknowledging 6 would let the leader of term 3 count its own (5, 3) and (6, 3) as held
  // here; and as a rejection at or below the match index is ignored, nobody would repair it.
  assert.deepEqual(acks(sent), [4]);
  assert.equal(n2.node.status().hardState.commit, 4);
  assert.equal(n2.node.status().lastIndex, 6, 'receiver rule 6: retain the log entries following it');
  assert.equal(n2.storage.snapshot().meta.index, 0, 'nothing to install');
});

test('§7: a snapshot that covers no more than what is committed here is not installed, and is answered with the commit index', () => {
  // A delayed copy of an older snapshot: installing it would rewind the state machine.
  const n2 = new SoloNode('n2', voters);
  n2.node.step(snap('n1', 2, { index: 2, term: 1 }, '[]'));
  const sent = n2.drain();
  assert.deepEqual(acks(sent), [3]);
  assert.equal(n2.storage.snapshot().meta.index, 0);
  assert.equal(n2.node.status().applied, 3);
});

test('a membership change from a Ready handed out before a newer snapshot arrived does not undo the snapshot\'s membership', () => {
  const n2 = new SoloNode('n2', voters);
  // n4 joins as a learner at index 4 (committed) ...
  const addLearner = { index: 4, term: 2, kind: 'conf' as const, data: encodeConfChange({ type: 'addLearner', node: 'n4', context: '' }) };
  n2.node.step({ type: 'app', from: 'n1', to: 'n2', term: 2, prevIndex: 3, prevTerm: 1, entries: [addLearner], commit: 4 });
  const handed = n2.node.ready();
  assert.deepEqual(handed.committedEntries.map((e) => e.index), [4]);
  // ... and while the host writes that Ready, a snapshot at 9 arrives in which n4 is gone.
  n2.node.step(snap('n1', 2, { index: 9, term: 2 }, '[]'));
  n2.storage.append(handed.entries);
  if (handed.hardState !== null) n2.storage.setHardState(handed.hardState);
  n2.node.advance();
  n2.drain();
  assert.deepEqual(n2.storage.snapshot().meta.index, 9);
  assert.deepEqual(n2.node.status().conf, fullConf, 'the membership is the snapshot\'s, not the older change applied over it');
});

test('a member does not install a snapshot whose membership leaves it out', () => {
  const n2 = new SoloNode('n2', voters);
  n2.node.step(snap('n1', 2, { index: 9, term: 2, conf: { voters: ['n1', 'n3'], learners: [] } }, '[]'));
  const sent = n2.drain();
  assert.equal(n2.storage.snapshot().meta.index, 0, 'not installed');
  assert.deepEqual(n2.node.status().conf, fullConf);
  assert.deepEqual(acks(sent), [3], 'answered with what it holds, so the leader does not count the snapshot as installed');
});

test('a node that is not a member yet installs a snapshot taken before it was added (it learns its addition from the entries after)', () => {
  const storage = new MemoryStorage();
  const n4 = new RawNode({ id: 'n4', storage, heartbeatTicks: 1, electionTicks: 10, randomInt: () => 0 });
  n4.step({ ...snap('n1', 2, { index: 9, term: 2 }, '[]'), to: 'n4' });
  const rd = n4.ready();
  assert.equal(rd.snapshot?.meta.index, 9);
});

test('a snapshot transfer resumes only with the leader and term that began it: chunks of two leaders are never spliced', () => {
  const n2 = new SoloNode('n2', voters);
  // n1 (term 2) sends the first half of its image of (9, 2) ...
  n2.node.step(snap('n1', 2, { index: 9, term: 2 }, 'AAAA', 0, 8, false));
  // ... n3 (term 3) has an image of the same (9, 2) and size, encoded differently.
  n2.node.step(snap('n3', 3, { index: 9, term: 2 }, 'BBBB', 4, 8, true));
  n2.drain();
  assert.equal(n2.storage.snapshot().meta.index, 0, 'the second half of another leader\'s image is not appended to the first');
  n2.node.step(snap('n3', 3, { index: 9, term: 2 }, 'CCCC', 0, 8, false));
  n2.node.step(snap('n3', 3, { index: 9, term: 2 }, 'CCCC', 4, 8, true));
  n2.drain();
  assert.equal(new TextDecoder().decode(n2.storage.snapshot().data), 'CCCCCCCC');
});
