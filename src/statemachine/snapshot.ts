// Snapshots: the whole table as msgpackr bytes with a header {format, version}. Everything is
// written in a fixed order (jobs by id, runs by seq, keys by insertion), so two replicas with
// the same state write the same bytes. A reader refuses unknown formats and newer versions;
// each version keeps its own decoder so later versions can still read version 1.
import { assert } from './assert.js';
import { packr } from './codec.js';
import { StateMachineInputError } from './errors.js';
import type { TableLimits } from './limits.js';
import { updateRetryIndex } from './run-indexes.js';
import { addDependents, createState, indexRun, type JobState, type TableState } from './state.js';
import { EMPTY_RECORD, EXPECT_STATUS_DEFAULT, SPEC_DEFAULTS } from './defaults.js';
import type { Execution, JobSpec, RunRecord } from './types.js';
import { validateJobSpec } from './validate.js';

export const SNAPSHOT_FORMAT = 'chime.jobtable';
export const SNAPSHOT_VERSION = 1;

type Row = readonly unknown[];

function executionRow(e: Execution): Row {
  return [e.node, e.attempt, e.status, e.exitCode, e.output, e.outputTruncated, e.error, e.startedAt, e.finishedAt];
}

function runRow(r: RunRecord): Row {
  return [r.runId, r.jobId, r.seq, r.scheduledAt, r.trigger, r.attempt, r.status, r.firedAt, r.startedAt, r.finishedAt,
    r.executions.map(executionRow), r.payload, r.key, r.executors, r.notBefore, r.killRequested, r.reason];
}

/** A spec without the fields that hold their default; restore's validation fills them in again. */
function compactSpec(spec: JobSpec): Record<string, unknown> {
  const defaults: Readonly<Record<string, unknown>> = SPEC_DEFAULTS;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec)) {
    if (key === 'executor' || defaults[key] !== value) out[key] = value;
  }
  const e = spec.executor;
  out.executor = e.type === 'shell'
    ? { type: e.type, command: e.command, ...(e.env === EMPTY_RECORD ? {} : { env: e.env }), ...(e.cwd === '/' ? {} : { cwd: e.cwd }) }
    : { type: e.type, url: e.url, ...(e.method === 'GET' ? {} : { method: e.method }), ...(e.headers === EMPTY_RECORD ? {} : { headers: e.headers }),
        ...(e.body === '' ? {} : { body: e.body }), ...(e.expectStatus === EXPECT_STATUS_DEFAULT ? {} : { expectStatus: e.expectStatus }) };
  return out;
}

export function encodeSnapshot(state: TableState): Uint8Array {
  const jobs: Row[] = [];
  for (const id of state.jobIds.valuesAfter()) {
    const j = state.jobs.get(id);
    assert(j !== undefined, 'id index names a missing job');
    jobs.push([compactSpec(j.spec), j.createdAt, j.updatedAt, j.createRevision, j.revision, j.lastScheduledAt, j.nextFireAt]);
  }
  const l = state.limits;
  const body = {
    limits: [l.jobsMax, l.runsMax, l.activeRunsMax, l.activeRunsPerJobMax, l.keysMax],
    appliedIndex: state.appliedIndex,
    runSeq: state.runSeq,
    jobs,
    runs: [...state.runs.values()].map(runRow),
    keys: [...state.keys].map(([k, e]) => [k, e.jobId, e.createRevision, e.runId, e.atMs]),
  };
  return new Uint8Array(packr.pack({ format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, body }));
}

export function decodeSnapshot(bytes: Uint8Array): TableState {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (error) {
    throw bad(`not msgpack (${error instanceof Error ? error.message : 'decode failed'})`);
  }
  const header = value as { format?: unknown; version?: unknown; body?: unknown } | null;
  if (typeof header !== 'object' || header === null || header.format !== SNAPSHOT_FORMAT) throw bad('not a chime job-table snapshot');
  if (typeof header.version !== 'number' || !Number.isSafeInteger(header.version) || header.version < 1) throw bad('missing version');
  if (header.version > SNAPSHOT_VERSION) {
    throw bad(`snapshot version ${header.version} is newer than this build reads (up to ${SNAPSHOT_VERSION}); upgrade this node`);
  }
  try {
    return decodeVersion1(header.body);
  } catch (error) {
    if (error instanceof StateMachineInputError) throw error;
    throw bad(error instanceof Error ? error.message : 'corrupt snapshot');
  }
}

