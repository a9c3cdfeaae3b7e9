// Reader of snapshot version 1 (jobs as msgpack rows holding the spec without defaults,
// re-validated on restore). Kept so a node of this build can still restore a snapshot an
// older build wrote.
import { isRecord } from '../guards/index.js';
import type { TableLimits } from './limits.js';
import { JobState } from './job-record.js';
import { bad, isInt, isNullInt, restoreRunsAndKeys, rows, type Row } from './snapshot-rows.js';
import { addDependents, createState, type TableState } from './state.js';
import { validateJobSpec } from './validate.js';

export function decodeVersion1(body: unknown): TableState {
  if (!isRecord(body)) throw bad('missing body');
  const b = body;
  const l = b.limits;
  if (!Array.isArray(l) || l.length !== 5 || !l.every((n) => isInt(n) && n > 0)) throw bad('limits are malformed');
  const limits: TableLimits = Object.freeze({ jobsMax: l[0], runsMax: l[1], activeRunsMax: l[2], activeRunsPerJobMax: l[3], keysMax: l[4] });
  if (!isInt(b.appliedIndex) || !isInt(b.runSeq)) throw bad('indexes are malformed');
  const state = createState(limits);
  state.appliedIndex = b.appliedIndex;
  state.runSeq = b.runSeq;
  for (const row of rows(b.jobs, 7, 'job')) restoreJob(state, row);
  restoreRunsAndKeys(state, b.runs, b.keys);
  return state;
}

function restoreJob(state: TableState, row: Row): void {
  const [rawSpec, createdAt, updatedAt, createRevision, revision, lastScheduledAt, nextFireAt] = row;
  const id = isRecord(rawSpec) ? rawSpec['id'] : undefined;
  if (typeof id !== 'string') throw bad('a job has no id');
  // Validation rebuilds the spec with shared defaults, and refuses a spec this build would not accept.
  const checked = validateJobSpec(id, rawSpec);
  if (!checked.ok) throw bad(`job ${id}: ${checked.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  if (!isInt(createdAt) || !isInt(updatedAt) || !isInt(createRevision) || !isInt(revision) || !isNullInt(lastScheduledAt) || !isNullInt(nextFireAt)) {
    throw bad(`job ${id} metadata is malformed`);
  }
  if (state.jobs.has(id)) throw bad(`job ${id} is listed twice`);
  const job = JobState.of(checked.spec, createdAt, createRevision);
  job.updatedAt = updatedAt;
  job.revision = revision;
  job.lastScheduledAt = lastScheduledAt;
  job.nextFireAt = nextFireAt;
  state.jobs.add(job);
  if (nextFireAt !== null) state.fireIndex.add(job);
  addDependents(state, id, checked.spec.after);
}
