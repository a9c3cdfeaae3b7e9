// Determinism of whole runs, and proof that the simulator can fail: deliberately broken
// disks (outside the Raft core) must be caught by a named invariant within a seed budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation, type SimConfig, type SimOutcome } from './simulation.js';
import { INVARIANT, type InvariantName } from './invariants.js';

test('the same seed replays the identical event trace; another seed does not', async () => {
  const config: SimConfig = { seed: 4242, nodes: 5, faultMs: 3000 };
  const a = await runSimulation(config);
  const b = await runSimulation(config);
  const c = await runSimulation({ ...config, seed: 4243 });
  assert.equal(a.traceHash, b.traceHash);
  assert.deepEqual(a.stats, b.stats);
  assert.notEqual(a.traceHash, c.traceHash);
});

/** Runs seeds until one fails; returns the first failure. */
async function firstFailure(seeds: number, config: (seed: number) => SimConfig): Promise<Extract<SimOutcome, { ok: false }> | null> {
  for (let seed = 1; seed <= seeds; seed++) {
    const out = await runSimulation(config(seed));
    if (!out.ok) return out;
  }
  return null;
}

function assertCaughtBy(out: Extract<SimOutcome, { ok: false }> | null, names: readonly InvariantName[]): void {
  assert.ok(out !== null, 'the broken disk went unnoticed');
  assert.ok(names.includes(out.error.invariant), `caught by ${out.error.invariant}, expected one of ${names.join(', ')}: ${out.error.detail}`);
}

test('a disk that acknowledges appends and loses them on crash is caught (match-durable)', async () => {
  const out = await firstFailure(60, (seed) => ({ seed, nodes: seed % 2 === 0 ? 5 : 3, faultMs: 6000, diskFault: 'lose-acked-entries' }));
  // A node whose acknowledged entries vanished may also trip the core's own check first: a
  // leader's commit index, bounded by the match it acknowledged, lies past its log.
  assertCaughtBy(out, [INVARIANT.coreAssertion, INVARIANT.matchDurable, INVARIANT.committedMajority, INVARIANT.leaderCompleteness, INVARIANT.acknowledgedNotLost, INVARIANT.stateMachineSafety]);
});

test('a node that forgets its vote on restart is caught (single-vote)', async () => {
  // Elections must overlap with crashes for a forgotten vote to matter: crash candidates
  // often and bring them back fast.
  const out = await firstFailure(40, (seed) => ({
    seed, nodes: 5, faultMs: 5000, diskFault: 'forget-vote', restartMsMax: 60, candidateCrashChance: 0.5,
    weights: { crash: 40, campaign: 30, weather: 10, partition: 0, heal: 0, membership: 0, transfer: 0, none: 0 },
  }));
  assertCaughtBy(out, [INVARIANT.singleVote, INVARIANT.electionSafety]);
});

test('the same broken-vote runs pass when the disk keeps the vote', async () => {
  // The control for the test above: the failures come from the disk, not the fault schedule.
  for (let seed = 1; seed <= 8; seed++) {
    const out = await runSimulation({
      seed, nodes: 5, faultMs: 5000, restartMsMax: 60, candidateCrashChance: 0.5,
      weights: { crash: 40, campaign: 30, weather: 10, partition: 0, heal: 0, membership: 0, transfer: 0, none: 0 },
    });
    assert.ok(out.ok, out.ok ? '' : out.error.message);
  }
});

test('reads answered from local state without ReadIndex are caught (linearizability)', async () => {
  const out = await firstFailure(30, (seed) => ({ seed, nodes: 3, faultMs: 6000, localReads: true }));
  assertCaughtBy(out, [INVARIANT.linearizability]);
});

test('the seeds that wedged a two-voter removal for good recover: the voter left leads alone (docs/raft.md, "Simulator sweeps")', async () => {
  // 2142: a leader demoted itself, both crashed, the demoted one came back with the longer
  // log; 9187 (40 s of faults): the removed leader crashed mid-hand-off and was shut down.
  for (const config of [{ seed: 2142, nodes: 3, faultMs: 10_000 }, { seed: 9187, nodes: 3, faultMs: 40_000 }] as const) {
    const out = await runSimulation(config);
    assert.ok(out.ok, out.ok ? '' : `seed ${config.seed}: ${out.error.invariant}: ${out.error.detail}`);
  }
});
