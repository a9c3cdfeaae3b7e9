// The job table's own memory, in one process (run with `node --expose-gc`):
//   node --expose-gc dist/test/bench/table-memory.js [--jobs 100000]
// Builds a table of `jobs` mixed specs through putJob, takes a snapshot, restores it, and
// prints heap used per job after a forced GC at each step, the snapshot size, and the peak
// heap/RSS of encoding and decoding. A fast inner loop for the memory benchmark.
// Then builds the table once more the way a replica does, from encoded log entries (stored
// specs with audit records, decoded by msgpackr), and prints what that table holds per job
// once the entries are gone. Decoding as the agent does: js-decoding first (set
// MSGPACKR_NATIVE_ACCELERATION_DISABLED=false to see what msgpackr's native add-on keeps).
import '../../src/cli/js-decoding.js';
import { isNativeAccelerationEnabled } from 'msgpackr';
import { cliArgs } from '../support/cli-args.js';
import { JobTable, ReplicatedJobs, encodeCommand, storedSpecOf, validateJobSpec } from '../../src/statemachine/index.js';
import { jobId, mixedSpec } from './job-mix.js';

const { values } = cliArgs('npm run bench:table-memory --', { options: { jobs: { type: 'string', default: '100000' }, due: { type: 'string', default: '0' } } });
const jobs = Number(values.jobs);
const due = Number(values.due);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function heapUsed(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

function external(): number {
  return process.memoryUsage().external + process.memoryUsage().arrayBuffers;
}

const perJob = (bytes: number): string => `${(bytes / jobs).toFixed(0)} B/job`;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const base = heapUsed();
let table = JobTable.create();
let jsonBytes = 0;
for (let i = 0; i < jobs; i++) {
  const input = mixedSpec(i, due);
  jsonBytes += JSON.stringify(input).length;
  const checked = validateJobSpec(jobId(i), input);
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  const result = table.apply({ type: 'putJob', id: jobId(i), spec: checked.spec, at: T0 + i }, i + 1);
  if (!result.ok) throw new Error(JSON.stringify(result));
}
const built = heapUsed();
console.log(`jobs=${jobs} spec JSON mean ${(jsonBytes / jobs).toFixed(0)} B`);
console.log(`built by putJob: heap ${mib(built - base)}, ${perJob(built - base)}`);

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 5);
let t = performance.now();
const rssBefore = process.memoryUsage().rss;
let bytes: Uint8Array | null = table.snapshot();
const encodeMs = performance.now() - t;
peakRss = Math.max(peakRss, process.memoryUsage().rss);
console.log(`snapshot: ${mib(bytes.length)} (${perJob(bytes.length)}), encode ${encodeMs.toFixed(0)} ms, rss ${mib(rssBefore)} -> peak ${mib(peakRss)}`);

table = JobTable.create();
const cleared = heapUsed();
t = performance.now();
const rssBeforeRestore = process.memoryUsage().rss;
peakRss = 0;
table = JobTable.restore(bytes);
const decodeMs = performance.now() - t;
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const restored = heapUsed();
console.log(`restored: heap ${mib(restored - cleared)}, ${perJob(restored - cleared)}, decode ${decodeMs.toFixed(0)} ms, rss ${mib(rssBeforeRestore)} -> peak ${mib(peakRss)}; external ${mib(external())}`);
const again = table.snapshot();
console.log(`round trip identical: ${Buffer.compare(Buffer.from(again), Buffer.from(bytes)) === 0}`);
bytes = null;
clearInterval(sampler);
const page = table.listJobs({ limit: 2 });
console.log(`jobCount=${table.jobCount} first=${page.ok ? page.items[0]?.id : 'error'} earliest=${new Date(table.earliestNextFireAt() ?? 0).toISOString()}`);

// The replica's build: batches of encoded putJob entries, dropped once applied, as a node's
// log drops them at compaction.
table = JobTable.create();
const beforeEntries = heapUsed();
const replica = new ReplicatedJobs();
const BATCH = 1000;
for (let start = 0; start < jobs; start += BATCH) {
  const batch: Uint8Array[] = [];
  for (let i = start; i < Math.min(jobs, start + BATCH); i++) {
    const checked = validateJobSpec(jobId(i), mixedSpec(i, due));
    if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
    const at = T0 + i;
    const audit = { at, actor: 'deploy-bot', method: 'PUT', path: `/v1/jobs/${jobId(i)}`, target: jobId(i), writeId: `w${i}-bench-0123456789` };
    batch.push(encodeCommand({ type: 'putJob', id: jobId(i), stored: storedSpecOf(checked.spec), at, audit }));
  }
  batch.forEach((data, k) => {
    const result = replica.apply({ index: start + k + 1, kind: 'normal', data }, false);
    if (!result.ok) throw new Error(JSON.stringify(result));
  });
}
const fromEntries = heapUsed();
console.log(`built from log entries (stored specs, audit records, write ids; native string extraction ${isNativeAccelerationEnabled ? 'on' : 'off'}): heap ${mib(fromEntries - beforeEntries)}, ${perJob(fromEntries - beforeEntries)}`);
