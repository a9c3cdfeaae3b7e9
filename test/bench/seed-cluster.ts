// Bulk seeding for benchmarks: builds the data directories of a cluster whose every node
// already holds N jobs in a snapshot, so `chime agent` starts on them as an established
// member instead of taking a million PUTs (40+ minutes) through the API.
//
// Everything goes through the real code: the job table is built by applying putJob commands,
// its snapshot is the table's own encoding, framed with the member address book exactly as
// the agent frames it (MemberDirectory around the table), and written with
// DurableStorage's public save() as one Ready would persist a received snapshot. Nothing
// writes storage files by hand, so a change of the storage's on-disk format needs no change here.
//
// A data dir holds `<dir>/<id>/raft` (the store) and, once running, the executor journal.
// The snapshot stands at index N (one putJob per entry) in term 1 with every node a voter;
// the hard state is {term 1, no vote, commit N}. The agents elect a leader in term 2.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MemberDirectory, encodeMemberContext } from '../../src/node/index.js';
import { DurableStorage } from '../../src/storage/index.js';
import { waitFor, type ProcessCluster } from '../support/process-cluster.js';
import { JobTable, validateJobSpec } from '../../src/statemachine/index.js';
import { jobId, mixedSpec } from './job-mix.js';

export interface SeedMember {
  readonly id: string;
  readonly rpc: string;
  readonly http: string;
}

export interface SeedOptions {
  /** Parent directory; each member's data dir is `<dir>/<id>`. */
  readonly dir: string;
  readonly members: readonly SeedMember[];
  readonly jobs: number;
  /** Jobs (the first ones) that fire once a minute, so dueJobs / 60 are due each second. */
  readonly dueJobs?: number;
  /** Creation time of every job (their next instants are computed from it). */
  readonly atMs?: number;
  readonly onProgress?: (done: number) => void;
  /** The spec of job i (replaces the mix of job-mix.ts; dueJobs is then ignored). */
  readonly spec?: (i: number) => Record<string, unknown>;
}

export interface SeedResult {
  readonly index: number;
  readonly snapshotBytes: number;
  readonly tableBytes: number;
  readonly buildMs: number;
  readonly writeMs: number;
}

/**
 * Builds a table of `jobs` mixed jobs by applying one putJob per log index from 1. Jobs go
 * in order of their schedule text: the table's cache of compiled schedules holds 10,000 and
 * the mix has ~50,000 distinct ones, so id order would compile one for almost every job.
 */
export function buildTable(jobs: number, dueJobs: number, atMs: number, onProgress?: (done: number) => void, spec?: (i: number) => Record<string, unknown>): JobTable {
  const table = JobTable.create();
  const specOf = spec ?? ((i: number) => {
    const input = mixedSpec(i, dueJobs);
    if (i < dueJobs) input.executor = { type: 'shell', command: 'true' };
    return input;
  });
  const schedules = Array.from({ length: jobs }, (_, i) => specOf(i).schedule as string);
  const order = Array.from({ length: jobs }, (_, i) => i).sort((a, b) => (schedules[a]! < schedules[b]! ? -1 : schedules[a]! > schedules[b]! ? 1 : a - b));
  schedules.length = 0;
  for (const [k, i] of order.entries()) {
    const id = jobId(i);
    const checked = validateJobSpec(id, specOf(i));
    if (!checked.ok) throw new Error(`job ${id}: ${JSON.stringify(checked.errors)}`);
    const result = table.apply({ type: 'putJob', id, spec: checked.spec, at: atMs }, k + 1);
    if (!result.ok) throw new Error(`job ${id}: ${JSON.stringify(result)}`);
    if (onProgress !== undefined && (k + 1) % 100_000 === 0) onProgress(k + 1);
  }
  return table;
}

/** The snapshot bytes an agent with this table and these members would write. */
export function agentSnapshot(table: JobTable, members: readonly SeedMember[]): Uint8Array {
  const state = new MemberDirectory({
    encode: () => new Uint8Array(0),
    apply: () => undefined,
    snapshot: (frame) => table.snapshot(frame),
    restore: () => {},
  });
  for (const m of members) state.applyConfChange({ type: 'addVoter', node: m.id, context: encodeMemberContext({ rpc: m.rpc, http: m.http }) });
  return state.snapshot();
}

/** Writes the data dirs of every member; returns where the snapshot stands and its size. */
export async function seedCluster(options: SeedOptions): Promise<SeedResult> {
  const atMs = options.atMs ?? Date.now();
  let t = performance.now();
  const table = buildTable(options.jobs, options.dueJobs ?? 0, atMs, options.onProgress, options.spec);
  const index = Math.max(1, table.appliedIndex);
  const data = agentSnapshot(table, options.members);
  const tableBytes = table.snapshot().length;
  const buildMs = performance.now() - t;
  t = performance.now();
  const conf = { voters: options.members.map((m) => m.id), learners: [] };
  for (const m of options.members) {
    const dir = join(options.dir, m.id);
    mkdirSync(dir, { recursive: true });
    const store = await DurableStorage.open(join(dir, 'raft'));
    try {
      if (store.lastIndex() !== 0 || store.snapshotInfo().meta.index !== 0) throw new Error(`${dir} is not empty`);
      await store.save({ snapshot: { meta: { index, term: 1, conf }, data }, entries: [], hardState: { term: 1, vote: null, commit: index } }, { sync: true });
    } finally {
      await store.close();
    }
  }
  return { index, snapshotBytes: data.length, tableBytes, buildMs, writeMs: performance.now() - t };
}

/**
 * Starts an agent on every seeded member's data dir and resolves once a leader is elected and
 * every node serves with the snapshot applied; returns the leader and each node's time to listen.
 */
export async function startSeededCluster(cluster: ProcessCluster, members: readonly SeedMember[], index: number, extra: readonly string[] = []): Promise<{ leader: string; listeningMs: Map<string, number> }> {
  const t = performance.now();
  const listeningMs = new Map<string, number>();
  await Promise.all(members.map(async (m) => {
    await cluster.launch(m.id, m.rpc, m.http, extra);
    listeningMs.set(m.id, performance.now() - t);
  }));
  const leader = await cluster.waitForLeader(600_000);
  await waitFor('every node ready with the snapshot applied', async () => {
    for (const m of members) {
      const ready = await cluster.call(m.id, 'GET', '/v1/ready', undefined, 5000);
      const view = (await cluster.call(m.id, 'GET', '/v1/cluster?stale=true', undefined, 5000)).body as { appliedIndex?: number };
      if (ready.status !== 200 || (view.appliedIndex ?? 0) < index) return false;
    }
    return true;
  }, 600_000, 200);
  return { leader, listeningMs };
}
