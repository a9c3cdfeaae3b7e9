import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crashRounds } from './driver.js';

// 50 rounds take about 15 s on the 2-core box; `node dist/test/storage-crash/cli.js --runs N`
// runs longer soaks.
const RUNS = Number(process.env['CHIME_CRASH_RUNS'] ?? 50);

test(`every acknowledged write survives kill -9 (${RUNS} seeded rounds)`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chime-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const reports = await crashRounds(dir, RUNS, 20_240_601);
  assert.equal(reports.length, RUNS);
  assert.ok(reports.reduce((sum, r) => sum + r.acknowledged, 0) > RUNS, 'the child made progress between kills');
});
