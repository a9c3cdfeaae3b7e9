// Clients of the simulated cluster. Each writes unique values to a few keys and reads them
// back linearizably (ReadIndex), talking to whichever node it believes leads and following
// NOT_LEADER hints. Every operation goes into a history for the linearizability checker;
// a write counts as acknowledged only when the node that accepted it has applied it at the
// index and term `propose` returned.
import type { Entry, NodeId, ReadFailure } from '../../src/raft/types.js';
import type { KvOperation } from './linearizability.js';
import { encodeCommand, type KvCommand } from './kv-machine.js';
import type { Prng } from './prng.js';
import type { SimNode } from './sim-node.js';

export interface WorkloadHost {
  readonly rng: Prng;
  nowMs(): number;
  /** opId null: the client's next step; otherwise the timeout of that operation. */
  scheduleClient(delayMs: number, client: number, opId: number | null): void;
  node(id: NodeId): SimNode | undefined;
  nodeIds(): NodeId[];
  onAck(value: string, index: number, term: number): void;
}

interface PendingOp {
  readonly opId: number;
  readonly kind: KvOperation['kind'];
  readonly key: string;
  readonly value: string | null;
  readonly callMs: number;
  node: NodeId | null;
}

interface ClientState {
  readonly name: string;
  leaderGuess: NodeId | null;
  seq: number;
  op: PendingOp | null;
  /** In the final phase the client makes one last write that must be acknowledged. */
  finalValue: string | null;
  finalAcked: boolean;
  stopped: boolean;
}

export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: number;
  readonly timeoutMs: number;
  readonly thinkMsMax: number;
  /** Operations kept in the history; past it the workload stops issuing new ones. */
  readonly historyMax: number;
  /** Deliberately broken: answer reads from the contacted node's local state, no ReadIndex. */
  readonly localReads?: boolean;
}

export class Workload {
  readonly history: KvOperation[] = [];
  private readonly clients: ClientState[] = [];
  /** `${node}/${index}` → client waiting for that entry to be applied on that node. */
  private readonly pendingWrites = new Map<string, { client: number; opId: number; term: number }>();
  private readonly pendingReads = new Map<string, { client: number; opId: number }>();
  private opIdNext = 0;
  private finalPhase = false;

  constructor(private readonly host: WorkloadHost, private readonly options: WorkloadOptions) {
    for (let i = 0; i < options.clients; i++) {
      this.clients.push({ name: `c${i}`, leaderGuess: null, seq: 0, op: null, finalValue: null, finalAcked: false, stopped: false });
      host.scheduleClient(host.rng.range(0, options.thinkMsMax), i, null);
    }
  }

  get acknowledgedFinal(): boolean {
    return this.clients.every((c) => c.finalAcked);
  }

  /** Stop random operations; each client finishes its current one and makes one last write. */
  enterFinalPhase(): void {
    this.finalPhase = true;
    // Idle clients (the history may have filled up) have no timer running: wake them.
    this.clients.forEach((c, i) => {
      if (c.op === null) this.host.scheduleClient(this.host.rng.range(1, this.options.thinkMsMax), i, null);
    });
  }

  /** A client's timer fired: time out its operation, or start the next one. */
  onClientEvent(i: number, opId: number | null): void {
    const c = this.clients[i] as ClientState;
    if (opId !== null) {
      if (c.op !== null && c.op.opId === opId) this.finish(i, 'unknown');
      return;
    }
    if (c.op !== null || c.stopped) return;
    if (this.finalPhase && c.finalAcked) return;
    if (!this.finalPhase && this.history.length >= this.options.historyMax) return;
    this.start(i);
  }

  private start(i: number): void {
    const c = this.clients[i] as ClientState;
    const rng = this.host.rng;
    const key = `k${rng.int(this.options.keys)}`;
    const roll = rng.float();
    const kind: KvOperation['kind'] = this.finalPhase ? 'put' : roll < 0.55 ? 'put' : roll < 0.65 ? 'delete' : 'get';
    const value = kind === 'put' ? `${c.name}.${c.seq++}` : null;
    if (this.finalPhase) c.finalValue = value;
    const target = kind === 'get' && rng.chance(0.5) ? rng.pick(this.host.nodeIds()) : (c.leaderGuess ?? rng.pick(this.host.nodeIds()));
    const op: PendingOp = { opId: this.opIdNext++, kind, key, value, callMs: this.host.nowMs(), node: target };
    c.op = op;
    this.host.scheduleClient(this.options.timeoutMs, i, op.opId);
    this.submit(i, op);
  }

