// The API's services filled from the node runtime, the job table and the leader's scheduler.
// Rejections of the table and the scheduler become ChimeErrors here, once.
import type { AccessControl, AuditSink, BackupService, ClusterService, JobService, ReadBarrier, RunService, TokenService, WorkerService } from '../api/index.js';
import { SEALED_PREFIX, isSealed, mergeExecutorSecrets, notifySecretField, openSecretMap, sealExecutorSecrets, sealSecretMap, type AuditRecord, type FieldError, type SecretsKey } from '../access/index.js';
import { ChimeError, isChimeError } from '../errors/index.js';
import type { ExecutionPlane } from '../execution/index.js';
import type { NodeRuntime } from '../node/index.js';
import type { ApplyResult, Command, Job, JobSpec, JobTable, NotifyTarget, ReplicatedJobs, RunRecord } from '../statemachine/index.js';
import { storedSpecOf } from '../statemachine/index.js';
import { encodeBackup } from './backup.js';

export type JobNode = NodeRuntime<Command, ApplyResult>;

/** A rejected apply result as the error the client sees. */
function rejection(result: ApplyResult & { ok: false }): ChimeError {
  return new ChimeError(result.code, result.message, result.errors === undefined ? {} : { errors: result.errors });
}

export function backupServiceOf(node: JobNode, jobs: ReplicatedJobs, wallNowMs: () => number): BackupService {
  return {
    backup: async () => {
      await node.read();
      // Synchronous from here: nothing applies between the index and the image.
      return encodeBackup({ index: node.appliedIndex(), createdAtMs: wallNowMs(), node: node.id, image: jobs.snapshot() });
    },
  };
}

export function readBarrierOf(node: JobNode): ReadBarrier {
  return { read: () => node.read() };
}

/** What the cluster service needs of the node. */
export type MemberNode = Pick<JobNode, 'clusterView' | 'isReady' | 'addMember' | 'setMemberRole' | 'removeMember' | 'transferLeadership'>;

export function clusterServiceOf(node: MemberNode, audits: AuditSink): ClusterService {
  return {
    view: () => node.clusterView(),
    isReady: () => node.isReady(),
    addMember: async (id, address, role, audit) => {
      await node.addMember(id, address, role);
      await audits.recordAfter(audit);
    },
    setMemberRole: async (id, role, audit) => {
      await node.setMemberRole(id, role);
      await audits.recordAfter(audit);
    },
    removeMember: async (id, audit) => {
      await node.removeMember(id);
      await audits.recordAfter(audit);
    },
    transferLeadership: (to, audit) => {
      // Proposed first: once leadership moves this node can no longer propose it. Best effort,
      // as the transfer itself is (a transfer that fails still shows who asked for it).
      void audits.record(audit).catch(() => {});
      return node.transferLeadership(to);
    },
  };
}

/** Audit records of writes that are no table commands, each its own entry. */
export function auditSinkOf(node: Pick<JobNode, 'propose'>, recordLost: () => void = () => {}): AuditSink {
  const record = async (audit: AuditRecord): Promise<void> => {
    const result = await node.propose({ type: 'audit', record: audit, at: audit.at });
    if (!result.ok) throw rejection(result);
  };
  return {
    record,
    recordAfter: (audit) => record(audit).catch(recordLost),
  };
}

export function tokenServiceOf(node: JobNode): TokenService {
  return {
    create: async (command, audit) => {
      const result = await node.propose({ ...command, at: command.createdAt, audit });
      if (!result.ok) throw rejection(result);
      if (result.kind !== 'tokenCreated') throw new ChimeError('INTERNAL', `createToken applied as ${result.kind}`);
      return result.token;
    },
    revoke: async (id, audit) => {
      const result = await node.propose({ type: 'revokeToken', id, at: audit.at, audit });
      if (!result.ok) throw rejection(result);
      if (result.kind !== 'tokenRevoked') throw new ChimeError('INTERNAL', `revokeToken applied as ${result.kind}`);
      return result.token;
    },
  };
}

/** How long a barrier for the access check waits for a leader before giving up for now. */
const ACCESS_LEADER_WAIT_MS = 3000;
const ACCESS_LEADER_POLL_MS = 20;

export interface AccessOptions {
  /** --admin-token-file was given: until the bootstrap token is applied, the registry is not authoritative. */
  readonly bootstrapExpected: boolean;
  /** The API listens on a non-loopback address: a registry without tokens must never be served open. */
  readonly requireTokens: boolean;
  readonly metricsOpen: boolean;
  readonly nodeOrigins: readonly string[];
  readonly wallNowMs: () => number;
}

