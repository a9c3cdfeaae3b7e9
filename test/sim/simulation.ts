// One deterministic simulation run: a cluster of SimNodes — each the real node runtime of
// src/node over a simulated disk and clock — on a SimNetwork, driven by one EventQueue and
// one Prng: a fault phase drawn from the seed, then a healed phase in which the cluster must
// recover within a time bound. Safety invariants run after every event.
import assert from 'node:assert/strict';
import { isChimeError } from '../../src/errors/index.js';
import { MemoryStorage, applyConfChange, decodeConfChange, encodeConfChange } from '../../src/raft/index.js';
import type { ConfState, Entry, NodeId } from '../../src/raft/index.js';
import type { NodeEnvelope, NodeEvents, PersistBatch } from '../../src/node/index.js';
import type { Message } from '../../src/raft/index.js';
import { EventQueue } from './event-queue.js';
import { HASH_SEED, hashNumber, hashString } from './hash.js';
import { INVARIANT, InvariantViolation, SafetyChecker } from './invariants.js';
import type { KvObserver } from './kv-machine.js';
import { checkKvHistory } from './linearizability.js';
import { CALM_NETWORK, SimNetwork } from './network.js';
import { DEFAULT_WEIGHTS, drawPartition, drawWeather, pickAction, type NemesisWeights } from './nemesis.js';
import { Prng } from '../support/prng.js';
import { SIM_REQUEST_TIMEOUT_MS, SimNode, type NodeHost, type NodeSettings } from './sim-node.js';
import { SimDisk, type DiskFault, type SimLogStore } from './sim-store.js';
import { Workload } from './workload.js';

export interface SimConfig {
  readonly seed: number;
  readonly nodes: 3 | 5;
  /** Length of the fault phase in virtual ms; then everything heals. */
  readonly faultMs: number;
  /** How long the healed cluster may take to elect, commit and catch everyone up. */
  readonly livenessBudgetMs?: number;
  readonly diskFault?: DiskFault;
  /** Deliberately broken reads (local state, no ReadIndex), to show linearizability is checked. */
  readonly localReads?: boolean;
  /** How often each nemesis action is drawn (0 leaves it out). */
  readonly weights?: Partial<NemesisWeights>;
  /** Chance that a node which just became a candidate crashes a few ms later (mid-election). */
  readonly candidateCrashChance?: number;
  /** Crashed nodes come back after a random delay up to this. */
  readonly restartMsMax?: number;
  /** Chance that a node which just granted its vote crashes within the fsync window (default drawn per run). */
  readonly voteCrashChance?: number;
  readonly eventsMax?: number;
}

export interface SimStats {
  events: number;
  messages: number;
  committed: number;
  acked: number;
  crashes: number;
  crashesInWrite: number;
  partitions: number;
  snapshotsTaken: number;
  snapshotsRestored: number;
  confChangesApplied: number;
  transfers: number;
  /** Membership changes the nemesis proposed, and how many a core accepted into its log. */
  confChangesProposed: number;
  confChangesAccepted: number;
  /** Crashes right after a node released a vote or an append answer. */
  crashesAfterReply: number;
  /** Membership changes proposed that a correct core refuses (pending, or too early). */
  refusableProposed: number;
  clockDrifts: number;
  /** Leaders seen with two or more learners, and with an even number of voters. */
  leadersWithLearners: number;
  leadersWithEvenVoters: number;
  readsOk: number;
  leaderTerms: number;
  historyOps: number;
  linearizability: 'ok' | 'unknown' | 'skipped';
}

export type SimOutcome =
  | { readonly ok: true; readonly seed: number; readonly electMs: number; readonly traceHash: number; readonly stats: SimStats; readonly endMs: number }
  | { readonly ok: false; readonly seed: number; readonly error: InvariantViolation; readonly traceHash: number; readonly stats: SimStats };

type SimEvent =
  | { readonly t: 'call'; readonly node: NodeId; readonly inc: number; readonly fn: () => void }
  | { readonly t: 'deliver'; readonly from: NodeId; readonly to: NodeId; readonly envelope: NodeEnvelope }
  | { readonly t: 'client'; readonly client: number; readonly opId: number | null }
  | { readonly t: 'nemesis' }
  | { readonly t: 'restart'; readonly node: NodeId }
  | { readonly t: 'crash'; readonly node: NodeId; readonly inc: number }
  | { readonly t: 'heal' }
  | { readonly t: 'stop'; readonly node: NodeId }
  | { readonly t: 'faultEnd' }
  | { readonly t: 'check' };

const MESSAGES_IN_FLIGHT_MAX = 50_000;
/** Promise continuations (a client's reaction to an answer) run between events: this many hops. */
const MICROTASK_HOPS = 8;
const TIMING = { tickMs: 10, heartbeatMs: 20, electionMs: 100 };
/** Clock rates are drawn from [CLOCK_RATE_MIN, CLOCK_RATE_MIN + 1). */
const CLOCK_RATE_MIN = 0.6;
/**
 * A leader with check-quorum must have stepped down once it heard nothing from a majority
 * of voters for this long: it checks every election timeout, so two of them on the slowest
 * clock, plus one more of slack.
 */
