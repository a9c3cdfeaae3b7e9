import { test } from 'node:test';
import assert from 'node:assert/strict';
import { majority, quorumValue } from './quorum.js';
import { seededInt } from '../../test/support/prng.js';

test('quorumValue is the largest value a majority of voters has reached', () => {
  const at = (values: Record<string, number>) => (id: string): number => values[id] ?? 0;
  assert.equal(quorumValue([], at({})), 0);
  assert.equal(quorumValue(['a'], at({ a: 7 })), 7);
  assert.equal(quorumValue(['a', 'b'], at({ a: 7, b: 5 })), 5, 'two voters: both');
  assert.equal(quorumValue(['a', 'b', 'c'], at({ a: 9, b: 3, c: 5 })), 5);
  assert.equal(quorumValue(['a', 'b', 'c', 'd', 'e'], at({ a: 1, b: 8, c: 8, d: 2, e: 8 })), 8);
  assert.equal(quorumValue(['a', 'b', 'c', 'd'], at({ a: 4, b: 4, c: 1, d: 9 })), 4, 'four voters: three of them');

  // Against sorting, for random sets of up to 9 voters.
  const random = seededInt(20261207);
  for (let round = 0; round < 2000; round++) {
    const ids = Array.from({ length: 1 + random(9) }, (_, i) => `n${i}`);
    const values = new Map(ids.map((id) => [id, random(6)]));
    const sorted = ids.map((id) => values.get(id) ?? 0).sort((a, b) => b - a);
    assert.equal(quorumValue(ids, (id) => values.get(id) ?? 0), sorted[majority(ids.length) - 1]);
  }
});