/**
 * The server's access control from the node. The registry becomes authoritative once a read
 * barrier succeeded after start (this node then has applied everything committed before
 * it: a restarted or lagging node cannot mistake "not replayed yet" for "no tokens"). Tokens
 * are never all removed again (src/access keeps one admin), so ready stays ready.
 */
export function accessControlOf(node: JobNode, table: () => JobTable, options: AccessOptions): AccessControl {
  let caughtUp = false;
  let becoming: Promise<boolean> | null = null;
  let catching: Promise<boolean> | null = null;
  const tokensSettled = (): boolean => (!options.bootstrapExpected && !options.requireTokens) || table().tokens.hasTokens;
  const isReady = (): boolean => caughtUp && tokensSettled();
  const barrier = async (): Promise<boolean> => {
    const untilMs = performance.now() + ACCESS_LEADER_WAIT_MS;
    for (;;) {
      try {
        await node.read();
        return true;
      } catch (error) {
        if (!isChimeError(error, 'NO_LEADER', 'NOT_LEADER') || performance.now() >= untilMs) return false;
        await new Promise((r) => setTimeout(r, ACCESS_LEADER_POLL_MS));
      }
    }
  };
  return {
    tokens: () => table().tokens,
    isReady,
    becomeReady: () => {
      if (isReady()) return Promise.resolve(true);
      // One barrier serves every request that arrives while it runs.
      becoming ??= barrier().then((ok) => {
        if (ok) caughtUp = true;
        becoming = null;
        return isReady();
      });
      return becoming;
    },
    catchUp: () => {
      catching ??= barrier().then((ok) => {
        catching = null;
        return ok;
      });
      return catching;
    },
    nowMs: options.wallNowMs,
    metricsOpen: options.metricsOpen,
    nodeOrigins: () => options.nodeOrigins,
  };
}

/**
 * A spec as it is proposed: a secret value "***" keeps the stored one (api.md, "Secrets"),
 * and with a secrets key every plain secret value is sealed here, on the API node, so the
 * log, WAL and snapshots hold only ciphertext. Throws INVALID_SECRET with field paths.
 */
function storableSpec(spec: JobSpec, stored: Job | null, key: SecretsKey | null, path: string): JobSpec {
  const executor = storableExecutor(spec, stored, key, path);
  const notify = storableNotify(spec, stored, key, path);
  return executor === spec.executor && notify === spec.notify ? spec : { ...spec, executor, notify };
}

function storableExecutor(spec: JobSpec, stored: Job | null, key: SecretsKey | null, path: string): JobSpec['executor'] {
  // A queue executor has no secrets: its worker gets the payload and nothing of the node's.
  if (spec.executor.type === 'queue') return spec.executor;
  const merged = mergeExecutorSecrets(spec.executor, stored?.executor ?? null);
  if (!merged.ok) {
    const errors = (merged.errors ?? []).map((e) => ({ path: `${path}${e.path}`, message: e.message }));
    throw new ChimeError('INVALID_SECRET', `${path === '' ? '' : `${path}: `}${merged.message}`, { errors });
  }
  return key === null ? merged.executor : sealExecutorSecrets(key, spec.id, merged.executor);
}

/**
 * Notify targets' secret headers. The API swapped each "***" for the value stored at the
 * same place (same position, same URL: src/api's withStoredSecrets), so a sealed value here
 * is either that kept one or one the caller sent, which is refused: only a node seals. With
 * a key, every plain value is sealed, bound to the job and the target's position.
 */