  private submit(i: number, op: PendingOp): void {
    const c = this.clients[i] as ClientState;
    const node = op.node === null ? undefined : this.host.node(op.node);
    if (node === undefined || node.raw === null) return this.refused(i, null, false);
    if (op.kind === 'get' && this.options.localReads === true) return this.finish(i, 'ok', node.sm?.kv.get(op.key) ?? null);
    if (op.kind === 'get') {
      const context = `${c.name}/${op.opId}`;
      const err = node.raw.readIndex(context);
      if (err !== null) return this.refused(i, err.leader, true);
      this.pendingReads.set(`${node.id}/${context}`, { client: i, opId: op.opId });
      return;
    }
    const command: KvCommand = op.kind === 'put' ? { kind: 'put', key: op.key, value: op.value as string } : { kind: 'delete', key: op.key };
    const result = node.raw.propose([encodeCommand(command)]);
    if (!result.ok) return this.refused(i, result.error.leader, true);
    this.pendingWrites.set(`${node.id}/${result.firstIndex}`, { client: i, opId: op.opId, term: result.term });
  }

  /** The request did not take effect; try again elsewhere, as a new operation. */
  private refused(i: number, hint: NodeId | null, reachable: boolean): void {
    const c = this.clients[i] as ClientState;
    c.leaderGuess = hint ?? (reachable ? null : this.host.rng.pick(this.host.nodeIds()));
    this.finish(i, 'failed');
  }

  private finish(i: number, outcome: 'ok' | 'unknown' | 'failed', readValue?: string | null): void {
    const c = this.clients[i] as ClientState;
    const op = c.op;
    if (op === null) return;
    c.op = null;
    if (outcome !== 'failed') {
      const value = op.kind === 'get' ? (readValue ?? null) : op.value;
      const returnMs = outcome === 'ok' ? this.host.nowMs() : Infinity;
      if (!(op.kind === 'get' && outcome === 'unknown')) {
        this.history.push({ clientId: c.name, kind: op.kind, key: op.key, value, callMs: op.callMs, returnMs });
      }
    }
    if (outcome === 'ok' && this.finalPhase && op.kind === 'put' && op.value === c.finalValue) c.finalAcked = true;
    if (outcome !== 'ok' && this.finalPhase) c.finalValue = null;
    this.host.scheduleClient(this.host.rng.range(1, this.options.thinkMsMax), i, null);
  }

  onApplied(node: SimNode, entry: Entry): void {
    const key = `${node.id}/${entry.index}`;
    const w = this.pendingWrites.get(key);
    if (w === undefined) return;
    this.pendingWrites.delete(key);
    const c = this.clients[w.client] as ClientState;
    const op = c.op;
    if (op === null || op.opId !== w.opId) return; // it timed out already
    if (entry.term !== w.term) return this.finish(w.client, 'failed'); // overwritten: never committed
    c.leaderGuess = node.id;
    if (op.kind === 'put') this.host.onAck(op.value as string, entry.index, entry.term);
    this.finish(w.client, 'ok');
  }

  onReadReady(node: SimNode, context: string): void {
    const key = `${node.id}/${context}`;
    const r = this.pendingReads.get(key);
    if (r === undefined) return;
    this.pendingReads.delete(key);
    const op = (this.clients[r.client] as ClientState).op;
    if (op === null || op.opId !== r.opId) return;
    this.finish(r.client, 'ok', node.sm?.kv.get(op.key) ?? null);
  }

  onReadFailed(node: SimNode, failure: ReadFailure): void {
    const key = `${node.id}/${failure.context}`;
    const r = this.pendingReads.get(key);
    if (r === undefined) return;
    this.pendingReads.delete(key);
    const op = (this.clients[r.client] as ClientState).op;
    if (op === null || op.opId !== r.opId) return;
    this.refused(r.client, failure.leader, true);
  }

  /** A crash loses the node's replies: its writes' outcome becomes unknown. */
  onCrash(node: NodeId): void {
    for (const [key, w] of this.pendingWrites) {
      if (!key.startsWith(`${node}/`)) continue;
      this.pendingWrites.delete(key);
      const op = (this.clients[w.client] as ClientState).op;
      if (op !== null && op.opId === w.opId) this.finish(w.client, 'unknown');
    }
    for (const [key, r] of this.pendingReads) {
      if (!key.startsWith(`${node}/`)) continue;
      this.pendingReads.delete(key);
      const op = (this.clients[r.client] as ClientState).op;
      if (op !== null && op.opId === r.opId) this.finish(r.client, 'unknown');
    }
  }
}