const CHECK_QUORUM_WINDOW_MS = Math.ceil((3 * TIMING.electionMs) / CLOCK_RATE_MIN);

/**
 * Every proposal and read a node's runtime took is answered within its own deadline, on the
 * slowest clock, plus slack: applied, refused, or failed as an unknown outcome. One that is
 * never answered leaves its writer waiting until some timeout of its own (the API's 15 s).
 */
const ANSWER_WINDOW_MS = Math.ceil(SIM_REQUEST_TIMEOUT_MS / CLOCK_RATE_MIN) + 1_000;

export class Simulation implements NodeHost {
  readonly rng: Prng;
  /**
   * Draws for membership changes that a correct core refuses (a second change while one
   * is pending, a change before the new leader applied its first entry). A stream of its
   * own: refused proposals change nothing, so adding them leaves every run's schedule as it
   * was — and a core that wrongly accepts one goes another way from there.
   */
  private readonly refusedRng: Prng;
  readonly queue = new EventQueue<SimEvent>(1_000_000);
  readonly nodes = new Map<NodeId, SimNode>();
  readonly checker: SafetyChecker;
  readonly network: SimNetwork;
  readonly workload: Workload;
  readonly stats: SimStats = {
    events: 0, messages: 0, committed: 0, acked: 0, crashes: 0, crashesInWrite: 0, partitions: 0, snapshotsTaken: 0, snapshotsRestored: 0,
    confChangesApplied: 0, transfers: 0, confChangesProposed: 0, confChangesAccepted: 0, crashesAfterReply: 0, refusableProposed: 0, clockDrifts: 0,
    leadersWithLearners: 0, leadersWithEvenVoters: 0, readsOk: 0, leaderTerms: 0, historyOps: 0, linearizability: 'skipped',
  };
  traceHash = HASH_SEED;
  private readonly initialIds: NodeId[];
  private readonly spares: NodeId[];
  private readonly weights: NemesisWeights;
  private readonly leaders = new Set<NodeId>();
  private readonly removalCommitted = new Set<NodeId>();
  /** `${to}<${from}` → virtual time `to` last received a Raft message from `from`. */
  private readonly heardAtMs = new Map<string, number>();
  private readonly settings: Omit<NodeSettings, 'diskFault'>;
  private committedChecked = 0;
  private fsyncMsMax: number;
  private readonly voteCrashChance: number;
  private readonly replyCrashChance: number;
  /** Chance that a synced write stalls for 20–150 ms (a busy disk): messages keep arriving meanwhile. */
  private readonly fsyncStallChance: number;
  private healedAtMs: number | null = null;
  private electedAtMs: number | null = null;
  private done = false;
  /** The node whose event is being handled (checked after it). */
  private touched: SimNode | null = null;

  constructor(readonly config: SimConfig) {
    this.rng = new Prng(config.seed);
    this.refusedRng = new Prng(config.seed ^ 0x2545f491);
    this.checker = new SafetyChecker(config.seed, () => this.queue.nowMs);
    this.network = new SimNetwork(this.rng.fork(), CALM_NETWORK);
    this.initialIds = Array.from({ length: config.nodes }, (_, i) => `n${i + 1}`);
    this.spares = [`n${config.nodes + 1}`, `n${config.nodes + 2}`];
    this.weights = { ...DEFAULT_WEIGHTS, ...config.weights };
    // Half the runs start with learners beside the voters (from one voter and the rest
    // learners, to all but one voters), so even and odd voter counts, a single voter with
    // learners, and two or more learners held as learners all occur.
    const learnerCount = this.rng.chance(0.5) ? 0 : this.rng.range(1, config.nodes - 1);
    const voterIds = this.initialIds.slice(0, config.nodes - learnerCount);
    const learnerIds = this.initialIds.slice(config.nodes - learnerCount);
    const snapshotEntries = this.rng.range(6, 120);
    this.settings = {
      timing: TIMING,
      // Small messages split appends into many, so a follower often gets fewer entries than
      // the leader's commit index covers (AppendEntries rule 5 then matters).
      raft: { snapshotChunkBytes: 256, maxMsgBytes: this.rng.pick([64, 256, 4096]), maxInflightMsgs: 16, commitBroadcast: Math.floor(config.seed / 2) % 2 === 0 ? 'eager' : 'tick', preVote: this.rng.chance(0.75), checkQuorum: this.rng.chance(0.85),
        // Half the seeds batch every learner's appends (as the agent does for workers), every 1-5 ticks.
        learnerAppendTicks: Math.floor(config.seed / 4) % 2 === 0 ? 0 : 1 + (config.seed % 5), batchedLearner: () => true },
      snapshotEntries,
      snapshotBytes: this.rng.range(300, 4000),
      snapshotKeepEntries: this.rng.range(0, 30),
      snapshotSometimesUnavailable: config.seed % 3 === 0,
      // Off, learners stay learners until the nemesis promotes them (caught up or not).
      promoteLearners: this.rng.chance(0.4),
    };
    // Every synced write takes some time, so there is always an fsync window to crash in.
    this.fsyncMsMax = this.rng.range(1, 12);
    this.voteCrashChance = config.voteCrashChance ?? this.rng.float() * 0.3;
    this.replyCrashChance = this.rng.float() * 0.002;
    this.fsyncStallChance = this.rng.chance(0.5) ? this.rng.float() * 0.05 : 0;
    for (const id of this.initialIds) this.addNode(id, bootstrapPlatter(voterIds, learnerIds));
    this.workload = new Workload(this, { clients: 3, keys: 3, timeoutMs: 1500, thinkMsMax: 40, historyMax: 2000, localReads: config.localReads ?? false });
    this.queue.schedule(this.rng.range(50, 300), { t: 'nemesis' });
    this.queue.schedule(config.faultMs, { t: 'faultEnd' });
  }

