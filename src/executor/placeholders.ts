// Run identity as environment variables (shell) and {{placeholders}} (http). Pure functions.

export interface RunIdentity {
  readonly jobId: string;
  readonly runId: string;
  readonly scheduledAtMs: number;
  readonly attempt: number;
  readonly nodeId: string;
  readonly payload: string;
}

export type PlaceholderName = 'jobId' | 'runId' | 'scheduledAt' | 'attempt' | 'nodeId' | 'payload';

/** ISO-8601 in UTC with milliseconds, e.g. 2026-11-24T01:30:00.000Z. */
export function isoUtcMs(ms: number): string {
  return new Date(ms).toISOString();
}

export function placeholderValues(id: RunIdentity): Readonly<Record<PlaceholderName, string>> {
  return {
    jobId: id.jobId,
    runId: id.runId,
    scheduledAt: isoUtcMs(id.scheduledAtMs),
    attempt: String(id.attempt),
    nodeId: id.nodeId,
    payload: id.payload,
  };
}

const PLACEHOLDER = /\{\{(jobId|runId|scheduledAt|attempt|nodeId|payload)\}\}/g;

/**
 * Replaces each known `{{name}}` in one pass, so a value that itself contains `{{…}}` is not
 * expanded again. Unknown names are left as written.
 */
export function substitute(template: string, values: Readonly<Record<PlaceholderName, string>>, encode: (value: string) => string = (v) => v): string {
  return template.replace(PLACEHOLDER, (_match, name: PlaceholderName) => encode(values[name]));
}

/** Base env, then the job's env, then CHIME_* — the run's identity cannot be overridden. */
export function shellEnv(base: Readonly<Record<string, string>>, jobEnv: Readonly<Record<string, string>>, id: RunIdentity): Record<string, string> {
  return {
    ...base,
    ...jobEnv,
    CHIME_JOB_ID: id.jobId,
    CHIME_RUN_ID: id.runId,
    CHIME_SCHEDULED_AT: isoUtcMs(id.scheduledAtMs),
    CHIME_ATTEMPT: String(id.attempt),
    CHIME_NODE_ID: id.nodeId,
    CHIME_PAYLOAD: id.payload,
  };
}

/** The string-valued part of an environment such as process.env. */
export function stringEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  return out;
}
