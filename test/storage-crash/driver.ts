// Drives the kill -9 durability check: start the child on one directory, SIGKILL it at a
// seeded random point, reopen the store, and require that it holds exactly the state of
// the acknowledged operations, or that plus the one operation in flight. Anything else (a
// lost acknowledged entry, a torn batch, a gap) fails the run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DurableStorage } from '../../src/storage/index.js';
import { applyOp, confAt, createRandom, EMPTY_MODEL, entryData, lastIndexOf, snapshotAt, termAt, type CrashOp, type Model } from './model.js';

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));

export interface CrashRunReport {
  readonly acknowledged: number;
  /** Whether the store showed the in-flight operation as done. */
  readonly inFlightLanded: boolean;
  readonly lastIndex: number;
}

interface ChildOutcome {
  readonly acked: CrashOp[];
  readonly inFlight: CrashOp | null;
}

/** Runs the child until it has printed `killAfterLines` lines, then kills it with SIGKILL. */
function runChild(dir: string, seed: number, killAfterLines: number, killDelayMs: number, deadlineMs: number): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: CrashOp[] = [];
    let inFlight: CrashOp | null = null;
    let lines = 0;
    let pending = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    const onLine = (line: string): void => {
      lines += 1;
      if (line.startsWith('begin ')) inFlight = JSON.parse(line.slice(6)) as CrashOp;
      else if (line === 'ack') {
        assert.ok(inFlight !== null, 'ack without begin');
        acked.push(inFlight);
        inFlight = null;
      }
      // A short seeded delay lets the kill land inside a write as well as between writes.
      if (lines === killAfterLines) setTimeout(() => child.kill('SIGKILL'), killDelayMs);
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      pending += text;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      parts.forEach(onLine);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 10_000) stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`crash child exited with ${code} / ${signal} before the kill: ${stderr}`));
      else resolve({ acked, inFlight });
    });
  });
}

/** Checks the reopened store against a model; returns a reason when they differ. */
export async function differences(storage: DurableStorage, model: Model): Promise<string | null> {
  const last = lastIndexOf(model);
  if (storage.firstIndex() !== model.start.index + 1) return `firstIndex ${storage.firstIndex()} != ${model.start.index + 1}`;
  if (storage.lastIndex() !== last) return `lastIndex ${storage.lastIndex()} != ${last}`;
  if (storage.term(model.start.index) !== model.start.term) return 'log start term differs';
  const hard = storage.hardState();
  if (hard.term !== model.hard.term || hard.vote !== model.hard.vote || hard.commit !== model.hard.commit) return `hard state ${JSON.stringify(hard)} != ${JSON.stringify(model.hard)}`;
  const snap = await storage.loadSnapshot();
  if (snap.meta.index !== model.snap.index || snap.meta.term !== model.snap.term) return `snapshot at ${snap.meta.index}/${snap.meta.term} != ${model.snap.index}/${model.snap.term}`;
  if (model.snap.index > 0) {
    const expected = snapshotAt(model.snap);
    if (Buffer.compare(snap.data, expected.data) !== 0) return 'snapshot data differs';
    assert.deepEqual(snap.meta.conf, confAt(model.snap.index));
  }
  if (last > model.start.index) {
    const entries = storage.entries(model.start.index + 1, last + 1, Number.POSITIVE_INFINITY);
    for (const entry of entries) {
      const term = termAt(model, entry.index);
      if (entry.term !== term) return `entry ${entry.index} has term ${entry.term}, expected ${term}`;
      if (Buffer.compare(entry.data, entryData(entry.index, term)) !== 0) return `entry ${entry.index} data differs`;
    }
  }
  return null;
}

/** One kill -9 round on `dir`, which holds `model` when it starts; returns the new model. */
export async function crashRound(dir: string, model: Model, seed: number): Promise<{ model: Model; report: CrashRunReport }> {
  const random = createRandom(seed ^ 0x5bd1e995);
  const outcome = await runChild(dir, seed, 2 + random(60), random(4), 20_000);
  const acked = outcome.acked.reduce(applyOp, model);
  const storage = await DurableStorage.open(dir);
  try {
    const withAcked = await differences(storage, acked);
    if (withAcked === null) return { model: acked, report: { acknowledged: outcome.acked.length, inFlightLanded: false, lastIndex: storage.lastIndex() } };
    assert.ok(outcome.inFlight !== null, `store lost acknowledged state: ${withAcked}`);
    const landed = applyOp(acked, outcome.inFlight);
    const withLanded = await differences(storage, landed);
    assert.equal(withLanded, null, `store matches neither the acknowledged state (${withAcked}) nor it plus the in-flight op`);
    return { model: landed, report: { acknowledged: outcome.acked.length, inFlightLanded: true, lastIndex: storage.lastIndex() } };
  } finally {
    await storage.close();
  }
}

/** `runs` kill -9 rounds on one directory, each continuing from the state the last left. */
export async function crashRounds(dir: string, runs: number, seed: number): Promise<CrashRunReport[]> {
  let model = EMPTY_MODEL;
  const reports: CrashRunReport[] = [];
  for (let run = 0; run < runs; run++) {
    const result = await crashRound(dir, model, seed + run);
    model = result.model;
    reports.push(result.report);
  }
  return reports;
}
