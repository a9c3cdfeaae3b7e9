// What the HTTP API uses of the rest of the node: narrow interfaces it defines and the
// process wiring fills (src/process/services.ts). Routes reach nothing else.
import type { AuditRecord, CreateTokenCommand, TokenLookup, TokenView } from '../access/index.js';
import type { AppliedJob, ClaimReportCommand, Job, JobSpec, JobTable, QueuePriority, RunRecord } from '../statemachine/index.js';

export interface MemberInfo {
  readonly id: string;
  readonly rpc: string;
  readonly http: string;
  /** `worker`: a non-voting executor member (never promoted by itself). */
  readonly role: 'leader' | 'follower' | 'candidate' | 'learner' | 'worker';
  readonly voter: boolean;
  readonly matchIndex: number | null;
  readonly lastContactMs: number | null;
}

export interface ClusterInfo {
  readonly id: string;
  readonly leader: string | null;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly members: readonly MemberInfo[];
}

/** Where writes go: the server forwards them to the leader over the peer channel. */
export interface LeaderGate {
  readonly nodeId: string;
  isLeader(): boolean;
  /** The leader's node id, or null while none is known. */
  leader(): string | null;
  /** The leader's HTTP address, or null while none is known. */
  leaderHttp(): string | null;
  /** The log index this node has applied: a write proposed from now on lies beyond it. */
  appliedIndex(): number;
}

/** Linearizable reads: resolves once local state reflects every write acknowledged before the call. */
export interface ReadBarrier {
  read(): Promise<void>;
}

export interface ClusterService {
  view(): ClusterInfo;
  /** A leader is known and this node has applied everything it knows committed. */
  isReady(): boolean;
  /**
   * A learner: promoted to voter once caught up (`voter`), or a worker that never votes.
   * Membership and leadership changes are no table commands: each is audited by its own entry once it succeeded.
   */
  addMember(id: string, address: { rpc: string; http: string }, role: 'voter' | 'worker', audit: AuditRecord): Promise<void>;
  /** Explicit promotion (a learner or worker becomes a voter) or demotion (a voter becomes a worker). */
  setMemberRole(id: string, role: 'voter' | 'worker', audit: AuditRecord): Promise<void>;
  removeMember(id: string, audit: AuditRecord): Promise<void>;
  /** Hands leadership to `to` (or the best other voter); returns the target. */
  transferLeadership(to: string | null, audit: AuditRecord): string;
}

/**
 * Job writes (on the leader) and the applied table for reads. Each write takes the audit
 * record of the request (who, what, when), committed with the write in one entry.
 */
export interface JobService {
  table(): JobTable;
  put(id: string, spec: JobSpec, audit: AuditRecord): Promise<{ readonly created: boolean; readonly job: Job }>;
  /** Many jobs in one log entry, all or nothing. */
  putMany(specs: readonly JobSpec[], audit: AuditRecord): Promise<readonly AppliedJob[]>;
  remove(id: string, audit: AuditRecord): Promise<void>;
  setEnabled(id: string, enabled: boolean, audit: AuditRecord): Promise<Job>;
}

/** Token writes (on the leader); reads go to the applied table. */
export interface TokenService {
  create(command: CreateTokenCommand, audit: AuditRecord): Promise<TokenView>;
  revoke(id: string, audit: AuditRecord): Promise<TokenView>;
}

/** An audit record for an accepted write that is no table command (a member change, a manual run). */
export interface AuditSink {
  record(audit: AuditRecord): Promise<void>;
  /**
   * The record of a change that already took effect, as an entry of its own after it. Never
   * rejects: leadership may move between the two entries, and the change's answer must still
   * say it happened (a client told "not run" would make it again: a second manual run, a
   * member removed twice). A record that could not be committed is counted, not thrown.
   */
  recordAfter(audit: AuditRecord): Promise<void>;
}

/**
 * What the one access check of the server needs of the node (src/access's authorize does the
 * judging). The wiring fills it from the applied table and the node runtime.
 */
