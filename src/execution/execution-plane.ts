// The execution plane of one node: its executor, the leader-only scheduler, and the messages
// between them (execute, kill and acknowledgements from the leader on the 'exec' channel;
// reports, refusals and heartbeats to the leader on the 'report' channel). Wire bodies are
// checked in wire.ts before anything here sees them.
import { openExecutorSecrets, secretValuesOf, type SecretsKey } from '../access/index.js';
import { randomUUID } from 'node:crypto';
import { Executor, validateExecuteRequest, type Report } from '../executor/index.js';
import { Scheduler, type ExecuteOrder, type ExecutorNode, type ExecutorReport, type SchedulerHost, type SchedulerMetrics } from '../scheduler/index.js';
import type { ApplyResult, Command, JobTable, KillReason, RunRecord } from '../statemachine/index.js';
import type { NodeId } from '../raft/index.js';
import type { Logger } from '../log/index.js';
import { MessageBatcher, StartedHold, orderBytes, reportBytes } from './report-relay.js';
import { parseExecMessage, parseReport, parseReportMessage, type Ack, type ExecMessage, type ReportMessage } from './wire.js';

/** A message of the execution plane, to one peer. */
export type ExecutionEnvelope =
  | { readonly channel: 'exec'; readonly body: ExecMessage }
  | { readonly channel: 'report'; readonly body: ReportMessage };

/** What the execution plane needs of the node it runs in. */
export interface ExecutionNode {
  readonly id: NodeId;
  /** This node's wall clock, ms since the epoch: the leader stamps it into commands. */
  wallNowMs(): number;
  leader(): NodeId | null;
  isLeader(): boolean;
  term(): number;
  members(): readonly NodeId[];
  propose(command: Command): Promise<ApplyResult>;
  read(): Promise<void>;
  /** The applied job table (a snapshot restore swaps it, so ask each time). */
  table(): JobTable;
  send(to: NodeId, envelope: ExecutionEnvelope): void;
}

export interface ExecutionOptions {
  readonly slots: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly journalPath: string | null;
  /** Where this node keeps every run's full stdout and stderr (null: only the record's tail). */
  readonly outputDir?: string | null;
  readonly logger: Logger;
  /** How often executors tell the leader what they run. */
  readonly heartbeatMs?: number;
  /** A node not heard from for this long is not placed on. */
  readonly aliveMs?: number;
  /** How long a started report waits before it is sent; a run that ends meanwhile sends only its finished report. */
  readonly startedReportHoldMs?: number;
  /** Scheduled instant (or notBefore) to process start on this node, per run. */
  readonly startLateness?: (lateMs: number) => void;
  /** --secrets-key-file: opens sealed secret values right before a run. */
  readonly secretsKey?: SecretsKey | null;
}

export interface ExecutionStats {
  readonly running: number;
  readonly slots: number;
  readonly outboxReports: number;
  readonly startedReportsSkipped: number;
  readonly startLatenessMaxMs: number;
}

interface NodeHeartbeat {
  readonly tags: Readonly<Record<string, string>>;
  readonly slots: number;
  readonly runningCount: number;
  readonly atMs: number;
}

const HEARTBEAT_MS_DEFAULT = 250;
const ALIVE_MS_DEFAULT = 2000;
const REPORT_RESEND_MS = 1000;
// A run's start reaches the log only when its started report is sent: until then a node
// that is wiped and re-added under the same id has no way to know it ran it, and gets it
// resent (executed twice; jepsen-like seed 20261124 with 500 ms). So the hold is short:
// enough to fold the started report of a quick run into its finished report on a quiet
// node, not enough to widen that window much.
const STARTED_REPORT_HOLD_MS_DEFAULT = 50;
/** Scheduled instants remembered to measure start lateness (bounded by slots in practice). */
const LATENESS_TRACKED_MAX = 100_000;

