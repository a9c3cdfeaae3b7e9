// Pull workers on the leader: long-polled claims and lease expiry. A claim is a claimRuns
// proposal; the table picks the runs when it applies, and the worker is answered from that
// result, so what a worker holds is always what the log says it holds. A claim that finds
// nothing parks until a queued run of one of its functions appears (or its wait ends);
// woken claims are limited to the runs there are, so a burst of idle workers does not turn
// every new run into a proposal per worker. Leases: a held attempt whose lease ran out is
// recorded lost (claimReport expire), and the retry policy takes it from there. A new
// leader gives every held attempt a full lease from its start, because heartbeats that
// arrived during the election could not be recorded.
import { CLAIM_ITEMS_MAX, WORKER_HELD_MAX, type ApplyResult, type ClaimReportCommand, type RunRecord } from '../statemachine/index.js';
import { ChimeError } from '../errors/index.js';
import { Alarm, type TermContext } from './context.js';
import { CLAIM_RECHECK_MS, CLAIM_WAIT_MS_MAX, CLAIM_WAITERS_MAX, LEASE_EXPIRIES_PER_STEP_MAX } from './options.js';

export type ClaimRequest = {
  readonly worker: string;
  readonly functions: readonly string[];
  readonly max: number;
  readonly waitMs: number;
  /** The node the worker asked (shown in the worker list). */
  readonly node: string;
  /** The worker hung up: a parked claim ends empty at once (a claim being proposed still completes; its runs' leases run out). */
  readonly signal?: AbortSignal;
};

type Waiter = {
  readonly request: ClaimRequest;
  readonly deadlineMs: number;
  readonly resolve: (runs: readonly RunRecord[]) => void;
  readonly reject: (error: Error) => void;
  /** A claimRuns proposal of this waiter is in flight. */
  proposing: boolean;
  /** The worker hung up while a proposal was in flight: settle with its result, propose no more. */
  abandoned: boolean;
};

export class WorkQueue {
  /** Parked and proposing claims, oldest first (Set keeps insertion order). */
  private readonly waiters = new Set<Waiter>();
  private readonly alarm: Alarm;
  private readonly expiriesInFlight = new Set<string>();

  constructor(private readonly ctx: TermContext) {
    this.alarm = new Alarm(ctx, () => this.wake());
  }

  get waiting(): number {
    let n = 0;
    for (const w of this.waiters) if (!w.proposing) n++;
    return n;
  }

  /** Waiting claims per function (for GET /v1/functions). */
  waitingByFunction(): Map<string, number> {
    const out = new Map<string, number>();
    for (const w of this.waiters) if (!w.proposing) for (const fn of w.request.functions) out.set(fn, (out.get(fn) ?? 0) + 1);
    return out;
  }

