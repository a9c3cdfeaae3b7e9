import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCommand, encodeCommand } from './codec.js';

test('decoding an entry adds nothing to its bytes, which the in-memory log keeps until compaction', () => {
  const bytes = encodeCommand({ type: 'pauseJob', id: 'nightly-report', at: 1_765_000_000_000 });
  const own = (b: Uint8Array): string[] => Object.getOwnPropertyNames(b).filter((name) => !/^\d+$/.test(name));
  assert.deepEqual(own(bytes), []);
  assert.deepEqual(decodeCommand(bytes), { type: 'pauseJob', id: 'nightly-report', at: 1_765_000_000_000 });
  assert.deepEqual(own(bytes), [], 'no cached view or other property left on the entry');
});
