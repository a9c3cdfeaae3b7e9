// One deterministic simulation run: a cluster of SimNodes on a SimNetwork driven by one
// EventQueue and one Prng, a fault phase drawn from the seed, then a healed phase in which
// the cluster must recover within a time bound. Safety invariants run after every event.
import assert from 'node:assert/strict';
import { MemoryStorage, bootstrapStorage, decodeConfChange } from '../../src/raft/index.js';
import type { Entry, HardState, Message, NodeId, Ready, ReadFailure, Snapshot } from '../../src/raft/types.js';
import { EventQueue } from './event-queue.js';
import { HASH_SEED, hashNumber, hashString } from './hash.js';
import { INVARIANT, InvariantViolation, SafetyChecker } from './invariants.js';
import { checkKvHistory } from './linearizability.js';
import { CALM_NETWORK, SimNetwork } from './network.js';
import { DEFAULT_WEIGHTS, drawPartition, drawWeather, pickAction, type NemesisWeights } from './nemesis.js';
import { Prng } from './prng.js';
import { SimNode, type DiskFault, type NodeHost, type RaftTuning } from './sim-node.js';
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
  readonly eventsMax?: number;
}

export interface SimStats {
  events: number;
  messages: number;
  committed: number;
  acked: number;
  crashes: number;
  partitions: number;
  snapshotsTaken: number;
  snapshotsRestored: number;
  confChangesApplied: number;
  transfers: number;
  readsOk: number;
  leaderTerms: number;
  historyOps: number;
  linearizability: 'ok' | 'unknown' | 'skipped';
}

export type SimOutcome =
  | { readonly ok: true; readonly seed: number; readonly electMs: number; readonly traceHash: number; readonly stats: SimStats; readonly endMs: number }
  | { readonly ok: false; readonly seed: number; readonly error: InvariantViolation; readonly traceHash: number; readonly stats: SimStats };

type SimEvent =
  | { readonly t: 'tick'; readonly node: NodeId; readonly inc: number }
  | { readonly t: 'persist'; readonly node: NodeId; readonly inc: number }
  | { readonly t: 'deliver'; readonly m: Message }
  | { readonly t: 'client'; readonly client: number; readonly opId: number | null }
  | { readonly t: 'nemesis' }
  | { readonly t: 'restart'; readonly node: NodeId }
  | { readonly t: 'crash'; readonly node: NodeId; readonly inc: number }
  | { readonly t: 'heal' }
  | { readonly t: 'stop'; readonly node: NodeId }
  | { readonly t: 'faultEnd' }
  | { readonly t: 'check' };

const TICK_MS = 10;
const MESSAGES_IN_FLIGHT_MAX = 50_000;
const TUNING: Omit<RaftTuning, 'commitBroadcast' | 'snapshotSometimesUnavailable'> = { heartbeatTicks: 2, electionTicks: 10, snapshotChunkBytes: 256, maxMsgBytes: 4096, maxInflightMsgs: 16 };

export class Simulation implements NodeHost {
  readonly rng: Prng;
  readonly queue = new EventQueue<SimEvent>(1_000_000);
  readonly nodes = new Map<NodeId, SimNode>();
  readonly checker: SafetyChecker;
  readonly network: SimNetwork;
  readonly workload: Workload;
  readonly stats: SimStats = {
    events: 0, messages: 0, committed: 0, acked: 0, crashes: 0, partitions: 0, snapshotsTaken: 0, snapshotsRestored: 0,
    confChangesApplied: 0, transfers: 0, readsOk: 0, leaderTerms: 0, historyOps: 0, linearizability: 'skipped',
  };
  traceHash = HASH_SEED;
  private readonly initialIds: NodeId[];
  private readonly spares: NodeId[];
  private readonly weights: NemesisWeights;
  private readonly leaders = new Set<NodeId>();
  private readonly removalCommitted = new Set<NodeId>();
  private committedChecked = 0;
  private snapshotChance: number;
  private fsyncMsMax: number;
  private healedAtMs: number | null = null;
  private electedAtMs: number | null = null;
  private done = false;