  private addNode(id: NodeId, platter: MemoryStorage): SimNode {
    const rate = drawClockRate(this.rng);
    const node = new SimNode(id, new SimDisk(platter), rate, { ...this.settings, diskFault: this.config.diskFault ?? 'none' }, this);
    this.nodes.set(id, node);
    this.onBehalfOf(node, () => this.startNode(node));
    return node;
  }

  private startNode(node: SimNode): void {
    this.checker.observeDurable(node.id, node.disk.platter.initialState().hardState);
    node.start();
  }

  async run(): Promise<SimOutcome> {
    const eventsMax = this.config.eventsMax ?? 5_000_000;
    try {
      while (!this.done) {
        const next = this.queue.pop();
        assert.ok(next !== null, 'the event queue ran dry');
        assert.ok(this.stats.events++ < eventsMax, `more than ${eventsMax} events`);
        this.traceHash = hashNumber(hashString(this.traceHash, next.event.t), next.timeMs);
        this.touched = null;
        this.handle(next.event);
        // Answers to clients are promise continuations: let them run before the next event.
        for (let i = 0; i < MICROTASK_HOPS; i++) await null;
        this.checkAfterEvent(this.touched);
      }
      this.finalChecks();
    } catch (err) {
      return { ok: false, seed: this.config.seed, error: this.asViolation(err), traceHash: this.traceHash, stats: this.stats };
    }
    const electMs = (this.electedAtMs ?? 0) - (this.healedAtMs ?? 0);
    return { ok: true, seed: this.config.seed, electMs, traceHash: this.traceHash, stats: this.stats, endMs: this.queue.nowMs };
  }

  private asViolation(err: unknown): InvariantViolation {
    if (err instanceof InvariantViolation) return err;
    const detail = err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
    return new InvariantViolation(INVARIANT.coreAssertion, this.config.seed, this.queue.nowMs, detail);
  }

  private handle(e: SimEvent): void {
    switch (e.t) {
      case 'call': return this.onCall(e.node, e.inc, e.fn);
      case 'deliver': return this.onDeliver(e.from, e.to, e.envelope);
      case 'client': return this.workload.onClientEvent(e.client, e.opId);
      case 'nemesis': return this.onNemesis();
      case 'restart': return this.onRestart(e.node);
      case 'crash': return this.onCrash(e.node, e.inc);
      case 'heal': return this.network.heal();
      case 'stop': return this.onStop(e.node);
      case 'faultEnd': return this.onFaultEnd();
      case 'check': return this.onLivenessCheck();
    }
  }

  // ---- NodeHost ---------------------------------------------------------------------------
  /** Timers and deferrals of the node whose runtime is being built or run. */
  readonly schedule = (delayMs: number, fn: () => void): void => {
    const node = this.scheduling;
    assert.ok(node !== null, 'a node scheduled work outside its own events');
    this.queue.schedule(delayMs, { t: 'call', node: node.id, inc: node.incarnation, fn });
  };

  /** The node on whose behalf the current code runs (its clock schedules for it). */
  private scheduling: SimNode | null = null;

  virtualNowMs(): number {
    return this.queue.nowMs;
  }

  scheduleDiskCompletion(node: SimNode, sync: boolean, complete: () => void): void {
    const delayMs = !sync ? 0 : this.fsyncStallChance > 0 && this.rng.chance(this.fsyncStallChance) ? this.rng.range(20, 150) : this.rng.range(0, this.fsyncMsMax);
    this.queue.schedule(delayMs, { t: 'call', node: node.id, inc: node.incarnation, fn: () => {
      complete();
      if (sync) this.checker.observeDurable(node.id, node.disk.platter.initialState().hardState);
    } });
  }

  writeIssued(node: SimNode, batch: PersistBatch, store: SimLogStore): void {
    const first = batch.entries[0];
    if (first === undefined) return;
    let prevTerm: number | null = null;
    const view = node.logView(Number.MAX_SAFE_INTEGER);
    if (batch.snapshot !== null && batch.snapshot.meta.index === first.index - 1) prevTerm = batch.snapshot.meta.term;
    else if (first.index - 1 >= store.current.firstIndex() - 1) {
      const t = view.termAt(first.index - 1);
      if (typeof t === 'number') prevTerm = t;
    }
    for (const e of batch.entries) {
      this.checker.observeEntry(node.id, e, prevTerm);
      prevTerm = e.term;
    }
  }

  snapshotCreated(node: SimNode, index: number, conf: ConfState): void {
    const expected = node.kv?.confAt(index) ?? null;
    if (expected !== null) this.checker.checkConf(node.id, `took a snapshot at ${index} recording the membership`, conf, expected);
  }

