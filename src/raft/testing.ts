// A tiny synchronous network of RawNodes for the core's unit tests: every Ready is persisted
// to a MemoryStorage at once, and messages are delivered in order until nothing moves. The
// whole-cluster fault simulation lives in test/sim; this is for precise, scripted scenarios.
import type { Message, MessageType, NodeId, Ready } from './types.js';
import type { RaftConfig } from './config.js';
import { RawNode } from './raw-node.js';
import { MemoryStorage, bootstrapStorage } from './memory-storage.js';

export interface TestNode {
  readonly id: NodeId;
  node: RawNode;
  storage: MemoryStorage;
  /** Payloads of the normal entries applied, in order: the test state machine. */
  applied: string[];
  readStates: { index: number; context: string }[];
  readFailures: string[];
  /** Last snapshot data restored from a leader. */
  restored: Uint8Array | null;
}

/** Deterministic stand-in for the injected randomness: a fixed sequence per node. */
export function counterRandom(seed: number): (max: number) => number {
  let state = seed >>> 0 || 1;
  return (max: number) => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state % max;
  };
}

export class TestNetwork {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Directed links that drop everything: "a->b". */
  readonly cut = new Set<string>();
  /** Message types to drop everywhere. */
  readonly dropTypes = new Set<MessageType>();
  /** Every message delivered, for assertions on the trace. */
  readonly trace: Message[] = [];
  private readonly overrides: Partial<RaftConfig>;

  constructor(ids: readonly NodeId[], overrides: Partial<RaftConfig> = {}) {
    this.overrides = overrides;
    ids.forEach((id, i) => {
      const storage = new MemoryStorage();
      bootstrapStorage(storage, ids.map((v) => ({ id: v, context: '' })));
      this.nodes.set(id, this.makeNode(id, storage, i + 1));
    });
    // Apply the bootstrap membership entries; a node does not campaign before it has.
    this.stabilize();
  }

  makeNode(id: NodeId, storage: MemoryStorage, seed: number, applied = 0, state: string[] = []): TestNode {
    const node = new RawNode({ id, storage, heartbeatTicks: 1, electionTicks: 10, randomInt: counterRandom(seed), applied, ...this.overrides });
    return { id, node, storage, applied: state, readStates: [], readFailures: [], restored: null };
  }

  /** Adds a node with empty storage that knows nothing yet (it will join through the log). */
  addEmpty(id: NodeId): TestNode {
    const created = this.makeNode(id, new MemoryStorage(), this.nodes.size + 1);
    this.nodes.set(id, created);
    return created;
  }

  get(id: NodeId): TestNode {
    const found = this.nodes.get(id);
    if (found === undefined) throw new Error(`no node ${id}`);
    return found;
  }

  /** Simulates a crash and restart: volatile state is lost, storage survives. */
  restart(id: NodeId): TestNode {
    const old = this.get(id);
    const snap = old.storage.snapshot();
    const fresh = this.makeNode(id, old.storage, 99, snap.meta.index, decodeState(snap.data));
    this.nodes.set(id, fresh);
    return fresh;
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
    this.dropTypes.clear();
  }

  /** Handles one Ready of `id` the way an agent would; returns its messages. */
  handleReady(id: NodeId): Message[] {
    const n = this.get(id);
    if (!n.node.hasReady()) return [];
    const rd: Ready = n.node.ready();
    if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
    if (rd.snapshot !== null) {
      n.restored = rd.snapshot.data;
      n.applied = decodeState(rd.snapshot.data);
    }
    for (const entry of rd.committedEntries) if (entry.kind === 'normal' && entry.data.length > 0) n.applied.push(new TextDecoder().decode(entry.data));
    n.readStates.push(...rd.readStates);
    n.readFailures.push(...rd.readFailures.map((f) => f.context));
    n.node.advance();
    return [...rd.messages];
  }

  /** Delivers messages until every node is quiet. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      const messages: Message[] = [];
      for (const id of this.nodes.keys()) messages.push(...this.handleReady(id));
      if (messages.length === 0) return;
      for (const m of messages) this.deliver(m);
    }
    throw new Error('network did not stabilize');
  }

  deliver(m: Message): void {
    if (this.cut.has(`${m.from}->${m.to}`) || this.dropTypes.has(m.type)) return;
    const target = this.nodes.get(m.to);
    if (target === undefined) return;
    this.trace.push(m);
    target.node.step(m);
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) n.node.tick();
      this.stabilize();
    }
  }

  leader(): NodeId | null {
    let found: NodeId | null = null;
    for (const n of this.nodes.values()) {
      if (n.node.status().softState.role === 'leader') {
        if (found !== null) throw new Error(`two leaders: ${found} and ${n.id}`);
        found = n.id;
      }
    }
    return found;
  }

  /** Makes `id` leader by campaigning and delivering everything. */
  elect(id: NodeId): void {
    this.get(id).node.campaign();
    this.stabilize();
  }

  propose(id: NodeId, text: string): void {
    const result = this.get(id).node.propose([new TextEncoder().encode(text)]);
    if (!result.ok) throw new Error(`propose failed: ${result.error.code}`);
    this.stabilize();
  }

  appliedTexts(id: NodeId): string[] {
    return this.get(id).applied;
  }

  /** Snapshots `id`'s state at its applied index and compacts all but `keep` entries before it. */
  snapshot(id: NodeId, keep = 0): void {
    const n = this.get(id);
    const status = n.node.status();
    n.storage.createSnapshot(status.applied, status.conf, encodeState(n.applied));
    n.storage.compact(Math.max(0, status.applied - keep));
  }
}

export function encodeState(state: readonly string[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state));
}

export function decodeState(data: Uint8Array): string[] {
  return data.length === 0 ? [] : (JSON.parse(new TextDecoder().decode(data)) as string[]);
}

/** A small seeded PRNG (mulberry32): an integer in [0, maxExclusive); the same seed, the same run. */
export function createRandom(seed: number): (maxExclusive: number) => number {
  let state = seed >>> 0;
  return (maxExclusive) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * maxExclusive);
  };
}