function bad(message: string): StateMachineInputError {
  return new StateMachineInputError('INVALID_SNAPSHOT', `invalid snapshot: ${message}`);
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isNullInt = (v: unknown): v is number | null => v === null || isInt(v);
const isNullStr = (v: unknown): v is string | null => v === null || typeof v === 'string';

function rows(v: unknown, width: number, what: string): Row[] {
  if (!Array.isArray(v)) throw bad(`${what} is not a list`);
  for (const row of v) if (!Array.isArray(row) || row.length !== width) throw bad(`a ${what} row is malformed`);
  return v as Row[];
}

function decodeVersion1(body: unknown): TableState {
  const b = body as Record<string, unknown> | null;
  if (typeof b !== 'object' || b === null) throw bad('missing body');
  const l = b.limits;
  if (!Array.isArray(l) || l.length !== 5 || !l.every((n) => isInt(n) && n > 0)) throw bad('limits are malformed');
  const limits: TableLimits = Object.freeze({ jobsMax: l[0], runsMax: l[1], activeRunsMax: l[2], activeRunsPerJobMax: l[3], keysMax: l[4] });
  if (!isInt(b.appliedIndex) || !isInt(b.runSeq)) throw bad('indexes are malformed');
  const state = createState(limits);
  state.appliedIndex = b.appliedIndex;
  state.runSeq = b.runSeq;
  for (const row of rows(b.jobs, 7, 'job')) restoreJob(state, row);
  let lastSeq = 0;
  for (const row of rows(b.runs, 17, 'run')) {
    const run = restoreRun(row);
    if (run.seq <= lastSeq || run.seq > state.runSeq) throw bad(`run ${run.runId} is out of order`);
    lastSeq = run.seq;
    const job = state.jobs.get(run.jobId);
    if (job === undefined || state.runs.has(run.runId)) throw bad(`run ${run.runId} has no job or is listed twice`);
    if (!indexRun(state, job, run)) updateRetryIndex(state, run, job.spec);
  }
  for (const row of rows(b.keys, 5, 'key')) {
    const [k, jobId, createRevision, runId, atMs] = row;
    if (typeof k !== 'string' || typeof jobId !== 'string' || !isInt(createRevision) || typeof runId !== 'string' || !isInt(atMs)) throw bad('a key row is malformed');
    state.keys.set(k, { jobId, createRevision, runId, atMs });
  }
  return state;
}

function restoreJob(state: TableState, row: Row): void {
  const [rawSpec, createdAt, updatedAt, createRevision, revision, lastScheduledAt, nextFireAt] = row;
  const id = (rawSpec as { id?: unknown } | null)?.id;
  if (typeof id !== 'string') throw bad('a job has no id');
  // Validation rebuilds the spec with shared defaults, and refuses a spec this build would not accept.
  const checked = validateJobSpec(id, rawSpec);
  if (!checked.ok) throw bad(`job ${id}: ${checked.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  if (!isInt(createdAt) || !isInt(updatedAt) || !isInt(createRevision) || !isInt(revision) || !isNullInt(lastScheduledAt) || !isNullInt(nextFireAt)) {
    throw bad(`job ${id} metadata is malformed`);
  }
  if (state.jobs.has(id)) throw bad(`job ${id} is listed twice`);
  const job: JobState = { spec: checked.spec, createdAt, updatedAt, createRevision, revision, lastScheduledAt, nextFireAt, runs: null, activeCount: 0 };
  state.jobs.set(id, job);
  state.jobIds.add(id);
  if (nextFireAt !== null) state.fireIndex.add(job);
  addDependents(state, checked.spec);
}

const RUN_STATUS = new Set(['pending', 'running', 'succeeded', 'failed', 'timed_out', 'killed', 'lost', 'skipped']);
const TRIGGER = new Set(['schedule', 'manual', 'retry', 'after', 'misfire']);
const KILL = new Set(['request', 'timeout', 'replace']);

function restoreExecution(row: unknown): Execution {
  if (!Array.isArray(row) || row.length !== 9) throw bad('an execution row is malformed');
  const [node, attempt, status, exitCode, output, outputTruncated, error, startedAt, finishedAt] = row as unknown[];
  if (typeof node !== 'string' || !isInt(attempt) || typeof status !== 'string' || !RUN_STATUS.has(status) || status === 'skipped'
    || !isNullInt(exitCode) || typeof output !== 'string' || typeof outputTruncated !== 'boolean' || !isNullStr(error)
    || !isNullInt(startedAt) || !isNullInt(finishedAt)) throw bad('an execution is malformed');
  return { node, attempt, status: status as Execution['status'], exitCode, output, outputTruncated, error, startedAt, finishedAt };
}

function restoreRun(row: Row): RunRecord {
  const [runId, jobId, seq, scheduledAt, trigger, attempt, status, firedAt, startedAt, finishedAt, executions, payload, key, executors,
    notBefore, killRequested, reason] = row;
  if (typeof runId !== 'string' || typeof jobId !== 'string' || !isInt(seq) || !isInt(scheduledAt) || typeof trigger !== 'string'
    || !TRIGGER.has(trigger) || !isInt(attempt) || typeof status !== 'string' || !RUN_STATUS.has(status) || !isInt(firedAt)
    || !isNullInt(startedAt) || !isNullInt(finishedAt) || !Array.isArray(executions) || !isNullStr(payload) || !isNullStr(key)
    || !Array.isArray(executors) || !executors.every((n) => typeof n === 'string') || !isNullInt(notBefore)
    || !(killRequested === null || (typeof killRequested === 'string' && KILL.has(killRequested))) || !isNullStr(reason)) {
    throw bad('a run is malformed');
  }
  return {
    runId, jobId, seq, scheduledAt, trigger: trigger as RunRecord['trigger'], attempt, status: status as RunRecord['status'], firedAt,
    startedAt, finishedAt, executions: executions.map(restoreExecution), payload, key, executors: executors as string[], notBefore,
    killRequested: killRequested as RunRecord['killRequested'], reason,
  };
}
