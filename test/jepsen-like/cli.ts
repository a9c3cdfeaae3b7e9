// `npm run jepsen -- --nodes 5 --time 300 --nemesis kill,pause,partition,clock,member --seed S`
// The register and durability workloads always run; `--workload` adds scheduler and workers.
import { cliArgs } from '../support/cli-args.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NEMESIS_KINDS, type NemesisKind } from './nemesis.js';
import { runJepsen, type RunReport } from './runner.js';

const { values } = cliArgs('npm run jepsen --', {
  options: {
    nodes: { type: 'string', default: '5' },
    time: { type: 'string', default: '300' },
    nemesis: { type: 'string', default: 'kill,pause,partition,clock,member' },
    seed: { type: 'string' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    secure: { type: 'boolean', default: false },
    'outage-ms': { type: 'string', default: '75000' },
    'quiet-ms': { type: 'string', default: '2000-5000' },
    'hold-ms': { type: 'string', default: '3000-8000' },
    'stale-reads': { type: 'boolean', default: false },
    workload: { type: 'string', default: 'scheduler,workers' },
  },
});

const nodes = Number(values.nodes);
const timeSec = Number(values.time);
const outageMs = Number(values['outage-ms']);
const span = (text: string | undefined): [number, number] | null => {
  const m = /^(\d+)-(\d+)$/.exec(text ?? '');
  return m === null || Number(m[1]) > Number(m[2]) ? null : [Number(m[1]), Number(m[2])];
};
const quietMs = span(values['quiet-ms']);
const holdMs = span(values['hold-ms']);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const kinds = values.nemesis === 'none' ? [] : (values.nemesis ?? '').split(',').filter(Boolean);
const WORKLOADS = ['scheduler', 'workers'];
const workloads = values.workload === 'none' ? [] : (values.workload ?? '').split(',').filter(Boolean);
const unknownKinds = [...kinds.filter((k) => !(NEMESIS_KINDS as readonly string[]).includes(k)), ...workloads.filter((w) => !WORKLOADS.includes(w))];
if (quietMs === null || holdMs === null || ![3, 5].includes(nodes) || !Number.isInteger(outageMs) || outageMs < 1000 || !Number.isFinite(timeSec) || timeSec < 5 || !Number.isSafeInteger(seed) || unknownKinds.length > 0) {
  console.error(`bad arguments: --nodes must be 3 or 5, --time >= 5, --seed an integer, --quiet-ms/--hold-ms LO-HI, --nemesis from ${NEMESIS_KINDS.join(',')}, --workload from ${WORKLOADS.join(',')}${unknownKinds.length > 0 ? ` (unknown: ${unknownKinds.join(',')})` : ''}`);
  process.exit(2);
}
const dir = resolve(values.dir ?? join(tmpdir(), `chime-jepsen-${seed}-${Date.now()}`));
const started = performance.now();
console.log(`jepsen-like: ${nodes} nodes, ${timeSec} s of faults (${kinds.join(',') || 'none'}), workloads register,durability${workloads.map((w) => `,${w}`).join('')}, seed ${seed}, report in ${dir}`);
const rerun = `npm run jepsen -- --nodes ${nodes} --time ${timeSec} --nemesis ${kinds.join(',') || 'none'} --seed ${seed} --workload ${workloads.join(',') || 'none'} --keep${values.secure === true ? ' --secure' : ''}${values['stale-reads'] === true ? ' --stale-reads' : ''}${kinds.includes('outage') ? ` --outage-ms ${outageMs}` : ''} --quiet-ms ${values['quiet-ms']} --hold-ms ${values['hold-ms']}`;
const report = await runJepsen({ nodes, timeSec, nemesis: kinds as NemesisKind[], seed, dir, outageMs, quietMs: quietMs as [number, number], holdMs: holdMs as [number, number], keep: values.keep === true, scheduler: workloads.includes('scheduler'), workers: workloads.includes('workers'), secure: values.secure === true, staleReads: values['stale-reads'] === true, log: (s) => console.log(`  ${((performance.now() - started) / 1000).toFixed(1)}s ${s}`) }).catch((error: unknown) => {
  console.log(`ERROR: the run could not complete: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  console.log(`logs in ${dir}; rerun with: ${rerun}`);
  process.exit(1);
});
printSummary(report);
if (!report.ok) {
  console.log(`FAIL — rerun with: ${rerun}`);
  console.log('(faults are drawn from the seed; their timing against the real processes varies from run to run)');
  process.exitCode = 1;
} else {
  console.log('PASS');
}

function verdict(ok: boolean | 'unknown'): string {
  return ok === true ? 'ok' : ok === 'unknown' ? 'UNKNOWN' : 'FAILED';
}

function printSummary(r: RunReport): void {
  const lines = [
    `operations: ${r.operations.total} (${Object.entries(r.operations.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}; ${r.operations.unknown} with unknown outcome)`,
    `faults: ${r.faults} ${JSON.stringify(r.faultsByKind)} (timeline in ${join(r.dir, 'timeline.jsonl')})`,
    `register (linearizability): ${verdict(r.register.ok)} ${r.register.ok === true ? `${r.register.ops} ops on ${r.register.keys} keys` : `${r.register.key}: ${r.register.reason}`}`,
    `durability: ${verdict(r.durability.ok)} ${r.durability.acked} acknowledged job writes, ${r.durability.lost.length} lost${r.durability.lost.length > 0 ? `: ${r.durability.lost.slice(0, 10).join(', ')}` : ''}`,
  ];
  const s = r.scheduler;
  if (s !== null) {
    lines.push(`scheduler: ${verdict(s.ok)} ${s.instants} instants; missing ${s.missing.length}, duplicate records ${s.duplicateRecords.length}, executed twice ${s.executedTwice.length}, not executed ${s.notExecuted.length}, succeeded-not-executed ${s.succeededNotExecuted.length}, skipped-but-executed ${s.skippedButExecuted.length}, lost records ${s.lostRecords.length}, misfire-policy violations ${s.policyViolations.length}`);
    lines.push(`  statuses ${JSON.stringify(s.statuses)}; lateness ms p50 ${s.latenessMs.p50} p99 ${s.latenessMs.p99} max ${s.latenessMs.max} min ${s.latenessMs.min}; largest gaps between executions ms ${s.largestGapsMs.join(', ')}; runs executed in several attempts (retried after a lost executor) ${s.runsExecutedInSeveralAttempts}`);
    for (const [name, list] of [['missing', s.missing], ['duplicates', s.duplicateRecords], ['executed twice', s.executedTwice], ['not executed', s.notExecuted], ['succeeded not executed', s.succeededNotExecuted], ['skipped but executed', s.skippedButExecuted], ['lost records', s.lostRecords], ['misfire policy', s.policyViolations]] as const) {
      if (list.length > 0) lines.push(`  ${name}: ${list.slice(0, 8).join('; ')}${list.length > 8 ? ' …' : ''}`);
    }
  }
  const w = r.workers;
  if (w !== null) {
    lines.push(`workers: ${verdict(w.ok)} ${w.submissions.acknowledged} submissions acknowledged (${w.submissions.unknown} unanswered, ${w.submissions.coalesced} coalesced by key) into ${w.submissions.runs} runs; ${w.claims} claim answers (${w.multiItemClaims} with several runs) handed ${w.attemptsHanded} attempts; ${w.runsInSeveralAttempts} runs in several attempts; statuses ${JSON.stringify(w.statuses)}`);
    lines.push(`  missing runs ${w.missingRuns.length}, not ended ${w.notEnded.length}, ended against the retry policy ${w.endedAgainstPolicy.length}, wrong results ${w.wrongResults.length}, completed twice ${w.completedTwice.length}, claimed twice ${w.claimedTwice.length}, reports by a non-holder ${w.foreignReports.length}, stale reports ${w.staleReports.length}, claimed after success ${w.claimedAfterSuccess.length}, batches out of priority order ${w.priorityOrder.length}, batches not oldest first within a priority ${w.fifoOrder.length}, keys split ${w.keysSplit.length}`);
    for (const [name, list] of [['missing runs', w.missingRuns], ['not ended', w.notEnded], ['against policy', w.endedAgainstPolicy], ['wrong results', w.wrongResults], ['completed twice', w.completedTwice], ['claimed twice', w.claimedTwice], ['non-holder reports', w.foreignReports], ['stale reports', w.staleReports], ['claimed after success', w.claimedAfterSuccess], ['priority order', w.priorityOrder], ['fifo order', w.fifoOrder], ['keys split', w.keysSplit]] as const) {
      if (list.length > 0) lines.push(`  ${name}: ${list.slice(0, 8).join('; ')}${list.length > 8 ? ' …' : ''}`);
    }
  }
  for (const e of r.workloadErrors) lines.push(`workload error: ${e}`);
  lines.push(`report: ${r.dir} (summary.json, history.jsonl, timeline.jsonl, sink.txt, n*.log)`);
  console.log(lines.join('\n'));
}
