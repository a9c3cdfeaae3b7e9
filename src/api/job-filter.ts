// Filters of the job list (`GET /v1/jobs?id&label&status`), applied on the server so that a
// client pages through matches, not through the whole table. The table keeps jobs in id
// order; a filtered page walks it from the cursor and stops at `limit` matches or after
// SCAN_JOBS_MAX jobs, whichever comes first, so one request costs a bounded amount however
// few jobs match. A page cut short by the bound has fewer items and still a nextCursor.
import { ChimeError, type FieldError } from '../errors/index.js';
import { LIST_LIMIT_DEFAULT, type Job, type JobTable } from '../statemachine/index.js';

/** Jobs one filtered request may look at. */
export const SCAN_JOBS_MAX = 50_000;
/** Jobs taken from the table per step of the walk (the table's largest page). */
const SCAN_STEP_JOBS = 1000;
const LABELS_MAX = 8;

export interface JobFilter {
  /** Case-insensitive substring of the id. */
  readonly idContains: string | null;
  /** Every pair must be among the job's labels. */
  readonly labels: ReadonlyArray<readonly [string, string]>;
  readonly enabled: boolean | null;
}

/** The filter in a request's query, or null when it has none. */
export function jobFilterOf(query: URLSearchParams): JobFilter | null {
  const id = query.get('id');
  const labels = query.getAll('label');
  const status = query.get('status');
  if ((id === null || id === '') && labels.length === 0 && (status === null || status === '')) return null;
  const errors: FieldError[] = [];
  if (id !== null && id.length > 128) errors.push({ path: 'id', message: 'must be at most 128 characters' });
  if (labels.length > LABELS_MAX) errors.push({ path: 'label', message: `at most ${LABELS_MAX} label filters` });
  const pairs: Array<readonly [string, string]> = [];
  for (const label of labels) {
    const at = label.indexOf('=');
    if (at <= 0) errors.push({ path: 'label', message: `"${label.slice(0, 80)}" is not KEY=VALUE` });
    else pairs.push([label.slice(0, at), label.slice(at + 1)]);
  }
  if (status !== null && status !== '' && status !== 'enabled' && status !== 'paused') errors.push({ path: 'status', message: 'must be "enabled" or "paused"' });
  if (errors.length > 0) throw new ChimeError('INVALID_REQUEST', 'the job filter is invalid', { errors });
  return {
    idContains: id === null || id === '' ? null : id.toLowerCase(),
    labels: pairs,
    enabled: status === 'enabled' ? true : status === 'paused' ? false : null,
  };
}

export function matchesJob(filter: JobFilter, job: Job): boolean {
  if (filter.enabled !== null && job.enabled !== filter.enabled) return false;
  if (filter.idContains !== null && !job.id.toLowerCase().includes(filter.idContains)) return false;
  return filter.labels.every(([key, value]) => job.labels[key] === value);
}

/** One page of matching jobs, with a cursor in the table's own format (`j1.<last id looked at>`). */
export function filteredJobs(table: JobTable, filter: JobFilter, options: { limit?: number; cursor?: string }): { items: Job[]; nextCursor: string | null } {
  const limit = options.limit ?? LIST_LIMIT_DEFAULT;
  const items: Job[] = [];
  let cursor: string | null = options.cursor ?? null;
  let scanned = 0;
  while (items.length < limit) {
    const page = table.listJobs({ limit: SCAN_STEP_JOBS, cursor });
    if (!page.ok) throw new ChimeError(page.code, page.message);
    for (const job of page.items) {
      scanned++;
      cursor = `j1.${job.id}`;
      if (matchesJob(filter, job)) items.push(job);
      // A full page ends here: its cursor is the last job returned, so the next page starts right after it.
      if (items.length === limit) return { items, nextCursor: page.nextCursor === null && job === page.items[page.items.length - 1] ? null : cursor };
    }
    if (page.nextCursor === null) return { items, nextCursor: null };
    if (scanned >= SCAN_JOBS_MAX) return { items, nextCursor: cursor };
  }
  return { items, nextCursor: cursor };
}
