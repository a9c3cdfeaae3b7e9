// `npm run bench:fsync-gap [-- --writes 1500]`
//
// What one synced append costs on this machine depending on what came just before it: the
// same in-place 320-byte write + fdatasync on a preallocated file (what a WAL on
// preallocated space does per Ready), issued
//   - back to back (the next one as soon as the last returned: a busy node),
//   - after a busy gap (the thread computes for G ms first: a node doing other work),
//   - after an idle gap (the process sleeps for G ms first: a node waiting for its next
//     client, as with one client).
// On a VM an idle process's synced write can cost many times a busy one's (the host wakes
// the idle vCPU and the device again); a one-client write pays that on the leader and on a
// follower. This prints the floor the one-client figures of bench:api and compare.mjs sit on.
import { closeSync, fdatasync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cliArgs } from '../support/cli-args.js';
import { percentile } from './http-load.js';

const { values } = cliArgs('npm run bench:fsync-gap --', { options: { writes: { type: 'string', default: '1500' } } });
const writes = Number(values.writes);
const FILE_BYTES = 16 * 2 ** 20;
const RECORD_BYTES = 320;

const syncOnce = promisify(fdatasync);

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* the point is to keep this CPU busy */ }
}

async function measure(name: string, before: () => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chime-fsync-gap-'));
  const fd = openSync(join(dir, 'wal'), 'w+');
  const zeros = Buffer.alloc(1 << 20);
  for (let at = 0; at < FILE_BYTES; at += zeros.length) writeSync(fd, zeros, 0, zeros.length, at);
  await syncOnce(fd);
  const record = Buffer.alloc(RECORD_BYTES, 1);
  const took: number[] = [];
  try {
    for (let i = 0; i < writes; i++) {
      await before();
      const startedMs = performance.now();
      writeSync(fd, record, 0, RECORD_BYTES, (i * RECORD_BYTES) % FILE_BYTES);
      await syncOnce(fd);
      took.push(performance.now() - startedMs);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  took.sort((a, b) => a - b);
  console.log(`${name.padEnd(24)} p50_ms=${percentile(took, 0.5).toFixed(3)} p90_ms=${percentile(took, 0.9).toFixed(3)} p99_ms=${percentile(took, 0.99).toFixed(3)}`);
}

console.log(`fsync-gap: ${writes} in-place ${RECORD_BYTES}-byte writes + fdatasync each; node ${process.version}`);
await measure('back to back', async () => undefined);
for (const gapMs of [0.2, 0.5]) await measure(`busy gap ${gapMs} ms`, async () => busyFor(gapMs));
for (const gapMs of [1, 2]) await measure(`idle gap ${gapMs} ms`, () => new Promise((r) => setTimeout(r, gapMs)));
