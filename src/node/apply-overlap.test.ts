// The order of a Ready's work around its disk write. A follower applies the entries the last
// append committed while this append's write runs, not before starting it: its
// acknowledgement, which the leader's commit waits for, then waits for the longer of the
// two, not for their sum. A leader's appends leave before its write starts. Driven by hand:
// a disk whose writes complete only when the test says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapStorage } from '../raft/index.js';
import type { Entry, Message, VoteMessage } from '../raft/index.js';
import { NodeRuntime, type NodeOptions } from './node-runtime.js';
import { NullMachine } from '../../test/support/null-machine.js';
import { HandClock, HeldStore } from '../../test/support/held-store.js';

/** Notes, for every applied entry, how the disk stood at that moment. */
class WatchingMachine extends NullMachine {
  readonly applied: { index: number; writesIssued: number; writesHeld: number }[] = [];
  constructor(private readonly store: HeldStore) {
    super();
  }
  override apply(entry: Entry): number {
    if (entry.kind === 'normal') this.applied.push({ index: entry.index, writesIssued: this.store.writesIssued, writesHeld: this.store.writesHeld });
    return entry.index;
  }
}

/** A runtime with the tests' timing and no snapshots, started, its first write done. */
function startedRuntime(id: string, store: HeldStore, clock: HandClock, stateMachine: NullMachine, link: NodeOptions<string, number>['link']): NodeRuntime<string, number> {
  const runtime = new NodeRuntime<string, number>({
    id,
    store,
    stateMachine,
    link,
    clock,
    randomInt: () => 0,
    address: { rpc: `${id}:rpc`, http: `${id}:http` },
    initialSnapshot: store.storage.snapshot(),
    timing: { tickMs: 10, heartbeatMs: 20, electionMs: 100 },
    limits: { snapshotEntries: 1_000_000, snapshotBytes: 1 << 30, snapshotKeepEntries: 0 },
    promoteLearners: false,
  });
  runtime.start();
  clock.runDeferred();
  store.completeAll(clock);
  return runtime;
}

test('a follower starts writing an append before it applies what the append committed, and acknowledges only once both are done', () => {
  const store = new HeldStore();
  bootstrapStorage(store.storage, ['n1', 'n2', 'n3'].map((id) => ({ id, context: '' })));
  const clock = new HandClock();
  const acks: number[] = [];
  const machine = new WatchingMachine(store);
  const runtime = startedRuntime('n2', store, clock, machine, { send: (_to, envelope) => void (envelope.channel === 'raft' && ackOf(envelope.message, acks)), setPeers: () => {} });

  const entry = (index: number): Entry => ({ index, term: 2, kind: 'normal', data: new TextEncoder().encode(`write ${index}`) });
  runtime.receive('n1', { channel: 'raft', message: { type: 'app', from: 'n1', to: 'n2', term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4)], commit: 3 } });
  clock.runDeferred();
  store.completeAll(clock);
  assert.deepEqual(acks, [4], 'index 4 is acknowledged once on disk');
  const issuedBefore = store.writesIssued;

  // The next append carries index 5 and the commit index 4 (the commit rides on the next message).
  runtime.receive('n1', { channel: 'raft', message: { type: 'app', from: 'n1', to: 'n2', term: 2, prevIndex: 4, prevTerm: 2, entries: [entry(5)], commit: 4 } });
  clock.runDeferred();
  assert.deepEqual(machine.applied, [{ index: 4, writesIssued: issuedBefore + 1, writesHeld: 1 }], 'index 4 is applied with the write of index 5 issued and not yet done');
  assert.deepEqual(acks, [4], 'index 5 is not acknowledged before its write is done');

  store.completeAll(clock);
  assert.deepEqual(acks, [4, 5]);
  assert.deepEqual(machine.applied.map((a) => a.index), [4], 'index 5 is not committed yet');
});

function ackOf(message: Message, acks: number[]): void {
  if (message.type === 'appResp' && !message.reject) acks.push(message.index);
}

test('a leader\'s appends leave before its own disk write starts', () => {
  const store = new HeldStore();
  bootstrapStorage(store.storage, ['n1', 'n2', 'n3'].map((id) => ({ id, context: '' })));
  const clock = new HandClock();
  const events: string[] = [];
  const votes: VoteMessage[] = [];
  const issue = store.write.bind(store);
  store.write = (batch, sync, done) => {
    events.push(`write ${batch.entries.map((e) => e.index).join(',')}`);
    issue(batch, sync, done);
  };
  const runtime = startedRuntime('n1', store, clock, new NullMachine(), {
    send: (to, envelope) => {
      if (envelope.channel !== 'raft') return;
      const m = envelope.message;
      if (m.type === 'vote') votes.push(m);
      if (m.type === 'app') events.push(`send app ${m.entries.map((e) => e.index).join(',')} to ${to}`);
    },
    flush: () => events.push('flush'),
    setPeers: () => {},
  });
  runtime.campaign();
  // n2 grants every vote (and pre-vote) n1 asks for, until n1 leads.
  for (let round = 0; round < 4 && !runtime.isLeader(); round++) {
    clock.runDeferred();
    store.completeAll(clock);
    for (const v of votes.splice(0)) {
      if (v.to === 'n2') runtime.receive('n2', { channel: 'raft', message: { type: 'voteResp', from: 'n2', to: 'n1', term: v.term, pre: v.pre, reject: false } });
    }
  }
  assert.equal(runtime.isLeader(), true);
  clock.runDeferred();
  // The new leader's first entry (index 4) goes to both followers, then to its own disk.
  const first = events.findIndex((e) => e.startsWith('send app 4'));
  assert.ok(first >= 0, `the leader sends its first entry (events: ${events.join('; ')})`);
  assert.deepEqual(events.slice(first).sort(), ['flush', 'send app 4 to n2', 'send app 4 to n3', 'write 4'].sort());
  assert.ok(events.indexOf('flush', first) < events.indexOf('write 4'), `the appends are flushed before the write (events: ${events.join('; ')})`);
});