  constructor(readonly config: SimConfig) {
    this.rng = new Prng(config.seed);
    this.checker = new SafetyChecker(config.seed, () => this.queue.nowMs);
    this.network = new SimNetwork(this.rng.fork(), CALM_NETWORK);
    this.initialIds = Array.from({ length: config.nodes }, (_, i) => `n${i + 1}`);
    this.spares = [`n${config.nodes + 1}`, `n${config.nodes + 2}`];
    this.weights = { ...DEFAULT_WEIGHTS, ...config.weights };
    this.snapshotChance = this.rng.float() * 0.15 + 0.01;
    this.fsyncMsMax = this.rng.range(0, 8);
    for (const id of this.initialIds) {
      const storage = new MemoryStorage();
      bootstrapStorage(storage, this.initialIds.map((v) => ({ id: v, context: '' })));
      this.addNode(id, storage);
    }
    this.workload = new Workload(this, { clients: 3, keys: 3, timeoutMs: 1500, thinkMsMax: 40, historyMax: 2000, localReads: config.localReads ?? false });
    this.queue.schedule(this.rng.range(50, 300), { t: 'nemesis' });
    this.queue.schedule(config.faultMs, { t: 'faultEnd' });
  }

  private addNode(id: NodeId, storage: MemoryStorage): SimNode {
    // Each node's clock runs at its own rate, 0.7x to 1.5x of real time.
    const rate = 0.7 + this.rng.float() * 0.8;
    const node = new SimNode(id, storage, Math.max(1, Math.round(TICK_MS / rate)), { ...TUNING, commitBroadcast: Math.floor(this.config.seed / 2) % 2 === 0 ? 'eager' : 'tick', snapshotSometimesUnavailable: this.config.seed % 3 === 0 }, this.config.diskFault ?? 'none', this);
    this.nodes.set(id, node);
    this.startNode(node);
    return node;
  }

  private startNode(node: SimNode): void {
    node.start();
    this.checker.observeDurable(node.id, node.status().hardState);
    this.queue.schedule(this.rng.range(1, node.tickIntervalMs), { t: 'tick', node: node.id, inc: node.incarnation });
    this.pump(node);
  }

