// `npm run bench:workers [-- --workers 8 --rounds 3 --seconds 8 --level 64 --nice 10]`
// What non-voting worker members cost the write path when they share the voters' machine,
// next to the floor: the least any learner can cost, doing the same I/O and nothing else.
// Three set-ups, each a fresh 3-voter cluster loaded by the same closed-loop generator as
// bench:api (`--level` clients, PUT /v1/jobs):
// - voters:  the 3 voters alone;
// - workers: plus N `chime agent --role worker` members (each persists and applies every
//   committed entry, in batches every workerAppendMs);
// - niced:   the same workers with every thread at nice `--nice` (how an operator runs
//   workers that share the voters' machine: `nice -n 10 chime agent --role worker ...`);
//   skipped where /proc does not list a process's threads;
// - floor:   plus N floor learners (bench:write-floor's follower process: it appends what it
//   receives to a preallocated file, one write and one fdatasync per read, and acknowledges),
//   fed every 50 ms, like a worker, with one frame of entry size per write acknowledged since
//   the last batch. No decode, no log index, no state machine: only receive, write, sync, ack.
// The set-ups take turns within each round (the order rotates), since this machine's pace
// drifts by tens of percent within minutes; the summary is the median of the rounds' ratios.
// Each window also prints the CPU per write of the leader, of the two followers and of this
// generator, and how busy the machine was; the summary turns the voters-alone figures into the
// CPU per write that N learners may add and stay within 10 % (on a machine the voters keep busy).
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliArgs } from '../support/cli-args.js';
import { ProcessCluster, waitFor } from '../support/process-cluster.js';
import { cpuMs, machineJiffies, runLoad, type LoadRequest } from './http-load.js';

const { values } = cliArgs('npm run bench:workers --', {
  options: {
    workers: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    level: { type: 'string', default: '64' },
    nice: { type: 'string', default: '10' },
  },
});
const workerCount = Number(values.workers);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const level = Number(values.level);
const niceness = Number(values.nice);
/** A put entry of the bench's 300-byte spec is ~343 bytes in the log; the floor ships that much per write. */
const ENTRY_BYTES = 343;
/** The floor's batch interval: the leader's workerAppendMs. */
const FEED_MS = 50;
const SETUPS = ['voters', 'workers', 'niced', 'floor'] as const;
type Setup = (typeof SETUPS)[number];

function specBody(n: number): Buffer {
  return Buffer.from(JSON.stringify({ schedule: '@manual', executor: { type: 'shell', command: `echo bench ${n}` }, labels: { bench: 'api' }, description: 'x'.repeat(200) }));
}

/**
 * Lowers every thread of a process to `nice` (setpriority acts on one thread on Linux, and
 * V8's helper threads exist before the main thread could lower itself). False without /proc.
 */
function niceProcess(pid: number, nice: number): boolean {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  for (const tid of tids) setPriority(Number(tid), nice);
  return true;
}

/** N floor learners: write-floor.js follower processes, with a socket to each. */
async function startFloor(dir: string, count: number): Promise<{ children: ChildProcess[]; sockets: Socket[] }> {
  const script = join(fileURLToPath(new URL('.', import.meta.url)), 'write-floor.js');
  const started = await Promise.all(Array.from({ length: count }, () => {
    const child = fork(script, ['follower', dir]);
    return new Promise<{ child: ChildProcess; port: number }>((resolve, reject) => {
      child.once('message', (port) => resolve({ child, port: Number(port) }));
      child.once('exit', (code) => reject(new Error(`a floor learner exited with ${code}`)));
    });
  }));
  const sockets = started.map(({ port }) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.on('data', () => undefined);
    return socket;
  });
  return { children: started.map((s) => s.child), sockets };
}

type Measured = {
  readonly writesPerSecond: number;
  readonly p99Ms: number;
  readonly failed: number;
  /** CPU per write acknowledged: each added learner's (null: none added), the leader's, both followers' together, this generator's. */
  readonly extraCpuUsPerWrite: number | null;
  readonly leaderCpuUsPerWrite: number;
  readonly followersCpuUsPerWrite: number;
  readonly generatorCpuUsPerWrite: number;
  /** The share of the machine's CPU time that was busy during the window (null without /proc/stat). */
  readonly machineBusy: number | null;
};

