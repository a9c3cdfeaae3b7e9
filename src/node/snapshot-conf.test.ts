// A snapshot the node takes records the membership of the index it covers — also when the
// core installed a newer snapshot from the leader while the previous Ready was being written
// (its membership is then already the core's, but the state machine is still at the older
// index). Driven by hand: a disk whose writes complete only when the test says so, a clock
// whose deferred work runs only when the test says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapStorage, encodeConfChange } from '../raft/index.js';
import type { ConfState, Entry, Message, SnapshotMeta } from '../raft/index.js';
import { MemberDirectory } from './member-directory.js';
import { NodeRuntime } from './node-runtime.js';
import { NullMachine } from '../../test/support/null-machine.js';
import { HandClock, HeldStore } from '../../test/support/held-store.js';

const key = (c: ConfState): string => `voters=${[...c.voters].sort().join(',')} learners=${[...c.learners].sort().join(',')}`;

test('a snapshot taken while a newer one from the leader waits to be applied records the membership of its own index', () => {
  const store = new HeldStore();
  bootstrapStorage(store.storage, ['n1', 'n2', 'n3'].map((id) => ({ id, context: '' })));
  const clock = new HandClock();
  const sent: Message[] = [];
  const runtime = new NodeRuntime<string, number>({
    id: 'n2',
    store,
    stateMachine: new NullMachine(),
    link: { send: (_to, envelope) => void (envelope.channel === 'raft' && sent.push(envelope.message)), setPeers: () => {} },
    clock,
    randomInt: () => 0,
    address: { rpc: 'n2:rpc', http: 'n2:http' },
    initialSnapshot: store.storage.snapshot(),
    timing: { tickMs: 10, heartbeatMs: 20, electionMs: 100 },
    // Every applied byte makes a snapshot due.
    limits: { snapshotEntries: 1, snapshotBytes: 1, snapshotKeepEntries: 0 },
    promoteLearners: false,
  });
  runtime.start();
  clock.runDeferred();
  store.completeAll(clock);

  // n1, leader of term 2, appends and commits "n4 joins as a learner" at index 4.
  const addN4: Entry = { index: 4, term: 2, kind: 'conf', data: encodeConfChange({ type: 'addLearner', node: 'n4', context: '' }) };
  runtime.receive('n1', { channel: 'raft', message: { type: 'app', from: 'n1', to: 'n2', term: 2, prevIndex: 3, prevTerm: 1, entries: [addN4], commit: 4 } });
  clock.runDeferred(); // the Ready with index 4 is being written

  // Meanwhile a snapshot at index 10 arrives whole, taken after n4 was removed again.
  const image = new MemberDirectory(new NullMachine()).snapshot();
  const meta: SnapshotMeta = { index: 10, term: 2, conf: { voters: ['n1', 'n2', 'n3'], learners: [] } };
  runtime.receive('n1', { channel: 'raft', message: { type: 'snap', from: 'n1', to: 'n2', term: 2, meta, totalBytes: image.length, offset: 0, data: image, done: true } });
  clock.runDeferred();
  store.completeAll(clock);

  const atFour = store.snapshotsTaken.filter((s) => s.index === 4);
  for (const s of atFour) assert.equal(key(s.conf), 'voters=n1,n2,n3 learners=n4', 'the snapshot at 4 records the membership of index 4');
  assert.equal(store.storage.snapshot().meta.index, 10, 'the leader\'s snapshot is installed in the end');
  assert.equal(key(runtime.status().conf), 'voters=n1,n2,n3 learners=');
});
