import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killLoop } from './kill-loop.js';

test('every-second jobs through repeated kill -9 of the leader: no missed instant, no duplicate record, no double execution', { timeout: 180_000 }, async () => {
  const result = await killLoop({ kills: 4, jobs: 2 });
  assert.ok(result.instants > 10, `the window held ${result.instants} instants`);
  assert.deepEqual(result.missing, [], 'every instant has a run record');
  assert.deepEqual(result.duplicateRecords, [], 'no instant has two run records');
  assert.deepEqual(result.notExecuted, [], 'every instant executed at least once');
  assert.deepEqual(result.executedTwice, [], 'no (runId, attempt) executed twice');
});