  events(node: SimNode): NodeEvents {
    return {
      snapshotTaken: () => void this.stats.snapshotsTaken++,
    };
  }

  kvObserver(node: SimNode): KvObserver {
    return {
      applied: (entry, digest) => this.onApplied(node, entry, digest),
      restored: (index, term, digest) => {
        this.stats.snapshotsRestored++;
        this.checker.observeRestore(node.id, index, term, digest, node.runtime?.term() ?? 0);
      },
    };
  }

  send(from: NodeId, to: NodeId, envelope: NodeEnvelope): void {
    this.stats.messages++;
    if (envelope.channel === 'raft') this.observeReply(from, to, envelope.message);
    const delays = this.network.route(from, to);
    if (delays.length === 0 && this.network.isBlocked(from, to)) {
      const sender = this.nodes.get(from);
      // As the TCP transport does when it cannot reach a peer.
      if (envelope.channel === 'raft') this.onBehalfOf(sender ?? null, () => sender?.runtime?.reportUnreachable(to));
    }
    // Every queue has a limit: a protocol that multiplies its own messages is a bug, named here
    // rather than discovered as an out-of-memory crash.
    if (this.queue.size > MESSAGES_IN_FLIGHT_MAX) this.checker.fail(INVARIANT.boundedTraffic, `more than ${MESSAGES_IN_FLIGHT_MAX} events pending; last message ${envelope.channel === 'raft' ? envelope.message.type : envelope.channel} ${from}>${to}`);
    for (const d of delays) this.queue.schedule(d, { t: 'deliver', from, to, envelope });
  }

  /**
   * Votes granted are checked on the wire. A node that has just answered — a vote, or an
   * append — sometimes crashes within its fsync window: an answer released before the
   * write it promises is durable is then visible as a broken promise.
   */
  private observeReply(from: NodeId, to: NodeId, m: Message): void {
    if (m.type === 'voteResp' && !m.pre && !m.reject) this.checker.observeVoteGranted(from, m.term, to);
    if (this.healedAtMs !== null) return;
    const chance = m.type === 'voteResp' && !m.reject ? this.voteCrashChance : m.type === 'appResp' ? this.replyCrashChance : 0;
    if (chance === 0 || !this.rng.chance(chance)) return;
    const node = this.nodes.get(from);
    if (node === undefined) return;
    this.stats.crashesAfterReply++;
    this.queue.schedule(this.rng.range(0, this.fsyncMsMax), { t: 'crash', node: from, inc: node.incarnation });
  }

  /** Runs `fn` as work of `node`: what its clock schedules meanwhile belongs to it. */
  private onBehalfOf(node: SimNode | null, fn: () => void): void {
    const previous = this.scheduling;
    this.scheduling = node;
    try {
      fn();
    } finally {
      this.scheduling = previous;
    }
  }

  private onCall(id: NodeId, inc: number, fn: () => void): void {
    const node = this.nodes.get(id) as SimNode;
    if (node.incarnation !== inc || node.runtime === null) return;
    this.touched = node;
    this.onBehalfOf(node, fn);
  }

  private onDeliver(from: NodeId, to: NodeId, envelope: NodeEnvelope): void {
    const node = this.nodes.get(to);
    if (node === undefined || node.runtime === null) return;
    if (this.network.isBlocked(from, to)) return; // the cut happened while it was in flight
    if (envelope.channel === 'raft') {
      this.traceHash = hashString(this.traceHash, envelope.message.type);
      this.heardAtMs.set(`${to}<${from}`, this.queue.nowMs);
    }
    this.touched = node;
    const runtime = node.runtime;
    this.onBehalfOf(node, () => runtime.receive(from, envelope));
  }

  private onApplied(node: SimNode, entry: Entry, digest: number): void {
    const term = node.runtime?.term() ?? 0;
    const fresh = this.checker.observeApplied(node.id, entry.index, entry.term, digest, term);
    if (fresh) this.stats.committed = this.checker.committedMax;
    if (entry.kind !== 'conf') return;
    if (fresh && entry.index > this.config.nodes) this.stats.confChangesApplied++;
    const cc = decodeConfChange(entry.data);
    if (cc.type === 'remove' && !this.removalCommitted.has(cc.node)) {
      this.removalCommitted.add(cc.node);
      this.queue.schedule(this.rng.range(0, 300), { t: 'stop', node: cc.node });
    }
  }

  // ---- WorkloadHost -----------------------------------------------------------------------
  nowMs(): number {
    return this.queue.nowMs;
  }

  scheduleClient(delayMs: number, client: number, opId: number | null): void {
    this.queue.schedule(delayMs, { t: 'client', client, opId });
  }

  node(id: NodeId): SimNode | undefined {
    return this.nodes.get(id);
  }

  nodeIds(): NodeId[] {
    return [...this.nodes.values()].filter((n) => !n.removed).map((n) => n.id);
  }

  onAck(value: string, index: number, term: number): void {
    this.stats.acked++;
    this.checker.observeAck(value, index, term);
  }

  onReadOk(): void {
    this.stats.readsOk++;
  }

  /** Client requests run as work of the node they go to. */
  submitTo(node: SimNode, fn: () => void): void {
    this.onBehalfOf(node, fn);
  }

