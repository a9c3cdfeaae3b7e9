// Executor reports → runReports entries. Reports that arrive within a short window (or while
// earlier batches are being committed) share one entry: at 1,000 runs per second a Raft entry
// per report was most of the cluster's work. Each report's promise settles when its batch
// applied (true: recorded, the agent acknowledges it) or could not be (false: the executor
// resends it). A copy of a report that is already waiting or in flight joins that one.
import { REPORTS_PER_BATCH_MAX, commandProblem, type RunReport } from '../statemachine/index.js';
import type { TermContext } from './context.js';
import type { TimerHandle } from './types.js';

/** Estimated bytes of one batch; the table refuses commands over 2 MiB. */
export const REPORT_BATCH_BYTES_MAX = 1024 * 1024;
/** runReports proposals in flight at once; more reports wait (and batch up) meanwhile. */
export const REPORT_BATCHES_IN_FLIGHT_MAX = 8;
/** Reports waiting for a batch; beyond it a report is not taken (not acknowledged, so resent). */
export const REPORTS_WAITING_MAX = 50_000;

type Waiting = { readonly report: RunReport; readonly key: string; readonly bytes: number; readonly settle: (recorded: boolean) => void };

export class ReportBatcher {
  private waiting: Waiting[] = [];
  private readonly byKey = new Map<string, Promise<boolean>>();
  private timer: TimerHandle | null = null;
  private inFlight = 0;

  constructor(private readonly ctx: TermContext) {}

  get size(): number {
    return this.byKey.size;
  }

  submit(report: RunReport): Promise<boolean> {
    const key = `${report.runId}/${report.attempt}/${report.kind}/${report.node}`;
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    // Checked alone, so one bad report cannot sink the batch it would share. It can never be
    // recorded; acknowledging it (as its own rejected entry used to be) stops the resends.
    if (commandProblem({ type: 'runReports', at: report.at, reports: [report] }) !== null) {
      this.ctx.metrics.reportsRefused += 1;
      return Promise.resolve(true);
    }
    if (this.waiting.length >= REPORTS_WAITING_MAX || this.ctx.closed) {
      this.ctx.metrics.queueDrops += 1;
      return Promise.resolve(false);
    }
    const bytes = 128 + report.runId.length + (report.kind === 'finished' ? 3 * (report.output.length + (report.error?.length ?? 0)) : 0);
    const recorded = new Promise<boolean>((settle) => this.waiting.push({ report, key, bytes, settle }));
    this.byKey.set(key, recorded);
    this.ctx.metrics.reportsProposed += 1;
    this.timer ??= this.ctx.timer(this.ctx.options.reportBatchMs, () => {
      this.timer = null;
      this.flush();
    });
    return recorded;
  }

  /** Leadership ended: every waiting report is unrecorded (the executors resend to the next leader). */
  close(): void {
    this.timer?.cancel();
    this.timer = null;
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) this.settle(w, false);
  }

  private flush(): void {
    while (this.waiting.length > 0 && this.inFlight < REPORT_BATCHES_IN_FLIGHT_MAX && !this.ctx.closed) {
      let count = 0;
      let bytes = 0;
      for (const next of this.waiting) {
        if (count >= REPORTS_PER_BATCH_MAX) break;
        if (count > 0 && bytes + next.bytes > REPORT_BATCH_BYTES_MAX) break;
        bytes += next.bytes;
        count += 1;
      }
      const batch = this.waiting.slice(0, count);
      this.waiting = this.waiting.slice(count);
      this.propose(batch);
    }
  }

  private propose(batch: readonly Waiting[]): void {
    this.inFlight += 1;
    const command = { type: 'runReports', at: this.ctx.now(), reports: batch.map((w) => w.report) } as const;
    void this.ctx.propose(command).then((result) => {
      this.inFlight -= 1;
      // A rejected batch recorded nothing: leave its reports unacknowledged, so they come again.
      const recorded = result !== null && result.ok;
      if (result !== null && !result.ok) this.ctx.metrics.proposalFailures += 1;
      for (const w of batch) this.settle(w, recorded);
      if (this.waiting.length > 0 && this.timer === null) this.flush();
    });
  }

  private settle(w: Waiting, recorded: boolean): void {
    this.byKey.delete(w.key);
    w.settle(recorded);
  }
}
