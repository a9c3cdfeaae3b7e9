// Clients of the simulated cluster. Each writes unique values to a few keys and reads them
// back linearizably (ReadIndex), talking to whichever node it believes leads and following
// NOT_LEADER hints. Every operation goes into a history for the linearizability checker;
// a write counts as acknowledged when the node runtime that accepted it resolves it (its
// entry applied there at the index and term it was proposed with).
import { isChimeError } from '../../src/errors/index.js';
import type { NodeId } from '../../src/raft/index.js';
import type { KvOperation } from './linearizability.js';
import type { KvCommand, KvResult } from './kv-machine.js';
import type { Prng } from '../support/prng.js';
import type { SimNode } from './sim-node.js';

export interface WorkloadHost {
  readonly rng: Prng;
  nowMs(): number;
  /** opId null: the client's next step; otherwise the timeout of that operation. */
  scheduleClient(delayMs: number, client: number, opId: number | null): void;
  node(id: NodeId): SimNode | undefined;
  nodeIds(): NodeId[];
  onAck(value: string, index: number, term: number): void;
  onReadOk(): void;
  /** Runs a client's request as work of the node it goes to (its clock schedules for it). */
  submitTo(node: SimNode, fn: () => void): void;
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

/** A call made on a node's runtime and not yet answered: with when, and on which incarnation. */
interface Unanswered {
  readonly node: SimNode;
  readonly incarnation: number;
  readonly sinceMs: number;
  readonly what: string;
}

export class Workload {
  readonly history: KvOperation[] = [];
  private readonly clients: ClientState[] = [];
  private opIdNext = 0;
  private finalPhase = false;
  /** Every proposal and read made on a runtime, until it settles (whoever still waits for it). */
  private readonly unanswered = new Map<number, Unanswered>();
  private callIdNext = 0;

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
    const node = op.node === null ? undefined : this.host.node(op.node);
    const runtime = node?.runtime ?? null;
    if (node === undefined || runtime === null || node.kv === null) return this.refused(i, null, false);
    const kv = node.kv;
    const incarnation = node.incarnation;
    // A reply from an incarnation that crashed since never reached the client.
    const current = (): boolean => node.incarnation === incarnation && this.clients[i]?.op?.opId === op.opId;
    if (op.kind === 'get' && this.options.localReads === true) return this.finish(i, 'ok', kv.kv.get(op.key) ?? null);
    if (op.kind === 'get') {
      this.host.submitTo(node, () => void this.tracked(node, incarnation, `read ${op.opId}`, runtime.read()).then(
        () => {
          if (!current()) return;
          this.host.onReadOk();
          this.finish(i, 'ok', kv.kv.get(op.key) ?? null);
        },
        (error: unknown) => current() && this.rejected(i, error),
      ));
      return;
    }
    const command: KvCommand = op.kind === 'put' ? { kind: 'put', key: op.key, value: op.value ?? '' } : { kind: 'delete', key: op.key };
    this.host.submitTo(node, () => void this.tracked(node, incarnation, `${op.kind} ${op.opId}`, runtime.propose(command)).then(
      (result: KvResult) => {
        if (!current()) return;
        const c = this.clients[i] as ClientState;
        c.leaderGuess = node.id;
        if (op.kind === 'put' && op.value !== null) this.host.onAck(op.value, result.index, result.term);
        this.finish(i, 'ok');
      },
      (error: unknown) => current() && this.rejected(i, error),
    ));
  }

  /** A call made on `node`'s runtime, noted as unanswered until it settles either way. */
  private tracked<T>(node: SimNode, incarnation: number, what: string, call: Promise<T>): Promise<T> {
    const id = this.callIdNext++;
    this.unanswered.set(id, { node, incarnation, sinceMs: this.host.nowMs(), what });
    return call.finally(() => this.unanswered.delete(id));
  }

  /**
   * The oldest call still unanswered after `boundMs` on the incarnation it was made on, or
   * null. A crash or stop ends the incarnation and with it every call (nobody is answered).
   */
  overdue(nowMs: number, boundMs: number): string | null {
    for (const [id, call] of this.unanswered) {
      if (call.node.incarnation !== call.incarnation || call.node.runtime === null) {
        this.unanswered.delete(id);
        continue;
      }
      if (nowMs - call.sinceMs > boundMs) return `${call.what} on ${call.node.id} made at ${call.sinceMs} ms is unanswered at ${nowMs} ms`;
    }
    return null;
  }

  /** The node answered with an error: refused outright (follow its leader hint), or outcome unknown. */
  private rejected(i: number, error: unknown): void {
    if (isChimeError(error, 'NOT_LEADER', 'NO_LEADER', 'PROPOSALS_FULL', 'READS_FULL', 'TRANSFER_IN_PROGRESS', 'PROPOSAL_DROPPED')) return this.refused(i, error.leader, true);
    if (isChimeError(error, 'TIMEOUT', 'LEADERSHIP_LOST', 'SHUTTING_DOWN')) return this.finish(i, 'unknown');
    throw error;
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

  /** A crash loses the node's replies: operations waiting on it have an unknown outcome. */
  onCrash(node: NodeId): void {
    this.clients.forEach((c, i) => {
      if (c.op !== null && c.op.node === node) this.finish(i, 'unknown');
    });
  }
}
