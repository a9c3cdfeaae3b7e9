// Test doubles (not used by production code): a virtual clock, a host over an in-memory
// JobTable that applies proposals after a delay (or fails them on demand), and simulated
// executors that dedupe by (runId, attempt) like the real one and count every execution
// they actually start — the outside observer of G3.
import {
  JobTable, decodeCommand, encodeCommand, validateJobSpec,
  type ApplyResult, type Command, type KillReason, type RunRecord,
} from '../../src/statemachine/index.js';
import { seededFloat } from './prng.js';
import type { ExecuteOrder, ExecutorNode, ExecutorReport, Scheduler, SchedulerHost, TimerHandle } from '../../src/scheduler/index.js';

const REPORT_RESEND_MS = 500;

export const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);


type Timer = { readonly atMs: number; readonly seq: number; readonly fn: () => void; cancelled: boolean };

/** Lets promise callbacks run: the microtask queue drains completely before a macrotask. No real time passes. */
export async function flush(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

function earlier(a: Timer, b: Timer): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

/** Timers in a binary heap by (atMs, seq): equal times run in the order they were set. */
export class VirtualClock {
  private readonly heap: Timer[] = [];
  private seq = 0;

  constructor(public nowMs: number = T0) {}

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: Timer = { atMs: this.nowMs + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    const h = this.heap;
    h.push(timer);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!earlier(h[i] as Timer, h[p] as Timer)) break;
      [h[i], h[p]] = [h[p] as Timer, h[i] as Timer];
      i = p;
    }
    return { cancel: () => void (timer.cancelled = true) };
  }

  get pendingTimers(): number {
    return this.heap.filter((t) => !t.cancelled).length;
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    h[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && earlier(h[l] as Timer, h[m] as Timer)) m = l;
      if (r < h.length && earlier(h[r] as Timer, h[m] as Timer)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as Timer, h[i] as Timer];
      i = m;
    }
    return top;
  }

  private next(untilMs: number): Timer | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.atMs > untilMs) return undefined;
      this.pop();
      if (!top.cancelled) return top;
    }
  }

  /** Runs every timer due by now + ms in time order, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const untilMs = this.nowMs + ms;
    for (let t = this.next(untilMs); t !== undefined; t = this.next(untilMs)) {
      t.cancelled = true;
      this.nowMs = Math.max(this.nowMs, t.atMs);
      t.fn();
      await flush();
    }
    this.nowMs = untilMs;
    await flush();
  }
}

export type Behaviour = { readonly durationMs: number; readonly status: 'succeeded' | 'failed' | 'timed_out' | 'killed'; readonly report?: boolean };

export type SimNode = { id: string; tags: Record<string, string>; slots: number; alive: boolean; lastHeartbeatMs: number | null; held: Map<string, TimerHandle> };

export class FakeHost implements SchedulerHost {
  readonly clock: VirtualClock;
  readonly table: () => JobTable;
  private readonly tableValue: JobTable;
  private index = 0;
  private runSeq = 0;
  readonly randomSource: () => number;
  scheduler: Scheduler | null = null;
  self = 'n1';
  applyDelayMs = 5;
  /** Proposals to refuse outright (not leader). */
  refuseNext = 0;
  /** Proposals to apply but report as failed (a timeout after which the entry commits anyway). */
  timeoutNext = 0;
  readonly nodes = new Map<string, SimNode>();
  readonly executes: { node: string; order: ExecuteOrder; atMs: number }[] = [];
  readonly kills: { node: string; runId: string; attempt: number; reason: KillReason; atMs: number }[] = [];
  /** Every (runId, attempt, node) an executor actually started, in order: the outside observer. */
  readonly started: string[] = [];
  private readonly startedSet = new Set<string>();
  /** Every record a fire created (run or skipped), in apply order: history eviction cannot hide one. */
  readonly records: { jobId: string; runId: string; scheduledAt: number; trigger: string; status: 'run' | 'skipped'; reason: string | null; atMs: number }[] = [];
  readonly proposed: Command[] = [];
  behaviour: (order: ExecuteOrder, node: string) => Behaviour = () => ({ durationMs: 10, status: 'succeeded' });

  constructor(seed = 1, clock = new VirtualClock()) {
    this.clock = clock;
    this.tableValue = JobTable.create();
    this.table = () => this.tableValue;
    this.randomSource = seededFloat(seed);
  }

  nowMs(): number {
    return this.clock.nowMs;
  }
  selfNodeId(): string {
    return this.self;
  }
  newRunId(): string {
    return `run-${++this.runSeq}`;
  }
  random(): number {
    return this.randomSource();
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.clock.setTimer(delayMs, fn);
  }

  addNode(id: string, fields: Partial<Pick<SimNode, 'tags' | 'slots' | 'alive'>> = {}): SimNode {
    const node: SimNode = { id, tags: fields.tags ?? {}, slots: fields.slots ?? 8, alive: fields.alive ?? true, lastHeartbeatMs: this.clock.nowMs, held: new Map() };
    this.nodes.set(id, node);
    return node;
  }

  executors(): readonly ExecutorNode[] {
    return [...this.nodes.values()].map((n) => ({
      id: n.id, tags: n.tags, slots: n.slots, runningCount: n.held.size, alive: n.alive, lastHeartbeatMs: n.alive ? this.clock.nowMs : n.lastHeartbeatMs,
    }));
  }

  /** Applies directly (setup steps: jobs), bypassing the scheduler's proposals. */
  apply(command: Command): ApplyResult {
    const decoded = decodeCommand(encodeCommand(command));
    const result = this.tableValue.apply(decoded, ++this.index);
    if (decoded.type === 'fire' && result.ok && result.kind === 'fire') {
      result.fires.forEach((outcome, i) => {
        const fire = decoded.fires[i];
        if (fire === undefined || (outcome.status !== 'run' && outcome.status !== 'skipped')) return;
        const reason = outcome.status === 'skipped' ? (outcome.reason ?? null) : null;
        this.records.push({ jobId: fire.jobId, runId: fire.runId, scheduledAt: fire.scheduledAt, trigger: fire.trigger, status: outcome.status, reason, atMs: this.clock.nowMs });
      });
    }
    this.scheduler?.onApplied(decoded, result);
    return result;
  }

  putJob(id: string, fields: Record<string, unknown>): void {
    const checked = validateJobSpec(id, { executor: { type: 'shell', command: 'true' }, ...fields });
    if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
    const result = this.apply({ type: 'putJob', id, spec: checked.spec, at: this.clock.nowMs });
    if (!result.ok) throw new Error(result.message);
  }

  propose(command: Command): Promise<ApplyResult> {
    this.proposed.push(command);
    if (this.refuseNext > 0) {
      this.refuseNext -= 1;
      return Promise.reject(new Error('not leader'));
    }
    const timeout = this.timeoutNext > 0;
    if (timeout) this.timeoutNext -= 1;
    return new Promise((resolve, reject) => {
      this.clock.setTimer(this.applyDelayMs, () => {
        const result = this.apply(command);
        if (timeout) reject(new Error('timeout')); else resolve(result);
      });
    });
  }

  sendExecute(node: string, order: ExecuteOrder): void {
    this.executes.push({ node, order, atMs: this.clock.nowMs });
    const sim = this.nodes.get(node);
    if (sim === undefined || !sim.alive) return;
    const key = `${order.runId}/${order.attempt}`;
    if (sim.held.has(key) || this.startedSet.has(`${key}/${node}`)) return;
    const startDelay = Math.max(0, (order.notBeforeMs ?? 0) - this.clock.nowMs);
    const behaviour = this.behaviour(order, node);
    let finish: TimerHandle | null = null;
    const start = this.clock.setTimer(startDelay, () => {
      this.started.push(`${key}/${node}`);
      this.startedSet.add(`${key}/${node}`);
      this.report({ kind: 'started', runId: order.runId, attempt: order.attempt, node, atMs: this.clock.nowMs });
      if (behaviour.report === false) return;
      finish = this.clock.setTimer(behaviour.durationMs, () => this.finish(sim, order, behaviour.status, null));
    });
    sim.held.set(key, { cancel: () => { start.cancel(); finish?.cancel(); } });
  }

  private finish(sim: SimNode, order: ExecuteOrder, status: Behaviour['status'], error: string | null): void {
    const key = `${order.runId}/${order.attempt}`;
    if (!sim.held.has(key) || !sim.alive) return;
    sim.held.get(key)?.cancel();
    sim.held.delete(key);
    this.report({
      kind: 'finished', runId: order.runId, attempt: order.attempt, node: sim.id, atMs: this.clock.nowMs, status,
      exitCode: status === 'succeeded' ? 0 : null, output: '', outputTruncated: false, error,
    });
  }

  /** Like the executor's outbox: resend to whoever leads until a report is acknowledged. */
  report(report: ExecutorReport): void {
    const sim = this.nodes.get(report.node);
    if (sim === undefined || !sim.alive) return;
    const scheduler = this.scheduler;
    const resend = (): void => void this.clock.setTimer(REPORT_RESEND_MS, () => this.report(report));
    if (scheduler === null) return resend();
    void scheduler.onReport(report).then((acknowledged) => {
      if (!acknowledged) resend();
    });
  }

  sendKill(node: string, runId: string, attempt: number, reason: KillReason): void {
    this.kills.push({ node, runId, attempt, reason, atMs: this.clock.nowMs });
    const sim = this.nodes.get(node);
    const order = this.executes.find((e) => e.node === node && e.order.runId === runId && e.order.attempt === attempt)?.order;
    if (sim === undefined || order === undefined || !sim.held.has(`${runId}/${attempt}`)) return;
    this.clock.setTimer(1, () => this.finish(sim, order, reason === 'timeout' ? 'timed_out' : 'killed', `killed: ${reason}`));
  }

  /** The node dies: its runs stop silently and it sends no more heartbeats. */
  crash(node: string): void {
    const sim = this.nodes.get(node);
    if (sim === undefined) return;
    for (const handle of sim.held.values()) handle.cancel();
    sim.held.clear();
    sim.alive = false;
    sim.lastHeartbeatMs = this.clock.nowMs;
  }

  /** Advances virtual time in small steps until the promise settles (at most maxMs). */
  async settle<T>(promise: Promise<T>, maxMs = 60_000, stepMs = 5): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => void (settled = true));
    watched.catch(() => {});
    for (let waited = 0; !settled && waited < maxMs; waited += stepMs) await this.clock.advance(stepMs);
    if (!settled) throw new Error(`promise did not settle within ${maxMs} ms of virtual time`);
    return watched;
  }

  /** Run records of a job, oldest first. */
  runsOf(jobId: string): RunRecord[] {
    const page = this.tableValue.listRuns(jobId, { limit: 1000 });
    if (!page.ok) throw new Error(page.message);
    return page.items.reverse();
  }
}