  // ---- checks -----------------------------------------------------------------------------
  /** The safety checks that must hold after every single event. */
  private checkAfterEvent(touched: SimNode | null): void {
    if (touched !== null && touched.runtime !== null) this.checkNode(touched);
    if (this.checker.committedMax > this.committedChecked) {
      for (const id of this.leaders) {
        const n = this.nodes.get(id) as SimNode;
        if (n.runtime === null) continue;
        const st = n.status();
        this.checker.checkLeaderLog(id, st.hardState.term, n.logView(st.lastIndex), this.committedChecked + 1);
      }
      this.committedChecked = this.checker.committedMax;
    }
  }

  private checkNode(node: SimNode): void {
    const st = node.status();
    const kv = node.kv;
    assert.ok(kv !== null);
    const { term, commit } = st.hardState;
    this.checker.observeProgress(node.id, node.incarnation, term, commit, kv.appliedIndex);
    // The core's membership is the one of its applied prefix — except while a snapshot it
    // installed waits for advance(): then it is already the snapshot's.
    if (st.snapshotPending === null) {
      const expected = kv.confAt(st.applied);
      if (expected !== null) this.checker.checkConf(node.id, `has membership at applied index ${st.applied}`, st.conf, expected);
    }
    if (st.softState.role !== 'leader') {
      this.leaders.delete(node.id);
      if (st.softState.role === 'candidate' && node.candidateTerm !== term) this.maybeCrashCandidate(node, term);
      return;
    }
    this.leaders.add(node.id);
    this.checker.observeLeader(node.id, term);
    this.checker.checkLeaderNotLearner(node.id, term, st.conf);
    const view = node.logView(st.lastIndex);
    if (node.leaderTerm !== term) {
      node.leaderTerm = term;
      node.leaderSinceMs = this.queue.nowMs;
      node.leaderCommitChecked = commit;
      node.leaderCommitVoters = [];
      this.stats.leaderTerms++;
      if (st.conf.learners.length >= 2) this.stats.leadersWithLearners++;
      if (st.conf.voters.length % 2 === 0) this.stats.leadersWithEvenVoters++;
      // A change proposed before the new leader applied an entry of its term: refused
      // (the 2015 raft-dev correction to single-server changes).
      if (this.healedAtMs === null && this.refusedRng.chance(0.3)) this.proposeRefusable(node);
      this.checker.checkLeaderLog(node.id, term, view);
    }
    if (commit > node.leaderCommitChecked) {
      // The commit may have advanced just before a membership change took effect in the
      // same advance(), so either the voters before or after this event may have counted it.
      const t = view.termAt(commit);
      if (typeof t === 'number') {
        this.checker.checkLeaderCommitTerm(node.id, term, commit, t);
        const holds = (v: NodeId): boolean => this.nodes.get(v)?.holdsDurably(commit, t) ?? false;
        const before = node.lastVoters.length > 0 ? [node.lastVoters] : [];
        // Thesis §4.1, which src/raft takes for one case only: a voter of two whose log holds,
        // unapplied, the change that leaves it the only voter counts itself a majority.
        const unapplied = this.unappliedConfEntries(node, st.applied, st.lastIndex);
        const sole = this.soleVoterOfLog(node, st.conf, unapplied);
        this.checker.checkConfLag(node.id, term, commit, unapplied.map((e) => `${e.index}/${e.term}`));
        this.checker.checkCommittedMajority(node.id, commit, [...before, st.conf.voters, ...sole], holds);
        node.leaderCommitVoters = before.length > 0 && before[0] !== undefined && before[0].filter(holds).length * 2 > before[0].length ? before[0]
          : sole[0] !== undefined && st.conf.voters.filter(holds).length * 2 <= st.conf.voters.length ? sole[0] : st.conf.voters;
      }
      node.leaderCommitChecked = commit;
    }
    const nowMs = this.queue.nowMs;
    // The window starts again when the voters change: a voter just added was never heard.
    if (node.lastVoters.join(',') !== st.conf.voters.join(',')) node.leaderSinceMs = nowMs;
    node.lastVoters = st.conf.voters;
    this.checkConfChangesPending(node, term, st.applied, st.lastIndex);
    // A removed leader handing off is no member: it has no majority to lose, and it stays on
    // until the only voter left answers, however long that voter is away (src/raft).
    if (this.settings.raft.checkQuorum === true && !st.handingOff && nowMs - node.leaderSinceMs > CHECK_QUORUM_WINDOW_MS) {
      const heard = st.conf.voters.filter((v) => v === node.id || (this.heardAtMs.get(`${node.id}<${v}`) ?? -Infinity) >= nowMs - CHECK_QUORUM_WINDOW_MS);
      this.checker.checkQuorumContact(node.id, term, st.conf.voters, heard, CHECK_QUORUM_WINDOW_MS);
    }
    if (this.healedAtMs !== null && this.electedAtMs === null && view.termAt(commit) === term) this.electedAtMs = this.queue.nowMs;
  }

