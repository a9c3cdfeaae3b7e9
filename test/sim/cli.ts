// `npm run sim -- --seeds N [--seed S] [--nodes 3|5] [--time-ms T]`: runs seeds one after
// another in this process, prints one line per failing seed with the command that replays
// it, and a summary line. Exit code 1 on any failure.
import { cliArgs } from '../support/cli-args.js';
import { replayCommand, runSimulation, type SimOutcome } from './simulation.js';

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] as number;
}

async function main(): Promise<void> {
  const { values, usage } = cliArgs('npm run sim --', {
    options: {
      seeds: { type: 'string', default: '1' },
      seed: { type: 'string' },
      nodes: { type: 'string' },
      'time-ms': { type: 'string', default: '10000' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const count = Number(values.seeds);
  const first = values.seed === undefined ? 1 : Number(values.seed);
  const faultMs = Number(values['time-ms']);
  const nodesFixed = values.nodes === undefined ? null : Number(values.nodes);
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(first) || !Number.isSafeInteger(faultMs) || faultMs < 0 || (nodesFixed !== null && nodesFixed !== 3 && nodesFixed !== 5)) {
    console.error(`--seeds, --seed and --time-ms take integers (seeds >= 1), --nodes 3 or 5; ${usage}`);
    process.exitCode = 2;
    return;
  }
  const startedMs = Date.now();
  const elect: number[] = [];
  let failures = 0;
  for (let seed = first; seed < first + count; seed++) {
    // Without --nodes, odd seeds run 3 nodes and even seeds 5, so both sizes get coverage.
    const nodes = nodesFixed ?? (seed % 2 === 0 ? 5 : 3);
    const outcome: SimOutcome = await runSimulation({ seed, nodes: nodes as 3 | 5, faultMs });
    if (outcome.ok) {
      elect.push(outcome.electMs);
      if (values.verbose) console.log(`seed=${seed} ok ${JSON.stringify(outcome.stats)} elect_ms=${outcome.electMs}`);
    } else {
      failures++;
      console.log(`FAIL seed=${seed} nodes=${nodes} ${outcome.error.invariant} at t=${outcome.error.timeMs}ms: ${outcome.error.detail.split('\n')[0]}\n  replay: ${replayCommand(seed, nodes, faultMs)}`);
      if (values.verbose) console.log(outcome.error.detail);
    }
  }
  elect.sort((a, b) => a - b);
  const seconds = ((Date.now() - startedMs) / 1000).toFixed(1);
  console.log(`seeds=${count} failures=${failures} elect_p50_ms=${percentile(elect, 0.5)} elect_max_ms=${elect.at(-1) ?? 0} wall_s=${seconds}`);
  if (failures > 0) process.exitCode = 1;
}

await main();
