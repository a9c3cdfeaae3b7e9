// Indexes derived from the run records, for the leader's scheduler: which node holds which
// active executions (lost detection, slot counts) and which finished runs still owe a retry
// (so a new leader finds them without scanning every run). Both are pure functions of the
// records, rebuilt on restore and never written into snapshots, so they cannot make replicas
// differ.
import nodeAssert from 'node:assert';
import { assert } from './assert.js';
import { SortedSet } from './sorted-set.js';
import { isActiveStatus, type JobSpec, type QueuePriority, type RunRecord, type RunStatus } from './types.js';

/** The indexes this file keeps, as part of the table's state (state.ts holds them). */
export interface RunIndexes {
  readonly activeByNode: Map<string, SortedSet<RunRecord, SeqKey>>;
  readonly awaitingRetry: SortedSet<RunRecord, FinishKey>;
  /** function → its active queue runs that no worker holds, by (priority, seq). */
  readonly queued: Map<string, SortedSet<RunRecord, QueueKey>>;
  /** Active queue runs a worker holds, by (leaseUntil, seq): what runs out first is first. */
  readonly leases: SortedSet<RunRecord, LeaseKey>;
  /** worker → how many of the lease index's runs it holds (derived with it). */
  readonly heldByWorker: Map<string, number>;
}

/** What the queue order reads of a run. */
export type QueueKey = { readonly queue: { readonly priority: QueuePriority } | null; readonly seq: number };
export type LeaseKey = { readonly queue: { readonly leaseUntil: number | null } | null; readonly seq: number };

const PRIORITY_RANK: Readonly<Record<QueuePriority, number>> = { high: 0, normal: 1, low: 2 };

export function compareQueued(a: QueueKey, b: QueueKey): number {
  return (PRIORITY_RANK[a.queue?.priority ?? 'normal'] - PRIORITY_RANK[b.queue?.priority ?? 'normal']) || a.seq - b.seq;
}

export function compareLeases(a: LeaseKey, b: LeaseKey): number {
  return ((a.queue?.leaseUntil ?? 0) - (b.queue?.leaseUntil ?? 0)) || a.seq - b.seq;
}

/** Puts an active queue run under its function's queue (unheld) or into the lease index (held). */
export function indexQueue(state: RunIndexes, run: RunRecord): void {
  const q = run.queue;
  if (q === null || !isActiveStatus(run.status)) return;
  if (q.worker !== null) {
    assert(state.leases.add(run), 'a held run indexed twice');
    state.heldByWorker.set(q.worker, (state.heldByWorker.get(q.worker) ?? 0) + 1);
    return;
  }
  let set = state.queued.get(q.function);
  if (set === undefined) {
    set = new SortedSet<RunRecord, QueueKey>(compareQueued);
    state.queued.set(q.function, set);
  }
  assert(set.add(run), 'a queued run indexed twice');
}

/** Takes a queue run out of both queue indexes (before its keys or status change). */
export function unindexQueue(state: RunIndexes, run: RunRecord): void {
  const q = run.queue;
  if (q === null) return;
  if (state.leases.delete(run) && q.worker !== null) {
    const held = (state.heldByWorker.get(q.worker) ?? 0) - 1;
    if (held > 0) state.heldByWorker.set(q.worker, held);
    else state.heldByWorker.delete(q.worker);
  }
  const set = state.queued.get(q.function);
  if (set !== undefined && set.delete(run) && set.size === 0) state.queued.delete(q.function);
}

/** The records the indexes are derived from, for the consistency check. */
export interface IndexedRecords extends RunIndexes {
  readonly runs: ReadonlyMap<string, RunRecord>;
  readonly jobs: { get(id: string): { readonly spec: JobSpec } | undefined };
}

/** The final statuses the scheduler retries by itself. A kill is a decision, not a failure. */
export const AUTO_RETRY_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>(['failed', 'timed_out', 'lost']);

/** What the seq order reads of a run: a walk may start after a bare seq. */
export type SeqKey = { readonly seq: number };
/** What the finish order reads of a run. */
export type FinishKey = { readonly finishedAt: number | null; readonly seq: number };

export function compareBySeq(a: SeqKey, b: SeqKey): number {
  return a.seq - b.seq;
}

export function compareByFinish(a: FinishKey, b: FinishKey): number {
  return ((a.finishedAt ?? 0) - (b.finishedAt ?? 0)) || a.seq - b.seq;
}

/** A final run with attempts left whose status the scheduler retries. */
export function owesRetry(run: RunRecord, spec: JobSpec): boolean {
  return AUTO_RETRY_STATUSES.has(run.status) && run.attempt <= spec.retry.max && run.queue?.noRetry !== true;
}