  /**
   * Thesis §4.1: a leader appends a membership change only when every earlier one is
   * applied, and (the 2015 raft-dev correction) only once it applied an entry of its term.
   */
  private checkConfChangesPending(node: SimNode, term: number, applied: number, lastIndex: number): void {
    const conf = this.unappliedConfEntries(node, applied, lastIndex);
    const own = conf.filter((e) => e.term === term);
    if (own.length === 0) return; // inherited changes may be several: the new leader commits them in its term
    const indexes = conf.map((e) => `${e.index}/${e.term}`).join(', ');
    if (conf.length > 1) this.checker.fail(INVARIANT.oneConfChange, `leader ${node.id} of term ${term} appended a membership change while another was not applied: ${indexes} beyond its applied index ${applied}`);
    if (node.logView(lastIndex).termAt(applied) !== term) this.checker.fail(INVARIANT.oneConfChange, `leader ${node.id} of term ${term} appended a membership change at ${own[0]?.index ?? 0} before applying an entry of its own term (applied ${applied})`);
  }

  /** The membership changes in a node's log (stored or being written) past its applied index. */
  private unappliedConfEntries(node: SimNode, applied: number, lastIndex: number): Entry[] {
    const conf: Entry[] = [];
    const view = node.store.current;
    const storedLast = Math.min(lastIndex, view.lastIndex());
    const from = Math.max(applied + 1, view.firstIndex());
    if (from <= storedLast) for (const e of view.entries(from, storedLast + 1, Number.MAX_SAFE_INTEGER)) if (e.kind === 'conf') conf.push(e);
    for (const batch of node.store.inFlightWrites()) for (const e of batch.entries) if (e.kind === 'conf' && e.index > applied && !conf.some((c) => c.index === e.index)) conf.push(e);
    return conf;
  }

  /** [[node]] when the node is a voter of two whose log holds, unapplied, the one change that leaves it the only voter; else []. */
  private soleVoterOfLog(node: SimNode, conf: ConfState, changes: readonly Entry[]): NodeId[][] {
    if (conf.voters.length !== 2 || !conf.voters.includes(node.id)) return [];
    const [only] = changes;
    if (changes.length !== 1 || only === undefined) return [];
    const next = applyConfChange(conf, decodeConfChange(only.data));
    return next.voters.length === 1 && next.voters[0] === node.id ? [[node.id]] : [];
  }

  /**
   * Durable state only shrinks when a node restarts (or truncates an uncommitted suffix), so
   * after a restart every leader's commit index must still be held by a majority.
   */
  private recheckAfterRestart(restarted: SimNode): void {
    const hs = restarted.status().hardState;
    for (const id of this.leaders) {
      const n = this.nodes.get(id) as SimNode;
      if (n.runtime === null) continue;
      const st = n.status();
      const view = n.logView(st.lastIndex);
      const match = st.progress.get(restarted.id)?.match ?? 0;
      const matchTerm = view.termAt(match);
      if (match > 0 && typeof matchTerm === 'number') {
        this.checker.checkMatchDurable(id, st.hardState.term, restarted.id, hs.term, match, restarted.holdsDurably(match, matchTerm));
      }
      const commit = Math.min(st.hardState.commit, n.leaderCommitChecked);
      const t = view.termAt(commit);
      if (typeof t !== 'number' || n.leaderCommitVoters.length === 0) continue;
      this.checker.checkCommittedMajority(id, commit, [n.leaderCommitVoters], (v) => this.nodes.get(v)?.holdsDurably(commit, t) ?? false);
    }
  }

