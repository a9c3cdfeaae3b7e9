// What happens to a run after dispatch, unless its executor reports first: a pending
// execution not started by notBefore + startCheckMs is sent its execute again (executors
// dedupe); a run past its deadline (startedAt + timeoutMs + grace) gets killRun(timeout);
// a run still active killWaitMs after a kill has its executions recorded lost. And nodes
// silent past the lease lose their executions. Entries only say when to look: every check
// reads the run from the table, and the deadline is recomputed from the record.
import type { Job, RunRecord } from '../statemachine/index.js';
import { Alarm, type TermContext } from './context.js';
import { TimedHeap } from './heap.js';
import { FOLLOW_UPS_MAX, LOST_PER_STEP_MAX } from './options.js';
import type { ExecutorNode } from './types.js';

type Kind = 'start' | 'deadline' | 'killWait';
type FollowUp = { readonly dueMs: number; readonly runId: string; readonly attempt: number; readonly kind: Kind };

export class FollowUps {
  private readonly heap = new TimedHeap<FollowUp>(FOLLOW_UPS_MAX);
  private readonly alarm: Alarm;
  /** `${runId}/${attempt}/${node}` of runLost proposals in flight. */
  private readonly lostInFlight = new Set<string>();
  private readonly timeoutKillsInFlight = new Set<string>();

  constructor(private readonly ctx: TermContext) {
    this.alarm = new Alarm(ctx, () => this.process());
  }

  get size(): number {
    return this.heap.size;
  }

  /** A run was dispatched or re-dispatched, or its start was recorded. */
  track(run: RunRecord, job: Job): void {
    if (run.killRequested !== null) return this.afterKill(run);
    // A queue run's time limit counts from its claim; waiting in the queue is not running.
    if (run.queue !== null && run.startedAt === null) return;
    if (run.status === 'pending') this.push(run, 'start', Math.max(run.notBefore ?? 0, this.ctx.now()) + this.ctx.options.startCheckMs);
    this.push(run, 'deadline', deadlineOf(run, job, this.ctx.options.timeoutGraceMs));
  }

  /** A kill was recorded: give the executor killWaitMs to report, then record the run lost. */
  afterKill(run: RunRecord): void {
    this.push(run, 'killWait', this.ctx.now() + this.ctx.options.killWaitMs);
  }

  private push(run: RunRecord, kind: Kind, dueMs: number): void {
    const entry = { dueMs, runId: run.runId, attempt: run.attempt, kind };
    if (!this.heap.push(entry)) {
      // Entries are hints that outlive their runs; when full, drop those of runs that ended.
      const table = this.ctx.host.table();
      this.heap.retain((e) => {
        const current = table.getRun(e.runId);
        return current !== null && current.attempt === e.attempt && (current.status === 'pending' || current.status === 'running');
      });
      if (!this.heap.push(entry)) {
        this.ctx.metrics.queueDrops += 1;
        return;
      }
    }
    this.ctx.metrics.followUps = this.heap.size;
    this.alarm.at(dueMs);
  }

  process(): void {
    const now = this.ctx.now();
    const table = this.ctx.host.table();
    for (let entry = this.heap.popDue(now); entry !== undefined; entry = this.heap.popDue(now)) {
      const run = table.getRun(entry.runId);
      if (run === null || run.attempt !== entry.attempt || (run.status !== 'pending' && run.status !== 'running')) continue;
      const job = table.getJob(run.jobId);
      if (job === null) continue;
      if (entry.kind === 'start') this.checkStart(run, job);
      else if (entry.kind === 'deadline') this.checkDeadline(run, job, now);
      else this.declareLost(run, this.ctx.activeNodes(run));
    }
    this.ctx.metrics.followUps = this.heap.size;
    const next = this.heap.peek();
    if (next !== undefined) this.alarm.at(next.dueMs);
  }

  private checkStart(run: RunRecord, job: Job): void {
    const pending = run.executions.filter((e) => e.attempt === run.attempt && e.status === 'pending').map((e) => e.node);
    if (pending.length === 0) return;
    this.ctx.sendExecute(run, job, pending);
    this.ctx.metrics.executesResent += pending.length;
    this.push(run, 'start', this.ctx.now() + this.ctx.options.startCheckMs);
  }

  private checkDeadline(run: RunRecord, job: Job, now: number): void {
    const deadline = deadlineOf(run, job, this.ctx.options.timeoutGraceMs);
    if (now < deadline) return this.push(run, 'deadline', deadline);
    if (run.killRequested !== null) return this.afterKill(run);
    if (this.timeoutKillsInFlight.has(run.runId)) return;
    this.timeoutKillsInFlight.add(run.runId);
    this.ctx.metrics.timeoutKills += 1;
    // The kill is sent when the killRun applies (record first, then act); see Scheduler.onApplied.
    void this.ctx.propose({ type: 'killRun', runId: run.runId, reason: 'timeout', at: now }).then((result) => {
      this.timeoutKillsInFlight.delete(run.runId);
      if (result === null && !this.ctx.closed) this.push(run, 'deadline', this.ctx.now() + this.ctx.options.proposeRetryMs);
    });
  }

  /** Records the named executions of the run's current attempt lost (bounded, deduped while in flight). */
  declareLost(run: RunRecord, nodes: readonly string[]): void {
    for (const node of nodes) {
      const key = `${run.runId}/${run.attempt}/${node}`;
      if (this.lostInFlight.has(key)) continue;
      this.lostInFlight.add(key);
      this.ctx.metrics.lostDeclared += 1;
      void this.ctx.propose({ type: 'runLost', runId: run.runId, attempt: run.attempt, node, at: this.ctx.now() }).then(() => this.lostInFlight.delete(key));
    }
  }

  /** Nodes silent past the lease (counted from this leader's start at the earliest), or removed from the cluster, lose their executions. */
  detectLost(): void {
    const now = this.ctx.now();
    const table = this.ctx.host.table();
    const known = new Map<string, ExecutorNode>(this.ctx.host.executors().map((n) => [n.id, n]));
    let budget = LOST_PER_STEP_MAX;
    for (const nodeId of table.nodesWithActiveRuns()) {
      if (budget <= 0) break;
      const node = known.get(nodeId);
      const lastSeenMs = Math.max(node?.lastHeartbeatMs ?? 0, this.ctx.startedAtMs);
      // A node that is no longer a member lost its runs at once: no lease to wait out, and
      // if it came back (wiped, re-added under the same id) a resend would run them again.
      const removed = node === undefined;
      if (!removed && ((node?.alive ?? false) || now - lastSeenMs < this.ctx.options.leaseMs)) continue;
      for (const run of table.activeRunsOnNode(nodeId, budget)) {
        budget -= 1;
        this.declareLost(run, [nodeId]);
      }
    }
  }

  clear(): void {
    this.heap.clear();
    this.alarm.cancel();
  }
}

/** When the backstop kills: the start (or, before it, the time it may start) plus timeout and grace. */
function deadlineOf(run: RunRecord, job: Job, graceMs: number): number {
  const startMs = run.startedAt ?? Math.max(run.notBefore ?? 0, run.firedAt);
  return startMs + job.timeoutMs + graceMs;
}
