import { randomInt } from 'node:crypto';
import { MemoryStorage, bootstrapStorage } from '../raft/index.js';
import type { ConfChange, Message, NodeId, SoftState, Status } from '../raft/index.js';
import { RaftHost, notLeader, type LogStore, type StateMachine } from './raft-host.js';
import { bestTransferTarget } from './snapshot-policy.js';
import { ReplicatedState, encodeMemberContext, type MemberAddress } from './address-book.js';
import { ChimeError } from './errors.js';
import { AgentMetrics } from './agent-metrics.js';
import type { Logger } from './logger.js';
import type { Envelope } from '../rpc/index.js';

/** The transport as the agent needs it; src/rpc provides the TCP one. */
export interface PeerTransport {
  send(to: NodeId, envelope: Envelope): void;
  setPeers(peers: ReadonlyMap<NodeId, string>): void;
  close(): Promise<void>;
}

export type { Envelope };

/** A part of the node that lives beside Raft: it gets the other channels and leader changes. */
export interface AgentExtension {
  receive(from: NodeId, envelope: Envelope): void;
  leadershipChanged(): void;
  stop(): Promise<void>;
}

export interface AgentTiming {
  readonly tickMs: number;
  readonly heartbeatMs: number;
  readonly electionMs: number;
}

/** Defaults chosen for fast failover on a LAN or one machine; see docs/operations.md. */
export const DEFAULT_TIMING: AgentTiming = { tickMs: 10, heartbeatMs: 50, electionMs: 250 };

export interface AgentOptions {
  readonly id: NodeId;
  readonly store: LogStore;
  readonly stateMachine: StateMachine;
  readonly transport: PeerTransport;
  /** This node's own addresses, as peers and clients reach it. */
  readonly address: MemberAddress;
  /** Founding voters with their rpc addresses; used only when the store is empty. */
  readonly peers: ReadonlyMap<NodeId, string> | null;
  readonly timing: AgentTiming;
  readonly logger: Logger;
  readonly snapshotEntries?: number;
  /** The wall clock the leader stamps into commands (tests skew it; see testHooks). */
  readonly clock?: () => number;
  /**
   * Deliberate weakening for the jepsen-like suite's self-test: reads answer from local
   * state without ReadIndex. Accepted only together with CHIME_TEST_HOOKS=1.
   */
  readonly unsafeStaleReads?: boolean;
}

/** A wall clock shifted by `offsetMs` and running at `rate` times real speed. */
export function skewedClock(offsetMs: number, rate: number): () => number {
  const startedAt = Date.now();
  return () => startedAt + offsetMs + (Date.now() - startedAt) * rate;
}

export interface MemberView {
  readonly id: NodeId;
  readonly rpc: string;
  readonly http: string;
  readonly role: 'leader' | 'follower' | 'candidate' | 'learner';
  readonly voter: boolean;
  readonly matchIndex: number | null;
  readonly lastContactMs: number | null;
}

export interface ClusterView {
  readonly id: NodeId;
  readonly leader: NodeId | null;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly members: readonly MemberView[];
}

/**
 * One node's runtime: the Raft host, its peers, the replicated state with the member
 * address book, and membership management. The HTTP API and the CLI sit on top.
 */
export class Agent {
  readonly id: NodeId;
  readonly host: RaftHost;
  readonly state: ReplicatedState;
  readonly metrics = new AgentMetrics();
  private readonly options: AgentOptions;
  /** Peers' addresses as they announced them: for forwarding, status, and for a node that
   * joined empty and has no log yet to learn its peers' rpc addresses from. */
  private readonly announcedHttp = new Map<NodeId, string>();
  private readonly announcedRpc = new Map<NodeId, string>();
  private readonly lastContact = new Map<NodeId, number>();
  private helloTimer: NodeJS.Timeout | null = null;
  private promoteTimer: NodeJS.Timeout | null = null;
  private leader: NodeId | null = null;
  private stopping = false;
  private extension: AgentExtension | null = null;