/** The set-up's figures, or null when this system cannot run it (niced without /proc). */
async function measure(setup: Setup, dir: string): Promise<Measured | null> {
  const cluster = await ProcessCluster.found(3, { dir, nodeArgs: [], args: ['--heartbeat-ms', '100', '--election-ms', '1000'] });
  let floor: { children: ChildProcess[]; sockets: Socket[] } | null = null;
  let feeder: NodeJS.Timeout | null = null;
  try {
    if (setup === 'workers' || setup === 'niced') {
      for (let i = 1; i <= workerCount; i++) await cluster.launch(`w${i}`, '127.0.0.1:0', '127.0.0.1:0', ['--join', cluster.url('n1', ''), '--role', 'worker']);
      await waitFor(`${workerCount} worker members`, async () => {
        const members = ((await cluster.call('n1', 'GET', '/v1/cluster')).body as { members: { role: string; voter: boolean }[] }).members;
        return members.filter((m) => m.role === 'worker' && !m.voter).length === workerCount;
      }, 60_000, 200);
      if (setup === 'niced') {
        for (const n of cluster.live().filter((m) => m.id.startsWith('w'))) {
          if (!niceProcess(n.child?.pid ?? 0, niceness)) return null;
        }
      }
    }
    const leader = await cluster.waitForLeader();
    let started = 0;
    const request = (prefix: string) => (n: number): LoadRequest => {
      started++;
      return { url: new URL(`${cluster.url(leader, '')}/v1/jobs/${prefix}-${n}`), method: 'PUT', body: specBody(n) };
    };
    if (setup === 'floor') {
      const f = await startFloor(dir, workerCount);
      floor = f;
      let fed = 0;
      const frame = Buffer.alloc(4 + ENTRY_BYTES, 120);
      frame.writeUInt32BE(ENTRY_BYTES, 0);
      feeder = setInterval(() => {
        const count = Math.min(started - fed, 8_192);
        fed += count;
        if (count === 0) return;
        const batch = Buffer.allocUnsafe(count * frame.length);
        for (let k = 0; k < count; k++) frame.copy(batch, k * frame.length);
        for (const socket of f.sockets) socket.write(batch);
      }, FEED_MS);
    }
    await runLoad(16, 2, request('warm'));
    const extraPids = setup === 'workers' || setup === 'niced' ? cluster.live().filter((n) => n.id.startsWith('w')).map((n) => n.child?.pid ?? 0)
      : setup === 'floor' ? (floor?.children ?? []).map((c) => c.pid ?? 0) : [];
    const leaderPid = cluster.live().find((n) => n.id === leader)?.child?.pid ?? 0;
    const followerPids = cluster.live().filter((n) => n.id.startsWith('n') && n.id !== leader).map((n) => n.child?.pid ?? 0);
    const before = { extra: cpuMs(extraPids), leader: cpuMs([leaderPid]), followers: cpuMs(followerPids), generator: process.cpuUsage(), machine: machineJiffies() };
    const r = await runLoad(level, seconds, request(`c${level}`));
    const machine = machineJiffies();
    const generator = process.cpuUsage(before.generator);
    const perWrite = (cpuMsSpent: number): number => (r.ok === 0 ? 0 : (1000 * cpuMsSpent) / r.ok);
    return {
      writesPerSecond: r.perSecond,
      p99Ms: r.p99Ms,
      failed: r.failed,
      extraCpuUsPerWrite: extraPids.length === 0 || r.ok === 0 ? null : perWrite(cpuMs(extraPids) - before.extra) / extraPids.length,
      leaderCpuUsPerWrite: perWrite(cpuMs([leaderPid]) - before.leader),
      followersCpuUsPerWrite: perWrite(cpuMs(followerPids) - before.followers),
      generatorCpuUsPerWrite: r.ok === 0 ? 0 : (generator.user + generator.system) / r.ok,
      machineBusy: machine === null || before.machine === null || machine.total === before.machine.total ? null : (machine.busy - before.machine.busy) / (machine.total - before.machine.total),
    };
  } finally {
    if (feeder !== null) clearInterval(feeder);
    for (const socket of floor?.sockets ?? []) socket.destroy();
    for (const child of floor?.children ?? []) child.kill('SIGKILL');
    await cluster.stopAll('SIGKILL');
  }
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function main(): Promise<void> {
  console.log(`bench:workers: 3 voters, +${workerCount} worker members, +${workerCount} floor learners; ${level} clients, ${seconds} s per window, ${rounds} rounds; node ${process.version}`);
  const ratios: Record<Exclude<Setup, 'voters'>, number[]> = { workers: [], niced: [], floor: [] };
  const perWrite: Record<Exclude<Setup, 'voters'>, number[]> = { workers: [], niced: [], floor: [] };
  /** The voters' and the generator's CPU per write with no learner: what the machine spends on a write. */
  const votersCpu: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = SETUPS.map((_, i) => SETUPS[(i + round - 1) % SETUPS.length] as Setup);
    const got: Partial<Record<Setup, Measured>> = {};
    for (const setup of order) {
      const dir = mkdtempSync(join(tmpdir(), `chime-workersbench-${setup}-`));
      try {
        const m = await measure(setup, dir);
        if (m === null) {
          console.log(`round ${round} ${setup.padEnd(7)} skipped: this system does not list a process's threads in /proc`);
          continue;
        }
        got[setup] = m;
        const extra = m.extraCpuUsPerWrite === null ? '' : ` cpu_us_per_write_per_learner=${m.extraCpuUsPerWrite.toFixed(1)}`;
        const busy = m.machineBusy === null ? '' : ` machine_busy=${(100 * m.machineBusy).toFixed(0)}%`;
        console.log(`round ${round} ${setup.padEnd(7)} writes/s=${m.writesPerSecond.toFixed(0)} p99_ms=${m.p99Ms.toFixed(1)} failed=${m.failed}${extra}`
          + ` cpu_us_per_write: leader=${m.leaderCpuUsPerWrite.toFixed(0)} followers=${m.followersCpuUsPerWrite.toFixed(0)} generator=${m.generatorCpuUsPerWrite.toFixed(0)}${busy}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const voters = got.voters;
    if (voters !== undefined) votersCpu.push(voters.leaderCpuUsPerWrite + voters.followersCpuUsPerWrite + voters.generatorCpuUsPerWrite);
    const base = voters?.writesPerSecond ?? 0;
    for (const key of ['workers', 'niced', 'floor'] as const) {
      const m = got[key];
      if (m === undefined || base === 0) continue;
      ratios[key].push(m.writesPerSecond / base);
      if (m.extraCpuUsPerWrite !== null) perWrite[key].push(m.extraCpuUsPerWrite);
    }
  }
  console.log('');
  const niced = ratios.niced.length === 0 ? 'niced workers not run' : `+${workerCount} workers at nice ${niceness} ${(100 * median(ratios.niced)).toFixed(0)} % (${median(perWrite.niced).toFixed(1)} µs)`;
  console.log(`median of ${rounds} rounds: +${workerCount} workers ${(100 * median(ratios.workers)).toFixed(0)} % of 3 voters alone (${median(perWrite.workers).toFixed(1)} µs CPU per write per worker); ${niced}; +${workerCount} floor learners ${(100 * median(ratios.floor)).toFixed(0)} % (${median(perWrite.floor).toFixed(1)} µs per write per learner)`);
  // On a machine the voters alone keep busy, writes/s is its CPU over the CPU a write takes,
  // so staying within 10 % lets N learners add a ninth of the voters' CPU per write at most
  // (less, as they also slow the voters down by crowding them).
  const budget = median(votersCpu) / 9 / workerCount;
  console.log(`within 10 % on a busy machine: the voters and the generator spend ${median(votersCpu).toFixed(0)} µs of CPU per write, so ${workerCount} learners may add at most ${budget.toFixed(1)} µs each`);
}

await main();
