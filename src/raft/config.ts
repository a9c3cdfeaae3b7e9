import assert from 'node:assert/strict';
import type { NodeId, Storage } from './types.js';

/** Everything a Raft node needs comes in here; the core reaches for nothing else. */
export interface RaftConfig {
  readonly id: NodeId;
  readonly storage: Storage;
  /** Ticks between a leader's heartbeats. */
  readonly heartbeatTicks: number;
  /** Base election timeout in ticks; each term a node waits a random value in [base, 2·base). */
  readonly electionTicks: number;
  /** Seeded source of randomness: an integer in [0, maxExclusive). */
  readonly randomInt: (maxExclusive: number) => number;
  /** The index already applied by the state machine on restart (its snapshot's index at least). */
  readonly applied?: number;
  /** Upper bound on the entry bytes of one append message (at least one entry is always sent). */
  readonly maxMsgBytes?: number;
  /** Appends in flight to one follower in the replicate state before it is paused. */
  readonly maxInflightMsgs?: number;
  /** Entry bytes in flight to one follower before it is paused. */
  readonly maxInflightBytes?: number;
  /** Entries appended by the leader and not yet committed, by count and by bytes. */
  readonly maxUncommittedEntries?: number;
  readonly maxUncommittedBytes?: number;
  /** Committed entries handed to the application in one Ready, by bytes. */
  readonly maxApplyBytes?: number;
  /** Size of one InstallSnapshot chunk, and how many may be unacknowledged at once. */
  readonly snapshotChunkBytes?: number;
  readonly maxInflightSnapshotChunks?: number;
  /** Largest snapshot a follower will buffer from a leader. */
  readonly maxSnapshotBytes?: number;
  /** Pending linearizable reads a node holds before refusing more. */
  readonly maxPendingReads?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  /**
   * How followers learn a new commit index. `eager`: an append goes to every follower as
   * soon as it advances. `tick`: it rides on the next append, or else goes out at the next
   * tick — which saves each follower a message, a Ready and an answer per commit when
   * writes come one at a time. Only when followers apply changes, never what commits.
   */
  readonly commitBroadcast?: 'eager' | 'tick';
  /**
   * Ticks between the appends a leader sends to a batched learner (0: none is batched).
   * Learners never count for commit, so a leader may hold back their entries and send
   * each a single append with the entries committed since, every this many ticks, instead
   * of one per write: fewer messages, Readys, disk syncs and answers on both sides, and the
   * commit index it carries covers the whole batch. Only a learner in the replicate state
   * waits; probing and snapshots go out as usual.
   */
  readonly learnerAppendTicks?: number;
  /** Which learners are batched (when `learnerAppendTicks` > 0); absent: every learner. */
  readonly batchedLearner?: (id: NodeId) => boolean;
}

export type ResolvedConfig = Required<RaftConfig>;

export function resolveConfig(config: RaftConfig): ResolvedConfig {
  const resolved: ResolvedConfig = {
    applied: 0,
    maxMsgBytes: 1 << 20,
    maxInflightMsgs: 256,
    maxInflightBytes: 32 << 20,
    maxUncommittedEntries: 100_000,
    maxUncommittedBytes: 64 << 20,
    maxApplyBytes: 16 << 20,
    snapshotChunkBytes: 1 << 20,
    maxInflightSnapshotChunks: 4,
    maxSnapshotBytes: 1 << 30,
    maxPendingReads: 10_000,
    preVote: true,
    checkQuorum: true,
    commitBroadcast: 'eager',
    learnerAppendTicks: 0,
    batchedLearner: () => true,
    ...config,
  };
  assert.ok(resolved.heartbeatTicks >= 1, 'heartbeatTicks must be at least 1');
  assert.ok(resolved.electionTicks > resolved.heartbeatTicks, 'electionTicks must exceed heartbeatTicks');
  assert.ok(resolved.maxInflightMsgs >= 1 && resolved.maxInflightSnapshotChunks >= 1);
  assert.ok(resolved.snapshotChunkBytes >= 1 && resolved.maxMsgBytes >= 1);
  assert.ok(Number.isSafeInteger(resolved.learnerAppendTicks) && resolved.learnerAppendTicks >= 0, 'learnerAppendTicks must be a whole number >= 0');
  return resolved;
}
