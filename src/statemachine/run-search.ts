// Run search across jobs (GET /v1/runs): derived indexes by seq, by status and by node, so
// that a query walks only the runs of its most selective filter, newest first, and never
// every record. Like run-indexes.ts they are pure functions of the records: rebuilt on
// restore, never in snapshots.
import nodeAssert from 'node:assert';
import { assert } from './assert.js';
import { compareBySeq, type SeqKey } from './run-indexes.js';
import { SortedSet } from './sorted-set.js';
import type { RunRecord, RunStatus, Trigger } from './types.js';

export interface RunSearchIndexes {
  /** Every run record by seq (the order newest-first listings walk backwards). */
  readonly runsBySeq: SortedSet<RunRecord, SeqKey>;
  readonly runsByStatus: Map<RunStatus, SortedSet<RunRecord, SeqKey>>;
  /** node → runs with an execution (of any attempt) on it. */
  readonly runsByNode: Map<string, SortedSet<RunRecord, SeqKey>>;
}

export function createRunSearchIndexes(): RunSearchIndexes {
  return { runsBySeq: new SortedSet<RunRecord, SeqKey>(compareBySeq), runsByStatus: new Map(), runsByNode: new Map() };
}

function setOf<K>(map: Map<K, SortedSet<RunRecord, SeqKey>>, key: K): SortedSet<RunRecord, SeqKey> {
  let set = map.get(key);
  if (set === undefined) {
    set = new SortedSet<RunRecord, SeqKey>(compareBySeq);
    map.set(key, set);
  }
  return set;
}

function dropFrom<K>(map: Map<K, SortedSet<RunRecord, SeqKey>>, key: K, run: RunRecord): void {
  const set = map.get(key);
  assert(set !== undefined && set.delete(run), 'a searched run was indexed under its key');
  if (set.size === 0) map.delete(key);
}

/** A run entered the table (new or restored). */
export function indexForSearch(state: RunSearchIndexes, run: RunRecord): void {
  assert(state.runsBySeq.add(run), 'a run is indexed for search once');
  setOf(state.runsByStatus, run.status).add(run);
  for (const e of run.executions) setOf(state.runsByNode, e.node).add(run);
}

/** A run left the table (evicted, or its job deleted). */
export function unindexForSearch(state: RunSearchIndexes, run: RunRecord): void {
  assert(state.runsBySeq.delete(run), 'a removed run was indexed for search');
  dropFrom(state.runsByStatus, run.status, run);
  for (const node of new Set(run.executions.map((e) => e.node))) dropFrom(state.runsByNode, node, run);
}

/** The one way a recorded run's status changes, so the status index follows. */
export function setRunStatus(state: RunSearchIndexes, run: RunRecord, status: RunStatus): void {
  if (run.status === status) return;
  dropFrom(state.runsByStatus, run.status, run);
  run.status = status;
  setOf(state.runsByStatus, status).add(run);
}

/** A retry added executions: nodes new to the run now find it. */
export function indexNewExecutions(state: RunSearchIndexes, run: RunRecord): void {
  for (const e of run.executions) setOf(state.runsByNode, e.node).add(run);
}

export type RunQuery = {
  readonly jobId?: string | null;
  /** The job's runs, when `jobId` is given: one of the walks to choose from. */
  readonly jobRuns?: readonly RunRecord[] | null;
  readonly status?: RunStatus | null;
  readonly trigger?: Trigger | null;
  readonly node?: string | null;
  /** scheduledAt bounds, inclusive since, exclusive until. */
  readonly sinceMs?: number | null;
  readonly untilMs?: number | null;
};

/** Records looked at for one page at most; a page that needs more ends early with a cursor to go on. */
export const RUN_SEARCH_SCAN_MAX = 20_000;
/**
 * A run's scheduled instant is never later than its fire time plus this, and fire times follow
 * seq up to the clock difference of successive leaders; so a newest-first walk stops once fire
 * times fall this far below `since`.
 */
