// A snapshot the node takes records the membership of the index it covers — also when the
// core installed a newer snapshot from the leader while the previous Ready was being written
// (its membership is then already the core's, but the state machine is still at the older
// index). Driven by hand: a disk whose writes complete only when the test says so, a clock
// whose deferred work runs only when the test says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, bootstrapStorage, encodeConfChange } from '../raft/index.js';
import type { ConfState, Entry, HardState, Message, Snapshot, SnapshotMeta } from '../raft/index.js';
import { MemberDirectory } from './member-directory.js';
import { NodeRuntime } from './node-runtime.js';
import { NullMachine } from '../../test/support/null-machine.js';
import type { Clock, Done, LogStore, PersistBatch, TimerHandle } from './ports.js';

/** A disk whose writes wait in a queue until `completeAll()`. */
class HeldStore implements LogStore {
  readonly storage = new MemoryStorage();
  private held: { run: () => void; done: Done }[] = [];
  readonly snapshotsTaken: { index: number; conf: ConfState }[] = [];

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.storage.initialState();
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.storage.entries(lo, hi, maxBytes);
  }
  term(index: number): number {
    return this.storage.term(index);
  }
  firstIndex(): number {
    return this.storage.firstIndex();
  }
  lastIndex(): number {
    return this.storage.lastIndex();
  }
  snapshot(): Snapshot {
    return this.storage.snapshot();
  }
  snapshotInfo(): { meta: SnapshotMeta; bytes: number } {
    const snap = this.storage.snapshot();
    return { meta: snap.meta, bytes: snap.data.length };
  }
  write(batch: PersistBatch, _sync: boolean, done: Done): void {
    this.held.push({
      run: () => {
        if (batch.snapshot !== null) this.storage.applySnapshot(batch.snapshot);
        if (batch.entries.length > 0) this.storage.append(batch.entries);
        if (batch.hardState !== null) this.storage.setHardState(batch.hardState);
      },
      done,
    });
  }
  createSnapshot(index: number, conf: ConfState, data: Uint8Array, done: Done): void {
    this.snapshotsTaken.push({ index, conf });
    this.held.push({ run: () => this.storage.createSnapshot(index, conf, data), done });
  }
  compact(index: number, done: Done): void {
    this.held.push({ run: () => this.storage.compact(index), done });
  }
  /** Completes the queued writes in order (and any their callbacks issue). */
  completeAll(clock: HandClock): void {
    while (this.held.length > 0) {
      const next = this.held.shift();
      if (next === undefined) break;
      next.run();
      next.done(null);
      clock.runDeferred();
    }
  }
}

/** Time stands still; deferred work runs when the test calls `runDeferred`; timers never fire. */
class HandClock implements Clock {
  private deferred: (() => void)[] = [];
  nowMs(): number {
    return 0;
  }
  setTimer(): TimerHandle {
    return { cancel: () => {} };
  }
  defer(fn: () => void): void {
    this.deferred.push(fn);
  }
  runDeferred(): void {
    while (this.deferred.length > 0) this.deferred.shift()?.();
  }
}

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
