// Whole node runtimes (src/node) in one process on virtual time, for tests of the runtime's
// logic: the simulator's clock, disk and event queue without its faults and checkers. Every
// run is deterministic for its seed; tests advance time until a condition holds, with a
// deadline in virtual milliseconds, instead of sleeping.
import { MemoryStorage, bootstrapStorage, type NodeId } from '../../src/raft/index.js';
import { NodeRuntime, type NodeEnvelope, type NodeEvents, type NodeLimits, type NodeTiming, type StateMachine } from '../../src/node/index.js';
import { EventQueue } from '../sim/event-queue.js';
import { SimClock } from '../sim/sim-clock.js';
import { SimDisk, SimLogStore } from '../sim/sim-store.js';
import { Prng } from './prng.js';

export const VIRTUAL_TIMING: NodeTiming = { tickMs: 5, heartbeatMs: 10, electionMs: 50 };

interface Event {
  readonly node: NodeId | null;
  readonly fn: () => void;
}

export interface VirtualNode<C, R> {
  readonly id: NodeId;
  readonly disk: SimDisk;
  /** The disk as the running node sees it (null while down). */
  store: SimLogStore | null;
  runtime: NodeRuntime<C, R> | null;
  machine: StateMachine<C, R>;
  clock: SimClock | null;
  /** The node's event loop is blocked (a long computation) until this virtual time. */
  busyUntilMs: number;
  down: boolean;
}

export interface VirtualClusterOptions<C, R> {
  readonly seed?: number;
  readonly machine: (id: NodeId) => StateMachine<C, R>;
  readonly timing?: NodeTiming;
  readonly limits?: Partial<NodeLimits>;
  readonly events?: (id: NodeId) => NodeEvents;
  /** Virtual ms from a message's send to its delivery. */
  readonly latencyMs?: number;
  /** NodeOptions.removeSilentWorkersAfterMs of every node. */
  readonly removeSilentWorkersAfterMs?: number;
}

export class VirtualCluster<C, R> {
  readonly queue = new EventQueue<Event>(1_000_000);
  readonly nodes = new Map<NodeId, VirtualNode<C, R>>();
  /** Nodes whose messages, both ways, are lost. */
  readonly isolated = new Set<NodeId>();
  private readonly rng: Prng;

  constructor(voters: readonly NodeId[], private readonly options: VirtualClusterOptions<C, R>) {
    this.rng = new Prng(options.seed ?? 1);
    for (const id of voters) {
      const platter = new MemoryStorage();
      bootstrapStorage(platter, voters.map((v) => ({ id: v, context: '' })));
      this.start(this.create(id, platter));
    }
  }

  get nowMs(): number {
    return this.queue.nowMs;
  }

  runtime(id: NodeId): NodeRuntime<C, R> {
    const runtime = this.nodes.get(id)?.runtime ?? null;
    if (runtime === null) throw new Error(`${id} is not running`);
    return runtime;
  }

  machine(id: NodeId): StateMachine<C, R> {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node.machine;
  }

  /** The newest leader, once every running member of its configuration agrees on it; else null. */
  leader(): NodeId | null {
    let best: NodeRuntime<C, R> | null = null;
    for (const node of this.nodes.values()) {
      const runtime = node.runtime;
      if (runtime !== null && runtime.isLeader() && (best === null || runtime.term() > best.term())) best = runtime;
    }
    if (best === null) return null;
    const leader = best.id;
    const agree = best.members().every((id) => {
      const runtime = this.nodes.get(id)?.runtime ?? null;
      return runtime === null || runtime.leader() === leader;
    });
    return agree ? leader : null;
  }

  /** Lets `ms` of virtual time pass, with everything that happens meanwhile. */
  async wait(ms: number): Promise<void> {
    const untilMs = this.queue.nowMs + ms;
    await this.runUntil(`${ms} ms to pass`, () => this.queue.nowMs >= untilMs, ms + 1);
  }

  /** A node that starts with an empty disk (it joins when the leader adds it). */
  addEmpty(id: NodeId): VirtualNode<C, R> {
    const node = this.create(id, new MemoryStorage());
    this.start(node);
    return node;
  }

  /** The node's event loop is blocked for `ms` from now: its timers, deliveries and disk wait. */
  block(id: NodeId, ms: number): void {
    const node = this.nodes.get(id);
    if (node !== undefined) node.busyUntilMs = Math.max(node.busyUntilMs, this.queue.nowMs + ms);
  }

  /**
   * The whole process computes for `ms` (all nodes share one event loop, as agents in one
   * process do): time passes at once, and whatever fell due meanwhile runs late.
   */
  stall(ms: number): void {
    this.queue.advance(ms);
  }