  claim(request: ClaimRequest): Promise<readonly RunRecord[]> {
    if (this.waiters.size >= CLAIM_WAITERS_MAX) {
      this.ctx.metrics.claimsRefused += 1;
      return Promise.reject(new ChimeError('WAITERS_FULL', `${CLAIM_WAITERS_MAX} claims are waiting on this node; try again later`));
    }
    // The table would give it nothing anyway (apply caps it too); a clear answer beats an empty long-poll.
    if (this.ctx.host.table().heldBy(request.worker) >= WORKER_HELD_MAX) {
      this.ctx.metrics.claimsRefusedHeld += 1;
      return Promise.reject(new ChimeError('WORKER_CLAIMS_FULL', `worker ${request.worker} holds ${WORKER_HELD_MAX} attempts, its limit; complete or fail some first`));
    }
    const max = Math.max(1, Math.min(CLAIM_ITEMS_MAX, request.max));
    const waitMs = Math.max(0, Math.min(CLAIM_WAIT_MS_MAX, request.waitMs));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { request: { ...request, max, waitMs }, deadlineMs: this.ctx.now() + waitMs, resolve, reject, proposing: false, abandoned: false };
      this.waiters.add(waiter);
      request.signal?.addEventListener('abort', () => {
        if (!this.waiters.has(waiter)) return;
        this.ctx.metrics.claimsAbandoned += 1;
        if (waiter.proposing) waiter.abandoned = true;
        else this.settle(waiter, []);
      }, { once: true });
      // The first proposal also records that the worker was seen, even when nothing is queued.
      this.propose(waiter);
    });
  }

  /** Something may have queued runs (a fire, a retry, a lost claim): hand them to parked claims. */
  wake(): void {
    if (this.ctx.closed) return;
    const now = this.ctx.now();
    const table = this.ctx.host.table();
    const claimableByFn = new Map<string, number>();
    const claimable = (fn: string): number => {
      let n = claimableByFn.get(fn);
      if (n === undefined) {
        n = table.claimableCount(fn, now, CLAIM_ITEMS_MAX * CLAIM_WAITERS_MAX);
        // Runs that claims in flight will take are not there for parked ones.
        for (const w of this.waiters) if (w.proposing && w.request.functions.includes(fn)) n -= w.request.max;
        claimableByFn.set(fn, n);
      }
      return n;
    };
    let nextDueAt: number | null = null;
    for (const w of [...this.waiters]) {
      if (w.proposing) continue;
      if (now >= w.deadlineMs) {
        this.settle(w, []);
        continue;
      }
      const fn = w.request.functions.find((f) => claimable(f) > 0);
      if (fn === undefined) {
        const head = table.queueHead(w.request.functions, now);
        if (head.nextDueAt !== null) nextDueAt = Math.min(nextDueAt ?? head.nextDueAt, head.nextDueAt);
        continue;
      }
      for (const f of w.request.functions) claimableByFn.set(f, claimable(f) - w.request.max);
      this.propose(w);
    }
    this.rearm(now, nextDueAt);
  }

  private rearm(now: number, nextDueAt: number | null): void {
    let due = now + CLAIM_RECHECK_MS;
    for (const w of this.waiters) if (!w.proposing) due = Math.min(due, w.deadlineMs);
    if (nextDueAt !== null) due = Math.min(due, nextDueAt);
    if (this.waiters.size > 0) this.alarm.at(Math.max(now, due));
  }

  private propose(w: Waiter): void {
    w.proposing = true;
    const r = w.request;
    const startedMs = this.ctx.now();
    this.ctx.host.propose({ type: 'claimRuns', worker: r.worker, node: r.node, functions: r.functions, max: r.max, at: startedMs }).then(
      (result) => {
        w.proposing = false;
        if (!this.waiters.has(w)) return;
        if (!result.ok) return this.fail(w, new ChimeError(result.code, result.message));
        const runs = result.kind === 'claimed' ? result.runs : [];
        if (runs.length > 0 || w.abandoned || this.ctx.now() >= w.deadlineMs) return this.settle(w, runs);
        this.rearm(this.ctx.now(), null);
      },
      (error: unknown) => {
        w.proposing = false;
        if (!this.waiters.has(w)) return;
        // Whether it committed is unknown: if it did, the runs' leases run out and they are retried.
        this.fail(w, error instanceof Error ? error : new ChimeError('INTERNAL', String(error)));
      },
    );
  }

  private settle(w: Waiter, runs: readonly RunRecord[]): void {
    this.waiters.delete(w);
    this.ctx.metrics.claimsAnswered += 1;
    this.ctx.metrics.runsClaimed += runs.length;
    w.resolve(runs);
  }

  private fail(w: Waiter, error: Error): void {
    this.waiters.delete(w);
    w.reject(error);
  }

  /** A heartbeat, complete or fail from a worker: resolves with the apply result (a rejection names why). */
  report(command: ClaimReportCommand): Promise<ApplyResult> {
    return this.ctx.host.propose(command);
  }

  /** Held attempts whose lease ran out (from this leader's start at the earliest) are recorded lost. */
  expireLeases(): void {
    const now = this.ctx.now();
    const table = this.ctx.host.table();
    for (const run of table.expiredLeases(now, LEASE_EXPIRIES_PER_STEP_MAX)) {
      const q = run.queue;
      if (q === null || q.worker === null || q.leaseUntil === null) continue;
      if (now < this.ctx.startedAtMs + q.leaseMs) continue;
      const key = `${run.runId}/${run.attempt}`;
      if (this.expiriesInFlight.has(key)) continue;
      this.expiriesInFlight.add(key);
      this.ctx.metrics.leaseExpiries += 1;
      this.ctx.metrics.countLeaseExpiry(q.function);
      const command = {
        type: 'claimReport', kind: 'expire', runId: run.runId, attempt: run.attempt, worker: q.worker, at: now,
        progress: null, output: '', result: null, error: null, retry: true,
      } as const;
      void this.ctx.propose(command).then(() => this.expiriesInFlight.delete(key));
    }
  }

  close(error: Error): void {
    this.alarm.cancel();
    for (const w of this.waiters) w.reject(error);
    this.waiters.clear();
  }
}
