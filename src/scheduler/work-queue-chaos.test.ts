// A worker workload under faults, in virtual time: pull workers that claim, heartbeat,
// complete or fail, and crash mid-run (their attempts left to lease expiry); leader changes
// every few seconds (the scheduler stopped and a new one started on the same log);
// submissions with priorities and repeated keys. The checker: every submission ends, no
// (run, attempt) is ever handed to two workers, each claim batch is in priority-then-FIFO
// order, repeated keys give one run, and a run that succeeded did so exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from './scheduler.js';
import { FakeHost } from '../../test/support/scheduler-host.js';
import { Prng } from '../../test/support/prng.js';
import { isActiveStatus, type ClaimReportCommand, type QueuePriority, type RunRecord } from '../statemachine/index.js';

const RANK: Readonly<Record<QueuePriority, number>> = { high: 0, normal: 1, low: 2 };
const PRIORITIES: readonly QueuePriority[] = ['high', 'normal', 'low'];

type World = {
  readonly host: FakeHost;
  readonly rng: Prng;
  scheduler: Scheduler;
  /** Every claim answer: who got which (run, attempt) and in what order. */
  readonly batches: { readonly worker: string; readonly runs: readonly RunRecord[] }[];
  stopped: boolean;
};

function sleep(world: World, ms: number): Promise<void> {
  return new Promise((resolve) => world.host.clock.setTimer(ms, resolve));
}

function report(kind: ClaimReportCommand['kind'], run: RunRecord, worker: string, at: number): ClaimReportCommand {
  return { type: 'claimReport', kind, runId: run.runId, attempt: run.attempt, worker, at, progress: null, output: '', result: kind === 'complete' ? `r:${run.payload ?? ''}` : null, error: kind === 'fail' ? 'flaky' : null, retry: true };
}

/** One worker incarnation: runs until it crashes (or the world stops); its held attempts are then abandoned. */
async function worker(world: World, id: string, crashAtMs: number): Promise<void> {
  const alive = (): boolean => !world.stopped && world.host.clock.nowMs < crashAtMs;
  const work = async (run: RunRecord): Promise<void> => {
    const durationMs = world.rng.range(50, 2500);
    const startedMs = world.host.clock.nowMs;
    while (world.host.clock.nowMs - startedMs < durationMs) {
      await sleep(world, 800);
      if (!alive()) return;
      const beat = await world.scheduler.claimReport(report('heartbeat', run, id, world.host.clock.nowMs)).catch(() => null);
      if (beat !== null && !beat.ok) return; // no longer ours
    }
    for (;;) {
      if (!alive()) return;
      const kind = world.rng.chance(0.15) ? 'fail' : 'complete';
      const done = await world.scheduler.claimReport(report(kind, run, id, world.host.clock.nowMs)).catch(() => null);
      if (done !== null) return;
      await sleep(world, 200); // no leader: try again
    }
  };
  const running = new Set<Promise<void>>();
  while (alive()) {
    if (running.size >= 2) {
      await Promise.race(running);
      continue;
    }
    let runs: readonly RunRecord[];
    try {
      runs = await world.scheduler.claim({ worker: id, functions: ['f'], max: 2 - running.size, waitMs: 1500, node: 'n1' });
    } catch {
      await sleep(world, 200);
      continue;
    }
    if (runs.length > 0) world.batches.push({ worker: id, runs });
    if (!alive()) return; // crashed with the answer in flight: the claim's runs wait out their lease
    for (const run of runs) {
      const p = work(run).finally(() => running.delete(p));
      running.add(p);
    }
  }
}