  run(): SimOutcome {
    const eventsMax = this.config.eventsMax ?? 5_000_000;
    try {
      while (!this.done) {
        const next = this.queue.pop();
        assert.ok(next !== null, 'the event queue ran dry');
        assert.ok(this.stats.events++ < eventsMax, `more than ${eventsMax} events`);
        this.traceHash = hashNumber(hashString(this.traceHash, next.event.t), next.timeMs);
        const touched = this.handle(next.event);
        this.checkAfterEvent(touched);
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

  private handle(e: SimEvent): SimNode | null {
    switch (e.t) {
      case 'tick': return this.onTick(e.node, e.inc);
      case 'persist': return this.onPersist(e.node, e.inc);
      case 'deliver': return this.onDeliver(e.m);
      case 'client': this.workload.onClientEvent(e.client, e.opId); return null;
      case 'nemesis': this.onNemesis(); return null;
      case 'restart': return this.onRestart(e.node);
      case 'crash': this.onCrash(e.node, e.inc); return null;
      case 'heal': this.network.heal(); return null;
      case 'stop': this.onStop(e.node); return null;
      case 'faultEnd': this.onFaultEnd(); return null;
      case 'check': this.onLivenessCheck(); return null;
    }
  }

  private onTick(id: NodeId, inc: number): SimNode | null {
    const node = this.nodes.get(id) as SimNode;
    if (node.incarnation !== inc || node.raw === null) return null;
    node.raw.tick();
    this.queue.schedule(node.tickIntervalMs, { t: 'tick', node: id, inc });
    this.pump(node);
    return node;
  }

  private pump(node: SimNode): void {
    const ready = node.takeReady();
    if (ready === null) return;
    const delayMs = ready.mustSync ? this.rng.range(0, this.fsyncMsMax) : 0;
    this.queue.schedule(delayMs, { t: 'persist', node: node.id, inc: node.incarnation });
  }

  private onPersist(id: NodeId, inc: number): SimNode | null {
    const node = this.nodes.get(id) as SimNode;
    if (node.incarnation !== inc || node.raw === null) return null;
    node.finishPersist();
    if (this.rng.chance(this.snapshotChance)) {
      const before = node.storage.snapshot().meta.index;
      node.snapshotAndCompact(this.rng.range(0, 30));
      if (node.storage.snapshot().meta.index !== before) this.stats.snapshotsTaken++;
    }
    this.pump(node);
    return node;
  }

  private onDeliver(m: Message): SimNode | null {
    const node = this.nodes.get(m.to);
    if (node === undefined || node.raw === null) return null;
    if (this.network.isBlocked(m.from, m.to)) return null; // the cut happened while it was in flight
    this.traceHash = hashString(this.traceHash, m.type);
    node.raw.step(m);
    this.pump(node);
    return node;
  }

  send(m: Message): void {
    this.stats.messages++;
    const delays = this.network.route(m.from, m.to);
    if (delays.length === 0 && this.network.isBlocked(m.from, m.to)) {
      const sender = this.nodes.get(m.from);
      sender?.raw?.reportUnreachable(m.to);
      if (m.type === 'snap') sender?.raw?.reportSnapshot(m.to, false);
    }
    // Every queue has a limit: a protocol that multiplies its own messages is a bug, named here
    // rather than discovered as an out-of-memory crash.
    if (this.queue.size > MESSAGES_IN_FLIGHT_MAX) this.checker.fail(INVARIANT.boundedTraffic, `more than ${MESSAGES_IN_FLIGHT_MAX} events pending; last message ${m.type} ${m.from}>${m.to}`);
    for (const d of delays) this.queue.schedule(d, { t: 'deliver', m });
  }

  onReadyTaken(node: SimNode, ready: Ready): void {
    const first = ready.entries[0];
    if (first === undefined) return;
    let prevTerm: number | null = null;
    if (ready.snapshot !== null && ready.snapshot.meta.index === first.index - 1) prevTerm = ready.snapshot.meta.term;
    else if (first.index - 1 >= node.storage.firstIndex() - 1 && first.index - 1 <= node.storage.lastIndex()) prevTerm = node.storage.term(first.index - 1);
    for (const e of ready.entries) {
      this.checker.observeEntry(node.id, e, prevTerm);
      prevTerm = e.term;
    }
  }

  onPersisted(node: SimNode, hs: HardState): void {
    this.checker.observeDurable(node.id, hs);
  }

  onApplied(node: SimNode, entry: Entry): void {
    const sm = node.sm;
    assert.ok(sm !== null);
    const term = node.raw?.status().hardState.term ?? 0;
    const fresh = this.checker.observeApplied(node.id, entry.index, entry.term, sm.digest, term);
    if (fresh) this.stats.committed = this.checker.committedMax;
    if (entry.kind === 'conf') {
      if (fresh && entry.index > this.config.nodes) this.stats.confChangesApplied++;
      const cc = decodeConfChange(entry.data);
      if (cc.type === 'remove' && !this.removalCommitted.has(cc.node)) {
        this.removalCommitted.add(cc.node);
        this.queue.schedule(this.rng.range(0, 300), { t: 'stop', node: cc.node });
      }
    }
    this.workload.onApplied(node, entry);
  }

  onRestored(node: SimNode, snap: Snapshot): void {
    this.stats.snapshotsRestored++;
    const sm = node.sm;
    assert.ok(sm !== null);
    this.checker.observeRestore(node.id, snap.meta.index, snap.meta.term, sm.digest, node.raw?.status().hardState.term ?? 0);
  }

  onReadReady(node: SimNode, context: string): void {
    this.stats.readsOk++;
    this.workload.onReadReady(node, context);
  }

  onReadFailed(node: SimNode, failure: ReadFailure): void {
    this.workload.onReadFailed(node, failure);
  }

  // WorkloadHost
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

  /** The safety checks that must hold after every single event. */
  private checkAfterEvent(touched: SimNode | null): void {
    if (touched !== null && touched.raw !== null) this.checkNode(touched);
    if (this.checker.committedMax > this.committedChecked) {
      for (const id of this.leaders) {
        const n = this.nodes.get(id) as SimNode;
        if (n.raw === null) continue;
        const st = n.status();
        this.checker.checkLeaderLog(id, st.hardState.term, n.logView(st.lastIndex), this.committedChecked + 1);
      }
      this.committedChecked = this.checker.committedMax;
    }
  }

  private checkNode(node: SimNode): void {
    const st = node.status();
    const sm = node.sm;
    assert.ok(sm !== null);
    const { term, commit } = st.hardState;
    this.checker.observeProgress(node.id, node.incarnation, term, commit, sm.appliedIndex);
    if (st.softState.role !== 'leader') {
      this.leaders.delete(node.id);
      if (st.softState.role === 'candidate' && node.candidateTerm !== term) this.maybeCrashCandidate(node, term);
      return;
    }
    this.leaders.add(node.id);
    this.checker.observeLeader(node.id, term);
    const view = node.logView(st.lastIndex);
    if (node.leaderTerm !== term) {
      node.leaderTerm = term;
      node.leaderCommitChecked = commit;
      node.leaderCommitVoters = [];
      this.stats.leaderTerms++;
      this.checker.checkLeaderLog(node.id, term, view);
    }
    if (commit > node.leaderCommitChecked) {
      // The commit may have advanced just before a membership change took effect in the
      // same advance(), so either the voters before or after this event may have counted it.
      const t = view.termAt(commit);
      if (typeof t === 'number') {
        const holds = (v: NodeId): boolean => this.nodes.get(v)?.holdsDurably(commit, t) ?? false;
        const before = node.lastVoters.length > 0 ? [node.lastVoters] : [];
        this.checker.checkCommittedMajority(node.id, commit, [...before, st.conf.voters], holds);
        node.leaderCommitVoters = before.length > 0 && before[0] !== undefined && before[0].filter(holds).length * 2 > before[0].length ? before[0] : st.conf.voters;
      }
      node.leaderCommitChecked = commit;
    }
    node.lastVoters = st.conf.voters;
    if (this.healedAtMs !== null && this.electedAtMs === null && view.termAt(commit) === term) this.electedAtMs = this.queue.nowMs;
  }

  /**
   * Durable state only shrinks when a node restarts (or truncates an uncommitted suffix), so
   * after a restart every leader's commit index must still be held by a majority.
   */
  private recheckAfterRestart(restarted: SimNode): void {
    const hs = restarted.status().hardState;
    for (const id of this.leaders) {
      const n = this.nodes.get(id) as SimNode;
      if (n.raw === null) continue;
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
      if (n.raw === null) continue;
      const t = n.status().hardState.term;
      if (t > bestTerm) [best, bestTerm] = [n, t];
    }
    return best;
  }

  private onNemesis(): void {
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

  private nemesisCrash(): void {
    const up = [...this.nodes.values()].filter((n) => n.up);
    if (up.length <= 1) return;
    this.crashNode(this.rng.pick(up));
  }

  private crashNode(victim: SimNode): void {
    victim.crash();
    this.leaders.delete(victim.id);
    this.workload.onCrash(victim.id);
    this.stats.crashes++;
    this.queue.schedule(this.rng.range(20, this.config.restartMsMax ?? 2000), { t: 'restart', node: victim.id });
  }

  private onRestart(id: NodeId): SimNode | null {
    const node = this.nodes.get(id) as SimNode;
    if (node.up || node.removed) return null;
    this.startNode(node);
    this.recheckAfterRestart(node);
    return node;
  }

  private nemesisPartition(): void {
    const leader = this.currentLeader();
    const { links } = drawPartition(this.rng, this.nodeIds(), leader?.id ?? null);
    this.network.setBlocked(links);
    this.stats.partitions++;
    this.queue.schedule(this.rng.range(100, 3000), { t: 'heal' });
  }

  private nemesisTransfer(): void {
    const leader = this.currentLeader();
    if (leader === null || leader.raw === null) return;
    const others = leader.status().conf.voters.filter((v) => v !== leader.id);
    if (others.length === 0) return;
    if (leader.raw.transferLeader(this.rng.pick(others)) === null) this.stats.transfers++;
    this.pump(leader);
  }

  private nemesisCampaign(): void {
    const up = [...this.nodes.values()].filter((n) => n.up);
    if (up.length === 0) return;
    const n = this.rng.pick(up);
    n.raw?.campaign();
    this.pump(n);
  }

  /** Grow by a learner, promote it, then remove a random voter (the leader too). */
  private nemesisMembership(): void {
    const leader = this.currentLeader();
    if (leader === null || leader.raw === null) return;
    const st = leader.status();
    const inConf = new Set([...st.conf.voters, ...st.conf.learners]);
    const joining = [...this.nodes.values()].find((n) => !n.removed && !this.removalCommitted.has(n.id) && !inConf.has(n.id));
    const learner = st.conf.learners[0];
    if (joining !== undefined) {
      leader.raw.proposeConfChange({ type: 'addLearner', node: joining.id, context: '' });
    } else if (learner !== undefined) {
      const p = st.progress.get(learner);
      if (p !== undefined && p.match + 5 >= st.lastIndex) leader.raw.proposeConfChange({ type: 'addVoter', node: learner, context: '' });
    } else if (st.conf.voters.length > this.config.nodes) {
      leader.raw.proposeConfChange({ type: 'remove', node: this.rng.pick(st.conf.voters), context: '' });
    } else {
      const spare = this.spares.shift();
      if (spare === undefined) return;
      this.addNode(spare, new MemoryStorage());
      leader.raw.proposeConfChange({ type: 'addLearner', node: spare, context: '' });
    }
    this.pump(leader);
  }

  private onStop(id: NodeId): void {
    const node = this.nodes.get(id);
    if (node === undefined || node.removed) return;
    if (node.up) {
      node.crash();
      this.workload.onCrash(id);
    }
    node.removed = true;
    this.leaders.delete(id);
  }

  private onFaultEnd(): void {
    this.network.heal();
    this.network.setFaults(CALM_NETWORK);
    for (const n of this.nodes.values()) if (!n.up && !n.removed) this.startNode(n);
    this.workload.enterFinalPhase();
    this.healedAtMs = this.queue.nowMs;
    this.queue.schedule(50, { t: 'check' });
  }

  /** Liveness: after healing, a leader, every final write acknowledged, everyone caught up. */
  private onLivenessCheck(): void {
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
      if (n.sm === null || n.sm.appliedIndex !== st.lastIndex) return `${id} applied ${n.sm?.appliedIndex ?? 'nothing'} of ${st.lastIndex}`;
    }
    return null;
  }

  private finalChecks(): void {
    const leader = this.currentLeader() as SimNode;
    const st = leader.status();
    for (const id of [...st.conf.voters, ...st.conf.learners]) {
      const n = this.nodes.get(id);
      if (n?.sm != null) this.checker.checkAcksIn(id, n.sm.valueSet);
    }
    this.stats.historyOps = this.workload.history.length;
    const lin = checkKvHistory(this.workload.history, { stepsMaxPerKey: 500_000 });
    if (lin.ok === false) this.checker.fail(INVARIANT.linearizability, `key ${lin.key}: ${lin.reason}`);
    this.stats.linearizability = lin.ok === true ? 'ok' : 'unknown';
  }
}

export function runSimulation(config: SimConfig): SimOutcome {
  return new Simulation(config).run();
}

export function replayCommand(seed: number, nodes: number, faultMs: number): string {
  return `npm run sim -- --seed ${seed} --nodes ${nodes} --time-ms ${faultMs}`;
}