  private constructor(options: AgentOptions, applied: number) {
    this.options = options;
    this.id = options.id;
    this.state = new ReplicatedState(options.stateMachine);
    const { timing } = options;
    this.host = new RaftHost({
      id: options.id,
      store: options.store,
      stateMachine: this.state,
      tickMs: timing.tickMs,
      heartbeatTicks: Math.max(1, Math.round(timing.heartbeatMs / timing.tickMs)),
      electionTicks: Math.max(2, Math.round(timing.electionMs / timing.tickMs)),
      randomInt: (max) => randomInt(max),
      applied,
      snapshotEntries: options.snapshotEntries ?? 10_000,
      snapshotKeepEntries: Math.min(5_000, Math.floor((options.snapshotEntries ?? 10_000) / 2)),
      maxPendingProposals: 10_000,
      proposalTimeoutMs: 10_000,
      readTimeoutMs: 5_000,
      events: {
        send: (messages) => this.sendRaft(messages),
        softStateChanged: (soft) => this.onSoftState(soft),
        confChanged: (change) => this.onConfChange(change),
        persisted: (seconds) => this.metrics.fsyncSeconds.observe(seconds),
        committed: (seconds) => this.metrics.commitSeconds.observe(seconds),
        snapshotRestored: (index) => {
          this.metrics.snapshotsRestored.inc();
          options.logger.info('snapshot restored from the leader', { index });
        },
        snapshotTaken: (index, bytes, encodeMs) => {
          this.metrics.snapshotsTaken.inc();
          options.logger.debug('snapshot taken', { index, bytes, encodeMs: Math.round(encodeMs) });
        },
        snapshotHandOff: (to, expectedMs) => {
          this.metrics.snapshotHandOffs.inc();
          options.logger.info('handing leadership on before a long snapshot', { to, expectedEncodeMs: Math.round(expectedMs) });
        },
      },
    });
    this.metrics.bind(this);
  }

  /** Opens the node on its store: bootstraps a new cluster, or recovers log and state. */
  static async start(options: AgentOptions): Promise<Agent> {
    const { store } = options;
    if (store.lastIndex() === 0 && store.snapshotInfo().meta.index === 0 && options.peers !== null) {
      const founding = new MemoryStorage();
      // Every founding member must write identical entries, so only what all of them know
      // (the rpc addresses) goes in; HTTP addresses are announced over rpc at run time.
      const voters = [...options.peers].map(([id, rpc]) => ({ id, context: encodeMemberContext({ rpc, http: '' }) }));
      bootstrapStorage(founding, voters);
      await store.save({ hardState: founding.hardStateNow(), entries: founding.entries(1, founding.lastIndex() + 1, Number.MAX_SAFE_INTEGER), snapshot: founding.snapshot() }, { sync: true });
    }
    const snapshot = await store.loadSnapshot();
    const agent = new Agent(options, snapshot.meta.index);
    if (snapshot.meta.index > 0) agent.state.restore(snapshot.data);
    agent.refreshPeers();
    agent.host.start();
    // A sole voter has no one to wait for: it elects itself at once rather than after an
    // election timeout, so a one-node cluster serves right after a restart.
    const voters = [...agent.host.status().conf.voters];
    if (voters.length === 1 && voters[0] === options.id) agent.host.campaign();
    agent.helloTimer = setInterval(() => agent.sayHello(), 1000);
    agent.promoteTimer = setInterval(() => void agent.promoteCaughtUpLearners(), 200);
    agent.sayHello();
    return agent;
  }

  /** Delivers an envelope from a peer (called by the transport). */
  receive(from: NodeId, envelope: Envelope): void {
    this.lastContact.set(from, performance.now());
    if (envelope.channel === 'raft') {
      if (envelope.message.from !== from) return; // a peer may speak only for itself
      this.host.step(envelope.message);
    } else if (envelope.channel === 'hello') {
      const body = envelope.body as { http?: unknown; rpc?: unknown } | null;
      if (typeof body?.http === 'string' && body.http.length <= 300) this.announcedHttp.set(from, body.http);
      if (typeof body?.rpc === 'string' && body.rpc.length <= 300 && this.announcedRpc.get(from) !== body.rpc) {
        this.announcedRpc.set(from, body.rpc);
        this.refreshPeers();
      }
    } else {
      this.extension?.receive(from, envelope);
    }
  }

