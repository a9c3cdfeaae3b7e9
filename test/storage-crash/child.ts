// The process the kill -9 test kills: it performs random storage operations and prints
// `begin <op>` before and `ack` after each one. Lines go out with a synchronous write, so
// an `ack` the parent reads was printed after the save resolved and before anything else.
import { writeSync } from 'node:fs';
import { DurableStorage } from '../../src/storage/index.js';
import type { HardState } from '../../src/raft/index.js';
import { createRandom, entryAt, snapshotAt, confAt, type CrashOp } from './model.js';

const OPS_MAX = 10_000;

function chooseOp(storage: DurableStorage, random: (n: number) => number): CrashOp {
  const last = storage.lastIndex();
  const hard = storage.hardState();
  const snapIndex = storage.snapshotInfo().meta.index;
  const roll = random(100);
  if (roll < 50 || last === 0) {
    const count = 1 + random(12);
    const commit = Math.min(last + count, hard.commit + random(count + 4));
    return { op: 'save', first: last + 1, count, term: Math.max(hard.term, 1), hard: { ...hard, term: Math.max(hard.term, 1), commit }, snap: null, sync: true };
  }
  if (roll < 62 && last > hard.commit) {
    const first = hard.commit + 1 + random(last - hard.commit);
    const next: HardState = { term: hard.term + 1, vote: 'b', commit: hard.commit };
    return { op: 'save', first, count: 1 + random(6), term: next.term, hard: next, snap: null, sync: true };
  }
  if (roll < 72) {
    return { op: 'save', first: last + 1, count: 0, term: hard.term, hard: { ...hard, commit: hard.commit + random(last - hard.commit + 1) }, snap: null, sync: false };
  }
  if (roll < 82 && hard.commit > snapIndex) return { op: 'snapshot', index: hard.commit };
  if (roll < 92 && snapIndex >= storage.firstIndex()) return { op: 'compact', index: snapIndex - random(Math.min(3, snapIndex - storage.firstIndex() + 1)) };
  const snap = { index: last + 1 + random(5), term: hard.term + 1 };
  const count = random(6);
  return { op: 'save', first: snap.index + 1, count, term: snap.term, hard: { term: snap.term, vote: null, commit: snap.index }, snap, sync: true };
}

async function perform(storage: DurableStorage, op: CrashOp): Promise<void> {
  switch (op.op) {
    case 'save': {
      const entries = Array.from({ length: op.count }, (_, i) => entryAt(op.first + i, op.term));
      await storage.save({ hardState: op.hard, entries, snapshot: op.snap === null ? null : snapshotAt(op.snap) }, { sync: op.sync });
      return;
    }
    case 'snapshot': {
      const term = storage.term(op.index);
      await storage.createSnapshot(op.index, confAt(op.index), snapshotAt({ index: op.index, term }).data);
      return;
    }
    case 'compact':
      await storage.compact(op.index);
  }
}

async function main(): Promise<void> {
  const [dir, seedText] = process.argv.slice(2);
  if (dir === undefined || seedText === undefined) throw new Error('usage: child.js DIR SEED');
  const storage = await DurableStorage.open(dir);
  const random = createRandom(Number(seedText));
  writeSync(1, 'ready\n');
  for (let i = 0; i < OPS_MAX; i++) {
    const op = chooseOp(storage, random);
    writeSync(1, `begin ${JSON.stringify(op)}\n`);
    await perform(storage, op);
    writeSync(1, 'ack\n');
  }
  await storage.close();
}

main().catch((error: unknown) => {
  writeSync(2, `crash child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
