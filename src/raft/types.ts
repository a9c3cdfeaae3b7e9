// The plain data the Raft core consumes and produces. Everything here is serialisable by
// msgpackr as it is (strings, numbers, booleans, arrays, Uint8Array), so the transport and
// the storage layer can encode it without knowing Raft.

/** A node's id: `[a-z0-9][a-z0-9-]{0,31}` by the agent's rule; the core only compares them. */
export type NodeId = string;

export type EntryKind = 'normal' | 'conf';

/** One log entry. `data` of a `conf` entry is an encoded `ConfChange` (see confchange.ts). */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/** What must be on disk before a node answers anyone: Raft's persistent state. */
export interface HardState {
  readonly term: number;
  /** The candidate this node voted for in `term`, or null. */
  readonly vote: NodeId | null;
  readonly commit: number;
}

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** Volatile state the application may want to show or react to; never persisted. */
export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

/** The membership at some log position. A node is in at most one of the two lists. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export type ConfChangeType = 'addLearner' | 'addVoter' | 'remove';

/**
 * One membership change. `context` is opaque to the core; the agent puts the node's
 * addresses there so every replica learns them from the log.
 */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly node: NodeId;
  readonly context: string;
}

export interface SnapshotMeta {
  /** The last log index the snapshot covers. */
  readonly index: number;
  /** The term of the entry at `index`. */
  readonly term: number;
  /** The membership as of `index`. */
  readonly conf: ConfState;
}