  /** Attaches the execution plane (or any other extension); one at a time. */
  extend(extension: AgentExtension): void {
    this.extension = extension;
    extension.leadershipChanged();
  }

  term(): number {
    return this.host.status().hardState.term;
  }

  /** Voters and learners: every node that may execute runs. */
  members(): NodeId[] {
    const conf = this.host.status().conf;
    return [...conf.voters, ...conf.learners];
  }

  send(to: NodeId, envelope: Envelope): void {
    this.options.transport.send(to, envelope);
  }

  /** The transport could not reach `peer`: Raft stops streaming to it until it answers. */
  unreachable(peer: NodeId): void {
    this.host.node.reportUnreachable(peer);
  }

  leaderId(): NodeId | null {
    return this.leader;
  }

  isLeader(): boolean {
    return this.leader === this.id;
  }

  /** The HTTP address of the current leader, if known. */
  leaderHttp(): string | null {
    if (this.leader === null) return null;
    return this.httpOf(this.leader);
  }

  httpOf(id: NodeId): string | null {
    if (id === this.id) return this.options.address.http;
    const http = this.announcedHttp.get(id) ?? this.state.addresses.get(id)?.http ?? '';
    return http === '' ? null : http;
  }

  /** Proposes a command on this node, which must be the leader. */
  propose(data: Uint8Array): Promise<unknown> {
    return this.host.propose(data).then(
      (result) => {
        this.metrics.proposals.inc({ outcome: 'applied' });
        return result;
      },
      (error: unknown) => {
        this.metrics.proposals.inc({ outcome: error instanceof ChimeError ? error.code : 'error' });
        throw error;
      },
    );
  }

  linearizableRead(): Promise<void> {
    if (this.options.unsafeStaleReads === true) return Promise.resolve();
    return this.host.linearizableRead();
  }

  /** Milliseconds since the epoch on this node's (possibly skewed, in tests) wall clock. */
  now(): number {
    return this.options.clock?.() ?? Date.now();
  }

  /** Ready: a leader is known and this node has applied everything it knows committed. */
  isReady(): boolean {
    const status = this.host.status();
    return this.leader !== null && this.host.appliedIndex() >= status.hardState.commit;
  }

  async addMember(id: NodeId, address: MemberAddress): Promise<void> {
    this.requireLeader();
    await this.host.proposeConfChange({ type: 'addLearner', node: id, context: encodeMemberContext(address) });
  }

  async removeMember(id: NodeId): Promise<void> {
    this.requireLeader();
    await this.host.proposeConfChange({ type: 'remove', node: id, context: '' });
  }

  /** Hands leadership to `to`, or to the most up-to-date other voter. Returns the target. */
  transferLeadership(to: NodeId | null): NodeId {
    this.requireLeader();
    const status = this.host.status();
    const target = to ?? bestTransferTarget(status, this.id);
    if (target === null) throw new ChimeError('CONF_CHANGE_INVALID', 'there is no other voter to transfer leadership to');
    this.host.transferLeader(target);
    return target;
  }

  cluster(): ClusterView {
    const status = this.host.status();
    const now = performance.now();
    const ids = [...status.conf.voters, ...status.conf.learners];
    const members = ids.map((id): MemberView => {
      const voter = status.conf.voters.includes(id);
      const progress = status.progress.get(id);
      const contact = id === this.id ? now : this.lastContact.get(id);
      const role = id === status.softState.leader ? 'leader' : !voter ? 'learner' : id === this.id && status.softState.role === 'candidate' ? 'candidate' : 'follower';
      return {
        id,
        rpc: id === this.id ? this.options.address.rpc : (this.state.addresses.get(id)?.rpc ?? ''),
        http: this.httpOf(id) ?? '',
        role,
        voter,
        matchIndex: progress?.match ?? null,
        lastContactMs: contact === undefined ? null : Math.round(now - contact),
      };
    });
    return { id: this.id, leader: status.softState.leader, term: status.hardState.term, commitIndex: status.hardState.commit, appliedIndex: this.host.appliedIndex(), members };
  }

