// The API's answers checked into the console's types at the edge (types.ts): a page never
// trusts a shape it did not check, and a server that answers something else (an older
// version, a proxy's page) gives one clear error naming the field instead of a blank page.
import type { AuditEntry, Cluster, Delivery, Execution, FunctionInfo, Job, Member, Run, Upcoming, WorkerInfo } from './types.js';

export class DecodeError extends Error {
  constructor(readonly path: string, want: string) {
    super(`the server's answer is not what this console expects: ${path} should be ${want}`);
  }
}

/** Reads `value` (found at `path` in the answer) into a T, or throws DecodeError. */
export type Reader<T> = (value: unknown, path: string) => T;

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const obj: Reader<Record<string, unknown>> = (value, path) => {
  if (!isRecord(value)) throw new DecodeError(path, 'an object');
  return value;
};

export const str: Reader<string> = (value, path) => {
  if (typeof value !== 'string') throw new DecodeError(path, 'a string');
  return value;
};

export const num: Reader<number> = (value, path) => {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new DecodeError(path, 'a number');
  return value;
};

export const bool: Reader<boolean> = (value, path) => {
  if (typeof value !== 'boolean') throw new DecodeError(path, 'true or false');
  return value;
};

/** Anything: the answer of a call whose body the caller does not use. */
export const ignore: Reader<unknown> = (value) => value;

export function nullable<T>(read: Reader<T>): Reader<T | null> {
  return (value, path) => (value === null ? null : read(value, path));
}

/** A field newer than some servers: missing reads as undefined. */
export function optional<T>(read: Reader<T>): Reader<T | undefined> {
  return (value, path) => (value === undefined ? undefined : read(value, path));
}

export function arrayOf<T>(read: Reader<T>): Reader<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) throw new DecodeError(path, 'a list');
    return value.map((item, i) => read(item, `${path}[${i}]`));
  };
}

export const strMap: Reader<Record<string, string>> = (value, path) => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value, path))) out[k] = str(v, `${path}.${k}`);
  return out;
};

/** One field of an object, read by `read` with its path. */
function at<T>(o: Record<string, unknown>, path: string, key: string, read: Reader<T>): T {
  return read(o[key], `${path}.${key}`);
}

export function pageOf<T>(read: Reader<T>): Reader<Page<T>> {
  return (value, path) => {
    const o = obj(value, path);
    return { items: at(o, path, 'items', arrayOf(read)), nextCursor: at(o, path, 'nextCursor', optional(nullable(str))) ?? null };
  };
}

export const readMember: Reader<Member> = (value, path) => {
  const o = obj(value, path);
  return {
    id: at(o, path, 'id', str), rpc: at(o, path, 'rpc', str), http: at(o, path, 'http', str), role: at(o, path, 'role', str),
    voter: at(o, path, 'voter', bool), matchIndex: at(o, path, 'matchIndex', optional(nullable(num))) ?? null,
    lastContactMs: at(o, path, 'lastContactMs', optional(nullable(num))) ?? null,
  };
};

export const readCluster: Reader<Cluster> = (value, path) => {
  const o = obj(value, path);
  return {
    id: at(o, path, 'id', str), leader: at(o, path, 'leader', nullable(str)), term: at(o, path, 'term', num),
    commitIndex: at(o, path, 'commitIndex', num), appliedIndex: at(o, path, 'appliedIndex', num), members: at(o, path, 'members', arrayOf(readMember)),
  };
};

/** A job keeps every field the server sent (the form edits them all); the ones pages rely on are checked. */
export const readJob: Reader<Job> = (value, path) => {
  const o = obj(value, path);
  const executor = at(o, path, 'executor', obj);
  const ex = `${path}.executor`;
  return {
    ...o,
    id: at(o, path, 'id', str), schedule: at(o, path, 'schedule', str), timezone: at(o, path, 'timezone', str), enabled: at(o, path, 'enabled', bool),
    executor: {
      type: at(executor, ex, 'type', str), command: at(executor, ex, 'command', optional(str)), method: at(executor, ex, 'method', optional(str)),
      url: at(executor, ex, 'url', optional(str)), function: at(executor, ex, 'function', optional(str)),
    },
    target: readTarget(o['target'], `${path}.target`),
    labels: at(o, path, 'labels', strMap), description: at(o, path, 'description', optional(str)) ?? '',
    nextFireAt: at(o, path, 'nextFireAt', optional(nullable(str))) ?? null, lastScheduledAt: at(o, path, 'lastScheduledAt', optional(nullable(str))) ?? null,
    createdAt: at(o, path, 'createdAt', optional(nullable(str))) ?? null, updatedAt: at(o, path, 'updatedAt', optional(nullable(str))) ?? null,
    updatedBy: at(o, path, 'updatedBy', optional(str)), notify: at(o, path, 'notify', optional(arrayOf(ignore))),
    retry: at(o, path, 'retry', optional(readRetry)), misfire: at(o, path, 'misfire', optional(readMisfire)),
  };
};

