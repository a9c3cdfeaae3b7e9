// The fire loop: one `fire` proposal in flight at a time. Each pass reads the applied table,
// so a pass never re-proposes what an applied batch recorded, and instants of a job are
// always proposed in order. A failed proposal loses nothing: the instants stay due in the
// table and the next pass proposes them again (the table dedupes if the first one did commit
// after all). Dispatch happens in Scheduler.onApplied, from the committed records.
import type { ApplyResult, FireOutcome, QueuedManualFire } from '../statemachine/index.js';
import { Alarm, type TermContext } from './context.js';
import { buildBatch, waitingQueuedFire, type BatchPlan, type QueuedFire } from './batch.js';
import { ChimeError } from '../errors/index.js';
import { FIRE_BATCH_MAX, FIRE_PROPOSE_SAMPLES, FIRE_PROPOSE_WINDOW_MS, QUEUED_FIRES_MAX } from './options.js';
import { LoadView } from './placement.js';
import type { RunNowResult } from './types.js';

type Resolver = { readonly resolve: (r: RunNowResult) => void; readonly reject: (e: Error) => void };

export class FireLoop {
  private inFlight = false;
  private again = false;
  private readonly alarm: Alarm;
  private queue: QueuedFire[] = [];
  private readonly resolvers = new Map<string, Resolver>();
  private readonly killsInFlight = new Set<string>();
  /** Propose-to-apply times of the last fire batches, with when they applied (a ring). */
  private readonly proposals: { readonly atMs: number; readonly tookMs: number; readonly runs: number }[] = [];
  private proposeNext = 0;
  /**
   * The run id this term proposes for each owed `after` fire (by its table key), so a
   * re-proposal is a duplicate. A new leader picks new ids; the key (the upstream runId)
   * dedupes a fire an old leader did record.
   */
  private owedRunIds = new Map<string, string>();
  /** Run ids of the manual fires the table holds waiting (read each pass). */
  private tableWaiting = new Set<string>();
  /** A queueFires proposal is in flight (one at a time, like fires). */
  private recordingWaiting = false;

