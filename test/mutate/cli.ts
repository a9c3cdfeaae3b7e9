// `npm run mutate -- [--only a,b] [--seeds N] [--seed S] [--nodes 3|5] [--jobs 2] [--list] [--verbose]`:
// applies each mutant of the catalogue to a copy of the repository, runs the tests of src/raft
// and src/node and the simulator against it, and prints which rule is guarded by what. Exit code 1 when a
// mutant survives (nothing noticed it), 2 on bad arguments or a broken catalogue.
import { cliArgs } from '../support/cli-args.js';
import { MUTANTS } from './catalogue.js';
import { caught, checkCatalogue, formatTable, runMutants, type RunOptions } from './runner.js';

async function main(): Promise<void> {
  const { values, usage } = cliArgs('npm run mutate --', {
    options: {
      only: { type: 'string' },
      seeds: { type: 'string', default: '300' },
      seed: { type: 'string', default: '1' },
      nodes: { type: 'string', default: '5' },
      jobs: { type: 'string', default: '1' },
      list: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    },
  });
  if (values.list) {
    for (const m of MUTANTS) console.log(`${m.name.padEnd(36)} ${m.file.padEnd(30)} ${m.rule}`);
    return;
  }
  const seeds = Number(values.seeds);
  const firstSeed = Number(values.seed);
  const nodes = Number(values.nodes);
  const jobs = Number(values.jobs);
  const wanted = values.only === undefined ? null : values.only.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = (wanted ?? []).filter((name) => !MUTANTS.some((m) => m.name === name));
  if (!Number.isSafeInteger(seeds) || seeds < 0 || !Number.isSafeInteger(firstSeed) || (nodes !== 3 && nodes !== 5) || !Number.isSafeInteger(jobs) || jobs < 1 || unknown.length > 0) {
    console.error(unknown.length > 0 ? `unknown mutant(s): ${unknown.join(', ')} (see --list)` : `--seeds, --seed and --jobs take integers (jobs >= 1), --nodes 3 or 5; ${usage}`);
    process.exitCode = 2;
    return;
  }
  // Every mutant must still apply, not only the chosen ones: a stale entry is a bug to fix now.
  const problems = checkCatalogue(MUTANTS);
  if (problems.length > 0) {
    for (const p of problems) console.error(p);
    process.exitCode = 2;
    return;
  }
  const chosen = wanted === null ? MUTANTS : MUTANTS.filter((m) => wanted.includes(m.name));
  const options: RunOptions = { seeds, firstSeed, nodes: nodes as 3 | 5, unitTimeoutMs: 120_000, simTimeoutMs: Math.max(120_000, seeds * 3_000) };
  console.log(`mutate: ${chosen.length} mutant(s), simulator seeds ${firstSeed}..${firstSeed + seeds - 1} with ${nodes} nodes, ${jobs} at a time`);
  const started = performance.now();
  const outcomes = await runMutants(chosen, options, jobs, (o) => {
    const verdict = o.error !== null ? `ERROR ${o.error}` : caught(o) ? 'caught' : 'SURVIVED';
    console.log(`  ${o.mutant.name}: ${verdict}${o.unitFailures.length > 0 ? ` by ${o.unitFailures.length} test(s)` : ''}${o.sim === null ? '' : `, sim ${o.sim.invariant} at seed ${o.sim.seed}`}`);
    if (values.verbose) for (const name of o.unitFailures) console.log(`      ${name}`);
  });
  console.log('');
  console.log(formatTable(outcomes, options));
  const broken = outcomes.filter((o) => o.error !== null);
  const survivors = outcomes.filter((o) => o.error === null && !caught(o));
  const caughtCount = outcomes.length - survivors.length - broken.length;
  console.log(`\n${caughtCount}/${outcomes.length} caught in ${((performance.now() - started) / 1000).toFixed(0)}s${survivors.length > 0 ? `; survived: ${survivors.map((o) => o.mutant.name).join(', ')}` : ''}${broken.length > 0 ? `; broken catalogue entries: ${broken.map((o) => o.mutant.name).join(', ')}` : ''}`);
  if (broken.length > 0) process.exitCode = 2;
  else if (survivors.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 2;
});
