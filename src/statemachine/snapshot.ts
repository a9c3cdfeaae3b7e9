// Snapshots: the whole table, deterministic bytes (two replicas with the same state write
// the same bytes) behind a msgpack header {format, version}. A reader refuses unknown
// formats and newer versions; each version keeps its own decoder (snapshot-v1.ts).
//
// Version 2: [header {format, version, limits, appliedIndex, runSeq, jobs, jobBytes}]
// [jobBytes of job records in id order, snapshot-jobs.ts] [msgpack {runs, keys}], runs by
// seq and keys by insertion (snapshot-rows.ts). The job section is written straight into
// the one output buffer and read back record by record, so a million jobs never exist as
// an intermediate array of rows.
//
// Version 3: the layout of version 2 with optional keys in the tail map: `queue` (queue runs'
// state and the pull workers), `notify` (deliveries owed), `jobMetrics` (per-job figures) and
// `access` (token hashes and the audit log). A version-2 snapshot restores them empty. The
// version went up so that an older build refuses such a snapshot instead of silently dropping
// its tokens, queue or deliveries. Later optional tail keys (`owedAfter`, `owedManual`,
// `afterSeen`, `writes`: write ids lately accepted, write-ids.ts) are read as empty when absent.
import { itemAt } from './assert.js';
import { packr } from './codec.js';
import { ChimeError } from '../errors/index.js';
import { isRecord } from '../guards/index.js';
import type { TableLimits } from './limits.js';
import { drainSteps, readJobSection, writeJobSectionSteps } from './snapshot-jobs.js';
import { bad, isInt, restoreAccess, restoreAfterSeen, restoreOwedAfter, restoreOwedManual, restoreRunsAndKeys, restoreWriteIds, runAndKeyRows } from './snapshot-rows.js';
import { notifyRows, restoreNotify } from './notifications.js';
import { jobMetricsRows, restoreJobMetrics } from './job-metrics.js';
import { decodeVersion1 } from './snapshot-v1.js';
import { addDependents, createState, type JobState, type TableState } from './state.js';

export const SNAPSHOT_FORMAT = 'chime.jobtable';
export const SNAPSHOT_VERSION = 3;

/**
 * The table's snapshot bytes. With `frame`, the result is frame(snapshot length) followed
 * by the snapshot, in one allocation: a caller that wraps the snapshot (the agent adds its
 * address book) need not copy a few hundred megabytes to put a header in front.
 */
export function encodeSnapshot(state: TableState, frame?: (snapshotBytes: number) => Uint8Array): Uint8Array {
  return drainSteps(encodeSnapshotSteps(state, frame));
}

/** encodeSnapshot in steps (see writeJobSectionSteps); the state must not change until it returns. */
export function* encodeSnapshotSteps(state: TableState, frame?: (snapshotBytes: number) => Uint8Array): Generator<void, Uint8Array, void> {
  const l = state.limits;
  let out = new Uint8Array(0);
  yield* writeJobSectionSteps(state.jobs, (jobBytes) => {
    // packr reuses its buffer: copy the header before packing the tail.
    const head = new Uint8Array(packr.pack({
      format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, limits: [l.jobsMax, l.runsMax, l.activeRunsMax, l.activeRunsPerJobMax, l.keysMax],
      appliedIndex: state.appliedIndex, runSeq: state.runSeq, jobs: state.jobs.size, jobBytes,
    }));
    const tail = packr.pack({ ...runAndKeyRows(state), notify: notifyRows(state.notify), jobMetrics: jobMetricsRows(state.jobMetrics) });
    const snapshotBytes = head.length + jobBytes + tail.length;
    const prefix = frame === undefined ? new Uint8Array(0) : frame(snapshotBytes);
    const bytes = new Uint8Array(prefix.length + snapshotBytes);
    bytes.set(prefix, 0);
    bytes.set(head, prefix.length);
    bytes.set(tail, prefix.length + head.length + jobBytes);
    out = bytes;
    return { bytes, offset: prefix.length + head.length };
  });
  return out;
}

/** Header bytes are few; reading them from a short window keeps msgpackr's string scanner out of the job section. */
const HEADER_WINDOW_BYTES = 4096;

