// The short jepsen-like run of `npm test`: 3 real agents behind proxies, about 60 s of every
// routine nemesis, then every checker must pass. `npm run jepsen` runs the long version.
// CHIME_JEPSEN_SEED picks another fault sequence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runJepsen } from './runner.js';

test('3 nodes under kill, pause, partition, clock and member faults: linearizable, durable, every instant once, every queued run once per attempt', { timeout: 300_000 }, async () => {
  const seed = Number(process.env['CHIME_JEPSEN_SEED'] ?? 20_261_124);
  const dir = mkdtempSync(join(tmpdir(), 'chime-jepsen-test-'));
  // CHIME_JEPSEN_SECURE=1: the same run with an admin token on every call and peer mutual TLS.
  const secure = process.env['CHIME_JEPSEN_SECURE'] === '1';
  const report = await runJepsen({ nodes: 3, timeSec: 60, nemesis: ['kill', 'pause', 'partition', 'clock', 'member'], seed, dir, workers: true, secure }).catch((error: unknown) => {
    throw new Error(`${String(error)} (the nemesis timeline and the agents' logs are kept in ${dir})`, { cause: error });
  });
  const rerun = `npm run jepsen -- --nodes 3 --time 60 --nemesis kill,pause,partition,clock,member --seed ${seed} --workload scheduler,workers${secure ? ' --secure' : ''} --keep (report kept in ${dir})`;
  assert.ok(report.faults >= 3, `only ${report.faults} faults were injected`);
  assert.ok(report.operations.total > 500, `only ${report.operations.total} register operations`);
  assert.deepEqual(report.workloadErrors, [], rerun);
  assert.equal(report.register.ok, true, `${JSON.stringify(report.register)}; ${rerun}`);
  assert.equal(report.durability.ok, true, `${JSON.stringify(report.durability)}; ${rerun}`);
  assert.ok(report.scheduler !== null && report.scheduler.instants > 60, 'the scheduler window holds instants');
  assert.equal(report.scheduler.ok, true, `${JSON.stringify(report.scheduler)}; ${rerun}`);
  assert.ok(report.workers !== null && report.workers.submissions.runs > 50 && report.workers.claims > 50, `the worker workload ran: ${JSON.stringify(report.workers?.submissions)}`);
  assert.equal(report.workers.ok, true, `${JSON.stringify(report.workers)}; ${rerun}`);
  rmSync(dir, { recursive: true, force: true });
});
