// Crashes with real agents, one shared 3-node cluster, tests in order:
// 1. kill -9 of the node executing a long run: after its restart it reports the run lost
//    (its leftover process group killed) and the retry policy runs attempt 2;
// 2. a full outage shorter than catchUpMs: every missed instant fires late (a failover gap);
// 3. a full outage longer than catchUpMs (simulated by restarting every node with its wall
//    clock 2 minutes ahead, through test/support/fault-preload): fire-once, fire-all within windowMs and skip behave
//    as docs/scheduler.md says, every missed instant has exactly one record.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor, type ProcessCluster } from '../support/process-cluster.js';
import { foundTagged, groupAlive, isFinal, listRuns, putJob, readSink, runNow, sinkEcho, tagArgs, waitRun, type Run } from './process-support.js';

const OUTAGE_OFFSET_MS = 120_000;
const FIRE_ALL_WINDOW_MS = 20_000;
const JOBS = ['mis-once', 'mis-all', 'mis-skip'] as const;

let cluster: ProcessCluster;
let dir: string;
let sink: string;

const ms = (iso: string): number => Date.parse(iso);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chime-outage-'));
  sink = join(dir, 'sink.txt');
  cluster = await foundTagged(dir, 3, [], true);
});

after(async () => {
  await cluster?.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function restart(id: string, onceEnv: Readonly<Record<string, string>> = {}): Promise<void> {
  const node = cluster.nodes.get(id);
  assert.ok(node !== undefined && node.child === null);
  await cluster.launch(id, node.rpc, node.http, tagArgs(id, []), undefined, onceEnv);
}

async function leaderOf(): Promise<string> {
  return cluster.waitForLeader(30_000);
}

/** Records of a job by instant, asserting there is never more than one per instant (G2). */
async function byInstant(job: string): Promise<Map<number, Run>> {
  const runs = await listRuns(cluster, job);
  const map = new Map<number, Run>();
  for (const run of runs.filter((r) => r.trigger !== 'manual')) {
    const t = ms(run.scheduledAt);
    assert.ok(!map.has(t), `${job} has two records for ${run.scheduledAt}`);
    map.set(t, run);
  }
  return map;
}

/** The instants of an every-second job from `fromMs` to `toMs`, inclusive. */
function seconds(fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  for (let t = Math.ceil(fromMs / 1000) * 1000; t <= toMs; t += 1000) out.push(t);
  return out;
}

test('kill -9 of the executing node: after its restart the run is reported lost and retried as attempt 2', { timeout: 60_000 }, async () => {
  const leader = await leaderOf();
  const victim = ['n1', 'n2', 'n3'].find((n) => n !== leader)!;
  const marker = join(dir, 'crash-marker');
  await putJob(cluster, 'crashy', {
    schedule: '@manual',
    target: { mode: 'tags', tags: { name: victim } },
    retry: { max: 1, backoffMs: 200, maxBackoffMs: 1000 },
    executor: { type: 'shell', command: `${sinkEcho(sink, 'crashy', '$$')}; if [ -e ${marker} ]; then exit 0; fi; touch ${marker}; sleep 60 & wait` },
  });
  const runId = await runNow(cluster, 'crashy');
  await waitRun(cluster, runId, 'running', (r) => r.status === 'running');
  const first = await waitFor('attempt 1 in the sink', () => readSink(sink).find((l) => l.runId === runId && l.attempt === 1));
  const pgid = Number(first.rest[0]);
  assert.ok(groupAlive(pgid), 'attempt 1 runs');
  await cluster.signal(victim, 'SIGKILL');
  assert.ok(groupAlive(pgid), 'the detached run outlives its executor');
  await restart(victim);
  const run = await waitRun(cluster, runId, 'retried and succeeded', (r) => r.status === 'succeeded', 30_000);
  assert.equal(run.attempt, 2);
  const [lost, retried] = run.executions;
  assert.equal(lost?.status, 'lost');
  assert.match(lost?.error ?? '', /executor restarted; the run's leftover process group was killed/);
  assert.equal(retried?.status, 'succeeded');
  assert.equal(retried?.node, victim);
  assert.ok(!groupAlive(pgid), 'the leftover group was killed before the retry');
  assert.deepEqual(readSink(sink).filter((l) => l.runId === runId).map((l) => l.attempt), [1, 2]);
});

test('full outage shorter than catchUpMs: every missed instant fires late, whatever the misfire policy', { timeout: 60_000 }, async () => {
  const policies = { 'mis-once': { policy: 'fire-once' }, 'mis-all': { policy: 'fire-all', windowMs: FIRE_ALL_WINDOW_MS }, 'mis-skip': { policy: 'skip' } };
  for (const job of JOBS) await putJob(cluster, job, { schedule: '* * * * * *', history: 1000, concurrency: 'allow', misfire: policies[job], executor: { type: 'shell', command: sinkEcho(sink, job) } });
  await waitFor('every job fired', async () => (await Promise.all(JOBS.map((j) => listRuns(cluster, j)))).every((r) => r.length >= 2), 15_000, 100);
  const stoppedAt = Date.now();
  await cluster.stopAll();
  await new Promise((r) => setTimeout(r, 3000));
  await Promise.all(['n1', 'n2', 'n3'].map((id) => restart(id)));
  await leaderOf();
  const restartedAt = Date.now();
  // Everything up to a moment after the restart must be recorded and finished.
  for (const job of JOBS) {
    const runs = await waitFor(`${job} caught up`, async () => {
      const m = await byInstant(job);
      const done = seconds(stoppedAt - 1000, restartedAt).every((t) => m.has(t) && isFinal(m.get(t)!));
      return done ? m : undefined;
    }, 20_000, 200);
    for (const t of seconds(stoppedAt + 1000, restartedAt - 1000)) {
      const run = runs.get(t)!;
      assert.deepEqual([run.trigger, run.status], ['schedule', 'succeeded'], `${job} ${new Date(t).toISOString()} fired late`);
      assert.ok(readSink(sink).some((l) => l.runId === run.runId), `${job} ${new Date(t).toISOString()} executed`);
    }
  }
});

test('full outage longer than catchUpMs: fire-once, fire-all within windowMs and skip, each missed instant recorded', { timeout: 60_000 }, async () => {
  const stoppedAt = Date.now();
  await cluster.stopAll();
  // Every node comes back with its wall clock 2 minutes ahead: to the scheduler, an outage.
  await Promise.all(['n1', 'n2', 'n3'].map((id) => restart(id, { CHIME_FAULT_CLOCK_OFFSET_MS: String(OUTAGE_OFFSET_MS) })));
  await leaderOf();
  const restartedAt = Date.now() + OUTAGE_OFFSET_MS;
  const result = new Map<string, Run[]>();
  const firstPass = new Map<string, number>();
  for (const job of JOBS) {
    // Records before the outage are at most a fire lead past the stop; after it, 2 minutes on.
    const before = [...(await byInstant(job)).values()].filter((r) => ms(r.firedAt) < stoppedAt + OUTAGE_OFFSET_MS / 2).map((r) => ms(r.scheduledAt));
    const lastBefore = Math.max(...before);
    const runs = await waitFor(`${job} past the outage`, async () => {
      const m = await byInstant(job);
      return seconds(lastBefore + 1000, restartedAt).every((t) => m.has(t) && isFinal(m.get(t)!)) ? m : undefined;
    }, 30_000, 200);
    // The missed instants: from the last one recorded before the outage to the restarted
    // leader's first pass (its clock when it proposed them).
    const after = [...runs.values()].filter((r) => ms(r.scheduledAt) > lastBefore);
    const passMs = Math.min(...after.map((r) => ms(r.firedAt)));
    const missed = after.filter((r) => ms(r.scheduledAt) <= passMs).sort((a, b) => ms(a.scheduledAt) - ms(b.scheduledAt));
    if (process.env['DEBUG_OUTAGE'] === '1') console.log(job, missed.map((r) => `${r.scheduledAt} ${r.firedAt} ${r.trigger} ${r.status} ${r.reason ?? ''}`).join('\n'));
    assert.ok(missed.length > 100, `${job}: more than 100 instants were missed (${missed.length})`);
    assert.deepEqual(missed.map((r) => ms(r.scheduledAt)), seconds(lastBefore + 1000, passMs), `${job}: every missed instant has one record`);
    result.set(job, missed);
    firstPass.set(job, passMs);
  }
  const ran = (runs: Run[]) => runs.filter((r) => r.status !== 'skipped');
  const once = result.get('mis-once')!;
  assert.equal(ran(once).length, 1, 'fire-once: one run');
  assert.equal(once.at(-1)!.status, 'succeeded', 'fire-once: the newest missed instant runs');
  assert.ok(once.slice(0, -1).every((r) => r.trigger === 'misfire' && /fire-once|misfire window/.test(r.reason ?? '')), 'fire-once: the others are skipped by the policy');
  const all = result.get('mis-all')!;
  const pass = firstPass.get('mis-all')!;
  for (const r of all) {
    const t = ms(r.scheduledAt);
    if (Math.abs(t - (pass - FIRE_ALL_WINDOW_MS)) < 1000) continue; // on the window's edge: either
    if (t > pass - FIRE_ALL_WINDOW_MS) assert.equal(r.status, 'succeeded', `fire-all: ${r.scheduledAt} in the window runs`);
    else assert.deepEqual([r.trigger, r.status, r.reason], ['misfire', 'skipped', 'misfire: missed by more than the misfire window'], `fire-all: ${r.scheduledAt} before the window`);
  }
  assert.ok(Math.abs(ran(all).length - FIRE_ALL_WINDOW_MS / 1000) <= 1, `fire-all: the instants of the last ${FIRE_ALL_WINDOW_MS} ms ran (${ran(all).length})`);
  const skip = result.get('mis-skip')!;
  assert.ok(skip.every((r) => r.status === 'skipped' && r.trigger === 'misfire' && /misfire/.test(r.reason ?? '')), 'skip: every missed instant skipped');
  const executed = new Set(readSink(sink).map((l) => l.runId));
  for (const r of [...once, ...all, ...skip]) assert.equal(executed.has(r.runId), r.status !== 'skipped', `${r.jobId} ${r.scheduledAt}: executed iff not skipped`);
});
