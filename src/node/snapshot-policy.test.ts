import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEADER_SNAPSHOT_SPACING, LEARNER_SNAPSHOT_SPACING, bestTransferTarget, expectedEncodeMs, handOffBeforeSnapshot, snapshotScales, snapshotStagger } from './snapshot-policy.js';
import type { Status } from '../raft/index.js';

test('snapshot stagger: voters of one cluster get factors a sixth apart, fixed by id', () => {
  const voters = ['n3', 'n1', 'n2'];
  const factors = voters.map((id) => snapshotStagger(id, voters));
  assert.deepEqual(factors, [1 + 1 / 3, 1, 1 + 1 / 6]);
  assert.equal(snapshotStagger('n1', ['n1']), 1, 'a node alone snapshots at the threshold');
  assert.equal(snapshotStagger('n9', voters), LEARNER_SNAPSHOT_SPACING, 'a learner (a worker) snapshots further apart than any voter');
});

test('a leader snapshots further apart by entries, never past the byte bound that caps its log', () => {
  const voters = ['n1', 'n2', 'n3'];
  assert.deepEqual(snapshotScales('n2', voters, false), { entries: 1 + 1 / 6, bytes: 1 + 1 / 6 }, 'a follower: its stagger');
  assert.deepEqual(snapshotScales('n2', voters, true), { entries: (1 + 1 / 6) * LEADER_SNAPSHOT_SPACING, bytes: 1 + 1 / 6 });
  assert.ok(LEADER_SNAPSHOT_SPACING > 1);
});

test('a leader hands off before a snapshot expected to block half an election timeout or more', () => {
  assert.equal(expectedEncodeMs(null, 85 * 2 ** 20), 85 * 25, 'estimated from the size before the first one is timed');
  assert.equal(expectedEncodeMs(40, 85 * 2 ** 20), 40, 'then its own measurement');
  assert.equal(handOffBeforeSnapshot(124, 250), false);
  assert.equal(handOffBeforeSnapshot(125, 250), true);
  assert.equal(handOffBeforeSnapshot(expectedEncodeMs(null, 2 ** 20), 250), false, 'a 1 MiB table is snapshotted in place');
});

test('the hand-off goes to the most up-to-date other voter', () => {
  const status = {
    conf: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] },
    progress: new Map([['n1', { match: 90 }], ['n2', { match: 70 }], ['n3', { match: 80 }], ['n4', { match: 99 }]]),
  } as unknown as Status;
  assert.equal(bestTransferTarget(status, 'n1'), 'n3');
  assert.equal(bestTransferTarget({ ...status, conf: { voters: ['n1'], learners: [] } } as unknown as Status, 'n1'), null);
});
