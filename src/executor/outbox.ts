import assert from 'node:assert/strict';
import { runKey } from './run-key.js';
import type { EndReport, Report, ReportKind, StartedReport } from './types.js';

interface Queued<R extends Report> {
  readonly seq: number;
  readonly report: R;
}

/**
 * Reports waiting for the leader's acknowledgement, bounded by `reportsMax`. When full, the
 * oldest `started` report goes first: an end report implies the start. End reports are never
 * dropped; the executor keeps room for them by refusing executes (see Executor.execute).
 */
export class ReportOutbox {
  private readonly started = new Map<string, Queued<StartedReport>>();
  private readonly ends = new Map<string, Queued<EndReport>>();
  private seq = 0;
  /** Started reports dropped for room, or never queued because the outbox was full of ends. */
  droppedStarted = 0;

  constructor(readonly reportsMax: number) {
    assert.ok(Number.isSafeInteger(reportsMax) && reportsMax > 0);
  }

  get size(): number {
    return this.started.size + this.ends.size;
  }

  get endCount(): number {
    return this.ends.size;
  }

  /** False when the outbox is full of end reports and the started report was not kept. */
  pushStarted(report: StartedReport): boolean {
    if (this.size >= this.reportsMax && !this.dropOldestStarted()) {
      this.droppedStarted++;
      return false;
    }
    this.started.set(runKey(report.runId, report.attempt), { seq: this.seq++, report });
    return true;
  }

  /**
   * Always keeps the report. The count can pass the bound only when a recovered journal
   * holds more unacknowledged ends than the bound; new executes are refused until it drains.
   */
  pushEnd(report: EndReport): void {
    const key = runKey(report.runId, report.attempt);
    assert.ok(!this.ends.has(key), 'a run ends once');
    while (this.size >= this.reportsMax && this.dropOldestStarted()) { /* make room */ }
    this.ends.set(key, { seq: this.seq++, report });
  }

  endFor(runId: string, attempt: number): EndReport | undefined {
    return this.ends.get(runKey(runId, attempt))?.report;
  }

  /** Removes the report; acknowledging an end also drops that run's started report. */
  acknowledge(runId: string, attempt: number, kind: ReportKind): boolean {
    const key = runKey(runId, attempt);
    if (kind === 'started') return this.started.delete(key);
    const end = this.ends.get(key);
    if (end === undefined || end.report.kind !== kind) return false;
    this.ends.delete(key);
    this.started.delete(key);
    return true;
  }

  /** Oldest first. */
  pending(): Report[] {
    const all: Queued<Report>[] = [...this.started.values(), ...this.ends.values()];
    return all.sort((a, b) => a.seq - b.seq).map((q) => q.report);
  }

  private dropOldestStarted(): boolean {
    const oldest = this.started.keys().next();
    if (oldest.done === true) return false;
    this.started.delete(oldest.value);
    this.droppedStarted++;
    return true;
  }
}
