import { randomUUID } from 'node:crypto';
import { Executor, type Report, type ExecuteRequest } from '../executor/index.js';
import { Scheduler, type ExecuteOrder, type ExecutorNode, type ExecutorReport, type SchedulerHost } from '../scheduler/index.js';
import { encodeCommand, type ApplyResult, type Command, type KillReason } from '../statemachine/index.js';
import type { Envelope } from '../rpc/index.js';
import type { NodeId } from '../raft/index.js';
import type { Logger } from './logger.js';
import type { JobStateMachine } from './job-state.js';
import { MessageBatcher, StartedHold, orderBytes, reportBytes } from './report-relay.js';

/** What the execution plane needs from the agent it runs in. */
export interface ExecutionAgent {
  readonly id: NodeId;
  now(): number;
  leaderId(): NodeId | null;
  isLeader(): boolean;
  term(): number;
  members(): readonly NodeId[];
  propose(data: Uint8Array): Promise<unknown>;
  linearizableRead(): Promise<void>;
  send(to: NodeId, envelope: Envelope): void;
}

export interface ExecutionOptions {
  readonly slots: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly journalPath: string | null;
  readonly logger: Logger;
  /** How often executors tell the leader what they run. */
  readonly heartbeatMs?: number;
  /** A node not heard from for this long is not placed on. */
  readonly aliveMs?: number;
  /** How long a started report waits before it is sent; a run that ends meanwhile sends only its finished report. */
  readonly startedReportHoldMs?: number;
}

interface NodeHeartbeat {
  readonly tags: Readonly<Record<string, string>>;
  readonly slots: number;
  readonly runningCount: number;
  readonly atMs: number;
}

type Ack = { readonly runId: string; readonly attempt: number; readonly reportKind: Report['kind'] };

// The single-item kinds are still understood, from nodes of an older version.
type ExecBody =
  | { readonly kind: 'execute'; readonly order: ExecuteOrder }
  | { readonly kind: 'executes'; readonly orders: readonly ExecuteOrder[] }
  | { readonly kind: 'acks'; readonly acks: readonly Ack[] }
  | { readonly kind: 'kill'; readonly runId: string; readonly attempt: number; readonly reason: KillReason; readonly term: number }
  | { readonly kind: 'ack'; readonly runId: string; readonly attempt: number; readonly reportKind: Report['kind'] };

type ReportBody =
  | { readonly kind: 'report'; readonly report: Report }
  | { readonly kind: 'reports'; readonly reports: readonly Report[] }
  | { readonly kind: 'heartbeat'; readonly tags: Record<string, string>; readonly slots: number; readonly runningCount: number }
  | { readonly kind: 'refused'; readonly runId: string; readonly attempt: number; readonly refusal: 'no_slot' | 'invalid' | 'stale_term' };

const HEARTBEAT_MS_DEFAULT = 250;
const LATENESS_BOUNDS_MS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000];
const ALIVE_MS_DEFAULT = 2000;
const REPORT_RESEND_MS = 1000;
// A run's start reaches the log only when its started report is sent: until then a node
// that is wiped and re-added under the same id has no way to know it ran it, and gets it
// resent (executed twice; jepsen-like seed 20261124 with 500 ms). So the hold is short:
// enough to fold the started report of a quick run into its finished report on a quiet
// node, not enough to widen that window much.
const STARTED_REPORT_HOLD_MS_DEFAULT = 50;
const TAGS_MAX = 64;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/**
 * Runs on every node: the executor, the leader-only scheduler, and the messages between
 * them (execute and kill from the leader on the 'exec' channel; reports, refusals and
 * heartbeats to the leader on the 'report' channel, acknowledged once committed).
 */
export class ExecutionPlane {
  readonly executor: Executor;
  private scheduler: Scheduler | null = null;
  private schedulerTerm = 0;
  private readonly heartbeats = new Map<NodeId, NodeHeartbeat>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly options: ExecutionOptions;
  private readonly startLatenessBuckets: number[] = LATENESS_BOUNDS_MS.map(() => 0);
  private startLatenessCount = 0;
  private startLatenessSumMs = 0;
  private startLatenessMaxMs = 0;
  /** Scheduled instants of runs accepted here, to measure start lateness (bounded by slots). */
  private readonly scheduledAt = new Map<string, number>();
  private readonly executes: MessageBatcher<ExecuteOrder>;
  private readonly acks: MessageBatcher<Ack>;
  private readonly reports: MessageBatcher<Report>;
  private readonly startedHold: StartedHold;

