// The journal's line format and its replay. Pure: no I/O here.
import { runKey } from './run-key.js';
import type { EndReport } from './types.js';
import { isMap } from '../guards/index.js';

export type JournalRecord =
  | { readonly t: 'term'; readonly term: number }
  | { readonly t: 'accept'; readonly runId: string; readonly attempt: number; readonly term: number }
  | { readonly t: 'pid'; readonly runId: string; readonly attempt: number; readonly pid: number; readonly startTime: string }
  | { readonly t: 'end'; readonly report: EndReport }
  | { readonly t: 'ack'; readonly runId: string; readonly attempt: number };

export interface ReplayedRun {
  readonly runId: string;
  readonly attempt: number;
  readonly state: 'active' | 'ended' | 'settled';
  readonly endReport: EndReport | null;
  /** The run's process group leader, if it was spawned: what a restart must not leave running. */
  readonly process: RunProcess | null;
}

export interface RunProcess {
  readonly pid: number;
  readonly startTime: string;
}

export interface Replay {
  readonly newestTerm: number;
  /** In the order each pair was first recorded (oldest first). */
  readonly runs: readonly ReplayedRun[];
  /** Lines that did not parse: at most a torn last line after a crash, else corruption. */
  readonly skippedLines: number;
}

export function encodeRecord(record: JournalRecord): string {
  return JSON.stringify(record) + '\n';
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isEndReport(value: unknown): value is EndReport {
  if (!isMap(value)) return false;
  const common = typeof value['runId'] === 'string' && isCount(value['attempt']) && typeof value['node'] === 'string' && typeof value['atMs'] === 'number';
  if (!common) return false;
  if (value['kind'] === 'lost') return typeof value['error'] === 'string';
  return value['kind'] === 'finished' && typeof value['status'] === 'string' && typeof value['output'] === 'string'
    && typeof value['outputTruncated'] === 'boolean' && (value['exitCode'] === null || typeof value['exitCode'] === 'number')
    && (value['error'] === null || typeof value['error'] === 'string');
}

export function parseRecord(line: string): JournalRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isMap(value)) return null;
  const { t, runId, attempt, term, report } = value;
  if (t === 'term' && isCount(term)) return { t, term };
  if (t === 'accept' && typeof runId === 'string' && isCount(attempt) && isCount(term)) return { t, runId, attempt, term };
  if (t === 'ack' && typeof runId === 'string' && isCount(attempt)) return { t, runId, attempt };
  const { pid, startTime } = value;
  if (t === 'pid' && typeof runId === 'string' && isCount(attempt) && isCount(pid) && typeof startTime === 'string') return { t, runId, attempt, pid, startTime };
  if (t === 'end' && isEndReport(report)) return { t, report };
  return null;
}

interface MutableRun {
  runId: string;
  attempt: number;
  state: ReplayedRun['state'];
  endReport: EndReport | null;
  process: RunProcess | null;
}

function entryFor(runs: Map<string, MutableRun>, runId: string, attempt: number): MutableRun {
  const key = runKey(runId, attempt);
  let run = runs.get(key);
  if (run === undefined) {
    run = { runId, attempt, state: 'active', endReport: null, process: null };
    runs.set(key, run);
  }
  return run;
}

/** States only move forward (active → ended → settled), whatever order lines come in. */
export function replay(text: string): Replay {
  const runs = new Map<string, MutableRun>();
  let newestTerm = 0;
  let skippedLines = 0;
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const record = parseRecord(line);
    if (record === null) {
      skippedLines++;
      continue;
    }
    if (record.t === 'term') {
      newestTerm = Math.max(newestTerm, record.term);
    } else if (record.t === 'accept') {
      newestTerm = Math.max(newestTerm, record.term);
      entryFor(runs, record.runId, record.attempt);
    } else if (record.t === 'pid') {
      entryFor(runs, record.runId, record.attempt).process = { pid: record.pid, startTime: record.startTime };
    } else if (record.t === 'end') {
      const run = entryFor(runs, record.report.runId, record.report.attempt);
      if (run.state === 'active') {
        run.state = 'ended';
        run.endReport = record.report;
      }
    } else {
      const run = entryFor(runs, record.runId, record.attempt);
      run.state = 'settled';
      run.endReport = null;
    }
  }
  return { newestTerm, runs: [...runs.values()], skippedLines };
}