/** A state-machine image: opaque bytes plus where in the log it stands. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** Leader → follower: entries after (prevIndex, prevTerm), plus the leader's commit index. */
export interface AppendMessage {
  readonly type: 'app';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * Follower → leader. On success `index` is the last index known to match. On reject,
 * `index` is the prevIndex that failed and (hintIndex, hintTerm) let the leader skip a
 * whole term of conflicting entries at once.
 */
export interface AppendResponse {
  readonly type: 'appResp';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly index: number;
  readonly reject: boolean;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Candidate → voter. `pre` marks a pre-vote; `transfer` a campaign ordered by TimeoutNow. */
export interface VoteMessage {
  readonly type: 'vote';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly pre: boolean;
  readonly transfer: boolean;
}

export interface VoteResponse {
  readonly type: 'voteResp';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly pre: boolean;
  readonly reject: boolean;
}

/**
 * Leader → follower keep-alive. `commit` is capped at what the follower is known to hold.
 * `readRound` is the leader's current ReadIndex round; echoing it confirms leadership.
 */
export interface HeartbeatMessage {
  readonly type: 'heartbeat';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly commit: number;
  readonly readRound: number;
}

export interface HeartbeatResponse {
  readonly type: 'heartbeatResp';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly readRound: number;
}

/** One chunk of an InstallSnapshot transfer: bytes [offset, offset + data.length). */
export interface SnapshotMessage {
  readonly type: 'snap';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly meta: SnapshotMeta;
  readonly totalBytes: number;
  readonly offset: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}

/** Follower → leader: bytes received contiguously so far of the snapshot at `index`. */
export interface SnapshotResponse {
  readonly type: 'snapResp';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly index: number;
  readonly receivedBytes: number;
  readonly reject: boolean;
}

/** Leader → transfer target: campaign now, skipping pre-vote and election timeout. */
export interface TimeoutNowMessage {
  readonly type: 'timeoutNow';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** Follower → leader: please confirm a read index for `context`. */
export interface ReadIndexMessage {
  readonly type: 'readIndex';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly context: string;
}

export interface ReadIndexResponse {
  readonly type: 'readIndexResp';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly context: string;
  readonly index: number;
}

export type Message =
  | AppendMessage
  | AppendResponse
  | VoteMessage
  | VoteResponse
  | HeartbeatMessage
  | HeartbeatResponse
  | SnapshotMessage
  | SnapshotResponse
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponse;

export type MessageType = Message['type'];

/** A confirmed linearizable read: once `index` is applied, local state may answer it. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** A read request that can no longer be answered here (leadership lost, or no leader). */
export interface ReadFailure {
  readonly context: string;
  readonly code: 'NOT_LEADER' | 'READS_FULL';
  readonly leader: NodeId | null;
}

/**
 * The work the application must do, in this order: persist `snapshot`, `entries` and
 * `hardState` in one synced write (if `mustSync`); send `messages`; restore `snapshot` into
 * the state machine and apply `committedEntries`; answer `readStates` once their index is
 * applied; then call `advance()`, which tells the core that the write is durable.
 *
 * One relaxation (Raft thesis §10.2.1): messages only a leader sends (`isLeaderMessage`:
 * app, heartbeat, snap, timeoutNow, readIndexResp) may leave before the write completes.
 * The core makes that safe: it counts the leader's own entries only after advance(), and
 * such a message never shares a Ready with the first write of the term it carries. Every
 * other message (answers, votes) leaves only after the write.
 */
export interface Ready {
  /** Present when it changed since the last Ready. */
  readonly softState: SoftState | null;
  /** Present when it changed since the last Ready. */
  readonly hardState: HardState | null;
  /** New or rewritten log entries to persist; they may replace a suffix of the stored log. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader, to persist and restore. */
  readonly snapshot: Snapshot | null;
  /** Entries committed and not yet applied, in log order (after `snapshot`, if any). */
  readonly committedEntries: readonly Entry[];
  /** Messages to send after the persistence above is done. */
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly readFailures: readonly ReadFailure[];
  /** False when only the commit index changed, which may be written lazily. */
  readonly mustSync: boolean;
}

/**
 * The read side of a node's durable log, as the core sees it. The application writes to it
 * when it persists a Ready; the core only reads. Indexes follow the paper: the first entry
 * of the log is 1, index 0 with term 0 is the empty log's sentinel.
 */
export interface Storage {
  /** Hard state and membership as of the last persisted Ready (or the snapshot). */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if lo < hi, stopping before `maxBytes` is passed. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** The term of entry `index`; for `firstIndex() - 1` the snapshot's term. */
  term(index: number): number;
  /** The first index still available as an entry (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /**
   * The newest snapshot, or one with index 0 and empty data when there is none. `null`
   * means its image is not in memory right now (a storage that keeps large images on disk
   * is fetching it): the leader sends it to a follower on a later attempt.
   */
  snapshot(): Snapshot | null;
}

/** Errors the core answers to input it cannot take; never thrown for a broken invariant. */
export type RaftErrorCode =
  | 'NOT_LEADER'
  | 'PROPOSALS_FULL'
  | 'TRANSFER_IN_PROGRESS'
  | 'CONF_CHANGE_PENDING'
  | 'CONF_CHANGE_INVALID'
  | 'READS_FULL'
  | 'COMPACTED'
  | 'UNAVAILABLE';

export interface RaftError {
  readonly code: RaftErrorCode;
  readonly message: string;
  /** Who this node believes is leader, so the caller can forward. */
  readonly leader: NodeId | null;
}

export type ProposeResult =
  | { readonly ok: true; readonly firstIndex: number; readonly lastIndex: number; readonly term: number }
  | { readonly ok: false; readonly error: RaftError };

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A leader's view of one follower, for status pages and learner promotion. */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly learner: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly applied: number;
  readonly lastIndex: number;
  readonly conf: ConfState;
  /**
   * The index of a snapshot installed but not yet through `advance()`: `conf` is already
   * its membership while `applied` is still below it.
   */
  readonly snapshotPending: number | null;
  /** Only on the leader; empty elsewhere. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
  readonly leadTransferee: NodeId | null;
  /**
   * This node was removed (or demoted) as leader of a two-voter membership and the other
   * voter may not know yet: shutting it down now could leave that voter unable to ever be
   * elected. False once it knows (docs/raft.md, the two-voter hand-off).
   */
  readonly handingOff: boolean;
}