/**
 * Adds the run under every node with an active execution of its current attempt. A queue
 * run's executions name workers, not nodes: it goes into the queue indexes instead.
 */
export function indexActiveExecutions(state: RunIndexes, run: RunRecord): void {
  if (run.queue !== null) return indexQueue(state, run);
  for (const e of run.executions) {
    if (e.attempt !== run.attempt || !isActiveStatus(e.status)) continue;
    let set = state.activeByNode.get(e.node);
    if (set === undefined) {
      set = new SortedSet<RunRecord, SeqKey>(compareBySeq);
      state.activeByNode.set(e.node, set);
    }
    assert(set.add(run), 'execution indexed twice under its node');
  }
}

/** One execution of the run on `node` ended. */
export function unindexExecution(state: RunIndexes, run: RunRecord, node: string): void {
  const set = state.activeByNode.get(node);
  assert(set !== undefined && set.delete(run), 'ended execution was not indexed under its node');
  if (set.size === 0) state.activeByNode.delete(node);
}

/** The run is going away (job deleted): drop every active execution from the node index. */
export function unindexAllExecutions(state: RunIndexes, run: RunRecord): void {
  if (run.queue !== null) return unindexQueue(state, run);
  for (const e of run.executions) {
    if (e.attempt !== run.attempt || !isActiveStatus(e.status)) continue;
    unindexExecution(state, run, e.node);
  }
}

/** Puts the run into, or takes it out of, the awaiting-retry index as its state says. */
export function updateRetryIndex(state: RunIndexes, run: RunRecord, spec: JobSpec): void {
  if (owesRetry(run, spec)) {
    assert(run.finishedAt !== null, 'a run owing a retry has finished');
    state.awaitingRetry.add(run);
  } else {
    state.awaitingRetry.delete(run);
  }
}

/** Recomputes both indexes from the records and asserts they match (tests and debugging). */
export function assertRunIndexes(state: IndexedRecords): void {
  const byNode = new Map<string, number[]>();
  const retry: number[] = [];
  const queued = new Map<string, number[]>();
  const held: number[] = [];
  for (const run of state.runs.values()) {
    const job = state.jobs.get(run.jobId);
    assert(job !== undefined, 'a recorded run belongs to a job');
    if (owesRetry(run, job.spec)) retry.push(run.seq);
    if (run.queue !== null) {
      if (!isActiveStatus(run.status)) continue;
      if (run.queue.worker !== null) held.push(run.seq);
      else queued.set(run.queue.function, [...(queued.get(run.queue.function) ?? []), run.seq]);
      continue;
    }
    for (const e of run.executions) {
      if (e.attempt !== run.attempt || !isActiveStatus(e.status)) continue;
      const seqs = byNode.get(e.node) ?? [];
      seqs.push(run.seq);
      byNode.set(e.node, seqs);
    }
  }
  nodeAssert.deepStrictEqual([...state.queued.keys()].sort(), [...queued.keys()].sort(), 'queue index holds other functions');
  for (const [fn, seqs] of queued) {
    const indexed = [...(state.queued.get(fn)?.valuesAfter() ?? [])].map((r) => r.seq).sort((a, b) => a - b);
    nodeAssert.deepStrictEqual(indexed, seqs.sort((a, b) => a - b), `queue of ${fn} differs`);
  }
  nodeAssert.deepStrictEqual([...state.leases.valuesAfter()].map((r) => r.seq).sort((a, b) => a - b), held.sort((a, b) => a - b), 'lease index differs');
  const heldBy = new Map<string, number>();
  for (const run of state.leases.valuesAfter()) {
    const w = run.queue?.worker;
    if (w !== null && w !== undefined) heldBy.set(w, (heldBy.get(w) ?? 0) + 1);
  }
  nodeAssert.deepStrictEqual(new Map([...state.heldByWorker].sort()), new Map([...heldBy].sort()), 'held-by-worker counts differ');
  nodeAssert.deepStrictEqual([...state.activeByNode.keys()].sort(), [...byNode.keys()].sort(), 'node index holds other nodes');
  for (const [node, seqs] of byNode) {
    const indexed = [...(state.activeByNode.get(node)?.valuesAfter() ?? [])].map((r) => r.seq);
    nodeAssert.deepStrictEqual(indexed, seqs.sort((a, b) => a - b), `node index of ${node} differs`);
  }
  const indexedRetry = [...state.awaitingRetry.valuesAfter()].map((r) => r.seq).sort((a, b) => a - b);
  nodeAssert.deepStrictEqual(indexedRetry, retry.sort((a, b) => a - b), 'retry index differs');
}