  constructor(
    private readonly agent: ExecutionAgent,
    private readonly jobs: JobStateMachine,
    options: ExecutionOptions,
  ) {
    this.options = options;
    this.executor = new Executor({
      nodeId: agent.id,
      now: () => agent.now(),
      slots: options.slots,
      journalPath: options.journalPath,
      onReport: (report) => {
        this.observeStart(report);
        this.startedHold.offer(report);
      },
    });
    this.executes = new MessageBatcher((to, orders) => this.agent.send(to, { channel: 'exec', body: { kind: 'executes', orders } }), orderBytes);
    this.acks = new MessageBatcher((to, acks) => this.agent.send(to, { channel: 'exec', body: { kind: 'acks', acks } }), () => 64);
    this.reports = new MessageBatcher((to, reports) => this.agent.send(to, { channel: 'report', body: { kind: 'reports', reports } }), reportBytes);
    this.startedHold = new StartedHold(options.startedReportHoldMs ?? STARTED_REPORT_HOLD_MS_DEFAULT, options.slots, (report) => this.deliverReport(report));
    jobs.onApplied = (command, result) => this.scheduler?.onApplied(command, result);
  }

  start(): void {
    this.timers.push(setInterval(() => this.sendHeartbeat(), this.options.heartbeatMs ?? HEARTBEAT_MS_DEFAULT));
    this.timers.push(setInterval(() => this.resendReports(), REPORT_RESEND_MS));
  }

  /** The scheduler runs while this node leads, from the moment its term's entry applied. */
  leadershipChanged(): void {
    if (!this.agent.isLeader()) {
      this.stopScheduler();
      return;
    }
    const term = this.agent.term();
    if (this.scheduler !== null && this.schedulerTerm === term) return;
    this.stopScheduler();
    this.schedulerTerm = term;
    this.agent.linearizableRead().then(
      () => {
        if (!this.agent.isLeader() || this.agent.term() !== term || this.scheduler !== null) return;
        this.scheduler = new Scheduler(this.host());
        this.scheduler.start(term);
        this.options.logger.info('scheduler started', { term });
      },
      (error: unknown) => this.options.logger.warn('scheduler not started: leadership not confirmed', { term, error: String(error) }),
    );
  }

  activeScheduler(): Scheduler | null {
    return this.scheduler;
  }