export interface AccessControl {
  /** The applied token registry; ask each time (a snapshot restore replaces it). */
  tokens(): TokenLookup;
  /**
   * Whether the registry is authoritative: this node has applied the log up to a commit index
   * it learned after starting (and, given --admin-token-file, holds the bootstrap token).
   * Until then an empty registry means "not known yet", never "no tokens".
   */
  isReady(): boolean;
  /** Tries, within a bounded wait, to become ready (a read barrier); resolves isReady(). */
  becomeReady(): Promise<boolean>;
  /** Waits (bounded) until this node applied everything committed before the call; false when it could not. */
  catchUp(): Promise<boolean>;
  nowMs(): number;
  /** --metrics-open: GET /metrics without a token. */
  readonly metricsOpen: boolean;
  /** nodeOriginsOf(this node's configured and bound --http addresses). */
  nodeOrigins(): readonly string[];
}

export interface RunNowRequest {
  readonly payload: string | null;
  readonly key: string | null;
  /** Queue jobs only: the submission's place in its function's queue. */
  readonly priority: QueuePriority | null;
}

export interface ClaimInput {
  readonly worker: string;
  readonly functions: readonly string[];
  readonly max: number;
  readonly waitMs: number;
  /** Aborted when the worker hung up: a parked claim is dropped rather than handed a run nobody will take. */
  readonly signal?: AbortSignal;
}

/** Pull workers: the leader's work queue (claims and claim reports are recorded in the log before they are answered). */
export interface WorkerService {
  /** The runs the log gave the worker (their current attempts); empty when none came within waitMs. */
  claim(input: ClaimInput): Promise<readonly RunRecord[]>;
  /** A heartbeat, complete or fail; ChimeError ATTEMPT_NOT_HELD when the worker no longer holds the attempt. */
  report(command: ClaimReportCommand): Promise<RunRecord>;
  /** Claims parked on this node (the leader) per function. */
  waitingByFunction(): ReadonlyMap<string, number>;
}

export interface RunStarted {
  readonly runId: string;
  readonly duplicate: boolean;
  readonly status: 'run' | 'skipped' | 'duplicate' | 'waiting';
}

/** Manual runs, waiting for runs and kills: the leader's scheduler. */
export interface RunService {
  /** A manual run; the audit record is committed once the run is recorded (not for a duplicate). */
  runNow(jobId: string, request: RunNowRequest, audit: AuditRecord): Promise<RunStarted>;
  /** The run once final (`done`), or as it stands when `waitMs` passed; null run: no longer recorded. */
  awaitRun(runId: string, waitMs: number): Promise<{ readonly done: boolean; readonly run: RunRecord | null }>;
  kill(runId: string, audit: AuditRecord): Promise<RunRecord | null>;
}

/** A consistent backup of the replicated state, as the bytes of a backup file. */
export interface BackupService {
  /** After a linearizable read barrier: every write acknowledged before the call is in it. */
  backup(): Promise<Uint8Array>;
}

export interface MetricsSource {
  /** The whole Prometheus text exposition. */
  render(): string;
}

/** Told of every request once answered, for metrics. */
export interface RequestObserver {
  answered(route: string, status: number, seconds: number): void;
  /** A request the access check refused, by its stable code (never with the credentials). */
  refused?(code: string): void;
}

/** One answer of a test webhook: the receiver's HTTP status, or the error before one. */
export interface TestDeliveryView {
  readonly url: string;
  readonly eventId: string;
  readonly status: number | null;
  readonly error: string | null;
}

/** `chime notify test`: one signed test event to each target of a job, now (not recorded in the log). */
export interface NotifyService {
  sendTest(jobId: string): Promise<readonly TestDeliveryView[]>;
}

/** A run's stored output as chunks read from disk on demand (nothing read ahead). */
export interface OutputChunks {
  next(): Promise<IteratorResult<Uint8Array>>;
  close(): Promise<void>;
}

/** This node's run output store, and where the other nodes' API listens (for proxying). */
export interface OutputService {
  readonly nodeId: string;
  openLocal(runId: string, attempt: number, options: { readonly stream: 'stdout' | 'stderr' | 'both'; readonly follow: boolean }):
    Promise<{ readonly ok: true; readonly chunks: OutputChunks } | { readonly ok: false; readonly reason: 'not_found' | 'readers_full' | 'disabled' }>;
  /** A member's HTTP address, or null when it is not (or no longer) a member. */
  httpOf(node: string): string | null;
}
