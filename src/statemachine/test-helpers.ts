// Helpers shared by the test files (not used by production code).
import type { Command, Fire } from './commands.js';
import type { ApplyResult } from './results.js';
import { JobTable } from './table.js';
import type { JobSpec } from './types.js';
import { validateJobSpec } from './validate.js';

export const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

export function spec(id: string, fields: Record<string, unknown> = {}): JobSpec {
  const checked = validateJobSpec(id, { schedule: '*/5 * * * *', executor: { type: 'shell', command: 'true' }, ...fields });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.spec;
}

/** A table that numbers entries itself. */
export class Driver {
  index = 0;
  constructor(readonly table: JobTable = JobTable.create()) {}
  apply(command: Command): ApplyResult {
    this.index += 1;
    return this.table.apply(command, this.index);
  }
  put(id: string, at: number, fields: Record<string, unknown> = {}): ApplyResult {
    return this.apply({ type: 'putJob', id, spec: spec(id, fields), at });
  }
  fire(at: number, ...fires: Fire[]): ApplyResult {
    return this.apply({ type: 'fire', at, fires });
  }
}

export function scheduled(jobId: string, runId: string, scheduledAt: number, extra: Partial<Fire> = {}): Fire {
  return { jobId, runId, scheduledAt, trigger: 'schedule', executors: ['n1'], outcome: 'run', ...extra };
}

/** Small seeded PRNG (mulberry32) so property tests replay from a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function fireStatuses(result: ApplyResult): string[] {
  if (!result.ok || result.kind !== 'fire') throw new Error(`not a fire result: ${JSON.stringify(result)}`);
  return result.fires.map((f) => f.status);
}
