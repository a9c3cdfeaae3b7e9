// One node's runtime: the Ready loop, the peers it talks to, the member address book and the
// membership policy. Driven only through its ports (ports.ts): the same code runs in
// `chime agent` (src/process fills the ports with disk, TCP and Node's timers) and in the
// simulator (virtual disk, network and clock).
import type { ConfChange, Entry, Message, NodeId, Snapshot, SoftState, Status } from '../raft/index.js';
import { ChimeError, isChimeError, notLeader } from '../errors/index.js';
import { MemberDirectory, encodeMemberContext, type MemberAddress, type MemberRole } from './member-directory.js';
import type { Clock, LeadershipListener, LogStore, NodeEnvelope, NodeEvents, PeerHello, PeerLink, StateMachine, TimerHandle } from './ports.js';
import { ReadyLoop, type RaftTuning } from './ready-loop.js';
import { bestTransferTarget } from './snapshot-policy.js';

export interface NodeTiming {
  readonly tickMs: number;
  readonly heartbeatMs: number;
  readonly electionMs: number;
}

/** Defaults chosen for fast failover on a LAN or one machine; see docs/operations.md. */
export const DEFAULT_TIMING: NodeTiming = { tickMs: 10, heartbeatMs: 50, electionMs: 250 };

/** Every bound of the runtime, as one named contract. */
export interface NodeLimits {
  readonly proposalsPendingMax: number;
  readonly readsPendingMax: number;
  readonly proposalTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** Take a snapshot after this many applied entries (staggered per voter, see snapshot-policy.ts)… */
  readonly snapshotEntries: number;
  /** …or this many bytes of applied entries… */
  readonly snapshotBytes: number;
  /** …keeping this many entries behind it for followers that lag a little. */
  readonly snapshotKeepEntries: number;
  /**
   * A leader sends each worker member (a learner that never votes) what accumulated once per
   * this many ms instead of with every write (0: with every write, like a voter). Workers
   * then apply up to this much later; no commit waits for them (docs/raft.md, "Batched learners").
   */
  readonly workerAppendMs: number;
  /**
   * An operator's membership change (add, promote, demote, remove) that finds another one not
   * yet applied waits up to this long for it, in order, instead of being refused at once (0:
   * refused at once)…
   */
  readonly confChangeHoldMs: number;
  /** …and at most this many wait at once; beyond, and after the wait, CONF_CHANGE_PENDING (409). */
  readonly confChangesHeldMax: number;
}

export const DEFAULT_LIMITS: NodeLimits = {
  proposalsPendingMax: 10_000,
  readsPendingMax: 10_000,
  proposalTimeoutMs: 10_000,
  readTimeoutMs: 5_000,
  snapshotEntries: 10_000,
  snapshotBytes: 64 << 20,
  snapshotKeepEntries: 5_000,
  workerAppendMs: 50,
  // The agent sets it from src/api's MEMBER_CHANGE_HOLD_MS_MAX, by which a follower that
  // forwarded the change waits longer for its answer.
  confChangeHoldMs: 5_000,
  confChangesHeldMax: 64,
};

/** How often a node tells its peers where it listens, and how often the leader looks for caught-up learners. */
const HELLO_EVERY_MS = 1000;
const PROMOTE_EVERY_MS = 200;
/** A leader polls this often, up to the deadline, for its hand-off to take effect. */
const STOP_POLL_MS = 10;

export interface NodeOptions<C, R> {
  readonly id: NodeId;
  readonly store: LogStore;
  readonly stateMachine: StateMachine<C, R>;
  readonly link: PeerLink;
  readonly clock: Clock;
  /** Seeded in the simulator, crypto in production: the core's randomized election timeouts. */
  readonly randomInt: (maxExclusive: number) => number;
  /** This node's own addresses, as peers and clients reach it. */
  readonly address: MemberAddress;
  /** The store's snapshot with its image (read once at start). */
  readonly initialSnapshot: Snapshot;
  readonly timing: NodeTiming;
  readonly limits?: Partial<NodeLimits>;
  readonly raft?: RaftTuning;
  readonly events?: NodeEvents;
  readonly listener?: LeadershipListener;
  /** Learners that caught up become voters (the default); off, membership changes are the operator's. Workers never are. */
  readonly promoteLearners?: boolean;
  /** A leader removes a worker member it has not heard from for this long (absent: never). */
  readonly removeSilentWorkersAfterMs?: number | null;
}

