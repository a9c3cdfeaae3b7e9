// `node dist/test/storage-crash/cli.js --runs N [--seed S] [--dir DIR]`: the kill -9
// durability check outside the test suite, for longer soaks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from '../support/cli-args.js';
import { crashRounds } from './driver.js';

async function main(): Promise<void> {
  const { values } = cliArgs('npm run crash:storage --', { options: { runs: { type: 'string', default: '200' }, seed: { type: 'string', default: '1' }, dir: { type: 'string' } } });
  const runs = Number(values.runs);
  const seed = Number(values.seed);
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) throw new Error('--runs and --seed must be integers, runs >= 1');
  const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'chime-crash-'));
  const startedMs = performance.now();
  try {
    const reports = await crashRounds(dir, runs, seed);
    const landed = reports.filter((r) => r.inFlightLanded).length;
    const acknowledged = reports.reduce((sum, r) => sum + r.acknowledged, 0);
    const last = reports[reports.length - 1];
    process.stdout.write(`${runs} kill -9 rounds passed in ${Math.round(performance.now() - startedMs)} ms: ${acknowledged} acknowledged ops, in-flight op landed ${landed} times, final last index ${last?.lastIndex ?? 0}\n`);
  } finally {
    if (values.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