  /** Prometheus lines for the scheduler (while leading) and this node's executor. */
  metricLines(): string[] {
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
    // Memory per node (the fire benchmark divides it by stored jobs); heap used is the live
    // JS objects after the last GC plus garbage since, so take the minimum over a few reads.
    const memory = process.memoryUsage();
    metric('process_resident_memory_bytes', 'gauge', 'Resident memory of this agent process', memory.rss);
    metric('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use', memory.heapUsed);
    metric('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JS objects (buffers)', memory.external);
    const stats = this.executor.stats();
    metric('chime_executor_running', 'gauge', 'Runs executing or waiting for their instant on this node', stats.runs);
    metric('chime_executor_slots', 'gauge', 'Runs this node may execute at once', stats.slots);
    metric('chime_executor_outbox_reports', 'gauge', 'Reports not yet acknowledged by the leader', stats.outboxReports);
    metric('chime_executor_started_reports_skipped_total', 'counter', 'Started reports not sent because the run ended first (its finished report carries the start)', this.startedHold.skipped);
    metric('chime_executor_start_lateness_seconds_max', 'gauge', 'Largest instant-to-process-start delay seen on this node', this.startLatenessMaxMs / 1000);
    lines.push('# HELP chime_executor_start_lateness_seconds Scheduled instant to process start on this node', '# TYPE chime_executor_start_lateness_seconds histogram');
    LATENESS_BOUNDS_MS.forEach((bound, i) => lines.push(`chime_executor_start_lateness_seconds_bucket{le="${bound / 1000}"} ${this.startLatenessBuckets[i]}`));
    lines.push(`chime_executor_start_lateness_seconds_bucket{le="+Inf"} ${this.startLatenessCount}`, `chime_executor_start_lateness_seconds_sum ${this.startLatenessSumMs / 1000}`, `chime_executor_start_lateness_seconds_count ${this.startLatenessCount}`);
    const m = this.scheduler?.metricsNow();
    metric('chime_scheduler_leading', 'gauge', '1 while this node runs the scheduler', m === undefined ? 0 : 1);
    if (m === undefined) return lines;
    // Counters restart with each leadership term (a Prometheus counter reset).
    metric('chime_scheduler_fires_total', 'counter', 'Run records fired to execute this term', m.fires);
    metric('chime_scheduler_skipped_total', 'counter', 'Instants recorded as skipped this term', m.skipped);
    metric('chime_scheduler_duplicates_total', 'counter', 'Fires the table found already recorded this term', m.duplicates);
    metric('chime_scheduler_retries_total', 'counter', 'Retries recorded this term', m.retriesRecorded);
    metric('chime_scheduler_lost_total', 'counter', 'Executions declared lost by the scheduler this term', m.lostDeclared);
    metric('chime_scheduler_fire_batches_total', 'counter', 'Fire proposals this term', m.fireBatches);
    metric('chime_scheduler_proposal_failures_total', 'counter', 'Scheduler proposals that failed this term', m.proposalFailures);
    metric('chime_scheduler_queue_drops_total', 'counter', 'Entries dropped by full scheduler queues this term', m.queueDrops);
    metric('chime_scheduler_queued_fires', 'gauge', 'Fires waiting to be proposed', m.queuedFires);
    metric('chime_scheduler_waiting_for_capacity', 'gauge', 'Due instants waiting for a free executor slot', m.waitingForCapacity);
    metric('chime_scheduler_retry_queue', 'gauge', 'Runs waiting for their retry backoff', m.retryQueue);
    metric('chime_scheduler_fire_lateness_seconds_max', 'gauge', 'Largest instant-to-commit lateness of a fire this term', m.latenessMaxMs / 1000);
    const quantile = (q: number) => (m.latenessQuantileMs(q) ?? Number.NaN) / 1000;
    lines.push('# HELP chime_scheduler_fire_lateness_seconds Instant to commit of recent fires (negative: committed ahead)', '# TYPE chime_scheduler_fire_lateness_seconds summary');
    lines.push(`chime_scheduler_fire_lateness_seconds{quantile="0.5"} ${quantile(0.5)}`, `chime_scheduler_fire_lateness_seconds{quantile="0.99"} ${quantile(0.99)}`);
    lines.push(`chime_scheduler_fire_lateness_seconds_sum ${m.latenessSumMs / 1000}`, `chime_scheduler_fire_lateness_seconds_count ${m.latenessCount}`);
    metric('chime_scheduler_fire_propose_seconds_sum', 'counter', 'Propose-to-apply time of fire batches, summed', m.fireProposeSumMs / 1000);
    metric('chime_scheduler_fire_propose_seconds_count', 'counter', 'Fire batches proposed and applied', m.fireProposeCount);
    metric('chime_scheduler_fire_lead_seconds', 'gauge', 'How long before their instant fires are proposed now', m.fireLeadMs / 1000);
    metric('chime_scheduler_fire_propose_seconds_max', 'gauge', 'Longest propose-to-apply time of a fire batch', m.fireProposeMaxMs / 1000);
    return lines;
  }

  receive(from: NodeId, envelope: Envelope): void {
    if (envelope.channel === 'exec' && from === this.agent.leaderId()) this.onExec(from, envelope.body);
    else if (envelope.channel === 'report') this.onReportChannel(from, envelope.body);
  }