export interface MemberView {
  readonly id: NodeId;
  readonly rpc: string;
  readonly http: string;
  /** `worker`: a non-voting executor member (never promoted by itself); `learner`: on its way to being a voter. */
  readonly role: 'leader' | 'follower' | 'candidate' | 'learner' | 'worker';
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

export class NodeRuntime<C, R> {
  readonly id: NodeId;
  private readonly options: NodeOptions<C, R>;
  private readonly directory: MemberDirectory<C, R>;
  private readonly loop: ReadyLoop<C, R>;
  /** Peers' addresses as they announced them: for forwarding, status, and for a node that
   * joined empty and has no log yet to learn its peers' rpc addresses from. */
  private readonly announced = new Map<NodeId, PeerHello>();
  private readonly lastContactMs = new Map<NodeId, number>();
  private helloTimer: TimerHandle | null = null;
  private promoteTimer: TimerHandle | null = null;
  private leaderId: NodeId | null = null;
  /** When this node last became leader (silent workers are counted from then at the earliest). */
  private leaderSinceMs = 0;
  private readonly removalsInFlight = new Set<NodeId>();
  /** When this node first saw each worker learner in the configuration: a member added a moment ago is not silent. */
  private readonly workerSeenSinceMs = new Map<NodeId, number>();
  private stopping = false;

  constructor(options: NodeOptions<C, R>) {
    this.options = options;
    this.id = options.id;
    this.directory = new MemberDirectory(options.stateMachine);
    const { timing } = options;
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const events = options.events ?? {};
    this.loop = new ReadyLoop({
      id: options.id,
      store: options.store,
      stateMachine: this.directory,
      clock: options.clock,
      randomInt: options.randomInt,
      events,
      send: (messages) => this.sendRaft(messages),
      flushSends: () => this.options.link.flush?.(),
      softStateChanged: (soft) => this.onSoftState(soft),
      confApplied: (change) => this.onConfApplied(change),
      confChangeRefusal: (change) => this.confChangeRefusal(change),
      tickMs: timing.tickMs,
      heartbeatTicks: Math.max(1, Math.round(timing.heartbeatMs / timing.tickMs)),
      electionTicks: Math.max(2, Math.round(timing.electionMs / timing.tickMs)),
      applied: options.initialSnapshot.meta.index,
      snapshotEntries: limits.snapshotEntries,
      snapshotBytes: limits.snapshotBytes,
      snapshotKeepEntries: Math.min(limits.snapshotKeepEntries, Math.floor(limits.snapshotEntries / 2)),
      proposalsPendingMax: limits.proposalsPendingMax,
      readsPendingMax: limits.readsPendingMax,
      proposalTimeoutMs: limits.proposalTimeoutMs,
      readTimeoutMs: limits.readTimeoutMs,
      confChangeHoldMs: limits.confChangeHoldMs,
      confChangesHeldMax: limits.confChangesHeldMax,
      raft: {
        learnerAppendTicks: limits.workerAppendMs <= 0 ? 0 : Math.max(1, Math.round(limits.workerAppendMs / timing.tickMs)),
        batchedLearner: (id) => this.directory.workers.has(id),
        ...options.raft,
      },
    });
  }

  /** Restores the snapshot, starts ticking, and campaigns at once when this node is the only voter. */
  start(): void {
    if (this.options.initialSnapshot.meta.index > 0) this.directory.restore(this.options.initialSnapshot.data);
    // A snapshot written before the directory kept `voted` still names its voters.
    this.directory.noteVoters(this.options.initialSnapshot.meta.conf.voters);
    this.refreshPeers();
    this.loop.start();
    // A sole voter has no one to wait for: it elects itself at once rather than after an
    // election timeout, so a one-node cluster serves right after a restart.
    const voters = this.loop.status().conf.voters;
    if (voters.length === 1 && voters[0] === this.id) this.loop.campaign();
    this.sayHello();
    this.helloTimer = this.every(HELLO_EVERY_MS, () => this.sayHello());
  }

  /** Learner promotion and silent-worker removal are the leader's: the timer runs only while this node leads. */
  private leadingTimers(leading: boolean): void {
    if (!leading || this.stopping) {
      this.promoteTimer?.cancel();
      this.promoteTimer = null;
      return;
    }
    this.promoteTimer ??= this.every(PROMOTE_EVERY_MS, () => {
      if (this.options.promoteLearners !== false) this.promoteCaughtUpLearner();
      this.removeSilentWorkers();
    });
  }

