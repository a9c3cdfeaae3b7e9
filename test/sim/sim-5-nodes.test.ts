// 5-node clusters under the full fault model; every seed must keep every invariant and
// recover after healing. A failure prints the command that replays it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seedRange, sweep } from './sweep.js';

test('150 seeds of 5-node clusters keep every invariant and recover after healing', async () => {
  const r = await sweep(seedRange(5_000, 150), { nodes: 5, faultMs: 6000 });
  assert.deepEqual(r.failures, []);
  // The runs must actually exercise what the README claims they do.
  for (const k of ['crashes', 'crashesInWrite', 'crashesAfterReply', 'partitions', 'snapshotsTaken', 'snapshotsRestored', 'confChangesApplied', 'confChangesAccepted', 'transfers', 'clockDrifts', 'leadersWithLearners', 'leadersWithEvenVoters', 'readsOk', 'acked']) {
    assert.ok((r.totals[k] ?? 0) > 0, `no ${k} across the sweep`);
  }
});
