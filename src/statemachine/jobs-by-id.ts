// The jobs of a table, ordered by id: lookups by binary search and listings in id order
// from one structure. A Map beside a sorted id list would cost about 50 more bytes per job;
// a lookup here costs about 20 string comparisons at a million jobs.
import { assert } from './assert.js';
import type { JobState } from './job-record.js';
import { SortedSet } from './sorted-set.js';

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const byId = (job: JobState, id: string): number => compareIds(job.id, id);

export class JobsById {
  private readonly set = new SortedSet<JobState, { readonly id: string }>((a, b) => compareIds(a.id, b.id));

  get size(): number {
    return this.set.size;
  }

  get(id: string): JobState | undefined {
    return this.set.findBy(id, byId);
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  add(job: JobState): void {
    if (!this.set.add(job)) assert(false, `job ${job.id} is already stored`);
  }

  delete(job: JobState): void {
    if (!this.set.delete(job)) assert(false, `job ${job.id} is not stored`);
  }

  /** Jobs in id order, starting after the id `afterId` (exclusive) or from the first. */
  valuesAfter(afterId?: string): Generator<JobState> {
    return this.set.valuesAfter(afterId === undefined ? undefined : { id: afterId });
  }

  /** Replaces the contents with jobs sorted by id (asserted unless `orderChecked`). */
  fill(jobs: readonly JobState[], orderChecked = false): void {
    this.set.fill(jobs, orderChecked);
  }
}