  /**
   * A leader hands leadership to the most up-to-date voter and waits (bounded) for it to take
   * over, so clients see a short gap instead of an election timeout. Nothing for a follower.
   */
  async handOffLeadership(deadlineMs: number): Promise<void> {
    const clock = this.options.clock;
    const untilMs = clock.nowMs() + deadlineMs;
    const wait = async (busy: () => boolean): Promise<void> => {
      while (busy() && clock.nowMs() < untilMs) await new Promise<void>((resolve) => clock.setTimer(STOP_POLL_MS, resolve));
    };
    // Removed as leader of two voters: the other one learns it from us at once, rather than by electing itself (src/raft).
    if (this.handingOff()) return wait(() => this.handingOff());
    if (!this.isLeader() || this.loop.status().conf.voters.length < 2) return;
    try {
      this.transferLeadership(null);
    } catch {
      return; // no target, or a transfer already under way: the others will elect
    }
    await wait(() => this.isLeader());
  }

  /**
   * Removed (or demoted) as leader of a two-voter membership and the other voter may not
   * know yet: stopping now could leave it unable to ever be elected.
   */
  handingOff(): boolean {
    return this.loop.status().handingOff;
  }

  /** Stops ticking and answering; resolves once the Ready in hand is done. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.helloTimer?.cancel();
    this.promoteTimer?.cancel();
    await this.loop.stop();
  }

  /** An envelope from a peer on one of the runtime's channels (the transport has authenticated `from`). */
  receive(from: NodeId, envelope: NodeEnvelope): void {
    this.lastContactMs.set(from, this.options.clock.nowMs());
    if (envelope.channel === 'raft') {
      if (envelope.message.from !== from || envelope.message.to !== this.id) return; // a peer speaks only for itself, to us
      this.loop.step(envelope.message);
      return;
    }
    const previous = this.announced.get(from);
    this.announced.set(from, envelope.body);
    if (previous?.rpc !== envelope.body.rpc) this.refreshPeers();
  }

  /** The transport could not reach `peer`: Raft stops streaming to it until it answers. */
  reportUnreachable(peer: NodeId): void {
    this.loop.reportUnreachable(peer);
  }

  propose(command: C): Promise<R> {
    return this.loop.propose(this.directory.encode(command)).then(
      (result) => {
        this.options.events?.proposalSettled?.('applied');
        return result;
      },
      (error: unknown) => {
        this.options.events?.proposalSettled?.(error instanceof ChimeError ? error.code : 'error');
        throw error;
      },
    );
  }

  /** Resolves once this node's state reflects every write acknowledged before the call (ReadIndex). */
  read(): Promise<void> {
    return this.loop.read();
  }

  /** Starts an election now instead of after an election timeout. */
  campaign(): void {
    this.loop.campaign();
  }

  term(): number {
    return this.loop.status().hardState.term;
  }

  leader(): NodeId | null {
    return this.leaderId;
  }

  isLeader(): boolean {
    return this.leaderId === this.id;
  }

  /** Voters and learners: every node that may execute runs. */
  members(): NodeId[] {
    const conf = this.loop.status().conf;
    return [...conf.voters, ...conf.learners];
  }

  status(): Status {
    return this.loop.status();
  }

  appliedIndex(): number {
    return this.loop.appliedIndex();
  }

  /** A leader is known and this node has applied everything it knows committed. */
  isReady(): boolean {
    return this.leaderId !== null && this.loop.appliedIndex() >= this.loop.status().hardState.commit;
  }

  httpOf(id: NodeId): string | null {
    if (id === this.id) return this.options.address.http;
    const http = this.announced.get(id)?.http ?? this.directory.addresses.get(id)?.http ?? '';
    return http === '' ? null : http;
  }

  /** The HTTP address of the current leader, if known. */
  leaderHttp(): string | null {
    return this.leaderId === null ? null : this.httpOf(this.leaderId);
  }

  /** A change that would make a retired id (removed after it voted) a member again is refused: see MemberDirectory.retired. */
  private confChangeRefusal(change: ConfChange): ChimeError | null {
    if (change.type === 'remove' || !this.directory.retired.has(change.node)) return null;
    return new ChimeError('CONF_CHANGE_INVALID', `${change.node} was a voter and was removed, so its id is never a member again (its old votes may still count somewhere): give the node a new --id and an empty data dir`);
  }

