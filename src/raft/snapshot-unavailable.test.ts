import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetwork } from '../../test/support/raft-network.js';
import type { Snapshot } from './types.js';

test('a snapshot the storage cannot hand over yet is sent on a later attempt, not skipped', () => {
  const net = new TestNetwork(['n1', 'n2', 'n3']);
  net.elect('n1');
  net.isolate('n3');
  for (let i = 0; i < 5; i++) net.propose('n1', `w${i}`);
  net.stabilize();
  net.snapshot('n1');
  // The leader's storage keeps its image on disk: the first three asks find it not loaded.
  const storage = net.get('n1').storage;
  const real = storage.snapshot.bind(storage);
  let asks = 0;
  (storage as { snapshot: () => Snapshot | null }).snapshot = () => (++asks <= 3 ? null : real());
  net.heal();
  for (let round = 0; round < 20 && net.get('n3').restored === null; round++) {
    net.tickAll();
    net.stabilize();
  }
  assert.ok(asks > 3, `asked ${asks} times`);
  assert.ok(net.get('n3').restored !== null, 'n3 received the snapshot once it was available');
  const snaps = net.trace.filter((m) => m.type === 'snap' && m.to === 'n3');
  assert.ok(snaps.length > 0);
  net.propose('n1', 'after');
  net.stabilize();
  assert.deepEqual(net.appliedTexts('n3').at(-1), 'after');
  assert.equal(net.get('n3').node.status().hardState.commit, net.get('n1').node.status().hardState.commit);
});
