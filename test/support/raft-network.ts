// A tiny synchronous network of RawNodes for the core's unit tests: every Ready is persisted
// to a MemoryStorage at once, and messages are delivered in order until nothing moves. The
// whole-cluster fault simulation lives in test/sim; this is for precise, scripted scenarios.
import assert from 'node:assert/strict';
import type { Entry, Message, MessageType, NodeId, Ready } from '../../src/raft/index.js';
import type { RaftConfig } from '../../src/raft/index.js';
import { RawNode, MemoryStorage, bootstrapStorage, decodeConfChange } from '../../src/raft/index.js';

export interface TestNode {
  readonly id: NodeId;
  node: RawNode;
  /** What the core reads: every write lands here at once. */
  storage: MemoryStorage;
  /** The storage as of the last synced write: all that survives a crash. */
  durable: MemoryStorage;
  up: boolean;
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

/** Which queued messages a manual step acts on; every field given must match. */
export interface MessageFilter {
  readonly type?: MessageType;
  readonly from?: NodeId;
  readonly to?: NodeId;
  readonly term?: number;
  /** At most this many (the oldest first). */
  readonly count?: number;
}

/** A broken Raft safety property, found by the network's own checks. */
export class SafetyViolation extends Error {}

export class TestNetwork {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Directed links that drop everything: "a->b". */
  readonly cut = new Set<string>();
  /** Message types to drop everywhere. */
  readonly dropTypes = new Set<MessageType>();
  /** Every message delivered, for assertions on the trace. */
  readonly trace: Message[] = [];
  /** Messages sent and not yet delivered (manual steps deliver or drop them one by one). */
  queue: Message[] = [];
  private readonly overrides: Partial<RaftConfig>;
  /** Safety bookkeeping across the whole run, crashes included. */
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly voteGiven = new Map<string, NodeId>();
  private readonly committedAt = new Map<number, string>();

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
    return { id, node, storage, durable: cloneStorage(storage), up: true, applied: state, readStates: [], readFailures: [], restored: null };
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

  /**
   * Power loss: the RawNode and everything written since the last synced write are gone.
   * Messages in flight stay queued: one delivered while the node is down is lost, one
   * delivered after it started again reaches the new incarnation (a slow network).
   */
  crash(id: NodeId): void {
    const n = this.get(id);
    n.up = false;
    n.storage = cloneStorage(n.durable);
  }

  /** Starts a crashed node again from its disk: the state machine restarts from the snapshot. */
  start(id: NodeId): TestNode {
    const old = this.get(id);
    assert.ok(!old.up, `${id} is running`);
    const snap = old.storage.snapshot();
    const fresh = this.makeNode(id, old.storage, 99, snap.meta.index, decodeState(snap.data));
    this.nodes.set(id, fresh);
    return fresh;
  }