  /** Adds a learner: a future voter (promoted once caught up), or a worker that never votes. */
  addMember(id: NodeId, address: MemberAddress, role: MemberRole = 'voter'): Promise<void> {
    if (!this.isLeader()) return Promise.reject(notLeader(this.leaderId));
    const conf = this.loop.status().conf;
    if (conf.voters.includes(id) || conf.learners.includes(id)) {
      // Adding a member again would make it a learner: a voter's demotion, by a typo or by a
      // node that lost its data dir and joins again. A repeated join (its first answer lost)
      // names the same address and role, and is answered as done.
      const known = this.directory.addresses.get(id);
      if (known?.rpc === address.rpc && this.directory.workers.has(id) === (role === 'worker')) return Promise.resolve();
      return Promise.reject(new ChimeError('CONF_CHANGE_INVALID', `${id} is already a member${known === undefined || known.rpc === '' ? '' : ` at ${known.rpc}`}: change its role with {id, role}; a node that lost its data dir must be removed and join under a new id`));
    }
    return this.loop.proposeConfChange({ type: 'addLearner', node: id, context: encodeMemberContext(address, role) }, true);
  }

  /** The operator's explicit change: a learner or worker becomes a voter, or a voter becomes a worker. */
  setMemberRole(id: NodeId, role: MemberRole): Promise<void> {
    if (!this.isLeader()) return Promise.reject(notLeader(this.leaderId));
    const conf = this.loop.status().conf;
    const address = this.directory.addresses.get(id) ?? { rpc: this.announced.get(id)?.rpc ?? '', http: this.announced.get(id)?.http ?? '' };
    if (role === 'voter') {
      if (conf.voters.includes(id)) return Promise.reject(new ChimeError('CONF_CHANGE_INVALID', `${id} is already a voter`));
      if (!conf.learners.includes(id)) return Promise.reject(new ChimeError('MEMBER_NOT_FOUND', `${id} is not a member`));
      return this.loop.proposeConfChange({ type: 'addVoter', node: id, context: encodeMemberContext(address) }, true);
    }
    if (conf.learners.includes(id)) {
      if (this.directory.workers.has(id)) return Promise.reject(new ChimeError('CONF_CHANGE_INVALID', `${id} is already a worker`));
      return Promise.reject(new ChimeError('CONF_CHANGE_INVALID', `${id} is a learner on its way to voting; remove it and add it back as a worker`));
    }
    if (!conf.voters.includes(id)) return Promise.reject(new ChimeError('MEMBER_NOT_FOUND', `${id} is not a member`));
    return this.loop.proposeConfChange({ type: 'addLearner', node: id, context: encodeMemberContext(address, 'worker') }, true);
  }

  /** Makes a learner a voter now, caught up or not (the operator's call; the timer promotes only caught-up ones). */
  promoteMember(id: NodeId): Promise<void> {
    if (!this.isLeader()) return Promise.reject(notLeader(this.leaderId));
    const context = encodeMemberContext(this.directory.addresses.get(id) ?? { rpc: '', http: '' });
    return this.loop.proposeConfChange({ type: 'addVoter', node: id, context }, true);
  }

  removeMember(id: NodeId): Promise<void> {
    if (!this.isLeader()) return Promise.reject(notLeader(this.leaderId));
    return this.loop.proposeConfChange({ type: 'remove', node: id, context: '' }, true);
  }

  /** Hands leadership to `to`, or to the most up-to-date other voter. Returns the target. */
  transferLeadership(to: NodeId | null): NodeId {
    if (!this.isLeader()) throw notLeader(this.leaderId);
    const target = to ?? bestTransferTarget(this.loop.status(), this.id);
    if (target === null) throw new ChimeError('CONF_CHANGE_INVALID', 'there is no other voter to transfer leadership to');
    this.loop.transferLeader(target);
    return target;
  }

  clusterView(): ClusterView {
    const status = this.loop.status();
    const now = this.options.clock.nowMs();
    const members = [...status.conf.voters, ...status.conf.learners].map((id): MemberView => {
      const voter = status.conf.voters.includes(id);
      const contact = id === this.id ? now : this.lastContactMs.get(id);
      const role = id === status.softState.leader ? 'leader'
        : !voter ? (this.directory.workers.has(id) ? 'worker' : 'learner')
          : id === this.id && status.softState.role === 'candidate' ? 'candidate' : 'follower';
      return {
        id,
        rpc: id === this.id ? this.options.address.rpc : (this.directory.addresses.get(id)?.rpc ?? ''),
        http: this.httpOf(id) ?? '',
        role,
        voter,
        matchIndex: status.progress.get(id)?.match ?? null,
        lastContactMs: contact === undefined ? null : Math.round(now - contact),
      };
    });
    return { id: this.id, leader: status.softState.leader, term: status.hardState.term, commitIndex: status.hardState.commit, appliedIndex: this.loop.appliedIndex(), members };
  }

