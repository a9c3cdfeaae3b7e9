// One simulated server: the real node runtime (src/node) over a simulated disk, network and
// clock, with the KV machine as its state machine. A crash abandons the runtime and its
// clock and keeps only the platter; a restart builds a new runtime on it.
import assert from 'node:assert/strict';
import { NodeRuntime, type NodeEvents, type NodeTiming, type PersistBatch, type RaftTuning } from '../../src/node/index.js';
import type { ConfState, NodeId, Status } from '../../src/raft/index.js';
import type { LogView, TermLookup } from './invariants.js';
import { KvMachine, type KvCommand, type KvObserver, type KvResult } from './kv-machine.js';
import type { Prng } from '../support/prng.js';
import { SimClock, type Schedule } from './sim-clock.js';
import { SimDisk, SimLogStore, type DiskFault, type DiskHost } from './sim-store.js';
import type { NodeEnvelope } from '../../src/node/index.js';

/**
 * The runtime's own deadline for proposals and reads here. Shorter than an agent's (10 s and
 * 5 s) so that the simulator's "answered" check, which waits for it, sees a call left
 * unanswered before the nemesis has crashed the node that owes the answer.
 */
export const SIM_REQUEST_TIMEOUT_MS = 2_000;

export type Runtime = NodeRuntime<KvCommand, KvResult>;

/** What a node needs from the simulation around it. */
export interface NodeHost {
  readonly rng: Prng;
  schedule: Schedule;
  virtualNowMs(): number;
  send(from: NodeId, to: NodeId, envelope: NodeEnvelope): void;
  /** Completion of a disk write after a drawn delay (fsync time for synced writes). */
  scheduleDiskCompletion(node: SimNode, sync: boolean, complete: () => void): void;
  writeIssued(node: SimNode, batch: PersistBatch, store: SimLogStore): void;
  snapshotCreated(node: SimNode, index: number, conf: ConfState): void;
  events(node: SimNode): NodeEvents;
  kvObserver(node: SimNode): KvObserver;
}

export interface NodeSettings {
  readonly timing: NodeTiming;
  readonly raft: RaftTuning;
  readonly snapshotEntries: number;
  readonly snapshotBytes: number;
  readonly snapshotKeepEntries: number;
  readonly diskFault: DiskFault;
  readonly snapshotSometimesUnavailable: boolean;
  /** Whether the runtime promotes caught-up learners itself; off, learners stay until the nemesis promotes them. */
  readonly promoteLearners: boolean;
}

export class SimNode {
  runtime: Runtime | null = null;
  kv: KvMachine | null = null;
  store: SimLogStore;
  /** Bumped on every crash and restart. */
  incarnation = 0;
  removed = false;
  /** The term in which this node was last seen leading, to notice a fresh election. */
  leaderTerm = 0;
  /** Virtual time since which this node has led `leaderTerm` with its current voters. */
  leaderSinceMs = 0;
  leaderCommitChecked = 0;
  /** The voters that counted `leaderCommitChecked` as committed, and the voters seen last. */
  leaderCommitVoters: readonly NodeId[] = [];
  lastVoters: readonly NodeId[] = [];
  /** The term in which this node was last seen campaigning. */
  candidateTerm = 0;
  private clock: SimClock | null = null;

  constructor(
    readonly id: NodeId,
    readonly disk: SimDisk,
    /** This node's clock runs at this rate of virtual time (the nemesis changes it). */
    private clockRate: number,
    private readonly settings: NodeSettings,
    private readonly host: NodeHost,
  ) {
    this.store = this.newStore();
  }

  /** The clock drifts to a new rate (kept across restarts: it is the machine's oscillator). */
  setClockRate(rate: number): void {
    this.clockRate = rate;
    this.clock?.setRate(rate);
  }

  get up(): boolean {
    return this.runtime !== null;
  }

