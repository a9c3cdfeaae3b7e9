import type { NodeId } from './types.js';
import { itemAt } from './util.js';

/** Votes needed out of `voters` for a majority. */
export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The largest value that a majority of voters has reached: the commit rule's "replicated on
 * a majority" and the ReadIndex round a quorum has confirmed. 0 with no voters.
 */
export function quorumValue(voters: readonly NodeId[], valueOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  // Runs on every acknowledgement a leader receives. An insertion sort of a handful of values
  // (descending) spares Array.prototype.sort's work array and its comparator calls.
  const values: number[] = [];
  for (const id of voters) {
    const value = valueOf(id);
    let at = values.length;
    values.push(value);
    while (at > 0 && itemAt(values, at - 1) < value) {
      values[at] = itemAt(values, at - 1);
      at--;
    }
    values[at] = value;
  }
  return itemAt(values, majority(voters.length) - 1);
}

export type VoteResult = 'won' | 'lost' | 'pending';

export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(voters.length);
  if (granted >= needed) return 'won';
  if (rejected > voters.length - needed) return 'lost';
  return 'pending';
}