async function chaos(seed: number): Promise<void> {
  const host = new FakeHost(seed);
  host.addNode('n1');
  const rng = new Prng(seed);
  const world: World = { host, rng, scheduler: new Scheduler(host, { retryJitter: 0 }), batches: [], stopped: false };
  host.scheduler = world.scheduler;
  host.putJob('q', { schedule: '@manual', executor: { type: 'queue', function: 'f', leaseMs: 3000 }, retry: { max: 10, backoffMs: 100, maxBackoffMs: 1000 } });
  let term = 1;
  world.scheduler.start(term);
  const t0 = host.clock.nowMs;
  // Workers: 4 at a time; each incarnation crashes after 3..15 s and is replaced by a new id.
  let incarnations = 0;
  const loops: Promise<void>[] = [];
  const spawnWorker = (): void => {
    const id = `w${++incarnations}`;
    const crashAtMs = host.clock.nowMs + rng.range(3000, 15_000);
    loops.push(worker(world, id, crashAtMs).then(() => {
      if (!world.stopped) spawnWorker();
    }));
  };
  for (let i = 0; i < 4; i++) spawnWorker();
  // Leader changes every 4..8 s, with a gap of 100..600 ms without a scheduler.
  const elections = (async () => {
    while (host.clock.nowMs - t0 < 40_000) {
      await sleep(world, rng.range(4000, 8000));
      world.scheduler.stop();
      await sleep(world, rng.range(100, 600));
      world.scheduler = new Scheduler(host, { retryJitter: 0 });
      host.scheduler = world.scheduler;
      world.scheduler.start(++term);
    }
  })();
  // 80 submissions over 30 s; every fifth repeats an earlier key.
  const submitted: { key: string | null; runId: string }[] = [];
  const submissions = (async () => {
    for (let i = 0; i < 80; i++) {
      await sleep(world, rng.range(50, 700));
      const repeat = i % 5 === 4 && submitted.length > 0;
      const key = repeat ? (submitted[rng.int(submitted.length)]?.key ?? null) : `k${i}`;
      const priority = PRIORITIES[rng.int(3)] ?? 'normal';
      for (;;) {
        const started = await world.scheduler.runNow('q', { payload: `p${i}`, key, priority }).catch(() => null);
        if (started !== null) {
          submitted.push({ key, runId: started.runId });
          break;
        }
        await sleep(world, 100);
      }
    }
  })();
  const settled = Promise.all([elections, submissions]);
  await host.settle(settled, 120_000, 20);
  // Let the last runs finish with no more faults, then stop the workers.
  await host.settle((async () => {
    for (let waited = 0; waited < 60_000; waited += 500) {
      if (host.table().activeRunsOfJob('q', 1).length === 0 && host.table().awaitingRetryCount === 0) return;
      await sleep(world, 500);
    }
  })(), 70_000, 20);
  world.stopped = true;
  await host.settle(Promise.all(loops), 20_000, 20);

  // Checker.
  const byKey = new Map<string, Set<string>>();
  for (const s of submitted) if (s.key !== null) byKey.set(s.key, new Set([...(byKey.get(s.key) ?? []), s.runId]));
  for (const [key, runIds] of byKey) assert.equal(runIds.size, 1, `seed ${seed}: key ${key} coalesced into one run`);
  const handed = new Map<string, string>();
  for (const batch of world.batches) {
    for (const run of batch.runs) {
      const attempt = `${run.runId}/${run.attempt}`;
      assert.ok(!handed.has(attempt), `seed ${seed}: ${attempt} handed to ${handed.get(attempt)} and ${batch.worker}`);
      handed.set(attempt, batch.worker);
    }
    for (let i = 1; i < batch.runs.length; i++) {
      const a = batch.runs[i - 1];
      const b = batch.runs[i];
      assert.ok(a !== undefined && b !== undefined && a.queue !== null && b.queue !== null);
      const order = RANK[a.queue.priority] - RANK[b.queue.priority] || a.seq - b.seq;
      assert.ok(order < 0, `seed ${seed}: a claim batch out of priority-then-FIFO order`);
    }
  }
  const runIds = new Set(submitted.map((s) => s.runId));
  let succeeded = 0;
  for (const runId of runIds) {
    const run = host.table().getRun(runId);
    assert.ok(run !== null, `seed ${seed}: run ${runId} is recorded`);
    assert.ok(!isActiveStatus(run.status), `seed ${seed}: run ${runId} ended (${run.status})`);
    const perAttempt = new Map<number, number>();
    for (const e of run.executions) perAttempt.set(e.attempt, (perAttempt.get(e.attempt) ?? 0) + 1);
    assert.ok([...perAttempt.values()].every((n) => n === 1), `seed ${seed}: one execution per attempt`);
    for (const e of run.executions) assert.equal(handed.get(`${runId}/${e.attempt}`) ?? e.node, e.node, `seed ${seed}: the execution names the worker that got the claim`);
    if (run.status === 'succeeded') {
      succeeded += 1;
      assert.equal(run.executions.filter((e) => e.status === 'succeeded').length, 1);
      assert.equal(run.queue?.result, `r:${run.payload ?? ''}`);
    } else {
      assert.equal(run.attempt, 11, `seed ${seed}: ${runId} ended ${run.status} only with its retries used up`);
    }
  }
  assert.ok(succeeded >= runIds.size - 1, `seed ${seed}: ${succeeded} of ${runIds.size} succeeded`);
  assert.ok(world.batches.length > 0 && incarnations > 4, 'the workload claimed and crashed workers');
}

for (const seed of (process.env["CHAOS_SEEDS"] ?? "1,2,3").split(",").map(Number)) {
  test(`worker chaos, seed ${seed}: claims, crashes, leader changes; every submission ends, no attempt held twice`, async () => {
    await chaos(seed);
  });
}