function storableNotify(spec: JobSpec, stored: Job | null, key: SecretsKey | null, path: string): JobSpec['notify'] {
  if (!spec.notify.some((target) => Object.keys(target.secretHeaders).length > 0)) return spec.notify;
  const errors: FieldError[] = [];
  const notify = spec.notify.map((target, i) => {
    const before = stored?.notify[i];
    const kept = before !== undefined && before.url === target.url ? before.secretHeaders : {};
    for (const [name, value] of Object.entries(target.secretHeaders)) {
      if (isSealed(value) && !(Object.hasOwn(kept, name) && kept[name] === value)) {
        errors.push({ path: `${path}notify[${i}].secretHeaders.${name}`, message: `a secret value cannot start with ${SEALED_PREFIX}` });
      }
    }
    if (key === null || Object.keys(target.secretHeaders).length === 0) return target;
    return { ...target, secretHeaders: sealSecretMap(key, spec.id, notifySecretField(i), target.secretHeaders) };
  });
  if (errors.length > 0) throw new ChimeError('INVALID_SECRET', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
  return notify;
}

/**
 * How the leader's notifier opens a target's sealed secret headers right before sending.
 * Without a key a sealed value cannot be opened: the attempt fails with that reason (and is
 * retried), the webhook never goes out without its secret headers.
 */
export function notifySecretsOpener(key: SecretsKey | null): (jobId: string, index: number, target: NotifyTarget) => NotifyTarget | { readonly error: string } {
  return (jobId, index, target) => {
    const opened = openSecretMap(key, jobId, notifySecretField(index), target.secretHeaders, `notify[${index}].secretHeaders`);
    return opened.ok ? { ...target, secretHeaders: opened.map } : { error: `${opened.code}: ${opened.message}` };
  };
}

/** `trace` marks when a write is handed to the node and when its result came back (CHIME_TRACE). */
export function jobServiceOf(
  node: JobNode, table: () => JobTable, wallNowMs: () => number, secretsKey: SecretsKey | null = null, trace?: (stage: 'proposing' | 'resolved') => void,
): JobService {
  const jobOf = (id: string): Job => {
    const job = table().getJob(id);
    if (job === null) throw new ChimeError('JOB_NOT_FOUND', `job ${id} does not exist`);
    return job;
  };
  const apply = async (command: Command): Promise<ApplyResult & { ok: true }> => {
    trace?.('proposing');
    const result = await node.propose(command);
    trace?.('resolved');
    if (!result.ok) throw rejection(result);
    // A re-sent write that took effect before, whose job changed since (table.ts repeatOf).
    if (result.kind === 'noop' && result.code === 'WRITE_REPEATED') throw new ChimeError(result.code, result.message);
    return result;
  };
  return {
    table,
    put: async (id, spec, audit) => {
      // Packed here, once: apply checks the stored form's shape instead of validating again.
      const result = await apply({ type: 'putJob', id, stored: storedSpecOf(storableSpec(spec, table().getJob(id), secretsKey, '')), at: wallNowMs(), audit });
      if (result.kind !== 'job') throw new ChimeError('INTERNAL', `putJob applied as ${result.kind}`);
      return { created: result.created, job: result.job };
    },
    putMany: async (specs, audit) => {
      const result = await apply({ type: 'putJobs', jobs: specs.map((spec, i) => ({ id: spec.id, stored: storedSpecOf(storableSpec(spec, table().getJob(spec.id), secretsKey, `jobs[${i}].`)) })), at: wallNowMs(), audit });
      if (result.kind !== 'jobs') throw new ChimeError('INTERNAL', `putJobs applied as ${result.kind}`);
      return result.jobs;
    },
    remove: async (id, audit) => {
      await apply({ type: 'deleteJob', id, at: wallNowMs(), audit });
    },
    setEnabled: async (id, enabled, audit) => {
      await apply({ type: enabled ? 'resumeJob' : 'pauseJob', id, at: wallNowMs(), audit });
      return jobOf(id);
    },
  };
}

export function runServiceOf(plane: ExecutionPlane, audits: AuditSink): RunService {
  const scheduler = () => {
    const s = plane.activeScheduler();
    if (s === null) throw new ChimeError('NOT_LEADER', 'the scheduler is not running on this node yet; retry');
    return s;
  };
  return {
    runNow: async (jobId, request, audit) => {
      const started = await scheduler().runNow(jobId, { ...request, triggeredBy: audit.actor });
      // Manual fires are batched with others into one entry, so the run's audit record is its
      // own entry once the run is recorded; a duplicate (the same key) changed nothing.
      if (started.status !== 'duplicate') await audits.recordAfter({ ...audit, target: `${jobId}/${started.runId}`.slice(0, 256) });
      return started;
    },
    awaitRun: (runId, waitMs) => scheduler().awaitRun(runId, waitMs),
    kill: async (runId, audit): Promise<RunRecord | null> => {
      const result = await scheduler().killRun(runId, audit);
      if (!result.ok) throw rejection(result);
      return result.kind === 'run' ? result.run : null;
    },
  };
}

/** Pull workers: the leader's scheduler (this node forwards worker calls to the leader). */
export function workerServiceOf(plane: ExecutionPlane, nodeId: string): WorkerService {
  const scheduler = () => {
    const s = plane.activeScheduler();
    if (s === null) throw new ChimeError('NOT_LEADER', 'the scheduler is not running on this node yet; retry');
    return s;
  };
  return {
    claim: (input) => scheduler().claim({ worker: input.worker, functions: input.functions, max: input.max, waitMs: input.waitMs, node: nodeId, ...(input.signal === undefined ? {} : { signal: input.signal }) }),
    report: async (command) => {
      const result = await scheduler().claimReport(command);
      if (!result.ok) throw rejection(result);
      if (result.kind !== 'run') throw new ChimeError('INTERNAL', `claimReport applied as ${result.kind}`);
      return result.run;
    },
    waitingByFunction: () => plane.activeScheduler()?.claimWaitersByFunction() ?? new Map(),
  };
}
