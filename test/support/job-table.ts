// The job table in tests: specs, a driver that numbers entries itself, fire helpers.
import { JobTable, storedSpecOf, validateJobSpec, type ApplyResult, type Command, type Fire, type JobSpec } from '../../src/statemachine/index.js';

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
  /** A putJob as the API proposes it: the spec validated and packed (stored-spec.ts). */
  put(id: string, at: number, fields: Record<string, unknown> = {}): ApplyResult {
    return this.apply({ type: 'putJob', id, stored: storedSpecOf(spec(id, fields)), at });
  }
  /** A putJob as older entries carry it: the user's spec, validated by apply. */
  putRaw(id: string, at: number, fields: Record<string, unknown> = {}): ApplyResult {
    return this.apply({ type: 'putJob', id, spec: spec(id, fields), at });
  }
  fire(at: number, ...fires: Fire[]): ApplyResult {
    return this.apply({ type: 'fire', at, fires });
  }
}

export function scheduled(jobId: string, runId: string, scheduledAt: number, extra: Partial<Fire> = {}): Fire {
  return { jobId, runId, scheduledAt, trigger: 'schedule', executors: ['n1'], outcome: 'run', ...extra };
}

export function fireStatuses(result: ApplyResult): string[] {
  if (!result.ok || result.kind !== 'fire') throw new Error(`not a fire result: ${JSON.stringify(result)}`);
  return result.fires.map((f) => f.status);
}