  private currentLeader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const id of this.leaders) {
      const n = this.nodes.get(id) as SimNode;
      if (n.runtime === null) continue;
      const t = n.status().hardState.term;
      if (t > bestTerm) [best, bestTerm] = [n, t];
    }
    return best;
  }

  // ---- the nemesis ------------------------------------------------------------------------
  private onNemesis(): void {
    this.checkAnswered();
    if (this.healedAtMs !== null) return;
    const action = pickAction(this.rng, this.weights);
    this.traceHash = hashString(this.traceHash, action);
    switch (action) {
      case 'crash': this.nemesisCrash(); break;
      case 'partition': this.nemesisPartition(); break;
      case 'heal': this.network.heal(); break;
      case 'weather': this.network.setFaults(drawWeather(this.rng)); break;
      case 'transfer': this.nemesisTransfer(); break;
      case 'membership': this.nemesisMembership(); break;
      case 'campaign': this.nemesisCampaign(); break;
      case 'clock': this.nemesisClock(); break;
      case 'none': break;
    }
    this.queue.schedule(this.rng.range(50, 500), { t: 'nemesis' });
  }

  private maybeCrashCandidate(node: SimNode, term: number): void {
    node.candidateTerm = term;
    if (this.healedAtMs !== null || !this.rng.chance(this.config.candidateCrashChance ?? 0.05)) return;
    this.queue.schedule(this.rng.range(0, 10), { t: 'crash', node: node.id, inc: node.incarnation });
  }

  private onCrash(id: NodeId, inc: number): void {
    const node = this.nodes.get(id) as SimNode;
    if (node.incarnation === inc && node.up && this.healedAtMs === null) this.crashNode(node);
  }

  /** Crashes a random node; half the time one with a disk write in flight, if there is one. */
  private nemesisCrash(): void {
    const up = [...this.nodes.values()].filter((n) => n.up);
    if (up.length <= 1) return;
    const writing = up.filter((n) => n.store.busy);
    this.crashNode(writing.length > 0 && this.rng.chance(0.5) ? this.rng.pick(writing) : this.rng.pick(up));
  }

  private crashNode(victim: SimNode): void {
    if (victim.store.busy) this.stats.crashesInWrite++;
    victim.crash(this.rng);
    this.leaders.delete(victim.id);
    this.workload.onCrash(victim.id);
    this.stats.crashes++;
    this.queue.schedule(this.rng.range(20, this.config.restartMsMax ?? 2000), { t: 'restart', node: victim.id });
  }

  private onRestart(id: NodeId): void {
    const node = this.nodes.get(id) as SimNode;
    if (node.up || node.removed) return;
    this.onBehalfOf(node, () => this.startNode(node));
    this.touched = node;
    this.recheckAfterRestart(node);
  }

  private nemesisPartition(): void {
    const leader = this.currentLeader();
    const { links } = drawPartition(this.rng, this.nodeIds(), leader?.id ?? null);
    this.network.setBlocked(links);
    this.stats.partitions++;
    this.queue.schedule(this.rng.range(100, 3000), { t: 'heal' });
  }

  /** Nodes that believe they lead: a deposed leader that has not noticed yet is one of them. */
  private believedLeaders(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.runtime?.isLeader() === true);
  }

  /** Asks a node that believes it leads to hand over to a random member (a learner is refused). */
  private nemesisTransfer(): void {
    const leaders = this.believedLeaders();
    if (leaders.length === 0) return;
    const leader = this.rng.pick(leaders);
    const runtime = leader.runtime;
    if (runtime === null) return;
    const { voters, learners } = leader.status().conf;
    const others = [...voters, ...learners].filter((v) => v !== leader.id);
    if (others.length === 0) return;
    const to = this.rng.pick(others);
    this.onBehalfOf(leader, () => {
      try {
        runtime.transferLeadership(to);
        this.stats.transfers++;
      } catch (error) {
        if (!isChimeError(error)) throw error;
      }
    });
  }

  private nemesisCampaign(): void {
    const up = [...this.nodes.values()].filter((n) => n.up);
    if (up.length === 0) return;
    const n = this.rng.pick(up);
    this.onBehalfOf(n, () => n.runtime?.campaign());
  }

  /** A node's clock starts running at another rate. */
  private nemesisClock(): void {
    const nodes = [...this.nodes.values()].filter((n) => !n.removed);
    if (nodes.length === 0) return;
    this.rng.pick(nodes).setClockRate(drawClockRate(this.rng));
    this.stats.clockDrifts++;
  }

  /**
   * One membership change, drawn without looking at anyone's membership: add a learner,
   * promote (add a voter, caught up or not — a node never added as learner too), or remove,
   * any node, the proposer itself included. It goes to a node that believes it leads (a
   * deposed one included) or, now and then, to any node (which refuses: not the leader).
   * So changes conflict, come too early, remove the leader, shrink to even or single-voter
   * clusters; the core accepts what its own rules allow. Nodes whose removal was applied
   * somewhere have been stopped and are never proposed again.
   */
  private nemesisMembership(): void {
    const up = [...this.nodes.values()].filter((n) => n.up);
    if (up.length === 0) return;
    const leaders = up.filter((n) => n.runtime?.isLeader() === true);
    const proposer = leaders.length > 0 && this.rng.chance(0.85) ? this.rng.pick(leaders) : this.rng.pick(up);
    const runtime = proposer.runtime;
    if (runtime === null) return;
    const live = [...this.nodes.values()].filter((n) => !n.removed && !this.removalCommitted.has(n.id)).map((n) => n.id);
    const kind = this.rng.pick(['addLearner', 'addVoter', 'remove'] as const);
    const target = this.rng.pick(kind === 'remove' || this.spares.length === 0 ? live : [...live, this.spares[0] as NodeId]);
    if (!this.nodes.has(target)) {
      this.spares.shift();
      this.addNode(target, new MemoryStorage());
    }
    this.stats.confChangesProposed++;
    const lastIndexBefore = proposer.status().lastIndex;
    this.onBehalfOf(proposer, () => {
      const proposal = kind === 'addLearner' ? runtime.addMember(target, { rpc: `${target}:rpc`, http: `${target}:http` }) : kind === 'addVoter' ? runtime.promoteMember(target) : runtime.removeMember(target);
      proposal.catch((error: unknown) => {
        if (!isChimeError(error)) throw error;
      });
    });
    if (proposer.runtime !== null && proposer.status().lastIndex > lastIndexBefore) {
      this.stats.confChangesAccepted++;
      // While that change is pending, another: the core must refuse it (thesis §4.1).
      if (this.refusedRng.chance(0.5)) this.proposeRefusable(proposer);
    }
  }

  /** A membership change that the core must refuse now; drawn from `refusedRng`, on existing nodes only. */
  private proposeRefusable(proposer: SimNode): void {
    const runtime = proposer.runtime;
    if (runtime === null || !runtime.isLeader()) return;
    const live = [...this.nodes.values()].filter((n) => !n.removed && !this.removalCommitted.has(n.id)).map((n) => n.id);
    const kind = this.refusedRng.pick(['addLearner', 'addVoter', 'remove'] as const);
    const target = this.refusedRng.pick(live);
    this.stats.refusableProposed++;
    this.onBehalfOf(proposer, () => {
      const proposal = kind === 'addLearner' ? runtime.addMember(target, { rpc: `${target}:rpc`, http: `${target}:http` }) : kind === 'addVoter' ? runtime.promoteMember(target) : runtime.removeMember(target);
      proposal.catch((error: unknown) => {
        if (!isChimeError(error)) throw error;
      });
    });
  }

  /**
   * The operator shuts a removed node down — once it no longer leads and does not hand off:
   * a leader removed from two voters first tells the other voter (src/raft removalHandOff),
   * for as long as that takes. Down (crashed) it is shut down as it is.
   */
  private onStop(id: NodeId): void {
    const node = this.nodes.get(id);
    if (node === undefined || node.removed) return;
    if (node.runtime?.isLeader() === true || node.runtime?.handingOff() === true) {
      this.queue.schedule(50, { t: 'stop', node: id });
      return;
    }
    if (node.up) {
      node.crash(this.rng);
      this.workload.onCrash(id);
    }
    node.removed = true;
    this.leaders.delete(id);
  }

  private onFaultEnd(): void {
    this.network.heal();
    this.network.setFaults(CALM_NETWORK);
    for (const n of this.nodes.values()) if (!n.up && !n.removed) this.onBehalfOf(n, () => this.startNode(n));
    this.workload.enterFinalPhase();
    this.healedAtMs = this.queue.nowMs;
    this.queue.schedule(50, { t: 'check' });
  }

  /** The `answered` invariant: no call on a live incarnation waits past ANSWER_WINDOW_MS. */
  private checkAnswered(): void {
    const late = this.workload.overdue(this.queue.nowMs, ANSWER_WINDOW_MS);
    if (late !== null) this.checker.fail(INVARIANT.answered, late);
  }

  /** Liveness: after healing, a leader, every final write acknowledged, everyone caught up. */
  private onLivenessCheck(): void {
    this.checkAnswered();
    const healedAtMs = this.healedAtMs as number;
    const why = this.notYetLive();
    if (why === null) {
      this.done = true;
      return;
    }
    const budgetMs = this.config.livenessBudgetMs ?? 20_000;
    if (this.queue.nowMs - healedAtMs > budgetMs) this.checker.fail(INVARIANT.liveness, `not recovered ${budgetMs}ms after healing: ${why}`);
    this.queue.schedule(50, { t: 'check' });
  }

  private notYetLive(): string | null {
    const leader = this.currentLeader();
    if (leader === null || this.electedAtMs === null) return 'no leader';
    if (!this.workload.acknowledgedFinal) return 'final writes not acknowledged';
    const st = leader.status();
    if (st.hardState.commit !== st.lastIndex) return `leader ${leader.id} has uncommitted entries`;
    for (const id of [...st.conf.voters, ...st.conf.learners]) {
      const n = this.nodes.get(id);
      if (n === undefined || n.removed || this.removalCommitted.has(id)) continue;
      if (n.kv === null || n.kv.appliedIndex !== st.lastIndex) return `${id} applied ${n.kv?.appliedIndex ?? 'nothing'} of ${st.lastIndex}`;
    }
    return null;
  }

  private finalChecks(): void {
    const leader = this.currentLeader() as SimNode;
    const st = leader.status();
    for (const id of [...st.conf.voters, ...st.conf.learners]) {
      const n = this.nodes.get(id);
      if (n?.kv != null) this.checker.checkAcksIn(id, n.kv.valueSet);
    }
    this.stats.historyOps = this.workload.history.length;
    const lin = checkKvHistory(this.workload.history, { stepsMaxPerKey: 500_000 });
    if (lin.ok === false) this.checker.fail(INVARIANT.linearizability, `key ${lin.key}: ${lin.reason}`);
    this.stats.linearizability = lin.ok === true ? 'ok' : 'unknown';
  }
}