function readTarget(value: unknown, path: string): Job['target'] {
  const o = obj(value, path);
  return { mode: at(o, path, 'mode', str), tags: at(o, path, 'tags', optional(strMap)), count: at(o, path, 'count', optional(num)) };
}

const readRetry: Reader<NonNullable<Job['retry']>> = (value, path) => {
  const o = obj(value, path);
  return { max: at(o, path, 'max', num), backoffMs: at(o, path, 'backoffMs', num), maxBackoffMs: at(o, path, 'maxBackoffMs', num) };
};

const readMisfire: Reader<NonNullable<Job['misfire']>> = (value, path) => {
  const o = obj(value, path);
  return { policy: at(o, path, 'policy', str), windowMs: at(o, path, 'windowMs', optional(num)) };
};

export const readExecution: Reader<Execution> = (value, path) => {
  const o = obj(value, path);
  return {
    node: at(o, path, 'node', str), attempt: at(o, path, 'attempt', optional(num)), status: at(o, path, 'status', str),
    exitCode: at(o, path, 'exitCode', optional(nullable(num))) ?? null, output: at(o, path, 'output', optional(str)) ?? '',
    outputTruncated: at(o, path, 'outputTruncated', optional(bool)), error: at(o, path, 'error', optional(nullable(str))) ?? null,
    startedAt: at(o, path, 'startedAt', optional(nullable(str))), finishedAt: at(o, path, 'finishedAt', optional(nullable(str))),
  };
};

const readProgress: Reader<{ readonly done: number; readonly total: number }> = (value, path) => {
  const o = obj(value, path);
  return { done: at(o, path, 'done', num), total: at(o, path, 'total', num) };
};

export const readRun: Reader<Run> = (value, path) => {
  const o = obj(value, path);
  return {
    runId: at(o, path, 'runId', str), jobId: at(o, path, 'jobId', str), scheduledAt: at(o, path, 'scheduledAt', str), trigger: at(o, path, 'trigger', str),
    attempt: at(o, path, 'attempt', num), status: at(o, path, 'status', str), firedAt: at(o, path, 'firedAt', optional(nullable(str))) ?? null,
    startedAt: at(o, path, 'startedAt', nullable(str)), finishedAt: at(o, path, 'finishedAt', nullable(str)), executions: at(o, path, 'executions', arrayOf(readExecution)),
    payload: at(o, path, 'payload', optional(nullable(str))), key: at(o, path, 'key', optional(nullable(str))), reason: at(o, path, 'reason', optional(nullable(str))),
    durationMs: at(o, path, 'durationMs', optional(nullable(num))), lateMs: at(o, path, 'lateMs', optional(nullable(num))),
    progress: at(o, path, 'progress', optional(nullable(readProgress))), result: o['result'], triggeredBy: at(o, path, 'triggeredBy', optional(str)),
  };
};

export const readUpcoming: Reader<Upcoming> = (value, path) => {
  const o = obj(value, path);
  return { jobId: at(o, path, 'jobId', str), at: at(o, path, 'at', str), local: at(o, path, 'local', str) };
};

export const readFunctionInfo: Reader<FunctionInfo> = (value, path) => {
  const o = obj(value, path);
  return { name: at(o, path, 'name', str), queued: at(o, path, 'queued', num), running: at(o, path, 'running', num), workers: at(o, path, 'workers', num) };
};

export const readWorkerInfo: Reader<WorkerInfo> = (value, path) => {
  const o = obj(value, path);
  return {
    worker: at(o, path, 'worker', str), functions: at(o, path, 'functions', arrayOf(str)), node: at(o, path, 'node', str),
    lastSeenAt: at(o, path, 'lastSeenAt', str), running: at(o, path, 'running', num),
  };
};

export const readDelivery: Reader<Delivery> = (value, path) => {
  const o = obj(value, path);
  return {
    eventId: at(o, path, 'eventId', str), event: at(o, path, 'event', str), jobId: at(o, path, 'jobId', str), runId: at(o, path, 'runId', str),
    url: at(o, path, 'url', str), status: at(o, path, 'status', str), attempts: at(o, path, 'attempts', num),
    lastError: at(o, path, 'lastError', optional(nullable(str))) ?? null, lastAttemptAt: at(o, path, 'lastAttemptAt', optional(nullable(str))) ?? null,
  };
};

export const readAuditEntry: Reader<AuditEntry> = (value, path) => {
  const o = obj(value, path);
  return {
    at: at(o, path, 'at', str), actor: at(o, path, 'actor', str), method: at(o, path, 'method', str), path: at(o, path, 'path', str),
    target: at(o, path, 'target', optional(nullable(str))),
  };
};

/** An object answer's one string field (a run id, a leader's id). */
export function stringField(name: string): Reader<string> {
  return (value, path) => at(obj(value, path), path, name, str);
}

/** The schedule preview's answer. */
export const readInstantsAnswer: Reader<{ instants: Array<{ at: string; local: string }> }> = (value, path) => {
  const o = obj(value, path);
  return {
    instants: at(o, path, 'instants', arrayOf((v, p) => {
      const i = obj(v, p);
      return { at: at(i, p, 'at', str), local: at(i, p, 'local', str) };
    })),
  };
};
