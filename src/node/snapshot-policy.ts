// When a node takes a snapshot, and whether a leader hands leadership on first. Encoding the
// table blocks the event loop (a million jobs: 191 MiB in 4 s here), and a node that is
// silent for an election timeout is as good as gone to the others.
import type { NodeId, Status } from '../raft/index.js';

/** Encoding speed assumed until a node has timed one of its own snapshots. */
export const ENCODE_MS_PER_MIB_ASSUMED = 25;

/**
 * How much further apart a learner's snapshots are than a voter's. A snapshot encodes the whole
 * table, so its cost per entry applied is the same at any spacing; on a worker it is CPU taken
 * from the runs it executes (and from voters sharing its host), for a shorter log on its disk
 * and a shorter replay when it restarts — which no commit and no election waits for.
 */
export const LEARNER_SNAPSHOT_SPACING = 4;

/**
 * A factor in [1, 1.5) by the node's rank among the voters. Replicas apply the same entries,
 * so with one threshold they would all snapshot at the same index, and two followers silent
 * at once leave a leader of three without its quorum. A learner: LEARNER_SNAPSHOT_SPACING.
 */
export function snapshotStagger(self: NodeId, voters: readonly NodeId[]): number {
  if (!voters.includes(self)) return LEARNER_SNAPSHOT_SPACING;
  const sorted = [...voters].sort();
  const rank = Math.max(0, sorted.indexOf(self));
  return 1 + (0.5 * rank) / Math.max(1, sorted.length);
}

/**
 * How much further apart, by entries, a leader's snapshots are than its followers'. A leader
 * encodes in one go and every write in the cluster waits meanwhile; a follower encodes in
 * slices while the leader commits with the other voters. At 256 clients writing new jobs for
 * 8 s, a leader stalled four times, 261 ms in all (docs/benchmarks.md, "The leader's
 * snapshots"). The byte bound is not scaled: it caps the log a leader keeps in memory.
 */
export const LEADER_SNAPSHOT_SPACING = 4;

/** The factors of a node's snapshot thresholds: by entries (and their share of the last snapshot's size), and by bytes of log. */
export type SnapshotScales = { readonly entries: number; readonly bytes: number };

/** snapshotStagger, with a leader's entry threshold spaced LEADER_SNAPSHOT_SPACING times further. */
export function snapshotScales(self: NodeId, voters: readonly NodeId[], leader: boolean): SnapshotScales {
  const stagger = snapshotStagger(self, voters);
  return { entries: leader ? stagger * LEADER_SNAPSHOT_SPACING : stagger, bytes: stagger };
}

/** How long the next snapshot's encoding is expected to block: the last one's time, or an estimate from its size. */
export function expectedEncodeMs(lastEncodeMs: number | null, lastSnapshotBytes: number): number {
  return lastEncodeMs ?? (lastSnapshotBytes / 2 ** 20) * ENCODE_MS_PER_MIB_ASSUMED;
}

/**
 * A leader hands leadership on before a snapshot whose encoding would stall it for half an
 * election timeout or more. Followers wait a randomized one to two election timeouts before
 * they campaign, so a shorter stall is safe, and each hand-off costs a scheduler restart and
 * refused proposals: with a quarter, a 100,000-job table (3.6 MiB) handed off at every
 * snapshot, eight times in a minute of bench:fire.
 */
export function handOffBeforeSnapshot(expectedMs: number, electionMs: number): boolean {
  return expectedMs >= electionMs / 2;
}

/** The most up-to-date other voter, or null when there is none. */
export function bestTransferTarget(status: Status, self: NodeId): NodeId | null {
  let best: NodeId | null = null;
  let bestMatch = -1;
  for (const id of status.conf.voters) {
    if (id === self) continue;
    const match = status.progress.get(id)?.match ?? 0;
    if (match > bestMatch) {
      best = id;
      bestMatch = match;
    }
  }
  return best;
}