export const FIRED_BEFORE_SCHEDULED_SLACK_MS = 10 * 60 * 1000;

function matches(run: RunRecord, q: RunQuery): boolean {
  if (q.jobId != null && run.jobId !== q.jobId) return false;
  if (q.status != null && run.status !== q.status) return false;
  if (q.trigger != null && run.trigger !== q.trigger) return false;
  if (q.node != null && !run.executions.some((e) => e.node === q.node)) return false;
  if (q.sinceMs != null && run.scheduledAt < q.sinceMs) return false;
  return q.untilMs == null || run.scheduledAt < q.untilMs;
}

/** The walk to take: the smallest of the candidate sets the query names, newest first. */
function walkOf(state: RunSearchIndexes, q: RunQuery, beforeSeq: number): Iterable<RunRecord> {
  const candidates: { size: number; walk: () => Iterable<RunRecord> }[] = [];
  const jobRuns = q.jobRuns;
  if (jobRuns != null) {
    candidates.push({ size: jobRuns.length, walk: () => reverseBefore(jobRuns, beforeSeq) });
  }
  for (const set of [q.status == null ? null : state.runsByStatus.get(q.status), q.node == null ? null : state.runsByNode.get(q.node)]) {
    if (set === null) continue;
    if (set === undefined) return [];
    candidates.push({ size: set.size, walk: () => set.valuesBefore({ seq: beforeSeq }) });
  }
  candidates.sort((a, b) => a.size - b.size);
  return candidates[0]?.walk() ?? state.runsBySeq.valuesBefore({ seq: beforeSeq });
}

function* reverseBefore(runs: readonly RunRecord[], beforeSeq: number): Generator<RunRecord> {
  for (let i = runs.length - 1; i >= 0; i--) {
    const run = runs[i];
    if (run !== undefined && run.seq < beforeSeq) yield run;
  }
}

/**
 * Runs matching every filter, newest first (by seq), at most `limit`, continuing below
 * `beforeSeq`. `continueAfterSeq` is where the next page starts, or null when nothing is left.
 */
export function searchRuns(state: RunSearchIndexes, q: RunQuery, beforeSeq: number, limit: number): { items: RunRecord[]; continueBeforeSeq: number | null } {
  const items: RunRecord[] = [];
  let scanned = 0;
  for (const run of walkOf(state, q, beforeSeq)) {
    if (items.length === limit) return { items, continueBeforeSeq: run.seq + 1 };
    if (q.sinceMs != null && run.firedAt < q.sinceMs - FIRED_BEFORE_SCHEDULED_SLACK_MS) return { items, continueBeforeSeq: null };
    if (scanned === RUN_SEARCH_SCAN_MAX) return { items, continueBeforeSeq: run.seq + 1 };
    scanned++;
    if (matches(run, q)) items.push(run);
  }
  return { items, continueBeforeSeq: null };
}

/** Recomputes the search indexes from the records and asserts they match (tests). */
export function assertSearchIndexes(state: RunSearchIndexes, runs: Iterable<RunRecord>): void {
  const all = [...runs].sort((a, b) => a.seq - b.seq);
  nodeAssert.deepStrictEqual([...state.runsBySeq.valuesAfter()].map((r) => r.seq), all.map((r) => r.seq), 'seq index differs');
  const byStatus = new Map<string, number[]>();
  const byNode = new Map<string, number[]>();
  for (const run of all) {
    byStatus.set(run.status, [...(byStatus.get(run.status) ?? []), run.seq]);
    for (const node of new Set(run.executions.map((e) => e.node))) byNode.set(node, [...(byNode.get(node) ?? []), run.seq]);
  }
  const seqs = (map: Map<string, SortedSet<RunRecord, SeqKey>>) => new Map([...map].map(([k, set]) => [k, [...set.valuesAfter()].map((r) => r.seq)]));
  nodeAssert.deepStrictEqual(seqs(state.runsByStatus), byStatus, 'status index differs');
  nodeAssert.deepStrictEqual(seqs(state.runsByNode), byNode, 'node index differs');
}
