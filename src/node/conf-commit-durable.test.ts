// The Ready loop over a disk that loses every unsynced write in a power loss
// (test/support/virtual-cluster.ts crash). Membership is what the applied conf entries say,
// so the commit index that covers a conf entry must be on the platter before the node acts
// on it: a node that came back with the commit index one short would take up a membership
// one change old again (and, two changes old, count a majority of it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId } from '../raft/index.js';
import { NullMachine } from '../../test/support/null-machine.js';
import { VirtualCluster } from '../../test/support/virtual-cluster.js';

test('a committed membership change a follower applied survives a power loss right after it is applied', async () => {
  const c = new VirtualCluster<string, number>(['a', 'b', 'c'], { machine: () => new NullMachine() });
  await c.runUntil('a leader', () => c.leader() !== null);
  const leader = c.leader() as NodeId;
  const follower = ['a', 'b', 'c'].find((id) => id !== leader) as NodeId;
  await c.settle(c.runtime(leader).propose('x'));
  // Quiet: the commit index that covers the change then travels alone (no new entries
  // beside it, whose write would be synced anyway).
  await c.wait(50);
  const added = c.runtime(leader).addMember('w', { rpc: 'w:rpc', http: 'w:http' }, 'worker');
  await c.runUntil(`${follower} applies the change`, () => c.runtime(follower).status().conf.learners.includes('w'));
  const applied = c.runtime(follower).appliedIndex();
  c.crash(follower);
  // Back on its own (nothing from the leader reaches it), it has only its disk to go by.
  c.isolated.add(follower);
  c.restart(follower);
  const restarted = c.runtime(follower);
  await c.runUntil(`${follower} replays what its disk says is committed`, () => restarted.appliedIndex() >= restarted.status().hardState.commit);
  await c.wait(20);
  const { commit } = restarted.status().hardState;
  assert.ok(commit >= applied, `${follower} applied up to ${applied} (the change included) before the power loss, and its disk says only ${commit} is committed`);
  assert.deepEqual(restarted.status().conf.learners, ['w'], `${follower} came back with the membership from before the change`);
  c.isolated.delete(follower);
  await c.settle(added);
});