export function runSimulation(config: SimConfig): Promise<SimOutcome> {
  return new Simulation(config).run();
}

export function replayCommand(seed: number, nodes: number, faultMs: number): string {
  return `npm run sim -- --seed ${seed} --nodes ${nodes} --time-ms ${faultMs}`;
}

/** A node's clock rate against virtual time: 0.6x to 1.6x. */
function drawClockRate(rng: Prng): number {
  return CLOCK_RATE_MIN + rng.float();
}

/**
 * The disk every initial node starts from: the voters, then the learners, as committed
 * membership entries of term 1 (what `chime agent` writes when it founds a cluster).
 */
function bootstrapPlatter(voters: readonly NodeId[], learners: readonly NodeId[]): MemoryStorage {
  const storage = new MemoryStorage();
  storage.applySnapshot({ meta: { index: 0, term: 0, conf: { voters: [...voters], learners: [] } }, data: new Uint8Array(0) });
  const changes = [...voters.map((node) => ({ type: 'addVoter' as const, node, context: '' })), ...learners.map((node) => ({ type: 'addLearner' as const, node, context: '' }))];
  storage.append(changes.map((change, i) => ({ index: i + 1, term: 1, kind: 'conf' as const, data: encodeConfChange(change) })));
  storage.setHardState({ term: 1, vote: null, commit: changes.length });
  return storage;
}
