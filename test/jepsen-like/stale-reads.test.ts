// The suite can fail: clients that read with ?stale=true get local state without ReadIndex.
// Under partitions a node cut off from the majority keeps answering with values the majority
// has overwritten, and the register checker must report it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runJepsen } from './runner.js';

test('reads that skip ReadIndex are caught by the register checker', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-jepsen-stale-'));
  // Seed 3 starts with a majority/minority cut; the partitions are held long enough for the
  // majority to overwrite the keys several times.
  const report = await runJepsen({ nodes: 3, timeSec: 20, nemesis: ['partition'], seed: 3, dir, staleReads: true, scheduler: false, quietMs: [1000, 2000], holdMs: [5000, 7000] });
  assert.ok(report.faults >= 2, `only ${report.faults} partitions`);
  assert.equal(report.register.ok, false, `the checker accepted a history from a build without ReadIndex: ${JSON.stringify(report.register)}`);
  assert.match(report.register.ok === false ? report.register.reason : '', /no linearization/);
  rmSync(dir, { recursive: true, force: true });
});