export class ExecutionPlane {
  readonly executor: Executor;
  private scheduler: Scheduler | null = null;
  private schedulerTerm = 0;
  private readonly heartbeats = new Map<NodeId, NodeHeartbeat>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly options: ExecutionOptions;
  private startLatenessMaxMs = 0;
  /** Scheduled instants of runs accepted here, to measure start lateness. */
  private readonly scheduledAt = new Map<string, number>();
  private readonly executes: MessageBatcher<ExecuteOrder>;
  private readonly acks: MessageBatcher<Ack>;
  private readonly reports: MessageBatcher<Report>;
  private readonly startedHold: StartedHold;

  constructor(private readonly node: ExecutionNode, options: ExecutionOptions) {
    this.options = options;
    this.executor = new Executor({
      nodeId: node.id,
      now: () => node.wallNowMs(),
      slots: options.slots,
      journalPath: options.journalPath,
      outputDir: options.outputDir ?? null,
      onReport: (report) => {
        this.observeStart(report);
        this.startedHold.offer(report);
      },
    });
    // sentAtMs is stamped again as the batch leaves: an executor waits notBeforeMs − sentAtMs
    // from arrival, and an order built early in a burst (the orders of 1,000 runs, this node's
    // own accepted and journaled among them, then the flush a turn later) would carry a stamp
    // milliseconds older than its sending and start its whole instant that much late.
    this.executes = new MessageBatcher((to, orders) => {
      const sentAtMs = this.node.wallNowMs();
      this.node.send(to, { channel: 'exec', body: { kind: 'executes', orders: orders.map((order) => ({ ...order, sentAtMs })) } });
    }, orderBytes);
    this.acks = new MessageBatcher((to, acks) => this.node.send(to, { channel: 'exec', body: { kind: 'acks', acks } }), () => 64);
    this.reports = new MessageBatcher((to, reports) => this.node.send(to, { channel: 'report', body: { kind: 'reports', reports } }), reportBytes);
    this.startedHold = new StartedHold(options.startedReportHoldMs ?? STARTED_REPORT_HOLD_MS_DEFAULT, options.slots, (report) => this.deliverReport(report));
  }

  start(): void {
    this.timers.push(setInterval(() => this.sendHeartbeat(), this.options.heartbeatMs ?? HEARTBEAT_MS_DEFAULT));
    this.timers.push(setInterval(() => this.resendReports(), REPORT_RESEND_MS));
  }

  /** A member's removal applied: the runs whose executions on it the table declared lost (the leader's scheduler retries them). */
  onMemberRemoved(runs: readonly RunRecord[]): void {
    this.scheduler?.onRunsLost(runs);
  }

  /** Every command the node applies, with its result: the leader's scheduler acts on committed entries. */
  onApplied(command: Command, result: ApplyResult): void {
    this.scheduler?.onApplied(command, result);
    // A deleted job's history goes, and with it the output its runs left on this node.
    if (command.type === 'deleteJob' && result.ok && result.kind === 'deleted') void this.executor.removeJobOutput(command.id).catch(() => undefined);
  }

  /** The scheduler runs while this node leads, from the moment its term's entry applied. */
  leadershipChanged(): void {
    if (!this.node.isLeader()) {
      this.stopScheduler();
      return;
    }
    const term = this.node.term();
    if (this.scheduler !== null && this.schedulerTerm === term) return;
    this.stopScheduler();
    this.schedulerTerm = term;
    this.node.read().then(
      () => {
        if (!this.node.isLeader() || this.node.term() !== term || this.scheduler !== null) return;
        this.scheduler = new Scheduler(this.schedulerHost());
        this.scheduler.start(term);
        this.options.logger.info('scheduler started', { term });
      },
      (error: unknown) => this.options.logger.warn('scheduler not started: leadership not confirmed', { term, error: String(error) }),
    );
  }

  /** The leader's scheduler, while this node leads. */
  activeScheduler(): Scheduler | null {
    return this.scheduler;
  }

  schedulerMetrics(): SchedulerMetrics | null {
    return this.scheduler?.metricsNow() ?? null;
  }