  /** Stops scheduling and kills local runs; their results stay in the journal until acknowledged. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.stopScheduler();
    await this.executor.stop({ killRunning: true });
    this.startedHold.releaseAll();
    this.resendReports();
    this.reports.flush();
    this.acks.flush();
  }

  private stopScheduler(): void {
    if (this.scheduler === null) return;
    this.scheduler.stop();
    this.scheduler = null;
    this.options.logger.info('scheduler stopped');
  }

  private host(): SchedulerHost {
    return {
      nowMs: () => this.agent.now(),
      table: () => this.jobs.table,
      selfNodeId: () => this.agent.id,
      propose: async (command: Command) => (await this.agent.propose(encodeCommand(command))) as ApplyResult,
      newRunId: () => randomUUID(),
      random: () => Math.random(),
      executors: () => this.executorNodes(),
      sendExecute: (node, order) => this.sendExecute(node, order),
      sendKill: (node, runId, attempt, reason) => this.sendKill(node, runId, attempt, reason),
      setTimer: (delayMs, fn) => {
        const timer = setTimeout(fn, Math.max(0, delayMs));
        return { cancel: () => clearTimeout(timer) };
      },
    };
  }

  private executorNodes(): ExecutorNode[] {
    const now = performance.now();
    const alive = this.options.aliveMs ?? ALIVE_MS_DEFAULT;
    return this.agent.members().map((id): ExecutorNode => {
      if (id === this.agent.id) {
        return { id, tags: this.options.tags, slots: this.options.slots, runningCount: this.executor.running().length, alive: true, lastHeartbeatMs: this.agent.now() };
      }
      const beat = this.heartbeats.get(id);
      if (beat === undefined) return { id, tags: {}, slots: 0, runningCount: 0, alive: false, lastHeartbeatMs: null };
      return { id, tags: beat.tags, slots: beat.slots, runningCount: beat.runningCount, alive: now - beat.atMs < alive, lastHeartbeatMs: this.agent.now() - (now - beat.atMs) };
    });
  }

  private sendExecute(node: NodeId, order: ExecuteOrder): void {
    if (node === this.agent.id) {
      this.executeLocally(order as ExecuteRequest, this.agent.id);
      return;
    }
    this.executes.push(node, order);
  }

  private sendKill(node: NodeId, runId: string, attempt: number, reason: KillReason): void {
    if (node === this.agent.id) this.executor.kill(runId, reason);
    else this.agent.send(node, { channel: 'exec', body: { kind: 'kill', runId, attempt, reason, term: this.agent.term() } });
  }

  private executeLocally(order: ExecuteRequest, leader: NodeId): void {
    const result = this.executor.execute(order);
    if (result === 'accepted') {
      if (this.scheduledAt.size < 100_000) this.scheduledAt.set(`${order.runId}/${order.attempt}`, order.notBeforeMs ?? order.scheduledAtMs);
      return;
    }
    if (result === 'duplicate') return;
    if (leader === this.agent.id) this.scheduler?.onExecuteRefused(this.agent.id, order.runId, order.attempt, result);
    else this.agent.send(leader, { channel: 'report', body: { kind: 'refused', runId: order.runId, attempt: order.attempt, refusal: result } });
  }

  private onExec(leader: NodeId, body: unknown): void {
    if (!isRecord(body)) return;
    const exec = body as ExecBody;
    switch (exec.kind) {
      case 'execute':
        this.onExecute(leader, exec.order);
        return;
      case 'executes':
        if (Array.isArray(exec.orders)) for (const order of exec.orders as unknown[]) this.onExecute(leader, order);
        return;
      case 'acks':
        if (Array.isArray(exec.acks)) for (const ack of exec.acks as unknown[]) this.onAck(ack);
        return;
      case 'kill':
        if (typeof exec.runId !== 'string' || !['request', 'timeout', 'replace'].includes(exec.reason)) return;
        if (typeof exec.term === 'number') this.executor.observeTerm(exec.term);
        this.executor.kill(exec.runId, exec.reason);
        return;
      case 'ack':
        this.onAck(exec);
        return;
      default:
        return;
    }
  }

  private onExecute(leader: NodeId, order: unknown): void {
    if (!isRecord(order)) return;
    if (typeof order.term === 'number') this.executor.observeTerm(order.term);
    // The executor validates every field; a malformed order is refused as invalid.
    this.executeLocally(order as unknown as ExecuteRequest, leader);
  }

  private onAck(ack: unknown): void {
    if (!isRecord(ack)) return;
    const { runId, attempt, reportKind } = ack;
    if (typeof runId === 'string' && typeof attempt === 'number' && (reportKind === 'started' || reportKind === 'finished' || reportKind === 'lost')) {
      this.executor.acknowledge(runId, attempt, reportKind);
    }
  }

  private onReportChannel(from: NodeId, body: unknown): void {
    if (!isRecord(body)) return;
    const message = body as ReportBody;
    if (message.kind === 'heartbeat') {
      if (!isRecord(message.tags) || Object.keys(message.tags).length > TAGS_MAX) return;
      if (!Number.isSafeInteger(message.slots) || !Number.isSafeInteger(message.runningCount)) return;
      this.heartbeats.set(from, { tags: message.tags, slots: message.slots, runningCount: message.runningCount, atMs: performance.now() });
      return;
    }
    const scheduler = this.scheduler;
    if (scheduler === null) return;
    if (message.kind === 'refused') {
      if (typeof message.runId === 'string' && typeof message.attempt === 'number') scheduler.onExecuteRefused(from, message.runId, message.attempt, message.refusal);
      return;
    }
    if (message.kind === 'report') this.onPeerReport(scheduler, from, message.report);
    else if (message.kind === 'reports' && Array.isArray(message.reports)) for (const report of message.reports as unknown[]) this.onPeerReport(scheduler, from, report);
  }

  private onPeerReport(scheduler: Scheduler, from: NodeId, report: unknown): void {
    if (!isRecord(report) || report.node !== from) return;
    const { runId, attempt, kind } = report;
    if (typeof runId !== 'string' || typeof attempt !== 'number' || (kind !== 'started' && kind !== 'finished' && kind !== 'lost')) return;
    void scheduler.onReport(report as unknown as ExecutorReport).then(
      (recorded) => {
        if (recorded) this.acks.push(from, { runId, attempt, reportKind: kind });
      },
      () => {},
    );
  }

  private observeStart(report: Report): void {
    const key = `${report.runId}/${report.attempt}`;
    const due = this.scheduledAt.get(key);
    if (due === undefined) return;
    this.scheduledAt.delete(key);
    if (report.kind !== 'started') return;
    const late = Math.max(0, report.atMs - due);
    this.startLatenessCount++;
    this.startLatenessSumMs += late;
    this.startLatenessMaxMs = Math.max(this.startLatenessMaxMs, late);
    LATENESS_BOUNDS_MS.forEach((bound, i) => {
      if (late <= bound) this.startLatenessBuckets[i] = (this.startLatenessBuckets[i] ?? 0) + 1;
    });
  }

  /** Sends a new report to the leader at once; unacknowledged ones are resent on a timer. */
  private deliverReport(report: Report): void {
    const leader = this.agent.leaderId();
    if (leader === null) return;
    if (leader === this.agent.id) {
      const scheduler = this.scheduler;
      if (scheduler === null) return;
      void scheduler.onReport(report as ExecutorReport).then(
        (recorded) => {
          if (recorded) this.executor.acknowledge(report.runId, report.attempt, report.kind);
        },
        () => {},
      );
      return;
    }
    this.reports.push(leader, report);
  }

  /**
   * Unacknowledged reports again, except started reports still held (they go out when due)
   * and those of runs that ended (the finished report carries the start).
   */
  private resendReports(): void {
    const pending = this.executor.pendingReports();
    const ended = new Set(pending.filter((r) => r.kind !== 'started').map((r) => StartedHold.key(r)));
    for (const report of pending) {
      if (this.startedHold.isHeld(report) || (report.kind === 'started' && ended.has(StartedHold.key(report)))) continue;
      this.deliverReport(report);
    }
  }

  private sendHeartbeat(): void {
    const leader = this.agent.leaderId();
    if (leader === null || leader === this.agent.id) return;
    const body = { kind: 'heartbeat', tags: this.options.tags, slots: this.options.slots, runningCount: this.executor.running().length };
    this.agent.send(leader, { channel: 'report', body });
  }
}