  private newStore(): SimLogStore {
    const host: DiskHost = {
      scheduleCompletion: (sync, complete) => this.host.scheduleDiskCompletion(this, sync, complete),
      issued: (batch, store) => this.host.writeIssued(this, batch, store),
      snapshotCreated: (index, conf) => this.host.snapshotCreated(this, index, conf),
    };
    return new SimLogStore(this.disk, host, this.settings.diskFault, this.settings.snapshotSometimesUnavailable);
  }

  start(): void {
    assert.ok(this.runtime === null && !this.removed, `${this.id} is already running or removed`);
    this.incarnation++;
    const clock = new SimClock(() => this.host.virtualNowMs(), this.host.schedule, this.clockRate);
    const kv = new KvMachine(this.host.kvObserver(this), this.store.snapshotNow().meta.conf);
    const rng = this.host.rng.fork();
    this.clock = clock;
    this.kv = kv;
    const runtime: Runtime = new NodeRuntime<KvCommand, KvResult>({
      id: this.id,
      store: this.store,
      stateMachine: kv,
      link: { send: (to, envelope) => this.host.send(this.id, to, envelope), setPeers: () => {} },
      clock,
      randomInt: (max) => rng.int(max),
      address: { rpc: `${this.id}:rpc`, http: `${this.id}:http` },
      initialSnapshot: this.store.snapshotNow(),
      timing: this.settings.timing,
      // No hold for membership changes: the nemesis proposes and forgets, and stops a node for
      // good once its removal commits, so a held change made after that removal would add back
      // a node that no longer runs. The hold is tested in src/node/node-runtime.test.ts.
      limits: { snapshotEntries: this.settings.snapshotEntries, snapshotBytes: this.settings.snapshotBytes, snapshotKeepEntries: this.settings.snapshotKeepEntries, proposalTimeoutMs: SIM_REQUEST_TIMEOUT_MS, readTimeoutMs: SIM_REQUEST_TIMEOUT_MS, confChangeHoldMs: 0 },
      raft: this.settings.raft,
      events: this.host.events(this),
      promoteLearners: this.settings.promoteLearners,
    });
    this.runtime = runtime;
    this.leaderTerm = 0;
    this.leaderCommitChecked = 0;
    runtime.start();
  }

  /** Power loss: the runtime and every timer are gone; of the writes not yet on the platter a random prefix survives. */
  crash(rng: Prng): void {
    this.clock?.kill();
    this.clock = null;
    this.runtime = null;
    this.kv = null;
    this.store = this.store.crash(rng.int(this.store.unsureWrites + 1));
    this.incarnation++;
  }

  status(): Status {
    assert.ok(this.runtime !== null, `${this.id} is down`);
    return this.runtime.status();
  }

  /** The log as far as the simulator can see it: writes in flight over what the node reads. */
  logView(lastIndex: number): LogView {
    const view = this.store.current;
    const inFlight = this.store.inFlightWrites();
    return {
      termAt: (i: number): TermLookup => {
        for (let w = inFlight.length - 1; w >= 0; w--) {
          const batch = inFlight[w] as PersistBatch;
          const first = batch.entries[0]?.index;
          if (first !== undefined && i >= first) {
            const e = batch.entries[i - first];
            if (e !== undefined) return e.term;
            return i <= lastIndex ? 'unknown' : 'missing';
          }
          if (batch.snapshot !== null && i <= batch.snapshot.meta.index) return i === batch.snapshot.meta.index ? batch.snapshot.meta.term : 'compacted';
        }
        const snapIndex = view.firstIndex() - 1;
        if (i < snapIndex) return 'compacted';
        if (i <= view.lastIndex()) return view.term(i);
        return i <= lastIndex ? 'unknown' : 'missing';
      },
    };
  }

  /** Whether the platter holds entry (index, term), directly or inside its snapshot. */
  holdsDurably(index: number, term: number): boolean {
    return this.disk.holds(index, term);
  }
}