  /** Simulates a crash and restart: volatile and unsynced state is lost, synced storage survives. */
  restart(id: NodeId): TestNode {
    this.crash(id);
    return this.start(id);
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

  /**
   * Handles one Ready of `id` the way a correct host does: one write, synced when the Ready
   * says it must be (an unsynced write is lost by a crash until a later synced one), then
   * apply and advance. Returns its messages, which the host may send now.
   */
  handleReady(id: NodeId): Message[] {
    return [...(this.handleReadyDescribed(id)?.messages ?? [])];
  }

  /** handleReady, also returning the Ready itself (for golden traces). */
  handleReadyDescribed(id: NodeId): Ready | null {
    const n = this.get(id);
    if (!n.up || !n.node.hasReady()) return null;
    const rd: Ready = n.node.ready();
    if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
    if (rd.mustSync) n.durable = cloneStorage(n.storage);
    if (rd.snapshot !== null) {
      n.restored = rd.snapshot.data;
      n.applied = decodeState(rd.snapshot.data);
    }
    for (const entry of rd.committedEntries) if (entry.kind === 'normal' && entry.data.length > 0) n.applied.push(new TextDecoder().decode(entry.data));
    n.readStates.push(...rd.readStates);
    n.readFailures.push(...rd.readFailures.map((f) => f.context));
    n.node.advance();
    this.recordVotes(rd.messages);
    return rd;
  }

  /** Delivers messages until every node is quiet. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let handled = false;
      for (const id of this.nodes.keys()) {
        const ready = this.handleReadyDescribed(id);
        if (ready === null) continue;
        handled = true;
        this.queue.push(...ready.messages);
      }
      // Quiet means no Ready left anywhere, not only no messages: a single voter sends none.
      if (this.queue.length === 0 && !handled) {
        this.checkSafety();
        return;
      }
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliver(m);
    }
    throw new Error('network did not stabilize');
  }

  /** Handles the Readys of `ids` and queues their messages without delivering them. */
  processReady(ids: readonly NodeId[]): { id: NodeId; ready: Ready }[] {
    const out: { id: NodeId; ready: Ready }[] = [];
    for (const id of ids) {
      const ready = this.handleReadyDescribed(id);
      if (ready === null) continue;
      this.queue.push(...ready.messages);
      out.push({ id, ready });
    }
    return out;
  }

  /** Removes the queued messages matching `filter` from the queue and returns them. */
  takeQueued(filter: MessageFilter): Message[] {
    const taken: Message[] = [];
    const kept: Message[] = [];
    for (const m of this.queue) {
      if ((filter.count === undefined || taken.length < filter.count) && matchesFilter(m, filter)) taken.push(m);
      else kept.push(m);
    }
    this.queue = kept;
    return taken;
  }

  deliver(m: Message): void {
    if (this.cut.has(`${m.from}->${m.to}`) || this.dropTypes.has(m.type)) return;
    const target = this.nodes.get(m.to);
    if (target === undefined || !target.up) return;
    this.trace.push(m);
    target.node.step(m);
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) if (n.up) this.tickChecked(n);
      this.stabilize();
    }
  }

  /**
   * One tick, checking the promise hosts sleep on (RawNode.ticksUntilDue): a tick before the
   * due one changes nothing anyone can see — no message, no Ready, no role or leader change.
   */
  private tickChecked(n: TestNode): void {
    const due = n.node.ticksUntilDue();
    assert.ok(due >= 1, `${n.id}: ticksUntilDue ${due} < 1`);
    const quiet = !n.node.hasReady();
    const before = n.node.softState();
    n.node.tick();
    if (due > 1 && quiet) {
      const after = n.node.softState();
      assert.ok(!n.node.hasReady() && after.role === before.role && after.leader === before.leader, `${n.id}: a tick ${due} ticks before the due one did something (${before.role} -> ${after.role})`);
    }
  }

  leader(): NodeId | null {
    let found: NodeId | null = null;
    for (const n of this.nodes.values()) {
      if (n.up && n.node.status().softState.role === 'leader') {
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
    n.durable = cloneStorage(n.storage);
  }

  /**
   * The safety properties of the Raft paper (Figure 3) that a handful of nodes can check
   * after every step: election safety, one vote per term, committed entries never differ
   * (state machine safety), applied sequences are prefixes of one another.
   */
  checkSafety(): void {
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      const status = n.node.status();
      if (status.softState.role === 'leader') {
        const term = status.hardState.term;
        const other = this.leaderOfTerm.get(term);
        if (other !== undefined && other !== n.id) throw new SafetyViolation(`election safety: ${other} and ${n.id} both lead term ${term}`);
        this.leaderOfTerm.set(term, n.id);
      }
      this.checkCommitted(n, status.hardState.commit);
    }
    const sequences = [...this.nodes.values()].map((n) => ({ id: n.id, applied: n.applied }));
    for (const a of sequences) {
      for (const b of sequences) {
        const shorter = Math.min(a.applied.length, b.applied.length);
        for (let i = 0; i < shorter; i++) {
          if (a.applied[i] !== b.applied[i]) throw new SafetyViolation(`state machine safety: ${a.id} applied ${a.applied[i]} and ${b.id} applied ${b.applied[i]} as their entry #${i + 1}`);
        }
      }
    }
  }

  /** Every entry a node counts as committed (and holds) is the one every other node committed there. */
  private checkCommitted(n: TestNode, commit: number): void {
    const storage = n.storage;
    const last = Math.min(commit, storage.lastIndex());
    for (let index = storage.firstIndex(); index <= last; index++) {
      const entry = storage.entries(index, index + 1, Number.MAX_SAFE_INTEGER)[0] as Entry;
      const key = formatEntry(entry);
      const seen = this.committedAt.get(index);
      if (seen === undefined) this.committedAt.set(index, key);
      else if (seen !== key) throw new SafetyViolation(`committed entries differ at ${index}: ${seen} before, ${key} on ${n.id}`);
    }
  }

  /** A vote, once released, binds its voter for that term, crashes notwithstanding (§5.2). */
  private recordVotes(messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.type !== 'voteResp' || m.pre || m.reject) continue;
      const key = `${m.from}@${m.term}`;
      const before = this.voteGiven.get(key);
      if (before !== undefined && before !== m.to) throw new SafetyViolation(`single vote: ${m.from} voted for ${before} and ${m.to} in term ${m.term}`);
      this.voteGiven.set(key, m.to);
    }
  }
}

