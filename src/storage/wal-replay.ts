import type { Entry, HardState } from '../raft/index.js';
import type { LogStart } from './codec.js';
import { ChimeError } from '../errors/index.js';
import { corrupt } from './errors.js';
import type { WalRecord } from './wal-record.js';

/** The log as the records written so far describe it. */
export interface WalLog {
  start: LogStart;
  /** Entries start.index + 1 … start.index + entries.length. */
  entries: Entry[];
  hardState: HardState | null;
  /** Where the last reset (a snapshot from the leader) made the log start over, if any is kept. */
  lastReset: LogStart | null;
}


export function walLastIndex(log: WalLog): number {
  return log.start.index + log.entries.length;
}

export function walTerm(log: WalLog, index: number): number | null {
  if (index === log.start.index) return log.start.term;
  return log.entries[index - log.start.index - 1]?.term ?? null;
}

/**
 * Applies one record in write order. A segment's opening record either continues the log
 * exactly where it stood (anything else means a segment went missing) or, with `reset`,
 * replaces it after a snapshot; entries replace any suffix they overlap, as an append does.
 */
export function replayRecord(log: WalLog | null, record: WalRecord, what: string): WalLog {
  let current = log;
  const start = record.start;
  if (start !== undefined) {
    if (current === null || start.reset) {
      const at = { index: start.index, term: start.term };
      current = { start: at, entries: [], hardState: current?.hardState ?? null, lastReset: start.reset ? at : (current?.lastReset ?? null) };
    } else if (start.index !== walLastIndex(current) || walTerm(current, start.index) !== start.term) {
      throw corrupt(`${what}: segment continues after ${start.index}/${start.term} but the log ends at ${walLastIndex(current)}/${String(walTerm(current, walLastIndex(current)))} (a segment is missing)`);
    }
  }
  if (current === null) throw corrupt(`${what}: the first record does not open the log`);
  if (record.entries !== undefined && record.entries.length > 0) appendEntries(current, record.entries, what);
  if (record.hardState !== undefined) current.hardState = record.hardState;
  return current;
}

function appendEntries(log: WalLog, entries: readonly Entry[], what: string): void {
  const [first] = entries;
  if (first === undefined) return;
  const last = walLastIndex(log);
  if (first.index <= log.start.index || first.index > last + 1) throw corrupt(`${what}: entry ${first.index} does not attach to the log (${log.start.index}, ${last}]`);
  log.entries.length = first.index - log.start.index - 1;
  let previousTerm = walTerm(log, first.index - 1) ?? 0;
  for (const [i, entry] of entries.entries()) {
    if (entry.index !== first.index + i) throw corrupt(`${what}: entry ${entry.index} found where ${first.index + i} was expected`);
    if (entry.term < previousTerm) throw corrupt(`${what}: entry ${entry.index} has term ${entry.term} below its predecessor's ${previousTerm}`);
    log.entries.push(entry);
    previousTerm = entry.term;
  }
}
