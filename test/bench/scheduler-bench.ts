// Scheduler micro-benchmark in virtual time: 100,000 jobs in a JobTable, `@every 100s` with
// creation times spread over 100 s, so 1,000 instants fall due every second. Executors
// finish each run at once (their reports are applied straight to the table). Prints fires per
// second of virtual time, the scheduler's CPU per fire batch, and the table's share.
//   node dist/test/bench/scheduler-bench.js [jobs] [virtualSeconds]
import { performance } from 'node:perf_hooks';
import { JobTable, validateJobSpec, type ApplyResult, type Command, type KillReason } from '../../src/statemachine/index.js';
import { Scheduler, type ExecuteOrder, type ExecutorNode, type SchedulerHost, type TimerHandle } from '../../src/scheduler/index.js';

const JOBS = Number(process.argv[2] ?? 100_000);
const VIRTUAL_SECONDS = Number(process.argv[3] ?? 60);
const T0 = Date.UTC(2026, 0, 1);
const PERIOD_MS = 100_000;

type Timer = { atMs: number; seq: number; fn: () => void; cancelled: boolean };

class BenchHost implements SchedulerHost {
  nowMsValue = T0;
  readonly tableValue = JobTable.create();
  private index = 0;
  private runSeq = 0;
  private seq = 0;
  timers: Timer[] = [];
  scheduler: Scheduler | null = null;
  applyMs = 0;
  simMs = 0;
  timerMs = 0;
  executes: ExecuteOrder[] = [];
  readonly nodes: ExecutorNode[] = Array.from({ length: 5 }, (_, i) => ({
    id: `n${i + 1}`, tags: {}, slots: 100_000, runningCount: 0, alive: true, lastHeartbeatMs: T0,
  }));

  nowMs(): number { return this.nowMsValue; }
  table(): JobTable { return this.tableValue; }
  selfNodeId(): string { return 'n1'; }
  newRunId(): string { return `r${++this.runSeq}`; }
  random(): number { return 0.5; }
  executors(): readonly ExecutorNode[] { return this.nodes; }
  sendExecute(_node: string, order: ExecuteOrder): void { this.executes.push(order); }
  sendKill(_node: string, _runId: string, _attempt: number, _reason: KillReason): void {}

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t: Timer = { atMs: this.nowMsValue + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  }

  apply(command: Command): ApplyResult {
    const start = performance.now();
    const result = this.tableValue.apply(command, ++this.index);
    this.applyMs += performance.now() - start;
    this.scheduler?.onApplied(command, result);
    return result;
  }

  propose(command: Command): Promise<ApplyResult> {
    // Raft's commit latency: 2 ms of virtual time.
    return new Promise((resolve) => this.setTimer(2, () => resolve(this.apply(command))));
  }

  /** Executors start and finish every dispatched run at once; the table work is counted as the sim's. */
  finishDispatched(): void {
    const start = performance.now();
    const orders = this.executes;
    this.executes = [];
    for (const o of orders) {
      const node = this.tableValue.getRun(o.runId)?.executors[0] ?? 'n1';
      this.tableValue.apply({ type: 'runStarted', runId: o.runId, attempt: o.attempt, node, at: this.nowMsValue }, ++this.index);
      const r = this.tableValue.apply({ type: 'runFinished', runId: o.runId, attempt: o.attempt, node, at: this.nowMsValue, status: 'succeeded', exitCode: 0, output: '', outputTruncated: false, error: null }, ++this.index);
      this.scheduler?.onApplied({ type: 'runFinished', runId: o.runId, attempt: o.attempt, node, at: this.nowMsValue, status: 'succeeded', exitCode: 0, output: '', outputTruncated: false, error: null }, r);
    }
    this.simMs += performance.now() - start;
  }

  async runUntil(untilMs: number): Promise<void> {
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: Timer | undefined;
      for (const t of this.timers) if (t.atMs <= untilMs && (next === undefined || t.atMs < next.atMs || (t.atMs === next.atMs && t.seq < next.seq))) next = t;
      if (next === undefined) break;
      next.cancelled = true;
      this.nowMsValue = Math.max(this.nowMsValue, next.atMs);
      const start = performance.now();
      next.fn();
      this.timerMs += performance.now() - start;
      await Promise.resolve();
      await Promise.resolve();
    }
    this.nowMsValue = untilMs;
  }
}

async function main(): Promise<void> {
  const host = new BenchHost();
  const loadStart = performance.now();
  const checked = validateJobSpec('template', { schedule: `@every ${PERIOD_MS / 1000}s`, concurrency: 'allow', executor: { type: 'shell', command: 'true' } });
  if (!checked.ok) throw new Error('bad template');
  for (let i = 0; i < JOBS; i++) {
    const id = `job-${i}`;
    host.apply({ type: 'putJob', id, spec: { ...checked.spec, id }, at: T0 - PERIOD_MS + Math.floor((i * PERIOD_MS) / JOBS) });
  }
  const loadMs = performance.now() - loadStart;
  const scheduler = new Scheduler(host);
  host.scheduler = scheduler;
  host.applyMs = 0;
  scheduler.start(1);
  const runStart = performance.now();
  for (let s = 1; s <= VIRTUAL_SECONDS; s++) {
    await host.runUntil(T0 + s * 1000);
    host.finishDispatched();
  }
  const wallMs = performance.now() - runStart;
  const m = scheduler.metricsNow();
  const schedulerMs = host.timerMs - host.applyMs;
  const figures = {
    jobs: JOBS, virtualSeconds: VIRTUAL_SECONDS, loadMs: Math.round(loadMs),
    fires: m.fires, skipped: m.skipped, duplicates: m.duplicates, firesPerVirtualSecond: Math.round(m.fires / VIRTUAL_SECONDS),
    batches: m.fireBatches, meanBatch: Math.round(m.fireBatchFires / Math.max(1, m.fireBatches)), maxBatch: m.fireBatchMax,
    wallMs: Math.round(wallMs), schedulerCpuMs: Math.round(schedulerMs), tableApplyMs: Math.round(host.applyMs), executorSimMs: Math.round(host.simMs),
    schedulerCpuPerBatchMs: Number((schedulerMs / Math.max(1, m.fireBatches)).toFixed(3)),
    schedulerCpuPerFireUs: Number(((schedulerMs * 1000) / Math.max(1, m.fires)).toFixed(2)),
    firesPerCpuSecond: Math.round(m.fires / ((schedulerMs + host.applyMs) / 1000)),
    meanLatenessMs: Math.round(m.latenessSumMs / Math.max(1, m.latenessCount)), maxLatenessMs: m.latenessMaxMs,
  };
  console.log(JSON.stringify(figures, null, 2));
  scheduler.stop();
}

await main();