export function matchesFilter(m: Message, f: MessageFilter): boolean {
  return (f.type === undefined || m.type === f.type) && (f.from === undefined || m.from === f.from) && (f.to === undefined || m.to === f.to) && (f.term === undefined || m.term === f.term);
}

/**
 * A copy of a MemoryStorage, so that a crash can go back to what was synced. It keeps the
 * same first index, snapshot, entries and hard state.
 */
export function cloneStorage(source: MemoryStorage): MemoryStorage {
  const snap = source.snapshot();
  const first = source.firstIndex();
  const copy = new MemoryStorage(snap.meta.conf);
  copy.applySnapshot({ meta: { index: first - 1, term: source.term(first - 1), conf: snap.meta.conf }, data: snap.data });
  if (source.lastIndex() >= first) copy.append(source.entries(first, source.lastIndex() + 1, Number.MAX_SAFE_INTEGER));
  if (snap.meta.index > first - 1) copy.createSnapshot(snap.meta.index, snap.meta.conf, snap.data);
  copy.setHardState(source.hardStateNow());
  return copy;
}

/** `7/4` for an empty entry, `8/4:x` for one carrying "x", `9/4:conf(addLearner n4)` for a membership change. */
export function formatEntry(e: Entry): string {
  if (e.kind === 'conf') {
    const change = decodeConfChange(e.data);
    return `${e.index}/${e.term}:conf(${change.type} ${change.node})`;
  }
  return e.data.length === 0 ? `${e.index}/${e.term}` : `${e.index}/${e.term}:${new TextDecoder().decode(e.data)}`;
}