  /** Advances virtual time until `check` holds; fails after `deadlineMs` of virtual time. */
  async runUntil(what: string, check: () => boolean, deadlineMs = 10_000): Promise<void> {
    const untilMs = this.queue.nowMs + deadlineMs;
    while (!check()) {
      if (this.queue.nowMs > untilMs) throw new Error(`${what}: not within ${deadlineMs} virtual ms`);
      await this.step();
    }
  }

  /** Advances virtual time until `promise` settles; its value, or its rejection thrown. */
  async settle<T>(promise: Promise<T>, deadlineMs = 10_000): Promise<T> {
    const box: { outcome: { ok: true; value: T } | { ok: false; error: unknown } | null } = { outcome: null };
    promise.then((value) => void (box.outcome = { ok: true, value }), (error: unknown) => void (box.outcome = { ok: false, error }));
    await this.runUntil('a promise to settle', () => box.outcome !== null, deadlineMs);
    const settled = box.outcome;
    if (settled === null) throw new Error('the promise did not settle');
    if (!settled.ok) throw settled.error;
    return settled.value;
  }

  async stop(id: NodeId): Promise<void> {
    const node = this.nodes.get(id);
    const runtime = node?.runtime ?? null;
    if (node === undefined || runtime === null) return;
    await this.settle(runtime.stop());
    node.clock?.kill();
    node.runtime = null;
    node.down = true;
  }

  /**
   * Power loss: the runtime, its timers and its state machine are gone, and so is every write
   * not yet synced to the platter (a synced write takes the unsynced ones before it along).
   */
  crash(id: NodeId): void {
    const node = this.nodes.get(id);
    if (node === undefined || node.runtime === null || node.store === null) throw new Error(`${id} is not running`);
    node.clock?.kill();
    node.clock = null;
    node.runtime = null;
    node.store.crash(0);
    node.store = null;
    node.down = true;
  }

  /** Starts a node again from what its platter holds, with a fresh state machine. */
  restart(id: NodeId): void {
    const node = this.nodes.get(id);
    if (node === undefined || node.runtime !== null) throw new Error(`${id} is running`);
    node.machine = this.options.machine(id);
    node.down = false;
    this.start(node);
  }

  private create(id: NodeId, platter: MemoryStorage): VirtualNode<C, R> {
    const node: VirtualNode<C, R> = { id, disk: new SimDisk(platter), store: null, runtime: null, machine: this.options.machine(id), clock: null, busyUntilMs: 0, down: false };
    this.nodes.set(id, node);
    return node;
  }

  private start(node: VirtualNode<C, R>): void {
    const clock = new SimClock(() => this.queue.nowMs, (delayMs, fn) => this.queue.schedule(delayMs, { node: node.id, fn }), 1);
    const store = new SimLogStore(node.disk, { scheduleCompletion: (_sync, complete) => this.queue.schedule(0, { node: node.id, fn: complete }) }, 'none', false);
    const rng = this.rng.fork();
    node.clock = clock;
    node.store = store;
    node.runtime = new NodeRuntime<C, R>({
      id: node.id,
      store,
      stateMachine: node.machine,
      link: { send: (to, envelope) => this.deliver(node.id, to, envelope), setPeers: () => {} },
      clock,
      randomInt: (max) => rng.int(max),
      address: { rpc: `${node.id}:rpc`, http: `${node.id}:http` },
      initialSnapshot: store.snapshotNow(),
      timing: this.options.timing ?? VIRTUAL_TIMING,
      ...(this.options.limits === undefined ? {} : { limits: this.options.limits }),
      ...(this.options.events === undefined ? {} : { events: this.options.events(node.id) }),
      ...(this.options.removeSilentWorkersAfterMs === undefined ? {} : { removeSilentWorkersAfterMs: this.options.removeSilentWorkersAfterMs }),
    });
    node.runtime.start();
  }

  private deliver(from: NodeId, to: NodeId, envelope: NodeEnvelope): void {
    if (this.isolated.has(from) || this.isolated.has(to)) return;
    this.queue.schedule(this.options.latencyMs ?? 1, { node: to, fn: () => this.nodes.get(to)?.runtime?.receive(from, envelope) });
  }

  private async step(): Promise<void> {
    const next = this.queue.pop();
    if (next === null) throw new Error('nothing left to happen');
    const { node: id, fn } = next.event;
    const node = id === null ? undefined : this.nodes.get(id);
    if (node !== undefined && node.busyUntilMs > this.queue.nowMs) {
      // A blocked event loop: whatever was due for the node waits until it is free.
      this.queue.schedule(node.busyUntilMs - this.queue.nowMs, next.event);
      return;
    }
    if (node !== undefined && node.down) return;
    fn();
    for (let i = 0; i < 8; i++) await null;
  }
}
