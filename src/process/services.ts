// The API's services filled from the node runtime, the job table and the leader's scheduler.
// Rejections of the table and the scheduler become ChimeErrors here, once.
import type { BackupService, ClusterService, JobService, ReadBarrier, RunService, WorkerService } from '../api/index.js';
import { ChimeError } from '../errors/index.js';
import type { ExecutionPlane } from '../execution/index.js';
import type { NodeRuntime } from '../node/index.js';
import type { ApplyResult, Command, Job, JobTable, ReplicatedJobs, RunRecord } from '../statemachine/index.js';
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

export function clusterServiceOf(node: JobNode): ClusterService {
  return {
    view: () => node.clusterView(),
    isReady: () => node.isReady(),
    addMember: (id, address, role) => node.addMember(id, address, role),
    setMemberRole: (id, role) => node.setMemberRole(id, role),
    removeMember: (id) => node.removeMember(id),
    transferLeadership: (to) => node.transferLeadership(to),
  };
}

/** `trace` marks when a write is handed to the node and when its result came back (CHIME_TRACE). */
export function jobServiceOf(node: JobNode, table: () => JobTable, wallNowMs: () => number, trace?: (stage: 'proposing' | 'resolved') => void): JobService {
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
    return result;
  };
  return {
    table,
    put: async (id, spec) => {
      const result = await apply({ type: 'putJob', id, spec, at: wallNowMs() });
      if (result.kind !== 'job') throw new ChimeError('INTERNAL', `putJob applied as ${result.kind}`);
      return { created: result.created, job: result.job };
    },
    putMany: async (specs) => {
      const result = await apply({ type: 'putJobs', jobs: specs.map((spec) => ({ id: spec.id, spec })), at: wallNowMs() });
      if (result.kind !== 'jobs') throw new ChimeError('INTERNAL', `putJobs applied as ${result.kind}`);
      return result.jobs;
    },
    remove: async (id) => {
      await apply({ type: 'deleteJob', id, at: wallNowMs() });
    },
    setEnabled: async (id, enabled) => {
      await apply({ type: enabled ? 'resumeJob' : 'pauseJob', id, at: wallNowMs() });
      return jobOf(id);
    },
  };
}

export function runServiceOf(plane: ExecutionPlane): RunService {
  const scheduler = () => {
    const s = plane.activeScheduler();
    if (s === null) throw new ChimeError('NOT_LEADER', 'the scheduler is not running on this node yet; retry');
    return s;
  };
  return {
    runNow: (jobId, request) => scheduler().runNow(jobId, request),
    awaitRun: (runId, waitMs) => scheduler().awaitRun(runId, waitMs),
    kill: async (runId): Promise<RunRecord | null> => {
      const result = await scheduler().killRun(runId);
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
