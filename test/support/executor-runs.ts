// The executor in tests: request builders, waiting for its reports, a virtual clock.
import { readFileSync } from 'node:fs';
import { Executor, type EndReport, type ExecuteRequest, type ExecutorOptions, type FinishedReport, type HttpSpec, type Report, type ShellSpec, type TimerHandle, type Timers } from '../../src/executor/index.js';
import { waitFor } from './wait-for.js';

export { waitFor };

export function findReport(executor: Executor, runId: string, kind: Report['kind'], attempt = 1): Report | undefined {
  return executor.pendingReports().find((r) => r.runId === runId && r.attempt === attempt && r.kind === kind);
}

export async function waitFinished(executor: Executor, runId: string, attempt = 1, timeoutMs = 10_000): Promise<FinishedReport> {
  const report = await waitFor(`finished report of ${runId}/${attempt}`, () => findReport(executor, runId, 'finished', attempt), timeoutMs);
  if (report.kind !== 'finished') throw new Error('unreachable');
  return report;
}

export function endReports(executor: Executor): EndReport[] {
  return executor.pendingReports().filter((r): r is EndReport => r.kind !== 'started');
}

let runCounter = 0;

export function shellRequest(command: string, overrides: Omit<Partial<ExecuteRequest>, 'spec'> & { spec?: Partial<ShellSpec> } = {}): ExecuteRequest {
  const { spec, ...rest } = overrides;
  return {
    runId: `run-${++runCounter}`, attempt: 1, term: 1, jobId: 'job-a', scheduledAtMs: Date.UTC(2026, 10, 24, 1, 30, 0, 5),
    payload: '', notBeforeMs: null, timeoutMs: 20_000,
    ...rest,
    spec: { type: 'shell', command, env: {}, cwd: '/', ...spec },
  };
}

export function httpRequest(url: string, overrides: Omit<Partial<ExecuteRequest>, 'spec'> & { spec?: Partial<HttpSpec> } = {}): ExecuteRequest {
  const { spec, ...rest } = overrides;
  return {
    runId: `run-${++runCounter}`, attempt: 1, term: 1, jobId: 'job-h', scheduledAtMs: Date.UTC(2026, 10, 24, 1, 30, 0, 5),
    payload: '', notBeforeMs: null, timeoutMs: 10_000,
    ...rest,
    spec: { type: 'http', method: 'GET', url, headers: {}, body: '', expectStatus: [200, 299], ...spec },
  };
}

export function newExecutor(options: Partial<ExecutorOptions> = {}): Executor {
  return new Executor({ nodeId: 'n1', slots: 4, killGraceMs: 2_000, journalPath: null, ...options });
}

/** Alive means: exists and is not a zombie (an orphan may wait to be reaped by pid 1). */
export function processAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** A virtual clock and timer queue; `advance` fires what falls due, in order. */
export class ManualTimers implements Timers {
  nowMs: number;
  private queue: { atMs: number; seq: number; fn: () => void; cancelled: boolean }[] = [];
  private seq = 0;

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  readonly now = (): number => this.nowMs;

  schedule(delayMs: number, fn: () => void): TimerHandle {
    const entry = { atMs: this.nowMs + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.queue.push(entry);
    return { cancel: () => { entry.cancelled = true; } };
  }

  get pending(): number {
    return this.queue.filter((e) => !e.cancelled).length;
  }

  advance(byMs: number): void {
    const target = this.nowMs + byMs;
    for (;;) {
      const due = this.queue.filter((e) => !e.cancelled && e.atMs <= target).sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)[0];
      if (due === undefined) break;
      due.cancelled = true;
      this.nowMs = due.atMs;
      due.fn();
    }
    this.queue = this.queue.filter((e) => !e.cancelled);
    this.nowMs = target;
  }
}