  stats(): ExecutionStats {
    const stats = this.executor.stats();
    return { running: stats.runs, slots: stats.slots, outboxReports: stats.outboxReports, startedReportsSkipped: this.startedHold.skipped, startLatenessMaxMs: this.startLatenessMaxMs };
  }

  /** A message from a peer on the 'exec' channel (only the leader's count) or the 'report' channel. */
  receive(from: NodeId, channel: 'exec' | 'report', body: unknown): void {
    if (channel === 'exec') {
      if (from !== this.node.leader()) return;
      const message = parseExecMessage(body);
      if (message !== null) this.onExec(from, message);
      return;
    }
    const message = parseReportMessage(body);
    if (message !== null) this.onReportMessage(from, message);
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

  private schedulerHost(): SchedulerHost {
    return {
      nowMs: () => this.node.wallNowMs(),
      table: () => this.node.table(),
      selfNodeId: () => this.node.id,
      propose: (command) => this.node.propose(command),
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
    return this.node.members().map((id): ExecutorNode => {
      if (id === this.node.id) {
        return { id, tags: this.options.tags, slots: this.options.slots, runningCount: this.executor.running().length, alive: true, lastHeartbeatMs: this.node.wallNowMs() };
      }
      const beat = this.heartbeats.get(id);
      if (beat === undefined) return { id, tags: {}, slots: 0, runningCount: 0, alive: false, lastHeartbeatMs: null };
      return { id, tags: beat.tags, slots: beat.slots, runningCount: beat.runningCount, alive: now - beat.atMs < alive, lastHeartbeatMs: this.node.wallNowMs() - (now - beat.atMs) };
    });
  }

  private sendExecute(node: NodeId, order: ExecuteOrder): void {
    if (node === this.node.id) this.executeLocally(order, this.node.id);
    else this.executes.push(node, order);
  }

  private sendKill(node: NodeId, runId: string, attempt: number, reason: KillReason): void {
    if (node === this.node.id) this.executor.kill(runId, reason);
    else this.node.send(node, { channel: 'exec', body: { kind: 'kill', runId, attempt, reason, term: this.node.term() } });
  }

  /** Runs an order here, or tells the leader why not. The executor checks every field itself. */
  private executeLocally(order: unknown, leader: NodeId): void {
    const withSecrets = this.withSecrets(order);
    if (withSecrets === null) return this.refuse(leader, order, 'invalid');
    const checked = validateExecuteRequest(withSecrets, this.executor.limits, this.node.wallNowMs());
    if (!checked.ok) return this.refuse(leader, order, 'invalid');
    const request = checked.value;
    const result = this.executor.execute(request);
    if (result === 'accepted') {
      if (this.scheduledAt.size < LATENESS_TRACKED_MAX) this.scheduledAt.set(`${request.runId}/${request.attempt}`, request.notBeforeMs ?? request.scheduledAtMs);
      return;
    }
    if (result !== 'duplicate') this.refuse(leader, request, result);
  }

  /**
   * The order as the executor runs it: the job's secret values opened (here, right before the
   * run, and only in memory), added to the environment or the headers, and given to the
   * executor as the values to mask in the output. null when a sealed value does not open
   * (another key, tampered): the run is refused rather than started without its secret.
   */
  private withSecrets(order: unknown): unknown {
    if (typeof order !== 'object' || order === null) return order;
    const spec: unknown = Reflect.get(order, 'spec');
    const jobId: unknown = Reflect.get(order, 'jobId');
    if (typeof spec !== 'object' || spec === null || typeof jobId !== 'string') return order;
    const secretEnv = stringMapOf(Reflect.get(spec, 'secretEnv'));
    const secretHeaders = stringMapOf(Reflect.get(spec, 'secretHeaders'));
    if (secretEnv === null && secretHeaders === null) return order;
    const opened = openExecutorSecrets(this.options.secretsKey ?? null, jobId, { ...(secretEnv === null ? {} : { secretEnv }), ...(secretHeaders === null ? {} : { secretHeaders }) });
    if (!opened.ok) {
      this.options.logger.error('a secret of the job does not open; the run is refused', { jobId, code: opened.code });
      return null;
    }
    const env = stringMapOf(Reflect.get(spec, 'env')) ?? {};
    const headers = stringMapOf(Reflect.get(spec, 'headers')) ?? {};
    const runSpec = { ...spec, ...(secretEnv === null ? {} : { env: { ...env, ...opened.executor.secretEnv } }), ...(secretHeaders === null ? {} : { headers: { ...headers, ...opened.executor.secretHeaders } }) };
    return { ...order, spec: runSpec, maskValues: secretValuesOf({ type: 'any', ...opened.executor }) };
  }

  private refuse(leader: NodeId, order: unknown, refusal: 'no_slot' | 'invalid' | 'stale_term'): void {
    const runId: unknown = typeof order === 'object' && order !== null ? Reflect.get(order, 'runId') : undefined;
    const attempt: unknown = typeof order === 'object' && order !== null ? Reflect.get(order, 'attempt') : undefined;
    if (typeof runId !== 'string' || typeof attempt !== 'number') return;
    if (leader === this.node.id) this.scheduler?.onExecuteRefused(this.node.id, runId, attempt, refusal);
    else this.node.send(leader, { channel: 'report', body: { kind: 'refused', runId, attempt, refusal } });
  }

  private onExec(leader: NodeId, message: ReturnType<typeof parseExecMessage> & object): void {
    switch (message.kind) {
      case 'executes':
        for (const order of message.orders) this.executeLocally(order, leader);
        return;
      case 'acks':
        for (const ack of message.acks) this.executor.acknowledge(ack.runId, ack.attempt, ack.reportKind);
        return;
      case 'kill':
        this.executor.observeTerm(message.term);
        this.executor.kill(message.runId, message.reason);
        return;
      default:
        return assertNever(message);
    }
  }

  private onReportMessage(from: NodeId, message: ReturnType<typeof parseReportMessage> & object): void {
    switch (message.kind) {
      case 'heartbeat':
        this.heartbeats.set(from, { tags: message.tags, slots: message.slots, runningCount: message.runningCount, atMs: performance.now() });
        return;
      case 'refused':
        this.scheduler?.onExecuteRefused(from, message.runId, message.attempt, message.refusal);
        return;
      case 'reports': {
        const scheduler = this.scheduler;
        if (scheduler === null) return;
        for (const value of message.reports) {
          const report = parseReport(value, from);
          if (report !== null) this.recordPeerReport(scheduler, from, report);
        }
        return;
      }
      default:
        return assertNever(message);
    }
  }

  private recordPeerReport(scheduler: Scheduler, from: NodeId, report: ExecutorReport): void {
    void scheduler.onReport(report).then(
      (recorded) => {
        if (recorded) this.acks.push(from, { runId: report.runId, attempt: report.attempt, reportKind: report.kind });
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
    const lateMs = Math.max(0, report.atMs - due);
    this.startLatenessMaxMs = Math.max(this.startLatenessMaxMs, lateMs);
    this.options.startLateness?.(lateMs);
  }

  /** Sends a new report to the leader at once; unacknowledged ones are resent on a timer. */
  private deliverReport(report: Report): void {
    const leader = this.node.leader();
    if (leader === null) return;
    if (leader !== this.node.id) {
      this.reports.push(leader, report);
      return;
    }
    const scheduler = this.scheduler;
    if (scheduler === null) return;
    void scheduler.onReport(report).then(
      (recorded) => {
        if (recorded) this.executor.acknowledge(report.runId, report.attempt, report.kind);
      },
      () => {},
    );
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
    const leader = this.node.leader();
    if (leader === null || leader === this.node.id) return;
    this.node.send(leader, { channel: 'report', body: { kind: 'heartbeat', tags: this.options.tags, slots: this.options.slots, runningCount: this.executor.running().length } });
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled message ${JSON.stringify(value)}`);
}

/** A map of strings read from a decoded order, or null when absent or not one. */
function stringMapOf(value: unknown): Record<string, string> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') return null;
    out[k] = v;
  }
  return out;
}