/** The first msgpack value of `bytes` and where it ends. */
function firstValue(bytes: Uint8Array): { value: unknown; end: number } {
  let value: unknown;
  let end = 0;
  const read = (source: Uint8Array): void => packr.unpackMultiple(source, (first: unknown, _start?: number, stop?: number) => {
    value = first;
    end = stop ?? source.length;
    return false;
  });
  try {
    read(bytes.subarray(0, HEADER_WINDOW_BYTES));
  } catch {
    // A version-1 snapshot is one value, longer than the window (or the bytes are garbage).
    read(bytes);
  }
  return { value, end };
}

export function decodeSnapshot(bytes: Uint8Array): TableState {
  let value: unknown;
  let headerEnd = 0;
  try {
    ({ value, end: headerEnd } = firstValue(bytes));
  } catch (error) {
    throw bad(`not msgpack (${error instanceof Error ? error.message : 'decode failed'})`);
  }
  if (!isRecord(value) || value['format'] !== SNAPSHOT_FORMAT) throw bad('not a chime job-table snapshot');
  const header = value;
  if (typeof header.version !== 'number' || !Number.isSafeInteger(header.version) || header.version < 1) throw bad('missing version');
  if (header.version > SNAPSHOT_VERSION) {
    throw bad(`snapshot version ${header.version} is newer than this build reads (up to ${SNAPSHOT_VERSION}); upgrade this node`);
  }
  try {
    return header.version === 1 ? decodeVersion1(header.body) : decodeVersions2And3(header, bytes, headerEnd);
  } catch (error) {
    if (error instanceof ChimeError && error.code === 'INVALID_SNAPSHOT') throw error;
    throw bad(error instanceof Error ? error.message : 'corrupt snapshot');
  }
}

/**
 * The jobs with an instant in next-fire order (instant, then id). Sorts positions by keys
 * in one typed array: the same order as comparing the scattered job objects, without a
 * cache miss per comparison. `jobs` is in id order, so ties on the instant keep it.
 */
function byNextFire(jobs: readonly JobState[]): JobState[] {
  const keys = new Float64Array(jobs.length);
  const positions: number[] = [];
  jobs.forEach((job, i) => {
    if (job.nextFireAt === null) return;
    keys[i] = job.nextFireAt;
    positions.push(i);
  });
  positions.sort((a, b) => itemAt(keys, a) - itemAt(keys, b) || a - b);
  return positions.map((i) => itemAt(jobs, i));
}

function decodeVersions2And3(h: { readonly [field: string]: unknown }, bytes: Uint8Array, headerEnd: number): TableState {
  const l = h.limits;
  if (!Array.isArray(l) || l.length !== 5 || !l.every((n) => isInt(n) && n > 0)) throw bad('limits are malformed');
  const limits: TableLimits = Object.freeze({ jobsMax: l[0], runsMax: l[1], activeRunsMax: l[2], activeRunsPerJobMax: l[3], keysMax: l[4] });
  const { appliedIndex, runSeq, jobs: jobCount, jobBytes } = h;
  if (!isInt(appliedIndex) || !isInt(runSeq)) throw bad('indexes are malformed');
  if (!isInt(jobCount) || jobCount < 0 || jobCount > limits.jobsMax) throw bad('the job count is malformed');
  if (!isInt(jobBytes) || jobBytes < 0 || headerEnd + jobBytes > bytes.length) throw bad('the job section is truncated');
  const state = createState(limits);
  state.appliedIndex = appliedIndex;
  state.runSeq = runSeq;
  const jobs = readJobSection(bytes.subarray(headerEnd, headerEnd + jobBytes), jobCount);
  state.jobs.fill(jobs, true); // readJobSection checked that ids increase
  state.fireIndex.fill(byNextFire(jobs), true);
  for (const job of jobs) if (job.after.length > 0) addDependents(state, job.id, job.after);
  let tail: unknown;
  try {
    tail = packr.unpack(bytes.subarray(headerEnd + jobBytes));
  } catch (error) {
    throw bad(`runs are not msgpack (${error instanceof Error ? error.message : 'decode failed'})`);
  }
  if (!isRecord(tail)) throw bad('runs and keys are missing');
  restoreRunsAndKeys(state, tail['runs'], tail['keys'], tail['queue']);
  state.notify = restoreNotify(tail['notify'], bad);
  state.jobMetrics = restoreJobMetrics(tail['jobMetrics'], bad);
  restoreAccess(state, tail['access']);
  restoreOwedAfter(state, tail['owedAfter']);
  restoreOwedManual(state, tail['owedManual']);
  restoreAfterSeen(state, tail['afterSeen']);
  restoreWriteIds(state, tail['writes']);
  return state;
}