  /**
   * Stops the node: a leader first hands leadership to the most up-to-date voter and waits
   * (bounded) for it to take over, so clients see a short gap instead of an election timeout.
   */
  async stop(deadlineMs = 3000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const until = performance.now() + deadlineMs;
    if (this.isLeader() && this.host.status().conf.voters.length > 1) {
      try {
        const target = this.transferLeadership(null);
        this.options.logger.info('transferring leadership before shutdown', { to: target });
        while (this.isLeader() && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
      } catch (error) {
        this.options.logger.warn('leadership transfer before shutdown failed', { error: String(error) });
      }
    }
    if (this.helloTimer !== null) clearInterval(this.helloTimer);
    if (this.promoteTimer !== null) clearInterval(this.promoteTimer);
    await this.extension?.stop();
    await this.host.stop();
    await this.options.transport.close();
  }

  private requireLeader(): void {
    if (!this.isLeader()) throw notLeader(this.leader);
  }

  private sendRaft(messages: readonly Message[]): void {
    for (const message of messages) this.options.transport.send(message.to, { channel: 'raft', message });
  }

  private sayHello(): void {
    const body = { http: this.options.address.http, rpc: this.options.address.rpc };
    for (const id of this.peerIds()) this.options.transport.send(id, { channel: 'hello', body });
  }

  private peerIds(): NodeId[] {
    const conf = this.host.status().conf;
    return [...conf.voters, ...conf.learners].filter((id) => id !== this.id);
  }

  private onSoftState(soft: SoftState): void {
    if (soft.leader !== this.leader) {
      setImmediate(() => this.refreshPeers());
      this.options.logger.info('leader changed', { leader: soft.leader, role: soft.role, term: this.host.status().hardState.term });
      this.metrics.leaderChanges.inc();
    }
    const changed = soft.leader !== this.leader;
    this.leader = soft.leader;
    if (changed) this.extension?.leadershipChanged();
  }

  private onConfChange(change: ConfChange): void {
    this.state.applyConfChange(change);
    this.options.logger.info('membership change applied', { type: change.type, node: change.node });
    // The core applies the change on advance; refresh peers once it has, and introduce
    // ourselves to a new member, which may not know any address yet.
    setImmediate(() => {
      this.refreshPeers();
      this.sayHello();
    });
  }

  private refreshPeers(): void {
    const peers = new Map<NodeId, string>();
    for (const [id, address] of this.state.addresses) if (id !== this.id && address.rpc !== '') peers.set(id, address.rpc);
    // Announced addresses count for members, and for anyone while we know no membership
    // yet (a node that joined empty); a removed node drops out with its membership.
    const conf = this.host.status().conf;
    const known = new Set([...conf.voters, ...conf.learners]);
    for (const [id, rpc] of this.announcedRpc) if (id !== this.id && (known.has(id) || known.size === 0 || id === this.leader)) peers.set(id, rpc);
    this.options.transport.setPeers(peers);
  }

  /** Learners that have caught up with the leader's log become voters, one at a time. */
  private async promoteCaughtUpLearners(): Promise<void> {
    if (!this.isLeader()) return;
    const status = this.host.status();
    for (const id of status.conf.learners) {
      const progress = status.progress.get(id);
      if (progress === undefined || progress.match < status.hardState.commit) continue;
      try {
        await this.host.proposeConfChange({ type: 'addVoter', node: id, context: encodeMemberContext(this.state.addresses.get(id) ?? { rpc: '', http: '' }) });
        this.options.logger.info('learner promoted to voter', { node: id });
      } catch (error) {
        if (!(error instanceof ChimeError && error.code === 'CONF_CHANGE_PENDING')) this.options.logger.warn('promotion failed', { node: id, error: String(error) });
      }
      return;
    }
  }
}