  private every(periodMs: number, fn: () => void): TimerHandle {
    let handle: TimerHandle | null = null;
    let cancelled = false;
    const arm = (): void => {
      handle = this.options.clock.setTimer(periodMs, () => {
        if (cancelled) return;
        fn();
        arm();
      });
    };
    arm();
    return {
      cancel: () => {
        cancelled = true;
        handle?.cancel();
      },
    };
  }

  private sendRaft(messages: readonly Message[]): void {
    for (const message of messages) this.options.link.send(message.to, { channel: 'raft', message });
  }

  private sayHello(): void {
    const body: PeerHello = { http: this.options.address.http, rpc: this.options.address.rpc };
    for (const id of this.members()) if (id !== this.id) this.options.link.send(id, { channel: 'hello', body });
  }

  private onSoftState(soft: SoftState): void {
    const changed = soft.leader !== this.leaderId;
    this.leaderId = soft.leader;
    if (!changed) return;
    if (soft.leader === this.id) this.leaderSinceMs = this.options.clock.nowMs();
    this.leadingTimers(soft.leader === this.id);
    this.options.clock.defer(() => this.refreshPeers());
    this.options.events?.leaderChanged?.(soft.leader, this.term());
    this.options.listener?.leadershipChanged();
  }

  private onConfApplied(change: ConfChange): void {
    this.options.events?.confChanged?.(change.type, change.node);
    // The core applies the change on advance; refresh peers once it has, and introduce
    // ourselves to a new member, which may not know any address yet.
    this.options.clock.defer(() => {
      this.refreshPeers();
      this.sayHello();
    });
  }

  private refreshPeers(): void {
    const peers = new Map<NodeId, string>();
    for (const [id, address] of this.directory.addresses) if (id !== this.id && address.rpc !== '') peers.set(id, address.rpc);
    // Announced addresses count for members, and for anyone while we know no membership
    // yet (a node that joined empty); a removed node drops out with its membership.
    const known = new Set(this.members());
    for (const [id, hello] of this.announced) if (id !== this.id && (known.has(id) || known.size === 0 || id === this.leaderId)) peers.set(id, hello.rpc);
    this.options.link.setPeers(peers);
  }

  /**
   * Worker members the leader has not heard from for removeSilentWorkersAfterMs (counted from
   * its own start as leader, or from when it first saw the member, at the earliest) are removed, one change at a time. Their runs
   * were recorded lost by the scheduler's lease long before.
   */
  private removeSilentWorkers(): void {
    const afterMs = this.options.removeSilentWorkersAfterMs ?? null;
    if (afterMs === null || !this.isLeader()) return;
    const now = this.options.clock.nowMs();
    const conf = this.loop.status().conf;
    for (const id of this.workerSeenSinceMs.keys()) if (!conf.learners.includes(id)) this.workerSeenSinceMs.delete(id);
    for (const id of conf.learners) {
      if (!this.directory.workers.has(id) || this.removalsInFlight.has(id)) continue;
      if (!this.workerSeenSinceMs.has(id)) this.workerSeenSinceMs.set(id, now);
      const heard = Math.max(this.lastContactMs.get(id) ?? 0, this.leaderSinceMs, this.workerSeenSinceMs.get(id) ?? now);
      if (now - heard < afterMs) continue;
      this.removalsInFlight.add(id);
      this.options.events?.silentWorkerRemoved?.(id, now - heard);
      this.loop.proposeConfChange({ type: 'remove', node: id, context: '' }).catch((error: unknown) => {
        if (!isChimeError(error)) throw error;
      }).finally(() => this.removalsInFlight.delete(id));
      return;
    }
  }

  /** Learners that have caught up with the leader's log become voters, one at a time; workers never. */
  private promoteCaughtUpLearner(): void {
    if (!this.isLeader()) return;
    const status = this.loop.status();
    const id = status.conf.learners.find((learner) => !this.directory.workers.has(learner) && (status.progress.get(learner)?.match ?? -1) >= status.hardState.commit);
    if (id === undefined) return;
    const context = encodeMemberContext(this.directory.addresses.get(id) ?? { rpc: '', http: '' });
    this.loop.proposeConfChange({ type: 'addVoter', node: id, context }).catch((error: unknown) => {
      // Another change is under way or leadership moved: the next round tries again.
      if (!isChimeError(error)) throw error;
    });
  }
}