/** One line per message, for golden traces in testdata/*.txt. */
export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to}`;
  switch (m.type) {
    case 'app':
      return `${head} app t${m.term} prev=${m.prevIndex}/${m.prevTerm} commit=${m.commit} [${m.entries.map(formatEntry).join(' ')}]`;
    case 'appResp':
      return m.reject ? `${head} appResp t${m.term} reject index=${m.index} hint=${m.hintIndex}/${m.hintTerm}` : `${head} appResp t${m.term} index=${m.index}`;
    case 'vote':
      return `${head} ${m.pre ? 'preVote' : 'vote'} t${m.term} last=${m.lastIndex}/${m.lastTerm}${m.transfer ? ' transfer' : ''}`;
    case 'voteResp':
      return `${head} ${m.pre ? 'preVoteResp' : 'voteResp'} t${m.term} ${m.reject ? 'rejected' : 'granted'}`;
    case 'heartbeat':
      return `${head} heartbeat t${m.term} commit=${m.commit} round=${m.readRound}`;
    case 'heartbeatResp':
      return `${head} heartbeatResp t${m.term} round=${m.readRound}`;
    case 'snap':
      return `${head} snap t${m.term} at=${m.meta.index}/${m.meta.term} bytes=${m.offset}+${m.data.length}/${m.totalBytes}${m.done ? ' done' : ''}`;
    case 'snapResp':
      return `${head} snapResp t${m.term} at=${m.index} received=${m.receivedBytes}${m.reject ? ' reject' : ''}`;
    case 'timeoutNow':
      return `${head} timeoutNow t${m.term}`;
    case 'readIndex':
      return `${head} readIndex t${m.term} ctx=${m.context}`;
    case 'readIndexResp':
      return `${head} readIndexResp t${m.term} ctx=${m.context} index=${m.index}`;
  }
}

/** A Ready in one line: what it asks the host to write, apply and answer. */
export function formatReady(id: NodeId, rd: Ready): string {
  const parts = [`${id} ready${rd.mustSync ? ' sync' : ''}`];
  if (rd.softState !== null) parts.push(`${rd.softState.role}${rd.softState.leader === null ? '' : `(lead ${rd.softState.leader})`}`);
  if (rd.hardState !== null) parts.push(`hard=t${rd.hardState.term}/vote:${rd.hardState.vote ?? '-'}/commit:${rd.hardState.commit}`);
  if (rd.snapshot !== null) parts.push(`snapshot=${rd.snapshot.meta.index}/${rd.snapshot.meta.term}`);
  if (rd.entries.length > 0) parts.push(`entries=[${rd.entries.map(formatEntry).join(' ')}]`);
  if (rd.committedEntries.length > 0) parts.push(`apply=[${rd.committedEntries.map(formatEntry).join(' ')}]`);
  if (rd.readStates.length > 0) parts.push(`reads=[${rd.readStates.map((r) => `${r.context}@${r.index}`).join(' ')}]`);
  if (rd.readFailures.length > 0) parts.push(`read-failures=[${rd.readFailures.map((r) => r.context).join(' ')}]`);
  return parts.join(' ');
}

export function encodeState(state: readonly string[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state));
}

export function decodeState(data: Uint8Array): string[] {
  return data.length === 0 ? [] : (JSON.parse(new TextDecoder().decode(data)) as string[]);
}


/**
 * One RawNode on its own MemoryStorage, driven by hand: the test plays every other node by
 * stepping messages into it. `drain()` is a correct host (write, apply, advance).
 */
export class SoloNode {
  readonly storage = new MemoryStorage();
  readonly node: RawNode;
  /** Payloads of the normal entries applied, in order (since the last snapshot restored). */
  readonly applied: string[] = [];

  /**
   * `voters` are bootstrapped as entries 1..N of term 1 (committed); `log` follows them as
   * given, and `hard` replaces the hard state. The bootstrap entries are applied at once.
   */
  constructor(id: NodeId, voters: readonly NodeId[], options: { log?: readonly Entry[]; hard?: { term: number; vote: NodeId | null; commit?: number }; config?: Partial<RaftConfig> } = {}) {
    bootstrapStorage(this.storage, voters.map((v) => ({ id: v, context: '' })));
    if (options.log !== undefined) this.storage.append(options.log);
    if (options.hard !== undefined) this.storage.setHardState({ commit: voters.length, ...options.hard });
    this.node = new RawNode({ id, storage: this.storage, heartbeatTicks: 1, electionTicks: 10, randomInt: () => 0, preVote: false, checkQuorum: false, ...options.config });
    this.drain();
  }

  /** Handles every Ready as a correct host does; returns the messages it would send. */
  drain(): Message[] {
    const sent: Message[] = [];
    for (let round = 0; round < 100 && this.node.hasReady(); round++) {
      const rd = this.node.ready();
      if (rd.snapshot !== null) {
        this.storage.applySnapshot(rd.snapshot);
        this.applied.length = 0;
      }
      this.storage.append(rd.entries);
      if (rd.hardState !== null) this.storage.setHardState(rd.hardState);
      for (const entry of rd.committedEntries) if (entry.kind === 'normal' && entry.data.length > 0) this.applied.push(new TextDecoder().decode(entry.data));
      sent.push(...rd.messages);
      this.node.advance();
    }
    return sent;
  }
}

/** A normal entry carrying `text` (empty: the leader's no-op). */
export function entry(index: number, term: number, text = ''): Entry {
  return { index, term, kind: 'normal', data: new TextEncoder().encode(text) };
}