  constructor(private readonly ctx: TermContext) {
    this.alarm = new Alarm(ctx, () => this.pump());
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Queues a manual fire (`after` fires are read from the table); false when the queue is full. */
  enqueue(fire: QueuedFire, resolver?: Resolver): boolean {
    if (this.queue.length >= QUEUED_FIRES_MAX) {
      this.ctx.metrics.queueDrops += 1;
      return false;
    }
    this.queue.push(fire);
    if (resolver !== undefined) this.resolvers.set(fire.runId, resolver);
    this.ctx.metrics.queuedFires = this.queue.length;
    this.wake();
    return true;
  }

  /**
   * How long before its instant an `allow` job's fire is proposed: allowFireLeadMs, or 1.5
   * times the slowest fire proposal of the last few seconds plus 20 ms when that is longer (an
   * overloaded or slow-disk cluster), so that fires still apply before their instant. A run
   * waiting for its instant holds an executor slot, so the longer lead is capped where the
   * runs waiting at the recent fire rate would take a quarter of the cluster's slots (and at
   * fireLeadMaxMs): a lead that costs capacity would make runs wait for slots instead. (Runs
   * of one instant hold their slots from the lead before it until their finished report
   * commits after it; with cron's bursts, two instants' runs must fit at once.)
   */
  leadMs(): number {
    const { fireLeadMs, allowFireLeadMs, fireLeadMaxMs } = this.ctx.options;
    const now = this.ctx.now();
    let slowestMs = 0;
    let runs = 0;
    let oldestMs = now;
    for (const p of this.proposals) {
      if (p.atMs < now - FIRE_PROPOSE_WINDOW_MS) continue;
      slowestMs = Math.max(slowestMs, p.tookMs);
      runs += p.runs;
      oldestMs = Math.min(oldestMs, p.atMs);
    }
    const wantedMs = Math.max(allowFireLeadMs, Math.ceil(1.5 * slowestMs) + 20);
    if (wantedMs <= fireLeadMs) return fireLeadMs;
    const slots = this.ctx.host.executors().reduce((n, e) => n + (e.alive ? e.slots : 0), 0);
    const runsPerMs = runs / Math.max(1000, now - oldestMs);
    const capacityMs = runsPerMs > 0 ? slots / 4 / runsPerMs : fireLeadMaxMs;
    return Math.floor(Math.min(fireLeadMaxMs, Math.max(fireLeadMs, Math.min(wantedMs, capacityMs))));
  }

  private observePropose(atMs: number, tookMs: number, runs: number): void {
    this.ctx.metrics.recordFirePropose(tookMs);
    const sample = { atMs, tookMs, runs };
    if (this.proposals.length < FIRE_PROPOSE_SAMPLES) this.proposals.push(sample);
    else this.proposals[this.proposeNext] = sample;
    this.proposeNext = (this.proposeNext + 1) % FIRE_PROPOSE_SAMPLES;
  }

  /** Something changed (a job, a free slot, a queued fire): run a pass soon. */
  wake(): void {
    this.alarm.at(this.ctx.now());
  }

  /**
   * A job was created. It changes the plan only through its own instants: an `after` edge
   * owes nothing until an upstream succeeds (state.ts, oweAfterFires), and a new job frees
   * no slot. So a new manual or paused job needs no pass (at one client, a pass per write
   * was a tenth of the leader's allocations), and a scheduled one a wake before its first
   * instant, as rearm would set. Most first instants lie beyond the alarm even with the
   * longest lead; the pass the alarm wakes then re-arms from the table, which holds the job.
   */
  jobCreated(nextFireAtMs: number | null): void {
    if (nextFireAtMs === null) return;
    const { fireLeadMs, fireLeadMaxMs } = this.ctx.options;
    if (nextFireAtMs - Math.max(fireLeadMs, fireLeadMaxMs) >= this.alarm.due) return;
    this.alarm.at(Math.max(this.ctx.now(), nextFireAtMs - this.leadMs()));
  }

  pump(): void {
    if (this.ctx.closed) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.alarm.cancel();
    this.ctx.metrics.firePasses += 1;
    const now = this.ctx.now();
    const host = this.ctx.host;
    const table = host.table();
    const view = new LoadView({
      nodes: host.executors(), activeCountOf: (n) => table.activeCountOnNode(n), selfId: host.selfNodeId(),
      young: this.ctx.young(now), random: () => host.random(),
    });
    const plan = buildBatch({
      table, view, queued: [...this.queue, ...this.waitingManualFires(), ...this.owedFires()], queuedFireWaitMs: this.ctx.options.queuedFireWaitMs, newRunId: () => host.newRunId(),
      killsInFlight: this.killsInFlight, timing: { nowMs: now, fireLeadMs: this.leadMs() + this.ctx.options.fireWindowMs, catchUpMs: this.ctx.options.catchUpMs },
      strictFireLeadMs: this.ctx.options.fireLeadMs + this.ctx.options.fireWindowMs,
    });
    this.ctx.metrics.waitingForCapacity = plan.waiting;
    this.proposeKills(plan.kills, now);
    this.dropQueued(plan);
    this.recordWaiting(plan.waitingQueued, now);
    if (plan.fires.length === 0) return this.rearm(now, plan.waiting > 0);
    this.inFlight = true;
    this.ctx.metrics.fireBatches += 1;
    this.ctx.metrics.fireBatchFires += plan.fires.length;
    this.ctx.metrics.fireBatchMax = Math.max(this.ctx.metrics.fireBatchMax, plan.fires.length);
    let failed = false;
    host.propose({ type: 'fire', at: now, fires: plan.fires }).then(
      (result) => {
        const appliedMs = this.ctx.now();
        const runs = result.ok && result.kind === 'fire' ? result.fires.filter((f) => f.status === 'run').length : 0;
        this.observePropose(appliedMs, appliedMs - now, runs);
        this.settle(plan, result);
      },
      () => {
        failed = true;
        this.ctx.metrics.proposalFailures += 1;
        this.requeue(plan.taken);
      },
    ).finally(() => {
      this.inFlight = false;
      if (this.ctx.closed) return;
      if (failed) this.alarm.at(this.ctx.now() + this.ctx.options.proposeRetryMs);
      else if (this.again || plan.more) this.alarm.at(this.ctx.now());
      else this.rearm(this.ctx.now(), false);
      this.again = false;
    });
  }

  /** Manual fires the table holds waiting for capacity (recorded by this or an earlier leader), except those still in this queue. */
  private waitingManualFires(): QueuedFire[] {
    const inQueue = new Set(this.queue.map((q) => q.runId));
    const out: QueuedFire[] = [];
    this.tableWaiting = new Set();
    for (const o of this.ctx.host.table().owedManualFires(QUEUED_FIRES_MAX)) {
      this.tableWaiting.add(o.runId);
      if (inQueue.has(o.runId)) continue;
      out.push(waitingQueuedFire(o));
    }
    return out;
  }

  /**
   * Manual fires of this queue that must wait for a slot are recorded in the log (queueFires),
   * so that they outlive this leader; once recorded they leave the queue and are read from the
   * table like any leader's, and the caller is answered with the run id at once ('waiting'):
   * a request that held until a slot freed would time out at its client, whose retry
   * without a key would then start the run twice.
   */
  private recordWaiting(waiting: readonly QueuedFire[], now: number): void {
    if (this.recordingWaiting) return;
    const mine = new Set(this.queue);
    const fires: QueuedManualFire[] = waiting.filter((q) => q.trigger === 'manual' && mine.has(q)).slice(0, FIRE_BATCH_MAX).map((q) => ({
      jobId: q.jobId, runId: q.runId, scheduledAt: q.scheduledAt, payload: q.payload, key: q.key, priority: q.priority ?? null, triggeredBy: q.triggeredBy ?? null,
    }));
    if (fires.length === 0) return;
    this.recordingWaiting = true;
    this.ctx.host.propose({ type: 'queueFires', at: now, fires }).then((result) => {
      if (this.ctx.closed) return;
      if (!result.ok || result.kind !== 'queuedFires') {
        this.ctx.metrics.proposalFailures += 1;
        return;
      }
      // Outcomes come in the order of the fires; a settled fire leaves this queue.
      const settled = new Set<string>();
      result.fires.forEach((outcome, i) => {
        const fire = fires[i];
        if (fire === undefined) return;
        settled.add(fire.runId);
        if (outcome.status === 'queued') {
          this.ctx.metrics.manualFiresRecordedWaiting += 1;
          this.resolveWaiting(fire.runId);
        } else if (outcome.status === 'rejected') {
          this.reject(fire.runId, new ChimeError(outcome.code === 'JOB_NOT_FOUND' ? 'JOB_NOT_FOUND' : 'QUEUE_FULL', outcome.message));
        } else {
          // The key is taken: by a run already recorded or another waiting fire, or (our own
          // id) by an earlier proposal of this very fire — resolveOutcome tells them apart.
          this.resolveOutcome(fire.runId, { jobId: fire.jobId, runId: outcome.runId, status: 'duplicate' });
        }
      });
      this.queue = this.queue.filter((q) => !settled.has(q.runId));
      this.ctx.metrics.queuedFires = this.queue.length;
    }, () => {
      this.ctx.metrics.proposalFailures += 1;
    }).finally(() => {
      this.recordingWaiting = false;
    });
  }

  /** The `after` fires the table owes, oldest first, each with this term's run id for it. */
  private owedFires(): QueuedFire[] {
    const owed = this.ctx.host.table().owedAfterFires(QUEUED_FIRES_MAX);
    const ids = new Map<string, string>();
    const out: QueuedFire[] = [];
    for (const o of owed) {
      const mapKey = `${o.jobId}\u0000${o.upstreamRunId}`;
      let runId = this.owedRunIds.get(mapKey);
      if (runId === undefined) {
        runId = this.ctx.host.newRunId();
        this.ctx.metrics.afterFiresQueued += 1;
      }
      ids.set(mapKey, runId);
      // scheduledAt is the upstream's finish: committed, so every leader waits for capacity from the same instant.
      out.push({ jobId: o.jobId, runId, trigger: 'after', scheduledAt: o.atMs, payload: null, key: o.upstreamRunId });
    }
    this.owedRunIds = ids;
    return out;
  }

  /** Sleeps until the earliest owed instant minus the lead; while runs wait for slots, re-checks every lead. */
  private rearm(now: number, waiting: boolean): void {
    const earliest = this.ctx.host.table().earliestNextFireAt();
    let dueMs = now + this.ctx.options.maintenanceMs;
    if (earliest !== null) {
      let wakeMs = earliest - this.leadMs();
      // This pass took every job the longer lead covers: one owing an instant sooner is a
      // forbid/replace job, planned only within the configured lead.
      if (wakeMs <= now) wakeMs = earliest - this.ctx.options.fireLeadMs;
      dueMs = Math.min(dueMs, wakeMs);
    }
    // Runs waiting for slots keep their jobs due: look again after a lead, not in a busy loop.
    const table = this.ctx.host.table();
    if (waiting || this.queue.length > 0 || table.owedAfterCount > 0 || table.owedManualCount > 0) dueMs = Math.max(dueMs, now + Math.max(1, this.ctx.options.fireLeadMs));
    this.alarm.at(Math.max(now, dueMs));
  }

  private proposeKills(runIds: readonly string[], now: number): void {
    for (const runId of runIds) {
      this.killsInFlight.add(runId);
      this.ctx.metrics.replaceKills += 1;
      void this.ctx.propose({ type: 'killRun', runId, reason: 'replace', at: now }).then(() => this.killsInFlight.delete(runId));
    }
  }

  /** Takes the fires this batch holds out of the queue; refuses those whose job is gone. */
  private dropQueued(plan: BatchPlan): void {
    if (plan.taken.length === 0 && plan.gone.length === 0) return;
    const out = new Set<QueuedFire>([...plan.taken, ...plan.gone]);
    this.queue = this.queue.filter((q) => !out.has(q));
    this.ctx.metrics.queuedFires = this.queue.length;
    for (const q of plan.gone) this.reject(q.runId, new ChimeError('JOB_NOT_FOUND', `job "${q.jobId}" does not exist`));
  }

  private requeue(taken: readonly QueuedFire[]): void {
    // Owed `after` fires and recorded waiting manual ones stay in the table until a fire is recorded: only this queue's come back here.
    const fires = taken.filter((q) => q.trigger === 'manual' && !this.tableWaiting.has(q.runId));
    if (fires.length === 0 || this.ctx.closed) return;
    // Back in front, with the same run ids: if the failed proposal did commit, the table answers duplicate.
    this.queue = [...fires, ...this.queue];
    this.ctx.metrics.queuedFires = this.queue.length;
  }

  private settle(plan: BatchPlan, result: ApplyResult): void {
    if (!result.ok || result.kind !== 'fire') {
      this.ctx.metrics.proposalFailures += 1;
      for (const q of plan.taken) this.reject(q.runId, new ChimeError('FIRE_REJECTED', result.ok ? 'unexpected apply result' : result.message));
      return;
    }
    const byRunId = new Map<string, FireOutcome>();
    plan.fires.forEach((fire, i) => {
      const outcome = result.fires[i];
      if (outcome !== undefined) byRunId.set(fire.runId, outcome);
    });
    for (const q of plan.taken) {
      const outcome = byRunId.get(q.runId);
      if (outcome !== undefined) this.resolveOutcome(q.runId, outcome);
    }
  }

  private resolveOutcome(runId: string, outcome: FireOutcome): void {
    const resolver = this.resolvers.get(runId);
    if (resolver === undefined) return;
    this.resolvers.delete(runId);
    switch (outcome.status) {
      case 'run': case 'skipped':
        return resolver.resolve({ runId, duplicate: false, status: outcome.status });
      case 'duplicate': {
        // Our own run id back means an earlier proposal of this very request committed.
        if (outcome.runId === runId) {
          const table = this.ctx.host.table();
          const run = table.getRun(runId);
          const status = run === null && table.waitingManualFire(runId) !== null ? 'waiting' : run?.status === 'skipped' ? 'skipped' : 'run';
          return resolver.resolve({ runId, duplicate: false, status });
        }
        return resolver.resolve({ runId: outcome.runId, duplicate: true, status: 'duplicate' });
      }
      case 'rejected':
        return resolver.reject(new ChimeError(outcome.code === 'JOB_NOT_FOUND' ? 'JOB_NOT_FOUND' : 'FIRE_REJECTED', outcome.message));
    }
  }

  private resolveWaiting(runId: string): void {
    const resolver = this.resolvers.get(runId);
    if (resolver === undefined) return;
    this.resolvers.delete(runId);
    resolver.resolve({ runId, duplicate: false, status: 'waiting' });
  }

  private reject(runId: string, error: Error): void {
    const resolver = this.resolvers.get(runId);
    this.resolvers.delete(runId);
    resolver?.reject(error);
  }

  close(error: Error): void {
    this.alarm.cancel();
    for (const resolver of this.resolvers.values()) resolver.reject(error);
    this.resolvers.clear();
    this.queue = [];
    this.owedRunIds.clear();
    this.ctx.metrics.queuedFires = 0;
  }
}
